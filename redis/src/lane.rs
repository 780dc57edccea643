//! Connections to the server, and the retry of a call whose connection broke.
//!
//! A lane is one connection plus an identity that outlives it: a random id and a sequence
//! number counting the lane's operations. A lane serves one call at a time (calls check one
//! out of the idle pool, or open a new one), so the pair (id, sequence) names one
//! operation, and the scripts remember each lane's last (sequence, result): a call retried
//! on a new connection under the same pair gets the recorded result instead of applying
//! again. An order keeps its lane aside when it fails, so that the caller's next order of
//! the cart is that operation again (`run_resumable`); a publish keeps its lane aside the
//! same way, with the waits flags it sent (a timed publish's tries differ in them), so that
//! the producer's next publish of a product of the same JSON form, timed or not, is that
//! operation again (`run_keeping`, `resend_kept`), and a batch publish keeps its lane so under
//! the products it sent, for the producer's next batch that begins with them (`kept_keys`
//! finds it); an add to a cart and a remove from one keep
//! theirs so, under the cart and the product's canonical key, for the next add (or remove) of
//! that product to that cart (a batch add under the count it asked too, for the next batch
//! asking as many), until an order of the cart returns them to the pool unsent
//! (`release_kept`); calls of one key that fail at once keep a lane each. The
//! server's memory for this is one entry per lane of each live handle: a handle dropped
//! deletes its lanes' entries (best effort: through a connection already open, or one new
//! connection when none is and a call kept its lane aside or when the server closed the
//! open one, briefly; a process killed, or a server out of reach then, leaves them).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Client, Connection, ConnectionAddr, ConnectionInfo, RedisError, RedisResult};

use crate::error::ConnectionError;

/// How long opening a connection may take in all, its set-up's replies included, before the
/// server counts as unreachable for that try: a server that accepts connections but answers
/// nothing (`kill -STOP`, a hung host) fails each try of a call that needs a new one after
/// this. A host name's resolution is given this time, and then each of its addresses in
/// turn.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a call waits for the server's next bytes before it counts the server as lost: a
/// try whose server sends nothing for this long ends, so a server that stops answering but
/// keeps its connections open (`kill -STOP`, a hung host) fails a call after the retry time
/// plus this, and a wait one read timeout later (its pop must time out first); waits are
/// cut into rounds shorter than this. It bounds each silence of the server, not a whole
/// answer: one that keeps sending, however slowly (a byte every few seconds), holds a call
/// until its answer is whole, since a deadline per call would take a thread per call (the
/// connection offers no deadline but its socket's, which each read restarts).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a dropped handle waits in all for the server to forget its lanes (through a
/// connection it has open, or a new one); past it the drop returns and the records stay.
pub const FORGET_TIMEOUT: Duration = Duration::from_millis(500);

/// First and largest pause between two attempts of a broken call.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const LARGEST_BACKOFF: Duration = Duration::from_millis(500);

/// The name of one operation: which lane runs it, and its number on that lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpId<'a> {
    pub(crate) lane: &'a str,
    pub(crate) seq: u64,
}

struct Lane {
    connection: Option<Connection>,
    id: String,
    seq: u64,
}

/// The connections of one handle.
pub(crate) struct Lanes {
    client: Client,
    pub(crate) server: String,
    idle: Mutex<Vec<Lane>>,
    /// Lanes whose last operation failed, kept out of the pool under a key of the caller's
    /// ([`run_resumable`](Self::run_resumable)) so that operation can be sent again: every
    /// one, since calls of one key that fail at once each may have applied.
    parked: Mutex<HashMap<String, Vec<Lane>>>,
    /// The same for [`run_keeping`](Self::run_keeping), each lane with what its operation
    /// sent that its key does not name, which sending it again repeats.
    kept: Mutex<HashMap<String, Vec<(Lane, &'static str)>>>,
    retry_for: Duration,
    /// The hash in which the scripts record each lane's last result (`prelude.lua`'s
    /// `ops`).
    records: String,
}

impl Lanes {
    pub(crate) fn new(
        client: Client,
        server: String,
        retry_for: Duration,
        records: String,
    ) -> Self {
        Lanes {
            client,
            server,
            idle: Mutex::new(Vec::new()),
            parked: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
            retry_for,
            records,
        }
    }

    pub(crate) fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    /// How long a call whose connection broke is retried.
    pub(crate) fn retry_for(&self) -> Duration {
        self.retry_for
    }

    /// Runs `call` as one operation on a lane; a call that fails for want of the server is
    /// tried again on a new connection, under the same operation id, with a growing pause,
    /// until it succeeds or `retry_for` has passed.
    pub(crate) fn run<T>(
        &self,
        operation: &'static str,
        call: impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> Result<T, ConnectionError> {
        self.run_within(operation, self.retry_for, call)
    }

    /// [`run`](Self::run), retrying for `retry_for` instead of the handle's own time.
    pub(crate) fn run_within<T>(
        &self,
        operation: &'static str,
        retry_for: Duration,
        call: impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> Result<T, ConnectionError> {
        let mut lane = self.checkout();
        lane.seq += 1;
        let outcome = self.drive(&mut lane, operation, retry_for, call);
        self.checkin(lane);
        outcome
    }

    /// [`run`](Self::run) for an operation its caller may call again after a failure,
    /// which must then not apply twice, and of which one call per `key` at most can take
    /// effect (an order spends its cart): the lane of a call that failed is kept under
    /// `key`, and the next call with that key sends the same operation again under the
    /// same id, so it gets the first call's answer if the server applied it, and applies
    /// it otherwise. `settled` tells an answer of the call that took effect from one of a
    /// call that found it taken already: calls of a key that failed at the same time each
    /// keep their lane, and the next call asks each until one answers settled, since a
    /// later failure may not stand for an earlier one that took effect.
    pub(crate) fn run_resumable<T>(
        &self,
        operation: &'static str,
        key: String,
        settled: impl Fn(&T) -> bool,
        mut call: impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> Result<T, ConnectionError> {
        let mut pending = self
            .parked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key)
            .unwrap_or_default();
        let mut lane = pending.pop().unwrap_or_else(|| {
            let mut lane = self.checkout();
            lane.seq += 1;
            lane
        });
        let mut failed = Vec::new();
        let mut failure = None;
        loop {
            let outcome = match self.drive(&mut lane, operation, self.retry_for, &mut call) {
                Ok(value) if settled(&value) => {
                    // Only one call of the key took effect, and it has answered: no other
                    // lane holds an answer to ask for.
                    for lane in pending.into_iter().chain(failed).chain([lane]) {
                        self.checkin(lane);
                    }
                    return Ok(value);
                }
                Ok(value) => {
                    self.checkin(lane);
                    Ok(value)
                }
                Err(error) => {
                    failed.push(lane);
                    Err(error)
                }
            };
            match pending.pop() {
                Some(next) => {
                    lane = next;
                    if let Err(error) = outcome {
                        failure = Some(error);
                    }
                }
                None => {
                    // A failed call may be the one that took effect, whatever the others
                    // answered: its lane is asked again next time.
                    let outcome = match (outcome, failure) {
                        (Ok(_), Some(error)) => Err(error),
                        (outcome, _) => outcome,
                    };
                    if outcome.is_err() {
                        self.parked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(key)
                            .or_default()
                            .extend(failed);
                    }
                    return outcome;
                }
            }
        }
    }

    /// [`run`](Self::run) for an operation of which every call takes effect on its own (a
    /// publish puts one more item on sale), whose caller, after a failure, calls again to
    /// do the same thing: the lane of a call that failed is kept under `key()`, with
    /// `sends`, what the call sent that the key does not name (a publish's waits flags), and
    /// [`resend_kept`](Self::resend_kept) of the key sends that operation again. The key is
    /// made only for a call that failed: a batch publish's holds its products.
    pub(crate) fn run_keeping<T>(
        &self,
        operation: &'static str,
        key: impl FnOnce() -> String,
        sends: &'static str,
        mut call: impl FnMut(&mut Connection, OpId<'_>, &'static str) -> RedisResult<T>,
    ) -> Result<T, ConnectionError> {
        let mut lane = self.checkout();
        lane.seq += 1;
        let outcome = self.drive(&mut lane, operation, self.retry_for, |connection, op| {
            call(connection, op, sends)
        });
        self.keep_if_failed(lane, &outcome, key, sends);
        outcome
    }

    /// Sends again, under its operation id and with what it sent, an operation that
    /// failed in [`run_keeping`](Self::run_keeping) with `key`: its recorded answer if the
    /// server applied it, its outcome now otherwise; `None` when no lane is kept under the
    /// key. Calls of a key that fail at once keep a lane each, as each may have applied,
    /// and each call of this sends one of them again: one call per failed one settles
    /// them all. A failure keeps the lane again.
    pub(crate) fn resend_kept<T>(
        &self,
        operation: &'static str,
        key: &str,
        mut call: impl FnMut(&mut Connection, OpId<'_>, &'static str) -> RedisResult<T>,
    ) -> Option<Result<T, ConnectionError>> {
        let (mut lane, sends) = {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            let lanes = kept.get_mut(key)?;
            let taken = lanes.pop();
            if lanes.is_empty() {
                kept.remove(key);
            }
            taken?
        };
        let outcome = self.drive(&mut lane, operation, self.retry_for, |connection, op| {
            call(connection, op, sends)
        });
        self.keep_if_failed(lane, &outcome, || key.to_owned(), sends);
        Some(outcome)
    }

    /// Keeps under `key`, with `sends`, an operation not sent yet, for
    /// [`resend_kept`](Self::resend_kept) of the key to send: a call that failed holding
    /// something on the server that only its next operation would have undone (a timed
    /// publish's place among the waiters, when its wait failed) leaves it to the next call.
    pub(crate) fn keep_unsent(&self, key: &str, sends: &'static str) {
        let mut lane = self.checkout();
        lane.seq += 1;
        self.keep(key.to_owned(), lane, sends);
    }

    /// The keys beginning with `prefix` under which lanes are kept now, for a caller whose
    /// call stands for a kept one of another key (a batch whose products begin with those a
    /// failed batch sent) to find it.
    pub(crate) fn kept_keys(&self, prefix: &str) -> Vec<String> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.keys()
            .filter(|key| key.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Returns to the pool, unsent, the lanes kept under keys that begin with `prefix`:
    /// their operations can take effect no more (those of a cart ordered since), so
    /// sending them again would only answer from a record that no longer holds.
    pub(crate) fn release_kept(&self, prefix: &str) {
        let released: Vec<Lane> = {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<String> = kept
                .keys()
                .filter(|key| key.starts_with(prefix))
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|key| kept.remove(key))
                .flatten()
                .map(|(lane, _)| lane)
                .collect()
        };
        for lane in released {
            self.checkin(lane);
        }
    }

    /// Returns `lane` to the pool after `outcome`, or keeps it under `key()` when it failed.
    fn keep_if_failed<T>(
        &self,
        lane: Lane,
        outcome: &Result<T, ConnectionError>,
        key: impl FnOnce() -> String,
        sends: &'static str,
    ) {
        if outcome.is_ok() {
            self.checkin(lane);
        } else {
            self.keep(key(), lane, sends);
        }
    }

    /// Keeps `lane`, with `sends`, under `key`, beside any lanes kept there already.
    fn keep(&self, key: String, lane: Lane, sends: &'static str) {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .push((lane, sends));
    }

    /// Runs `call` as `lane`'s current operation, retrying as [`run`](Self::run) says.
    fn drive<T>(
        &self,
        lane: &mut Lane,
        operation: &'static str,
        retry_for: Duration,
        mut call: impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> Result<T, ConnectionError> {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.attempt(lane, &mut call) {
                Ok(value) => return Ok(value),
                Err(error) if worth_retrying(&error) => {
                    lane.connection = None;
                    if started.elapsed() + backoff > retry_for {
                        return Err(ConnectionError::redis(operation, &self.server, error));
                    }
                    log::warn!("{operation} on {}: {error}; retrying", self.server);
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(LARGEST_BACKOFF);
                }
                Err(error) => {
                    lane.connection = None;
                    return Err(ConnectionError::redis(operation, &self.server, error));
                }
            }
        }
    }

    /// Runs `call` once, for a call that blocks on the server for long (a wait's pop):
    /// `None` when it failed for want of the server, after a short pause. Its caller ends
    /// the wait round there and tries its operation, which [`run`](Self::run) retries.
    /// Retrying the pop itself would count the time it spent blocked, on a connection that
    /// worked, against `retry_for`, which bounds how long the server may be out of reach.
    pub(crate) fn run_once<T>(
        &self,
        operation: &'static str,
        mut call: impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> Result<Option<T>, ConnectionError> {
        let mut lane = self.checkout();
        lane.seq += 1;
        let outcome = match self.attempt(&mut lane, &mut call) {
            Ok(value) => Ok(Some(value)),
            Err(error) if worth_retrying(&error) => {
                lane.connection = None;
                log::warn!(
                    "{operation} on {}: {error}; ending the wait round",
                    self.server
                );
                // A server that breaks every connection at once is not met with a hot loop.
                thread::sleep(FIRST_BACKOFF);
                Ok(None)
            }
            Err(error) => {
                lane.connection = None;
                Err(ConnectionError::redis(operation, &self.server, error))
            }
        };
        self.checkin(lane);
        outcome
    }

    /// One try of `call` on `lane`'s connection, made first if the lane has none.
    fn attempt<T>(
        &self,
        lane: &mut Lane,
        call: &mut impl FnMut(&mut Connection, OpId<'_>) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let connection = match lane.connection.as_mut() {
            Some(connection) => connection,
            None => lane.connection.insert(self.connect()?),
        };
        call(
            connection,
            OpId {
                lane: &lane.id,
                seq: lane.seq,
            },
        )
    }

    fn checkin(&self, lane: Lane) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(lane);
    }

    fn checkout(&self) -> Lane {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        idle.unwrap_or_else(|| Lane {
            connection: None,
            id: lane_id(),
            seq: 0,
        })
    }

    fn connect(&self) -> RedisResult<Connection> {
        let connection = connect_within(&self.client, CONNECT_TIMEOUT)?;
        connection.set_read_timeout(Some(READ_TIMEOUT))?;
        connection.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(connection)
    }
}

/// How long [`told_refusal`] waits at most for a server to speak: one that refuses a
/// connection writes its reason as it accepts it, and any other answers a `PING` at once.
const GREETING_TIMEOUT: Duration = Duration::from_millis(200);

/// The longest first line [`greeting`] reads.
const GREETING_LIMIT: u64 = 4096;

/// `error`, a new connection's end at its set-up, told again with the server's reason when
/// it gives one. A server at its `maxclients` takes a connection only to write why it
/// refuses it and close it; the client's set-up reads that line as the reply to a command
/// whose reply it ignores, then finds the connection dropped, and the reason is lost. So a
/// second connection, made by `probe` to the same address, asks, and a full server tells it
/// at once. The error stays a refused connection, retried as one: a place frees when a
/// client leaves. The probe is given what is `left` of the connect's time, so it does not
/// stretch it.
fn told_refusal<S: Read + Write + Send + 'static>(
    error: &RedisError,
    left: Duration,
    probe: impl FnOnce() -> std::io::Result<S> + Send + 'static,
) -> Option<RedisError> {
    if error.is_timeout() || !error.is_connection_dropped() {
        return None;
    }
    let reason = within(left.min(GREETING_TIMEOUT), move || Ok(greeting(probe()?)))
        .ok()
        .flatten()?;
    Some(
        std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            format!("the server refuses new connections: {reason}"),
        )
        .into(),
    )
}

/// The error a server writes on a new connection, `stream`, before it reads anything and
/// then ends the connection (`ERR max number of clients reached`), its control characters
/// replaced; `None` when it answers the `PING` sent, drops the connection without a word, or
/// says nothing before the stream's read timeout.
fn greeting(mut stream: impl Read + Write) -> Option<String> {
    // A server that refuses writes its reason before it reads, so the PING comes after the
    // reason; any other server answers it, or drops this connection as it dropped the
    // set-up's, at once, where waiting for it to speak first would cost the whole timeout.
    // A failed write is the connection's end, which the read finds.
    let _ = stream.write_all(b"*1\r\n$4\r\nPING\r\n");
    // The whole first line, which may come in several reads: Redis's refusal in protected
    // mode is about a thousand characters long. A bound, for a peer that never ends it.
    let mut reader = BufReader::new(stream.take(GREETING_LIMIT));
    let mut first = Vec::new();
    // The server closing with the PING unread resets the connection, which may end the line
    // as an end of file would; the bytes read before it stay in `first`.
    let ended_in_line = match reader.read_until(b'\n', &mut first) {
        Ok(_) => false,
        Err(error) if is_connection_end(&error) => true,
        Err(_) => return None,
    };
    let text = String::from_utf8_lossy(&first);
    let reason = text.strip_prefix('-')?.trim();
    // A refusal is the last thing the server says; an error answering the PING (`NOAUTH`)
    // leaves the connection open. Asked of the stream itself, past the line's bound, which
    // is not the connection's end.
    let ended = ended_in_line
        || (reader.buffer().is_empty()
            && match reader.into_inner().into_inner().read(&mut [0]) {
                Ok(read) => read == 0,
                Err(error) => is_connection_end(&error),
            });
    // Raw bytes of a peer's, told in a line of a log or a terminal: a carriage return or an
    // escape there would rewrite what the line says, the server's name first.
    let reason: String = reason
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    (ended && !reason.is_empty()).then_some(reason)
}

/// Whether `error` is a connection's end told as an error: a reset, or a write after it.
fn is_connection_end(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof
    )
}

impl Drop for Lanes {
    /// Deletes the lanes' records: no call of this handle can be retried any more. Every
    /// lane is idle now (a call holds a borrow of the handle), and a dropped handle does not
    /// wait long for a server out of reach: a connection already open is used, and one new
    /// connection when none is open and a call that failed kept its lane aside, or when
    /// the server closed the open one; all of it within [`FORGET_TIMEOUT`], and a failure
    /// leaves the records.
    fn drop(&mut self) {
        let mut lanes = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        let parked = std::mem::take(self.parked.get_mut().unwrap_or_else(|p| p.into_inner()));
        let kept = std::mem::take(self.kept.get_mut().unwrap_or_else(|p| p.into_inner()));
        let any_parked = !parked.is_empty() || !kept.is_empty();
        lanes.extend(parked.into_values().flatten());
        lanes.extend(kept.into_values().flatten().map(|(lane, _)| lane));
        let ids: Vec<String> = lanes.iter().map(|lane| lane.id.clone()).collect();
        let open = lanes.into_iter().find_map(|lane| lane.connection);
        // Only for a failed call's record (an order's holds its items; a publish's, an
        // add's or a remove's says whether it moved an item): a handle whose connect failed
        // has no record to delete, and would wait for nothing.
        if open.is_none() && !any_parked {
            return;
        }
        let forgetting = Forgetting {
            client: self.client.clone(),
            records: self.records.clone(),
            ids,
        };
        // Socket timeouts bound each read, not a whole answer, nor a new connection's
        // set-up of several replies: only a deadline of the drop's own bounds them all.
        if let Err(error) = within(FORGET_TIMEOUT, move || forgetting.run(open)) {
            log::debug!(
                "forgetting the lanes of a handle on {}: {error}",
                self.server
            );
        }
    }
}

/// What a dropped handle asks the server to delete: its lanes' records.
struct Forgetting {
    client: Client,
    records: String,
    ids: Vec<String>,
}

impl Forgetting {
    /// Deletes the records through `open`, or through a new connection when there is none
    /// or the server closed it.
    fn run(&self, open: Option<Connection>) -> RedisResult<()> {
        let Some(mut connection) = open else {
            return self.anew();
        };
        match self.through(&mut connection) {
            // The server may have closed a connection that stayed idle (its `timeout`, a
            // `CLIENT KILL`, a restart that kept the data) while it still answers; one that
            // went silent (a timeout) is not waited for twice.
            Err(error)
                if !error.is_timeout()
                    && (error.is_connection_dropped() || error.is_io_error()) =>
            {
                self.anew()
            }
            outcome => outcome,
        }
    }

    fn through(&self, connection: &mut Connection) -> RedisResult<()> {
        connection.set_read_timeout(Some(FORGET_TIMEOUT))?;
        connection.set_write_timeout(Some(FORGET_TIMEOUT))?;
        redis::cmd("HDEL")
            .arg(&self.records)
            .arg(&self.ids)
            .exec(connection)
    }

    fn anew(&self) -> RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(FORGET_TIMEOUT)?;
        self.through(&mut connection)
    }
}

/// A new connection through `client`: its host's name resolved within `timeout`, then each
/// of its addresses tried in turn, as redis-rs tries them, each given `timeout` in all; a
/// Unix socket given `timeout` in all. A set-up that ends as a dropped connection is told
/// with the reason the server writes on accept ([`told_refusal`]), over either, asked in
/// the time the address or socket has left.
/// redis-rs's own timeout bounds each reply its set-up waits for (`CLIENT SETINFO` twice,
/// and `AUTH` or `HELLO` and `SELECT` when the URL asks for them), so a server that accepts
/// and then answers nothing (stopped, hung) would hold a connect up for that time once per
/// reply; and one deadline for every address would leave none for the next address of a
/// name whose first one does not answer.
fn connect_within(client: &Client, timeout: Duration) -> RedisResult<Connection> {
    let info = client.get_connection_info().clone();
    let ConnectionAddr::Tcp(host, port) = &info.addr else {
        let client = client.clone();
        // Only a Unix socket's dropped set-up is asked its reason, in the time it has left.
        #[cfg(unix)]
        let started = Instant::now();
        let error = match within(timeout, move || client.get_connection_with_timeout(timeout)) {
            Ok(connection) => return Ok(connection),
            Err(error) => error,
        };
        #[cfg(unix)]
        if let ConnectionAddr::Unix(path) = &info.addr {
            let path = path.clone();
            let probe = move || {
                let stream = std::os::unix::net::UnixStream::connect(path)?;
                stream.set_read_timeout(Some(GREETING_TIMEOUT))?;
                Ok(stream)
            };
            let left = timeout.saturating_sub(started.elapsed());
            return Err(told_refusal(&error, left, probe).unwrap_or(error));
        }
        return Err(error);
    };
    let (host, port) = (host.clone(), *port);
    // A resolver that does not answer holds a connect up as a silent server does.
    let addresses = within(timeout, move || {
        Ok((host.as_str(), port).to_socket_addrs()?.collect::<Vec<_>>())
    })?;
    connect_to_first(&info, &addresses, timeout)
}

/// A connection to the first of `addresses` that answers within `timeout`, with the rest of
/// `info`; a server that answers with an error (a refused login, or a refusal it writes on
/// accept, asked of the address whose connection it dropped) is not asked again at its
/// other addresses.
fn connect_to_first(
    info: &ConnectionInfo,
    addresses: &[SocketAddr],
    timeout: Duration,
) -> RedisResult<Connection> {
    let mut last_error = None;
    for address in addresses {
        let mut one = info.clone();
        one.addr = ConnectionAddr::Tcp(address.ip().to_string(), address.port());
        let client = Client::open(one)?;
        let started = Instant::now();
        match within(timeout, move || client.get_connection_with_timeout(timeout)) {
            Ok(connection) => return Ok(connection),
            Err(error) if error.is_io_error() || error.is_timeout() => {
                let address = *address;
                let probe = move || {
                    let stream = TcpStream::connect_timeout(&address, GREETING_TIMEOUT)?;
                    stream.set_read_timeout(Some(GREETING_TIMEOUT))?;
                    Ok(stream)
                };
                let left = timeout.saturating_sub(started.elapsed());
                // A server that says why it refuses has answered, as one refusing a login.
                if let Some(refusal) = told_refusal(&error, left, probe) {
                    return Err(refusal);
                }
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        (
            redis::ErrorKind::InvalidClientConfig,
            "could not resolve to any addresses",
        )
            .into()
    }))
}

/// Runs `work` on a thread of its own and waits for its outcome until `timeout` only, then
/// fails with a timeout. A thread given up on ends within the socket timeouts its work sets
/// and drops what it made (a connection: closed).
fn within<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> RedisResult<T> + Send + 'static,
) -> RedisResult<T> {
    let (sender, receiver) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("marketplace-redis".to_owned())
        .spawn(move || {
            // The caller may have stopped waiting: then the outcome is dropped here.
            let _ = sender.send(work());
        })?;
    match receiver.recv_timeout(timeout) {
        Ok(outcome) => outcome,
        Err(RecvTimeoutError::Timeout) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer within the time given",
        )
        .into()),
        Err(RecvTimeoutError::Disconnected) => {
            Err(std::io::Error::other("the thread of a server call ended without an answer").into())
        }
    }
}

/// Errors of the transport, of a server that is starting or failing over, of one busy with
/// a long script (`BUSY`: it runs no other command until the script ends), or of a script
/// the server no longer knows (its cache flushed between the client's load of the script
/// and its run: nothing ran, and the next try loads it again); any other error (a script
/// error, a wrong type) would fail again.
pub(crate) fn worth_retrying(error: &RedisError) -> bool {
    error.code() == Some("BUSY")
        || error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            redis::ErrorKind::BusyLoadingError
                | redis::ErrorKind::TryAgain
                | redis::ErrorKind::MasterDown
                | redis::ErrorKind::ClusterDown
                | redis::ErrorKind::NoScriptError
        )
}

/// A random 64-bit number (the standard library's per-process hash keys, mixed with a
/// counter), unique across processes and hosts with overwhelming probability.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    // Ordering: only the count's uniqueness matters, not its order with other memory.
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

fn lane_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use marketplace_harness::redis_server::shared_server;

    use super::*;

    /// Connection settings whose address each test gives `connect_to_first` itself.
    fn any_connection_info() -> ConnectionInfo {
        Client::open("redis://localhost/")
            .expect("a URL")
            .get_connection_info()
            .clone()
    }

    /// `error` tells the refusal of a server at its `maxclients`, as `refusing_server`
    /// writes it.
    fn assert_told_the_client_limit(error: &RedisError) {
        assert!(
            error.to_string().contains("max number of clients reached"),
            "{error}"
        );
    }

    /// A stand-in for a server at its `maxclients`: it takes every connection only to write
    /// why it refuses it, and closes it.
    fn refusing_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
            }
        });
        address
    }

    /// A stand-in for a peer that drops a connection once it is sent anything, and holds
    /// one that sends nothing, silent: a server that dropped the set-up for a reason it does
    /// not tell, and writes nothing on accept.
    fn dropping_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let _ = stream.read(&mut [0]);
                });
            }
        });
        address
    }

    /// What [`greeting`] makes of a peer that treats the probe's connection as `serve` does.
    fn greeting_of(serve: impl FnOnce(TcpStream) + Send + 'static) -> Option<String> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("the probe's connection");
            serve(stream);
        });
        let stream = TcpStream::connect(address).expect("a connection");
        stream
            .set_read_timeout(Some(GREETING_TIMEOUT))
            .expect("a read timeout");
        let told = greeting(&stream);
        drop(stream);
        server.join().expect("the stand-in ends");
        told
    }

    /// Keeps `stream` open until its peer closes it.
    fn hold_until_closed(mut stream: TcpStream) {
        let mut sink = [0; 1024];
        while matches!(stream.read(&mut sink), Ok(read) if read > 0) {}
    }

    /// An error line longer than the probe reads, on a connection the peer keeps, is no
    /// refusal: the bound on the line is not the connection's end.
    #[test]
    fn a_long_error_line_on_a_connection_kept_open_is_no_refusal() {
        let told = greeting_of(|mut stream| {
            let line = format!("-{}", "x".repeat(GREETING_LIMIT as usize + 100));
            let _ = stream.write_all(line.as_bytes());
            hold_until_closed(stream);
        });
        assert_eq!(told, None);
    }

    /// A server that closes a connection it has not read all of resets it, and the probe's
    /// `PING` may be that unread part: a refusal is told though the reset, not an end of
    /// file, ends its line (here one without its newline).
    #[test]
    fn a_refusal_whose_line_a_reset_ends_is_told() {
        let told = greeting_of(|mut stream| {
            let _ = stream.write_all(b"-ERR max number of clients reached");
            // Waits for the PING, left unread, so that the close resets the connection.
            let _ = stream.peek(&mut [0]);
        });
        assert_eq!(told.as_deref(), Some("ERR max number of clients reached"));
    }

    /// A stand-in for a server that drops the first connection once it is sent anything, and
    /// then takes connections without a word (hung), so a probe gets no answer.
    fn dropping_then_silent_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        thread::spawn(move || drop_the_first_then_hold(listener.incoming().flatten()));
        address
    }

    /// Drops the first of `connections` once it is sent anything, then takes the rest
    /// without a word, held unanswered for the rest of the test process.
    fn drop_the_first_then_hold<S: Read>(mut connections: impl Iterator<Item = S>) {
        if let Some(mut first) = connections.next() {
            let _ = first.read(&mut [0]);
        }
        let _held: Vec<S> = connections.collect();
    }

    /// Runs `connect`, which must end as a dropped connection, and returns how long it took.
    fn time_a_dropped_connect(connect: impl FnOnce() -> RedisResult<Connection>) -> Duration {
        let started = Instant::now();
        let outcome = connect();
        let took = started.elapsed();
        match outcome {
            Err(error) => assert!(error.is_connection_dropped(), "{error}"),
            Ok(_) => panic!("a dropped connection was taken"),
        }
        took
    }

    /// The probe asking a dropped set-up's reason spends the address's time, not more: a
    /// connect to one address ends within its `timeout` (here a quarter of the probe's own
    /// bound) however long the probe would wait.
    #[test]
    fn the_refusal_probe_keeps_within_the_time_of_its_address() {
        let info = any_connection_info();
        let timeout = GREETING_TIMEOUT / 4;
        let took = time_a_dropped_connect(|| {
            connect_to_first(&info, &[dropping_then_silent_server()], timeout)
        });
        assert!(
            took < GREETING_TIMEOUT,
            "the connect took {took:?} for an address given {timeout:?}"
        );
    }

    /// A peer that writes bytes no terminal should be sent (a carriage return, which would
    /// hide the start of the line naming the server; an escape sequence) is told in one
    /// plain line: its reason keeps its text and none of those.
    #[test]
    fn a_refusal_of_control_characters_is_told_in_one_plain_line() {
        let told = greeting_of(|mut stream| {
            let _ = stream.write_all(b"-ERR full\rhidden\x1b[2K\x00\r\n");
        })
        .expect("a refusal");
        assert!(!told.chars().any(char::is_control), "{told:?}");
        assert!(
            told.starts_with("ERR full") && told.contains("hidden"),
            "{told:?}"
        );
    }

    #[test]
    fn a_connection_dropped_without_a_word_is_not_held_up_for_a_reason() {
        let info = any_connection_info();
        let took = time_a_dropped_connect(|| {
            connect_to_first(&info, &[dropping_server()], CONNECT_TIMEOUT)
        });
        assert!(
            took < GREETING_TIMEOUT,
            "the connect took {took:?}, waiting for a reason never given"
        );
    }

    /// As [`the_refusal_probe_keeps_within_the_time_of_its_address`], over a Unix socket.
    #[cfg(unix)]
    #[test]
    fn the_refusal_probe_keeps_within_the_time_of_a_unix_socket() {
        use std::os::unix::net::UnixListener;

        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("dropping.sock");
        let listener = UnixListener::bind(&path).expect("a Unix socket");
        thread::spawn(move || drop_the_first_then_hold(listener.incoming().flatten()));
        let client = Client::open(format!("redis+unix://{}", path.display())).expect("a URL");
        let timeout = GREETING_TIMEOUT / 4;
        let took = time_a_dropped_connect(|| connect_within(&client, timeout));
        assert!(
            took < GREETING_TIMEOUT,
            "the connect took {took:?} for a socket given {timeout:?}"
        );
    }

    /// A server that needs a password and drops a set-up for a reason it does not tell:
    /// its answer to the probe's `PING`, `NOAUTH`, is no refusal, since it keeps the
    /// connection.
    #[test]
    fn an_error_answering_the_probe_is_not_taken_for_a_refusal() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut request = [0; 1024];
                    let read = stream.read(&mut request).unwrap_or(0);
                    if String::from_utf8_lossy(&request[..read]).contains("PING") {
                        let _ = stream.write_all(b"-NOAUTH Authentication required.\r\n");
                        // Held until the probe gives up.
                        let _ = stream.read(&mut request);
                    }
                });
            }
        });
        let info = any_connection_info();
        match connect_to_first(&info, &[address], CONNECT_TIMEOUT) {
            Err(error) => assert!(error.is_connection_dropped(), "{error}"),
            Ok(_) => panic!("a dropped connection was taken"),
        }
    }

    #[test]
    fn a_refusal_is_asked_of_the_address_whose_connection_dropped() {
        let closed = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port");
        let addresses = [closed, refusing_server()];
        let info = any_connection_info();
        match connect_to_first(&info, &addresses, CONNECT_TIMEOUT) {
            Err(error) => assert_told_the_client_limit(&error),
            Ok(_) => panic!("a refusing server was taken"),
        }
    }

    /// A server that tells why it refuses has answered, as one refusing a login does: the
    /// name's other addresses are not tried (redis-rs sets up the first connection that
    /// opens, and tries no other after it), even where one would have served.
    #[test]
    fn a_told_refusal_is_the_answer_and_later_addresses_are_not_tried() {
        let server = shared_server();
        let addresses = [
            refusing_server(),
            SocketAddr::from(([127, 0, 0, 1], server.port())),
        ];
        let info = Client::open(server.url())
            .expect("the server's URL")
            .get_connection_info()
            .clone();
        match connect_to_first(&info, &addresses, CONNECT_TIMEOUT) {
            Err(error) => assert_told_the_client_limit(&error),
            Ok(_) => panic!("the address after a refusing one was tried"),
        }
    }

    #[test]
    fn a_connect_goes_on_to_the_next_address_when_the_first_does_not_answer() {
        // Takes connections (the kernel completes them) and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let server = shared_server();
        let addresses = [
            silent.local_addr().expect("its address"),
            SocketAddr::from(([127, 0, 0, 1], server.port())),
        ];
        let info = Client::open(server.url())
            .expect("the server's URL")
            .get_connection_info()
            .clone();
        let timeout = Duration::from_millis(300);
        let mut connection = connect_to_first(&info, &addresses, timeout)
            .unwrap_or_else(|e| panic!("the second address was not tried: {e}"));
        let pong: String = redis::cmd("PING")
            .query(&mut connection)
            .expect("the server answers");
        assert_eq!(pong, "PONG");
    }
}
