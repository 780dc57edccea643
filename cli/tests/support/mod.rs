//! Helpers shared by the command line's tests: running the built binary, temporary files, the
//! reference suite's location. Each test binary uses a different subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Every value of `run --actors`: conformance tests run the binary in each.
pub(crate) const ACTORS: [&str; 2] = ["tasks", "threads"];

/// Runs `marketplace run SCENARIO --time-scale SCALE --actors ACTORS`.
pub(crate) fn run_scenario(scenario: &Path, scale: &str, actors: &str) -> Output {
    marketplace(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--time-scale".as_ref(),
        scale.as_ref(),
        "--actors".as_ref(),
        actors.as_ref(),
    ])
}

/// Runs `marketplace run SCENARIO --time-scale 0 --log-file LOG`, then `extra`.
pub(crate) fn run_logged(scenario: &Path, log: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    let mut args = vec![
        "run".as_ref(),
        scenario.as_os_str(),
        "--time-scale".as_ref(),
        "0".as_ref(),
        "--log-file".as_ref(),
        log.as_os_str(),
    ];
    args.extend_from_slice(extra);
    marketplace(&args)
}

/// Runs the `marketplace` binary with `args`.
pub(crate) fn marketplace<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .args(args)
        .output()
        .expect("the marketplace binary runs")
}

/// A fresh path under Cargo's per-target temporary directory.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("marketplace-tests");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir.join(format!("{}-{name}", std::process::id()))
}

/// Writes `contents` to a fresh temporary file and returns its path.
pub(crate) fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, contents).expect("temporary file written");
    path
}

/// The repository's root (this crate lives in `cli/`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// The reference scenarios, or `None` (with a printed notice) when `../shared` (beside the
/// repository) is absent.
pub(crate) fn reference_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/reference-tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

/// `bytes` split into lines, sorted byte-wise (as `LC_ALL=C sort` does), joined again.
pub(crate) fn sorted(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("output is UTF-8");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut out = Vec::with_capacity(bytes.len());
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Asserts the run succeeded and its sorted stdout is exactly `expected`.
pub(crate) fn assert_conforms(output: &Output, expected: &[u8], what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what}: {}\n{stderr}",
        output.status
    );
    let got = sorted(&output.stdout);
    if got != expected {
        let got = String::from_utf8_lossy(&got);
        let want = String::from_utf8_lossy(expected);
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{what}: sorted output differs from the expectation at line {}: got {} lines, want {}\n got: {:?}\nwant: {:?}",
            first + 1,
            got.lines().count(),
            want.lines().count(),
            got.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

/// Whether `python3` runs here; when not, prints the notice of a skipped test.
pub(crate) fn python3_available() -> bool {
    let available = Command::new("python3").arg("--version").output().is_ok();
    if !available {
        println!("skipped: python3 is not installed");
    }
    available
}

/// Runs `python3 -c SCRIPT` with `input` on its stdin, and returns what it did. The scripts
/// read all of their input before they print, so writing it first cannot deadlock on a
/// full pipe.
pub(crate) fn python3(script: &str, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("input written");
    child.wait_with_output().expect("python3 runs")
}

/// Waits for `child` to end, at most `limit`: past it, kills it and fails with `hang`.
pub(crate) fn finish_within(child: Child, limit: Duration, hang: &str) -> Output {
    let (sender, ended) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let Ok(output) = ended.recv_timeout(limit) else {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        panic!("{hang}: still running after {limit:?}");
    };
    output.expect("the process ends")
}

/// Runs `sh -c SCRIPT marketplace ARGS...` (so `"$0"` is the binary), with `env` set, at
/// most `limit`; the script limits the run's address space, so a run that holds everything
/// fails quickly instead of taking the machine's memory.
#[cfg(unix)]
pub(crate) fn sh_marketplace_within(
    script: &str,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    limit: Duration,
) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_marketplace"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("sh runs");
    finish_within(child, limit, script)
}

/// Runs `marketplace ARGS...`, its stdout discarded, with `env` set and its address space
/// limited to `kilobytes`, for at most a minute, and asserts that it ends normally with
/// nothing on stderr: a run that held more than the limit fails for want of memory.
/// `what` names the run in a failure.
#[cfg(unix)]
pub(crate) fn assert_runs_within_memory(
    kilobytes: u32,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    what: &str,
) {
    let script = format!("ulimit -v {kilobytes} && exec \"$0\" \"$@\" >/dev/null");
    let output = sh_marketplace_within(&script, args, env, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what}: {}: {stderr}",
        output.status
    );
    assert_eq!(stderr, "", "{what}");
}

/// A scenario file of one cart buying `items` of a product named with `name_bytes` bytes,
/// all on the shelf at once.
pub(crate) fn one_cart_of(file: &str, name_bytes: usize, items: u64) -> PathBuf {
    let scenario = serde_json::json!({
        "products": {"m": {"product_type": "Product", "name": "x".repeat(name_bytes), "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": items}]]}],
        "marketplace": {"queue_size_per_producer": items}
    });
    temp_file(file, &scenario.to_string())
}

/// Sends `signal` (`INT`, `TERM`) to `child` with kill(1).
#[cfg(unix)]
pub(crate) fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{signal}");
}

/// Runs `f` on a thread of its own: the message it panicked with (`None` if it returned,
/// or panicked with no `&str`), or `Err` if it has not ended within `limit`.
pub(crate) fn panic_message_of<R>(
    f: impl FnOnce() -> R + Send + 'static,
    limit: Duration,
) -> Result<Option<String>, std::sync::mpsc::RecvTimeoutError> {
    let (ended, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let message = unwound.err().and_then(|payload| {
            payload
                .downcast_ref::<&str>()
                .map(|message| message.to_string())
        });
        let _ = ended.send(message);
    });
    outcome.recv_timeout(limit)
}
