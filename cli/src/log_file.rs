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

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
        Ok(()) => Ok(Log {
            handle: logger,
            path,
        }),
        Err(e) => {
            logger.shutdown();
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
