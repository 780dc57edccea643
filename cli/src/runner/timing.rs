//! The scenario's waits, scaled by `--time-scale`, as both kinds of actors apply them.
//!
//! Invariants: a wait that an event also ends (a retry, a republish) never becomes
//! polling: scaled below [`MIN_TIMED_WAIT`] it waits for the event alone; a pause after a
//! publish is a plain sleep, none at all when it scales to zero; no wait exceeds [`BLOCK`]
//! unless it waits for an event alone.

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

    /// The scaled pause of `seconds` (zero: no pause at all).
    pub(super) fn pause(self, seconds: f64) -> Duration {
        Duration::try_from_secs_f64(seconds * self.0).unwrap_or(BLOCK)
    }
}
