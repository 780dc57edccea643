//! Waiting on the server without polling: a blocking pop on a doorbell list.
//!
//! The scripts keep a doorbell per product (`bell:KEY`) and per producer (`room:N`) with
//! at most as many tokens as waiters that could succeed now: an operation that makes an
//! item available or frees room pushes one, and trims the list to what is available. A
//! waiter first tries its operation, and only after a failure blocks in `BLPOP` on its
//! doorbell and on the market's closing bell; a token pushed between the failed try and
//! the pop is still there, so no wake-up is lost, and a token left from an earlier event
//! costs one extra try. The closing bell is never emptied: each waiter that pops its token
//! pushes one back, so every waiter, however many, wakes.
//!
//! Idle waiters hold a connection each and cost the server one try of their operation per
//! round: waits are cut into rounds shorter than the connection's read timeout, so a lost
//! server is noticed, and each round ends with a try, so a token spent without reaching
//! its waiter (its answer lost with a broken connection) delays the waiter by one round at
//! most. A pop whose connection breaks ends its round there: the try that follows is
//! retried for want of the server as any call is, while the pop, blocked for long on a
//! connection that worked, would count that time against the retry bound.

use std::time::{Duration, Instant};

use redis::Value;

use crate::error::ConnectionError;
use crate::lane::{Lanes, READ_TIMEOUT};

/// Whether a call that cannot proceed now should wait on its doorbell and try again: the
/// market is open and the deadline (`None`: none) has not come.
pub(crate) fn worth_waiting(closed: bool, deadline: Option<Instant>) -> bool {
    !closed && deadline.is_none_or(|d| Instant::now() < d)
}

/// One doorbell, with the closing bell beside it.
pub(crate) struct Bell<'a> {
    lanes: &'a Lanes,
    operation: &'static str,
    key: String,
    closing: String,
}

impl<'a> Bell<'a> {
    pub(crate) fn new(
        lanes: &'a Lanes,
        operation: &'static str,
        key: String,
        closing: String,
    ) -> Self {
        Bell {
            lanes,
            operation,
            key,
            closing,
        }
    }

    /// Blocks until a token arrives on the doorbell or the closing bell, or one round
    /// passes, or `deadline` comes (`None`: no deadline); false if the deadline came first.
    /// The caller tries its operation again whenever this returns true.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, ConnectionError> {
        let round = READ_TIMEOUT / 2;
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => round,
        };
        if left < Duration::from_millis(1) {
            return Ok(false);
        }
        let seconds = left.min(round).as_secs_f64();
        let popped: Option<Value> = self.lanes.run_once(self.operation, |connection, _| {
            redis::cmd("BLPOP")
                .arg(&self.key)
                .arg(&self.closing)
                .arg(format!("{seconds:.3}"))
                .query(connection)
        })?;
        // A pop whose connection broke ends the round as one that timed out does (a token
        // it popped is lost with its answer, below); the caller's next try reconnects.
        let Some(popped) = popped else {
            return Ok(true);
        };
        // A round that ends with no token still sends the caller back to its operation: a
        // token can be spent without reaching its waiter (popped for a connection that
        // broke before the answer arrived, or for a client that died), and the item it
        // announced may be on sale all the same. So a lost wake-up costs one round at
        // most, not the whole wait.
        let Value::Array(pair) = popped else {
            return Ok(true);
        };
        if pair.first().and_then(|key| match key {
            Value::BulkString(bytes) => Some(bytes.as_slice()),
            _ => None,
        }) == Some(self.closing.as_bytes())
        {
            self.lanes.run(self.operation, |connection, _| {
                redis::cmd("LPUSH")
                    .arg(&self.closing)
                    .arg("1")
                    .query::<()>(connection)
            })?;
        }
        Ok(true)
    }
}
