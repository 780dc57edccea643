//! The watcher of SIGINT and SIGTERM during `run`: a thread of its own that, on the first
//! of them, logs it, has the run write out the lines of every cart it ordered (through the
//! run's [`Interrupt`], which the command also holds until it has written its statistics
//! or stall report), writes out the log of --log-file, and then lets the process die of
//! the signal as it would have (the shell's 130 and 143, a parent that sees the signal).
//! Without it a run killed mid-way loses the purchase lines still in stdout's buffer and
//! every log record since the logger last wrote out its batch.
//!
//! Owns the handlers of both signals and the watching thread. Invariants: a signal ignored
//! from the start (a script's `run ... &`, nohup) stays ignored, and where that cannot be
//! told (outside Linux) neither signal is caught, so both end the run at once as before;
//! once the first signal has arrived, a second one (of either) ends the process at once
//! with 130 or 143, from the signal handler itself, so a write-out held up by a stdout
//! nobody reads or a stuck disk never holds the process beyond it; a caught signal that
//! can no longer be watched ends the process at once instead of being ignored. The
//! watcher takes locks (the logger's, the run's), which a signal handler must not, hence
//! the thread; it waits on them, never polls.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use flexi_logger::LoggerHandle;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use marketplace_cli::runner::Interrupt;

/// Starts watching SIGINT and SIGTERM for a run that is given `interrupt` and logs to
/// `log`, if any; where the signals cannot be watched, nobody asks for the interrupt.
pub(crate) fn start(interrupt: &Interrupt, log: Option<&LoggerHandle>) {
    let watched: Vec<_> = [(SIGINT, 130), (SIGTERM, 143)]
        .into_iter()
        .filter(|&(signal, _)| ignored_from_the_start(signal) == Some(false))
        .collect();
    if watched.is_empty() {
        return;
    }
    let armed = Arc::new(AtomicBool::new(false));
    let signalled = Arc::clone(SIGNALLED.get_or_init(Arc::default));
    // Per signal, the shutdown first and the arming second: on the first signal the
    // shutdown finds the flag down and does nothing, then the flag goes up, so the next
    // signal ends the process, however late the watcher runs.
    for &(signal, code) in &watched {
        let registered =
            signal_hook::flag::register_conditional_shutdown(signal, code, Arc::clone(&armed))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&armed)))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&signalled)));
        if registered.is_err() {
            // The signals registered before this one must still end the process.
            // Ordering: the handler reads the flag in another context; `SeqCst` on both
            // sides is the simplest order that is surely enough, and costs nothing here.
            armed.store(true, Ordering::SeqCst);
            return;
        }
    }
    let Ok(mut signals) = Signals::new(watched.iter().map(|&(signal, _)| signal)) else {
        // Once caught, a signal is never again left to its default action: let the
        // shutdown action end the process instead of ignoring the signal.
        // Ordering: as above.
        armed.store(true, Ordering::SeqCst);
        return;
    };
    let log = log.cloned();
    let run = interrupt.clone();
    let watcher = std::thread::Builder::new()
        .name("interrupt-watcher".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                log::warn!("interrupted by {name}");
                run.interrupt_and_wait();
                if let Some(log) = log {
                    crate::log_file::write_out(&log);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                // Not reached: the default action of both signals ends the process.
                std::process::exit(128 + signal);
            }
        });
    if watcher.is_err() {
        // The signals dropped with the closure are no longer watched (see above).
        // Ordering: as above.
        armed.store(true, Ordering::SeqCst);
    }
}

/// Set by the handler of a watched signal itself: the process is going to die of it.
static SIGNALLED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Whether a watched signal has come, told as soon as its handler ran, before the watcher
/// has woken up to it: a command about to end normally must then wait for the watcher,
/// or it would end with its own exit code instead of the signal.
pub(crate) fn signalled() -> bool {
    // Ordering: set in the handler with `SeqCst` (signal-hook's flag), read likewise.
    SIGNALLED
        .get()
        .is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Waits for the watcher to end the process, once a signal asked for the interrupt and the
/// command let go of its hold: the watcher is writing out the log, and the process must
/// die of the signal, with nothing more said.
pub(crate) fn wait_for_the_end() -> ! {
    loop {
        std::thread::park();
    }
}

/// Whether this process ignores `signal`, as it did from its start if nothing here changed
/// it: Linux tells it in /proc (the bit `signal - 1` of `SigIgn`); `None` elsewhere.
fn ignored_from_the_start(signal: i32) -> Option<bool> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    let bit = u32::try_from(signal.checked_sub(1)?).ok()?;
    Some(mask.checked_shr(bit)? & 1 == 1)
}
