//! The log of `run --log-file`: every marketplace call, through `flexi_logger`, to a file
//! rotated at 1 MB with 20 old files kept.
//!
//! Invariants: a log that cannot be kept is refused before the run (exit code 2), by making
//! and writing a file in its directory, since the logger opens its file only for the first
//! record; during the run the logger's own errors are dropped rather than repeated once per
//! record (or turned into a panic when stderr fails too), and `stop` tells in one line,
//! after the run, whether the directory could still take files. The logger writes its
//! records out in batches about a second apart; a run interrupted by SIGINT or SIGTERM has
//! the watcher of those (`interrupt_watcher`) write out what it holds.

use std::cell::Cell;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use flexi_logger::{
    Cleanup, Criterion, ErrorChannel, FileSpec, Logger, LoggerHandle, Naming, WriteMode,
};

use crate::{Failure, shown};

/// The log of --log-file, and where it goes.
pub(crate) struct Log {
    handle: LoggerHandle,
    path: PathBuf,
}

impl Log {
    /// The logger, for the watcher of SIGINT and SIGTERM to write it out.
    pub(crate) fn handle(&self) -> &LoggerHandle {
        &self.handle
    }
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
    let (logger, handle) = Logger::try_with_str(level)
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
        .build()
        .map_err(|e| bad(&e))?;
    quiet_the_loggers_panics();
    log::set_boxed_logger(Box::new(Contained(logger))).map_err(|e| bad(&e))?;
    // The logger made the directory but opens its file only for the first record, and a
    // file it cannot open then fails every record on stderr while the run goes on: make
    // sure now that a file can be made there (the logger renames an old one there too).
    match can_create_beside(&path) {
        Ok(()) => Ok(Log { handle, path }),
        Err(e) => {
            handle.shutdown();
            Err(bad(&e))
        }
    }
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

/// The name of the logger's thread that removes old files after a rotation.
const CLEANUP_THREAD: &str = "flexi_logger-fs-cleanup";

/// Set once the logger panicked: some records, or the removal of old files, were lost.
static LOGGER_PANICKED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is inside a call into the logger.
    static IN_LOGGER: Cell<bool> = const { Cell::new(false) };
}

/// The logger, each call into it contained: the logger lists the log's directory with an
/// `unwrap` when it opens its first file and when it removes old ones, so a directory
/// removed at that moment panics whichever thread logs (the run's main thread, an actor)
/// or its clean-up thread, and the panic message lands on stderr mid-run. A panic inside
/// the logger is the log's failure, not the run's: the record is lost, the run goes on,
/// and `stop` tells it in its one line.
struct Contained(Box<dyn log::Log>);

impl log::Log for Contained {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        contained(|| self.0.log(record));
    }

    fn flush(&self) {
        contained(|| self.0.flush());
    }
}

/// Runs `call` into the logger, keeping a panic in it from the caller and from stderr.
fn contained(call: impl FnOnce()) {
    let outer = IN_LOGGER.replace(true);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_LOGGER.set(outer);
    if outcome.is_err() {
        // Ordering: read by `stop` on this thread or after the run's threads are joined.
        LOGGER_PANICKED.store(true, Ordering::Relaxed);
    }
}

/// Keeps the panic message of a panic inside the logger (see [`Contained`]) off stderr;
/// every other panic is reported as before. The logger's clean-up thread cannot be
/// contained from outside, and its panic ends only that thread: it is recorded the same
/// way. (Should the logger rename that thread, its panic messages come back, and
/// `cli_resources.rs::a_log_directory_removed_again_and_again_gives_no_panic_message`
/// fails.)
fn quiet_the_loggers_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            if IN_LOGGER.get() || std::thread::current().name() == Some(CLEANUP_THREAD) {
                // Ordering: as in `contained`; the clean-up thread is joined by the
                // logger's shutdown before `stop` reads it.
                LOGGER_PANICKED.store(true, Ordering::Relaxed);
            } else {
                report(panic);
            }
        }));
    });
}

/// Writes out what the logger holds.
pub(crate) fn write_out(handle: &LoggerHandle) {
    contained(|| handle.flush());
}

/// Writes out and stops the log of --log-file, if one was started; when its directory
/// can no longer take files (removed or made read-only during the run, or its device
/// full), says so in one line, unless `quiet`: records since then may be lost, but the
/// run's outcome stands.
pub(crate) fn stop(log: Option<Log>, quiet: bool) {
    if let Some(log) = log {
        write_out(&log.handle);
        contained(|| log.handle.shutdown());
        if quiet {
            return;
        }
        if let Err(e) = can_create_beside(&log.path) {
            tell!(
                "warning: the log {} could not be kept during the run ({e}); records may be missing",
                shown(&log.path)
            );
        } else if LOGGER_PANICKED.load(Ordering::Relaxed) {
            tell!(
                "warning: the log {} lost its directory during the run; records may be missing, and its old files past the 20 kept were not all removed",
                shown(&log.path)
            );
        }
    }
}
