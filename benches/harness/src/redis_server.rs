//! A `redis-server` for tests: started from `PATH` on a free loopback port, stopped when
//! dropped, and stopped with the test process however it ends.
//!
//! The server runs under a small shell that holds the server's pid and reads its own
//! standard input, which only this process writes: when the process exits (even by a
//! panic or a signal), that pipe closes, the shell's read returns and it stops the server.
//! Readiness is the server's own "Ready to accept connections" line, not a timed wait; the
//! shell lets go of the log pipe at once, so a server that fails to start closes it and the
//! start panics with what the server said instead of waiting for ever. A free port is one
//! the system chose a moment before, so another process may take it first: the start then
//! tries another.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A running server; dropping it stops the server.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    /// Held open: its closing tells the shell to stop the server.
    lifeline: Option<ChildStdin>,
    port: u16,
    persistence: Option<PathBuf>,
}

impl RedisServer {
    /// A server without persistence on a free loopback port.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not on `PATH` or does not start (the message says how to
    /// install it).
    pub fn start() -> RedisServer {
        Self::launch_on_any(std::iter::repeat_with(free_port), None)
    }

    /// A server on a free loopback port that writes every change to an append-only file in
    /// `dir` and syncs it before replying (`appendonly yes`, `appendfsync always`).
    pub fn start_persistent(dir: &Path) -> RedisServer {
        Self::launch_on_any(std::iter::repeat_with(free_port), Some(dir.to_path_buf()))
    }

    /// Stops the server at once (as a crash would) and starts it again on the same port
    /// and files.
    pub fn restart(&mut self) {
        self.stop();
        let restarted = Self::launch(self.port, self.persistence.clone());
        *self = restarted;
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain client connection, for a test to watch or disturb the server (`INFO`,
    /// `CLIENT KILL`, `SCRIPT FLUSH`) beside the handles it tests.
    ///
    /// # Panics
    ///
    /// When the server does not accept it.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .expect("a plain connection to the test server")
    }

    /// Sets one of the server's settings (`CONFIG SET NAME VALUE`), on a connection of its
    /// own.
    ///
    /// # Panics
    ///
    /// When the server refuses it or does not answer.
    pub fn config_set(&self, name: &str, value: &str) {
        redis::cmd("CONFIG")
            .arg(&["SET", name, value])
            .query::<()>(&mut self.connection())
            .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
    }

    /// Closes every client connection but the one it asks through (`CLIENT KILL TYPE normal
    /// SKIPME yes`), as an idle `timeout` or an operator's `CLIENT KILL` closes them, the
    /// server going on answering; returns how many it closed.
    ///
    /// # Panics
    ///
    /// When the server does not answer.
    pub fn close_client_connections(&self) -> u64 {
        redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
            .query(&mut self.connection())
            .expect("CLIENT KILL")
    }

    /// Stops the server's process (`SIGSTOP`) until the guard is dropped (`SIGCONT`), however
    /// the test ends: a server that keeps its connections open and answers nothing, as a
    /// hung host does. The kernel still accepts new connections for it.
    ///
    /// # Panics
    ///
    /// When the server does not tell its process id, or `kill` fails.
    pub fn silence(&self) -> Silenced {
        let pid = info_field(&mut self.connection(), "server", "process_id")
            .expect("the server tells its process id");
        signal("STOP", pid);
        Silenced(pid)
    }

    /// Returns once some client of the server is blocked in a wait (the server's own count
    /// of blocked clients): the event a test waits for before it changes the market under a
    /// waiting call. The test owns the server, so no other test's waiter counts.
    ///
    /// # Panics
    ///
    /// When no client has waited within 30 s, or the server does not answer `INFO`.
    pub fn until_a_client_waits(&self) {
        self.until_clients_wait(1);
    }

    /// As [`until_a_client_waits`](Self::until_a_client_waits), once `count` clients are
    /// blocked at once.
    ///
    /// # Panics
    ///
    /// When fewer have waited within 30 s, or the server does not answer `INFO`.
    pub fn until_clients_wait(&self, count: u64) {
        let mut watch = self.connection();
        let started = Instant::now();
        while blocked_clients(&mut watch) < count {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{count} clients did not wait on the server within 30 s"
            );
            thread::yield_now();
        }
    }

    /// Starts the server on the first of (at most [`PORT_TRIES`] of) `ports` no other
    /// process has taken meanwhile.
    fn launch_on_any(
        ports: impl IntoIterator<Item = u16>,
        persistence: Option<PathBuf>,
    ) -> RedisServer {
        let mut ports = ports.into_iter().take(PORT_TRIES).peekable();
        while let Some(port) = ports.next() {
            match Self::try_launch(port, persistence.clone()) {
                Err(said) if ports.peek().is_some() && said.contains("Address already in use") => {}
                started => return started.unwrap_or_else(|said| Self::failed(port, &said)),
            }
        }
        panic!("no port to start redis-server on")
    }

    fn launch(port: u16, persistence: Option<PathBuf>) -> RedisServer {
        Self::try_launch(port, persistence).unwrap_or_else(|said| Self::failed(port, &said))
    }

    fn failed(port: u16, said: &str) -> ! {
        panic!(
            "redis-server did not start on port {port}; is it installed \
             (Debian: apt-get install redis-server)? It said:\n{said}"
        )
    }

    /// The server started on `port`, or what it said before it gave up.
    fn try_launch(port: u16, persistence: Option<PathBuf>) -> Result<RedisServer, String> {
        let mut args = vec![
            "--port".to_owned(),
            port.to_string(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--save".to_owned(),
            "''".to_owned(),
            "--logfile".to_owned(),
            "''".to_owned(),
        ];
        match &persistence {
            Some(dir) => args.extend([
                "--dir".to_owned(),
                shell_quote(&dir.display().to_string()),
                "--appendonly".to_owned(),
                "yes".to_owned(),
                "--appendfsync".to_owned(),
                "always".to_owned(),
            ]),
            None => args.extend(["--appendonly".to_owned(), "no".to_owned()]),
        }
        let script = format!(
            "redis-server {} & server=$!; exec >/dev/null; read _ignored; kill -9 $server 2>/dev/null; wait $server 2>/dev/null",
            args.join(" ")
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sh starts");
        let lifeline = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(line)) => seen.push(line),
                _ => {
                    // The server gave up; closing the lifeline ends the shell too.
                    drop(lifeline);
                    let _ = child.wait();
                    return Err(seen.join("\n"));
                }
            }
        }
        // Keep draining the server's log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(RedisServer {
            child,
            lifeline: Some(lifeline),
            port,
            persistence,
        })
    }

    /// Closes the lifeline, so the shell kills the server (with no chance to save
    /// anything, as a crash), and waits until both are gone.
    fn stop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server stopped by [`RedisServer::silence`]; dropping this lets it go on.
#[derive(Debug)]
pub struct Silenced(u32);

impl Drop for Silenced {
    fn drop(&mut self) {
        signal("CONT", self.0);
    }
}

/// Sends `name` (`STOP`, `CONT`) to process `pid`.
fn signal(name: &str, pid: u32) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name} {pid} failed");
}

/// How many ports a start tries before it gives up.
const PORT_TRIES: usize = 5;

/// The number a line `field:N` of the server's `INFO section` gives.
///
/// # Panics
///
/// When the server does not answer `INFO`.
pub fn info_field<T: std::str::FromStr>(
    connection: &mut redis::Connection,
    section: &str,
    field: &str,
) -> Option<T> {
    info_value(connection, section, field).and_then(|n| n.trim().parse().ok())
}

/// How many times the server on `connection` has run a script by its digest (`EVALSHA`),
/// from `INFO commandstats` (`cmdstat_evalsha:calls=N,...`; 0 before the first).
///
/// # Panics
///
/// When the server does not answer `INFO`.
pub fn script_runs(connection: &mut redis::Connection) -> u64 {
    info_value(connection, "commandstats", "cmdstat_evalsha")
        .and_then(|stats| {
            stats
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The text after `field:` on its line of the server's `INFO section`.
///
/// # Panics
///
/// When the server does not answer `INFO`.
fn info_value(connection: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query(connection)
        .unwrap_or_else(|e| panic!("INFO {section}: {e}"));
    info.lines()
        .find_map(|line| line.trim().strip_prefix(field)?.strip_prefix(':'))
        .map(str::to_owned)
}

/// How many clients of the server on `connection` are blocked now, waiting for a list to
/// fill.
///
/// # Panics
///
/// When the server does not answer `INFO`.
pub fn blocked_clients(connection: &mut redis::Connection) -> u64 {
    info_field(connection, "clients", "blocked_clients").unwrap_or(0)
}

/// One server shared by every test of this process, started by the first that asks; it
/// stops when the process exits.
pub fn shared_server() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(RedisServer::start)
}

/// A market name that no other call, in this test process or any other, returns:
/// `WHAT-PID-N`.
pub fn fresh_market_name(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Ordering: only uniqueness of the count matters.
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{what}-{}-{serial}", std::process::id())
}

/// A port nobody listens on now (the system's choice for an ephemeral bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that cannot start (its port taken) makes the start fail with the server's
    /// words, instead of waiting for a line that never comes.
    #[test]
    #[should_panic(expected = "did not start")]
    fn a_server_that_cannot_listen_fails_the_start() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = taken.local_addr().expect("bound").port();
        RedisServer::launch(port, None);
    }

    /// A port taken between its choice and the server's start is not a failure: the start
    /// goes on to the next port.
    #[test]
    fn a_port_taken_meanwhile_is_passed_over() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
        let busy = taken.local_addr().expect("bound").port();
        let server = RedisServer::launch_on_any([busy, free_port()], None);
        assert_ne!(server.port(), busy);
        let pong: String = redis::cmd("PING")
            .query(&mut server.connection())
            .expect("the server answers");
        assert_eq!(pong, "PONG");
    }
}
