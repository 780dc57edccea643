//! The scenario's waits, scaled by `--time-scale`, as both kinds of actors apply them.
//!
//! Invariants: a wait that an event also ends (a retry, a republish) never becomes
//! polling: scaled below [`MIN_TIMED_WAIT`] it waits for the event alone; a pause after a
//! publish is a plain sleep, none at all when it scales to zero, and a longer wait never
//! pauses shorter; no wait for an event exceeds [`BLOCK`] unless it waits for the event
//! alone.

use std::time::Duration;

/// How long a blocking wait that nothing but an event (or the end of the run) should end
/// lasts; the run's end always interrupts it, so its length only bounds the damage of a
/// lost wakeup.
pub(super) const BLOCK: Duration = Duration::from_secs(3600);

/// Scaled waits shorter than this are not worth waking up for: they would turn a wait for
/// an event into polling.
const MIN_TIMED_WAIT: Duration = Duration::from_millis(1);

/// The run's time scale: finite and `>= 0` (checked by `run`).
#[derive(Clone, Copy, Debug)]
pub(super) struct TimeScale(pub(super) f64);

impl TimeScale {
    /// How long to wait for an event before trying again, for a classic wait of `seconds`:
    /// `None` to wait for the event alone.
    pub(super) fn patience(self, seconds: f64) -> Option<Duration> {
        match Duration::try_from_secs_f64(seconds * self.0) {
            Ok(scaled) if scaled < MIN_TIMED_WAIT => None,
            Ok(scaled) => Some(scaled.min(BLOCK)),
            Err(_) => Some(BLOCK),
        }
    }

    /// The scaled pause of `seconds` (zero: no pause at all). Past the clock's range it
    /// lasts as long as a `Duration` can, until the run's end (both kinds of actors take
    /// that as "for good": a thread's condition variable waits without a deadline, and
    /// tokio sleeps some 30 years), never less than a shorter wait would.
    pub(super) fn pause(self, seconds: f64) -> Duration {
        Duration::try_from_secs_f64(seconds * self.0).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A longer classic wait never makes a shorter pause: past the clock's range (about
    /// 1.8e19 s, scaled) a pause is as long as the one just inside it, not cut to `BLOCK`.
    #[test]
    fn a_longer_wait_never_pauses_shorter() {
        let mut last = Duration::ZERO;
        for scale in [1.0, 1e-300, 1e300] {
            for seconds in [
                0.0,
                1e-3,
                1.0,
                3600.0,
                1e9,
                1e19,
                1.8e19,
                1e20,
                1e300,
                f64::MAX,
            ] {
                let pause = TimeScale(scale).pause(seconds);
                assert!(
                    pause >= last || seconds == 0.0,
                    "{seconds} s at scale {scale} pauses {pause:?}, less than {last:?}"
                );
                last = pause;
            }
            last = Duration::ZERO;
        }
    }
}
