//! The log of `run --log-file`: every marketplace call, through `flexi_logger`, to a file
//! rotated at 1 MB with 20 old files kept.
//!
//! Invariants: a log that cannot be kept is refused before the run (exit code 2), by making
//! and writing a file in its directory, since the logger opens its file only for the first
//! record; during the run the logger's own errors are dropped rather than repeated once per
//! record (or turned into a panic when stderr fails too), and `stop` tells in one line,
//! after the run, whether the directory could still take files. The logger writes its
//! records out in batches about a second apart, so a run interrupted by SIGINT or SIGTERM
//! first logs the signal and writes out what it holds, then dies of the signal as it would
//! have; a second such signal meanwhile ends the process at once.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use flexi_logger::{
    Cleanup, Criterion, ErrorChannel, FileSpec, Logger, LoggerHandle, Naming, WriteMode,
};

use crate::{Failure, shown};

/// The log of --log-file, and where it goes.
pub(crate) struct Log {
    handle: LoggerHandle,
    path: PathBuf,
}

pub(crate) fn start(path: &Path, level: &str) -> Result<Log, Failure> {
    let bad = |why: &dyn std::fmt::Display| {
        Failure::bad_input(format!("error: cannot log to {}: {why}", shown(path)))
    };
    // FileSpec::try_from panics on a path without a file name; refuse those first.
    if path.file_name().is_none() || path.is_dir() {
        return Err(bad(&"not a file path"));
    }
    let path = std::path::absolute(path).map_err(|e| bad(&e))?;
    let spec = FileSpec::try_from(path.as_path()).map_err(|e| bad(&e))?;
    let logger = Logger::try_with_str(level)
        .map_err(|e| bad(&e))?
        .log_to_file(spec)
        .format_for_files(flexi_logger::detailed_format)
        .rotate(
            Criterion::Size(1_000_000),
            Naming::Numbers,
            Cleanup::KeepLogFiles(20),
        )
        .write_mode(WriteMode::BufferAndFlush)
        // The logger reports a file it cannot open or write on its error channel, once per
        // record (a flood, when the directory goes away mid-run), and panics in the logging
        // thread when that channel fails too (stderr on a full device). Its errors are
        // dropped instead, and `stop` tells once whether the log could be kept.
        .error_channel(ErrorChannel::DevNull)
        .panic_if_error_channel_is_broken(false)
        .start()
        .map_err(|e| bad(&e))?;
    // The logger made the directory but opens its file only for the first record, and a
    // file it cannot open then fails every record on stderr while the run goes on: make
    // sure now that a file can be made there (the logger renames an old one there too).
    match can_create_beside(&path) {
        Ok(()) => {
            write_out_when_interrupted(&logger);
            Ok(Log {
                handle: logger,
                path,
            })
        }
        Err(e) => {
            logger.shutdown();
            Err(bad(&e))
        }
    }
}

/// Makes SIGINT and SIGTERM log themselves and write out the log before the process dies
/// of them, as it would without this (the shell's 130 and 143, a parent that sees the
/// signal): without it a run killed mid-way loses every record since the logger last wrote
/// out its batch. Handled on a thread of its own, since the logger takes locks that a
/// signal handler must not. A second signal, while the log is written out (a slow or
/// stuck disk), ends the process at once with 130 or 143. Where the signals cannot be
/// caught, the run goes on without this, and its log may miss its last second.
fn write_out_when_interrupted(logger: &LoggerHandle) {
    // A signal ignored from the start (a script's `run ... &`, nohup) must stay ignored,
    // or a Ctrl-C meant for the script would end the run; where that cannot be told, none
    // is caught.
    let watched: Vec<_> = [(SIGINT, 130), (SIGTERM, 143)]
        .into_iter()
        .filter(|&(signal, _)| ignored_from_the_start(signal) == Some(false))
        .collect();
    if watched.is_empty() {
        return;
    }
    let armed = Arc::new(AtomicBool::new(false));
    // Registered before the watcher's own action, so it runs first: on the first signal
    // it finds the flag down and does nothing.
    for &(signal, code) in &watched {
        if signal_hook::flag::register_conditional_shutdown(signal, code, Arc::clone(&armed))
            .is_err()
        {
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
    let logger = logger.clone();
    let flag = Arc::clone(&armed);
    let watcher = std::thread::Builder::new()
        .name("log-interrupt".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Ordering: as above; armed before the write-out, so a second signal
                // during it ends the process.
                flag.store(true, Ordering::SeqCst);
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                log::warn!("interrupted by {name}");
                logger.flush();
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

/// Whether a file can be created and written in the directory of `path`: creates one
/// beside it, under a short name of this process's own (so no long log name takes it past
/// the system's limit), writes a byte (a full device takes an empty file, not a record),
/// and removes it.
fn can_create_beside(path: &Path) -> io::Result<()> {
    let probe = path.with_file_name(format!(".marketplace-{}.check", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        // Left by an earlier process of this id that was killed before removing it.
        .truncate(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"\n"));
    let removed = fs::remove_file(&probe);
    written.and(removed)
}

/// Writes out and stops the log of --log-file, if one was started; when its directory
/// can no longer take files (removed or made read-only during the run, or its device
/// full), says so in one line, unless `quiet`: records since then may be lost, but the
/// run's outcome stands.
pub(crate) fn stop(log: Option<Log>, quiet: bool) {
    if let Some(log) = log {
        log.handle.flush();
        log.handle.shutdown();
        if quiet {
            return;
        }
        if let Err(e) = can_create_beside(&log.path) {
            tell!(
                "warning: the log {} could not be kept during the run ({e}); records may be missing",
                shown(&log.path)
            );
        }
    }
}
