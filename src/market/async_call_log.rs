//! The log record of an async call: written when the call's future completes, with the
//! outcome, or, for a future dropped before it completed (a wait cancelled, by a timeout
//! for instance), when it is dropped, as cancelled, or as cancelled by a panic when a panic
//! unwinds it (one in the user's `Hash` or `Eq` during a poll, or one in the code holding the
//! future). A future dropped before its first poll began no call (the record starts in that
//! poll) and leaves none. So every call that began leaves one record.

use std::fmt;

use log::{Level, debug, log_enabled};

/// The call, shown while logging debug records (formatted as the call begins, before it
/// changes anything, so a panic in the user's `Debug` leaves every count right); `None`
/// once its record is written, or if none is wanted.
pub(super) struct AsyncCallLog(Option<String>);

impl AsyncCallLog {
    /// Starts the record of the call `shown` describes, if debug records are wanted.
    pub(super) fn start(shown: impl FnOnce() -> String) -> Self {
        Self(log_enabled!(Level::Debug).then(shown))
    }

    /// Writes the record of the completed call.
    pub(super) fn finish(mut self, outcome: impl fmt::Display) {
        if let Some(call) = self.0.take() {
            debug!("{call} -> {outcome}");
        }
    }
}

impl Drop for AsyncCallLog {
    fn drop(&mut self) {
        if let Some(call) = self.0.take() {
            // A record saying only "cancelled" would hide, from whoever reads the log for
            // why a call ended, that a panic ended it.
            if std::thread::panicking() {
                debug!("{call} -> cancelled by a panic");
            } else {
                debug!("{call} -> cancelled");
            }
        }
    }
}
