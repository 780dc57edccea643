//! How a command fails: a [`Failure`] carries the exit code it maps to (one of the
//! `EXIT_*` codes) and the message told on stderr, and `EXIT_CODES` says what each code
//! means, for `--help`.
//!
//! Invariants: a command exits with 0 or one of the `EXIT_*` codes (clap's own usage
//! errors with 2, as [`EXIT_BAD_INPUT`]), each listed in `EXIT_CODES`; a failure with an
//! empty message is a quiet one, which `fail` does not tell.

use std::io::{self, Write};
use std::process::ExitCode;

/// Exit code: bad input (unreadable file, invalid scenario, bad flags).
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: the run stalled.
pub(crate) const EXIT_STALLED: u8 = 3;
/// Exit code: the output could not be written, the system refused the run's threads, or an
/// internal error.
pub(crate) const EXIT_FAILURE: u8 = 1;

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the output could not be written (a reader that left early, as `| head -1`: with no
     message), the system cannot give `run` the threads it needs (e.g. --actors threads
     with too many actors), a run on a redis backend failed (the market closed early, or
     the server was lost mid-run), or an internal error
  2  bad input: unreadable file or one past the size limit, invalid scenario (every
     problem is listed with its place, e.g.
     `consumers[3].carts[1][0].product: unknown product id \"id9\"`), bad or conflicting
     flags, a --log-file, --stats-json or --expected file that cannot be created, a
     --log-file whose files (for m.log: m_rCURRENT.log, m_r00000.log, ...) would be the
     scenario, the --stats-json file or the file stdout goes to, `gen` sizes beyond its
     limits
  3  `run` stalled: no consumer made progress for --stall-timeout; the report on stderr
     names each waiting consumer, the product it waits for and the producers that make it";

/// A failure, with the exit code it maps to; its message goes to stderr.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn bad_input(message: String) -> Self {
        Failure {
            code: EXIT_BAD_INPUT,
            message,
        }
    }

    /// Stdout could not be written: quietly when its reader left (`| head -1`), as
    /// coreutils end then, killed by SIGPIPE without a word (Rust ignores SIGPIPE, so the
    /// write fails instead); otherwise one line naming stdout.
    pub(crate) fn stdout(e: &io::Error) -> Self {
        Failure {
            code: EXIT_FAILURE,
            message: if e.kind() == io::ErrorKind::BrokenPipe {
                String::new()
            } else {
                format!("error: cannot write to stdout: {e}")
            },
        }
    }
}

/// Tells `failure` on stderr, unless it is a quiet one, and gives its exit code.
pub(crate) fn fail(failure: Failure) -> ExitCode {
    if !failure.message.is_empty() {
        tell!("{}", failure.message);
    }
    ExitCode::from(failure.code)
}
