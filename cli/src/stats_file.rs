//! The file of `run --stats-json`: the figures of --stats, as JSON.
//!
//! Invariants: the file is created (truncated) before the run starts, so one that cannot be
//! written refuses the run (exit code 2) before anything ran, as does a path naming the
//! scenario file or the file stdout goes to; a run that produced no figures leaves no
//! empty, invalid JSON file behind, yet only an empty regular file is removed (never a
//! device such as `/dev/null`); figures that cannot be written after the run are a failure
//! of the output (`EXIT_FAILURE`).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use marketplace_cli::runner::{RunEnd, RunStats};

use crate::failure::{EXIT_FAILURE, Failure};
use crate::file_identity::{not_stdout, same_file};
use crate::shown_path;

/// Where `--stats-json` goes: the file, created (so writable) before the run starts.
pub(crate) struct StatsFile {
    path: PathBuf,
    file: File,
}

impl StatsFile {
    /// Creates (truncates) the file at `path`, unless it is the scenario's own file.
    pub(crate) fn create(path: &Path, scenario: &Path) -> Result<Self, Failure> {
        if same_file(path, scenario) {
            return Err(Failure::bad_input(format!(
                "error: --stats-json {} is the scenario file itself",
                shown_path(path)
            )));
        }
        not_stdout("--stats-json", path)?;
        let file = File::create(path).map_err(|e| {
            Failure::bad_input(format!(
                "error: cannot write the statistics to {}: {e}",
                shown_path(path)
            ))
        })?;
        Ok(StatsFile {
            path: path.to_owned(),
            file,
        })
    }

    pub(crate) fn write(mut self, stats: &RunStats, ended: RunEnd) -> Result<(), Failure> {
        let mut json = stats.to_json(ended);
        json.push('\n');
        self.file
            .write_all(json.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Failure {
                code: EXIT_FAILURE,
                message: format!(
                    "error: cannot write the statistics to {}: {e}",
                    shown_path(&self.path)
                ),
            })
    }

    /// A run that produced no figures leaves no empty, invalid JSON file behind. Only an
    /// empty regular file is removed: never a device such as `/dev/null`.
    pub(crate) fn discard(self) {
        drop(self.file);
        if fs::metadata(&self.path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = fs::remove_file(&self.path);
        }
    }
}
