//! What the system may refuse a run, and what may happen to its log while it runs: the
//! process fails with one line or goes on, and never panics or hangs.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
#[cfg(unix)]
use support::{assert_runs_within_memory, send};
use support::{
    finish_within, one_cart_of, run_logged, sh_marketplace_within, temp_file, temp_path,
};

/// Tokio panics when the system refuses it a worker thread, and, once one has started,
/// hangs unwinding; the run must end with exit code 1 and one line instead. The limit on
/// address space (which root is subject to too) leaves room for a run's usual threads but
/// not for 1024 of them, each reserving its stack.
#[cfg(target_os = "linux")]
#[test]
fn worker_threads_the_system_refuses_fail_cleanly() {
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 2}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("refused-workers.json", &scenario.to_string());
    let run = |workers: &str| {
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 500000 && exec \"$0\" run \"$1\" --time-scale 0 --workers \"$2\"")
            .arg(env!("CARGO_BIN_EXE_marketplace"))
            .arg(&path)
            .arg(workers)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh runs");
        finish_within(child, Duration::from_secs(60), "a run refused its workers")
    };
    let fits = run("2");
    assert!(
        fits.status.success(),
        "two workers fit: {}",
        String::from_utf8_lossy(&fits.stderr)
    );
    let output = run("1024");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains("cannot run: cannot start the async runtime")
            && stderr.contains("--workers"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The log's directory removed while the run logs quickly (consumers retrying every 2 ms
/// for 1.5 s, so the log must rotate after the removal): the run goes on to its normal
/// end, and stderr gets one warning, not one error per record; with both kinds of actors.
#[cfg(unix)]
#[test]
fn a_log_directory_removed_mid_run_gives_one_warning() {
    // `--quiet` prints nothing on stderr but errors: not this warning either.
    for (actors, quiet) in [("threads", false), ("tasks", false), ("threads", true)] {
        let dir = temp_path(&format!("removed-log-{actors}-{quiet}"));
        let child = a_run_logging_quickly_to(&dir, actors, quiet, 1.5);
        std::fs::remove_dir_all(&dir).expect("the log directory is removed");
        let output = finish_within(child, Duration::from_secs(60), "a run without its log");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{actors}: {stderr}");
        assert_eq!(
            output.stdout.iter().filter(|&&b| b == b'\n').count(),
            100,
            "{actors}"
        );
        if quiet {
            assert_eq!(stderr, "", "{actors} --quiet");
            continue;
        }
        assert!(!stderr.contains("flexi_logger"), "{actors}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{actors}: {stderr}");
        assert!(
            stderr.starts_with("warning: the log ") && stderr.contains("could not be kept"),
            "{actors}: {stderr}"
        );
    }
}

/// The log's directory removed and made again, over and over, while the run logs quickly
/// and rotates its log: the logger, which lists the directory as it opens its first file
/// and as it removes old ones, finds it gone now and then. The run ends normally, with
/// nothing on stderr but at most the one warning about the log, never a panic message.
#[cfg(target_os = "linux")]
#[test]
fn a_log_directory_removed_again_and_again_gives_no_panic_message() {
    use std::sync::atomic::{AtomicBool, Ordering};

    for actors in ["threads", "tasks"] {
        let dir = temp_path(&format!("churned-log-{actors}"));
        let child = a_run_logging_quickly_to(&dir, actors, false, 2.0);
        let ended = AtomicBool::new(false);
        let output = std::thread::scope(|scope| {
            scope.spawn(|| {
                // Ordering: a flag to stop at, guarding no data.
                while !ended.load(Ordering::Relaxed) {
                    let _ = std::fs::remove_dir_all(&dir);
                    let _ = std::fs::create_dir_all(&dir);
                }
            });
            let output =
                finish_within(child, Duration::from_secs(60), "a run with its log churned");
            ended.store(true, Ordering::Relaxed);
            output
        });
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{actors}: {stderr}");
        assert_eq!(
            output.stdout.iter().filter(|&&b| b == b'\n').count(),
            100,
            "{actors}"
        );
        assert!(!stderr.contains("panicked"), "{actors}: {stderr}");
        assert!(stderr.lines().count() <= 1, "{actors}: {stderr}");
    }
}

/// Starts a run that logs quickly to `dir` (100 consumers retrying every 2 ms until a late
/// product comes after `late` seconds, so the log rotates meanwhile), and returns it once
/// its first record has opened the log's current file.
#[cfg(unix)]
fn a_run_logging_quickly_to(
    dir: &std::path::Path,
    actors: &str,
    quiet: bool,
    late: f64,
) -> std::process::Child {
    let consumers: Vec<_> = (0..100)
        .map(|i| {
            json!({"name": format!("c{i}"), "retry_wait_time": 0.002,
                   "carts": [[{"type": "add", "product": "m", "quantity": 1}]]})
        })
        .collect();
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4},
                     "x": {"product_type": "Product", "name": "Late", "price": 1}},
        "producers": [{"name": "p", "products": [["x", 1, late], ["m", 100, 0]],
                       "republish_wait_time": 0}],
        "consumers": consumers,
        "marketplace": {"queue_size_per_producer": 200}
    });
    let name = dir.file_name().expect("a directory name").to_string_lossy();
    let path = temp_file(&format!("{name}.json"), &scenario.to_string());
    let child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(&path)
        .args(quiet.then_some("--quiet"))
        .args(["--actors", actors, "--log-file"])
        .arg(dir.join("m.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let current = dir.join("m_rCURRENT.log");
    let start = Instant::now();
    while !current.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{actors}: no log"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child
}

/// The log rotates at 1 MB and keeps the 20 most recent full files beside the current one:
/// a run logging over 20 MB (80,000 items, carts of 100) leaves 21 files, the oldest ones
/// removed, each at most 1 MB and one record (the record that crossed the mark).
#[test]
fn the_log_rotates_at_1_mb_and_keeps_20_full_files() {
    const MB: u64 = 1_000_000;
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 80_000, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": vec![json!([{"type": "add", "product": "m", "quantity": 100}]); 800]}],
        "marketplace": {"queue_size_per_producer": 100}
    });
    let path = temp_file("rotating.json", &scenario.to_string());
    let dir = temp_path("rotating-log");
    let output = run_logged(&path, &dir.join("m.log"), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut files: Vec<(String, u64, u64)> = std::fs::read_dir(&dir)
        .expect("the log directory")
        .map(|entry| {
            let entry = entry.expect("an entry");
            let text = std::fs::read_to_string(entry.path()).expect("a log file");
            let longest = text
                .lines()
                .map(|line| line.len() as u64 + 1)
                .max()
                .unwrap_or(0);
            (
                entry.file_name().to_string_lossy().into_owned(),
                text.len() as u64,
                longest,
            )
        })
        .collect();
    files.sort();
    let logged: u64 = files.iter().map(|(_, size, _)| size).sum();
    std::fs::remove_dir_all(&dir).expect("the log directory is removed");
    assert!(
        logged > 20 * MB,
        "only {logged} bytes kept: the run must log more"
    );
    let names: Vec<&str> = files.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(files.len(), 21, "{names:?}");
    assert_eq!(names[20], "m_rCURRENT.log", "{names:?}");
    assert_ne!(
        names[0], "m_r00000.log",
        "the oldest files are removed: {names:?}"
    );
    for (name, size, longest) in &files[..20] {
        assert!(*size >= MB, "{name}: rotated at {size} bytes");
        assert!(*size <= MB + longest, "{name}: {size} bytes");
    }
}

/// The peak resident memory of a running process, in bytes (`VmHWM` of /proc/PID/status).
#[cfg(target_os = "linux")]
fn peak_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kb * 1024
}

/// `gen` builds a large scenario in memory without holding it as a JSON tree: its peak is a
/// few times the size of the JSON it writes (a tree of `serde_json` values of the whole
/// scenario, built twice, took 16 times). The peak is read while `gen` blocks writing its
/// output, which it does only once everything is built: the test reads one byte, so the
/// pipe fills up and the process waits, alive, with its peak reached.
#[cfg(target_os = "linux")]
#[test]
fn gen_peaks_at_a_few_times_the_size_of_its_output() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .args(["gen", "--producers", "20000", "--consumers", "20000"])
        .args(["--carts", "2", "--ops", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the marketplace binary runs");
    let mut stdout = child.stdout.take().expect("its stdout");
    let mut first = [0u8; 1];
    stdout
        .read_exact(&mut first)
        .expect("gen writes its scenario");
    let peak = peak_resident(child.id());
    let mut rest = Vec::new();
    stdout
        .read_to_end(&mut rest)
        .expect("the rest of the scenario");
    assert!(child.wait().expect("gen ends").success());
    let written = 1 + rest.len() as u64;
    println!(
        "gen wrote {} KiB and peaked at {} KiB",
        written / 1024,
        peak / 1024
    );
    assert!(
        peak <= 8 * written,
        "gen peaked at {} KiB for {} KiB of output",
        peak / 1024,
        written / 1024
    );
}

/// The log of a cart of many long lines takes no more memory than the output does: the
/// logger formats a record whole before it writes it, and an order's record lists every
/// product in the cart (here 100 MB), so past 1 MB a record is cut, saying how much
/// was left out; uncut, the run aborted for want of memory with a backtrace on stderr.
#[cfg(unix)]
#[test]
fn the_log_of_a_large_cart_is_written_in_bounded_memory() {
    let path = one_cart_of("large-cart-logged.json", 10_000, 10_000);
    for actors in [
        &["--actors", "tasks", "--workers", "2"][..],
        &["--actors", "threads"],
    ] {
        let dir = temp_path(&format!("large-cart-log-{}", actors[1]));
        let log = dir.join("market.log");
        let mut args: Vec<&std::ffi::OsStr> = ["run".as_ref(), path.as_os_str()].into();
        args.extend(["--time-scale", "0", "--log-file"].map(std::ffi::OsStr::new));
        args.push(log.as_os_str());
        args.extend(actors.iter().map(std::ffi::OsStr::new));
        // glibc reserves address space for an arena of its own per thread that allocates,
        // which the limit counts; with one, it counts what is used.
        let env = [("MALLOC_ARENA_MAX", "1")];
        let actors = actors[1];
        assert_runs_within_memory(100_000, &args, &env, actors);
        let order = std::fs::read_dir(&dir)
            .expect("the log's directory")
            .flat_map(|file| {
                let text = std::fs::read_to_string(file.expect("a log file").path());
                text.expect("a log file")
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .find(|line| line.contains("place_order("))
            .expect("the order's record");
        assert!(
            order.len() < 1_001_000,
            "{actors}: a record of {} bytes",
            order.len()
        );
        assert!(
            order.ends_with(" more bytes not logged)"),
            "{actors}: {}",
            &order[order.len().saturating_sub(100)..]
        );
        std::fs::remove_dir_all(&dir).expect("the log is removed");
    }
}

/// `gen --expected` may write to a named pipe, as to `>(sort > x)`: its reader gets the
/// whole expected output, the same as a regular file gets, and `gen` ends. A pipe's reader
/// sees its end when the last writer closes it, so the file must be opened once: opened
/// to be checked and again to be written, the reader ended on nothing and `gen` then
/// waited forever for another.
#[cfg(unix)]
#[test]
fn an_expected_file_that_is_a_named_pipe_gets_the_whole_output() {
    let options = [
        "gen",
        "--producers",
        "30",
        "--consumers",
        "30",
        "--seed",
        "5",
    ];
    let file = temp_path("expected-file.txt");
    let to_file =
        support::marketplace(&[&options[..], &["--expected", file.to_str().unwrap()]].concat());
    assert!(
        to_file.status.success(),
        "{}",
        String::from_utf8_lossy(&to_file.stderr)
    );
    let expected = std::fs::read(&file).expect("the expected output");
    assert!(!expected.is_empty());
    let pipe = temp_path("expected-pipe");
    let made = Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {pipe:?}");
    let reader = {
        let pipe = pipe.clone();
        std::thread::spawn(move || std::fs::read(pipe).expect("the pipe is read"))
    };
    let child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .args(options)
        .arg("--expected")
        .arg(&pipe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let to_pipe = finish_within(child, Duration::from_secs(30), "gen --expected PIPE");
    assert!(
        to_pipe.status.success(),
        "{}",
        String::from_utf8_lossy(&to_pipe.stderr)
    );
    assert_eq!(to_pipe.stdout, to_file.stdout, "the same scenario");
    let read = reader.join().expect("the reader ends");
    assert!(
        read == expected,
        "the pipe's reader got {} bytes of the {} expected",
        read.len(),
        expected.len()
    );
    std::fs::remove_file(&pipe).expect("the pipe is removed");
}

/// How many times the size of a scenario file `check` may take beyond what a tiny
/// scenario takes: the bound that `docs/scenario-format.md` states for any file.
#[cfg(target_os = "linux")]
const CHECK_PEAK_PER_FILE_BYTE: u64 = 20;

/// The peak resident memory of `marketplace check PATH`, in bytes, and its exit status.
/// The file's unknown keys give more than a pipe's worth of warnings, so `check` blocks on
/// its stdout, alive, once it has validated: its peak is read then.
#[cfg(target_os = "linux")]
fn check_peak(path: &std::path::Path) -> (u64, std::process::ExitStatus) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("check")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let mut stdout = child.stdout.take().expect("its stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("check writes");
    let peak = peak_resident(child.id());
    let mut rest = Vec::new();
    stdout
        .read_to_end(&mut rest)
        .expect("the rest of the output");
    let output = child.wait_with_output().expect("check ends");
    assert!(
        rest.len() > 64 * 1024,
        "the output must not fit in a pipe: {} bytes",
        rest.len()
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "{}",
        path.display()
    );
    (peak, output.status)
}

/// A valid scenario with 1000 warnings, and `extra` added to it.
#[cfg(target_os = "linux")]
fn noisy_scenario(extra: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut scenario = json!({"products": {}, "producers": [], "consumers": [],
                              "marketplace": {"queue_size_per_producer": 1}});
    for i in 0..1000 {
        scenario[format!("{i:0>100}")] = json!(null);
    }
    extra(&mut scenario);
    scenario.to_string()
}

/// Dense JSON costs the most memory per byte of text: a value every two bytes (`0,`), each
/// an element of the tree that `check` reads the file into, or arrays nested a hundred
/// deep, or carts that are kept in the scenario too. For each, the peak of `check` beyond
/// that of a tiny scenario stays within `CHECK_PEAK_PER_FILE_BYTE` times the file's size
/// (it took 33 times for the numbers, 57 times for the nested arrays).
#[cfg(target_os = "linux")]
#[test]
fn check_peaks_at_a_bounded_multiple_of_dense_files() {
    const PAYLOAD_BYTES: usize = 3_000_000;
    let base_path = temp_file("dense-base.json", &noisy_scenario(|_| {}));
    let (base, status) = check_peak(&base_path);
    assert!(status.success(), "{status}");
    let deep = format!("{}0{}", "[".repeat(100), "]".repeat(100));
    let payloads = [
        ("numbers", format!("[{}0]", "0,".repeat(PAYLOAD_BYTES / 2))),
        (
            "nested-arrays",
            format!("[{deep}{}]", format!(",{deep}").repeat(PAYLOAD_BYTES / 202)),
        ),
        (
            "escaped-strings",
            format!("[{}\"\\n\"]", "\"\\n\",".repeat(PAYLOAD_BYTES / 5)),
        ),
        (
            "keys",
            format!(
                "{{{}}}",
                (0..PAYLOAD_BYTES / 10)
                    .map(|i| format!("\"{i:x}\":0"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ];
    let mut files: Vec<(String, String)> = payloads
        .into_iter()
        .map(|(name, payload)| {
            let text = noisy_scenario(|s| s["extra"] = json!("PAYLOAD"));
            (name.to_owned(), text.replace("\"PAYLOAD\"", &payload))
        })
        .collect();
    // Valid carts: kept in the scenario as well as in the tree.
    let carts = format!("[{}[]]", "[],".repeat(PAYLOAD_BYTES / 3));
    let text = noisy_scenario(|s| {
        s["consumers"] = json!([{"name": "c", "retry_wait_time": 0, "carts": "CARTS"}]);
    });
    files.push(("empty-carts".to_owned(), text.replace("\"CARTS\"", &carts)));
    for (name, text) in files {
        let path = temp_file(&format!("dense-{name}.json"), &text);
        let (peak, status) = check_peak(&path);
        std::fs::remove_file(&path).expect("the dense file is removed");
        assert!(status.success(), "{name}: {status}");
        let size = text.len() as u64;
        println!(
            "{name}: {} KiB file, peak {} KiB beyond the base of {} KiB ({:.1} times)",
            size / 1024,
            peak.saturating_sub(base) / 1024,
            base / 1024,
            peak.saturating_sub(base) as f64 / size as f64
        );
        assert!(
            peak.saturating_sub(base) <= CHECK_PEAK_PER_FILE_BYTE * size,
            "{name}: check peaked at {} KiB for a file of {} KiB, beyond a base of {} KiB",
            peak / 1024,
            size / 1024,
            base / 1024
        );
    }
}

/// The lines of the carts ordered reach stdout before the run waits, not only at its end,
/// so a run interrupted while it waits (Ctrl-C, `kill`) has printed every purchase it
/// made; it dies of the signal, as the shell's 130 and 143 tell. Here the second
/// cart waits 1000 s for the producer's next mug.
#[cfg(unix)]
#[test]
fn an_interrupted_run_has_printed_what_it_bought() {
    let path = a_run_that_waits_after_one_cart("interrupted.json");
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for actors in ["tasks", "threads"] {
            let what = format!("{actors} {signal}");
            let args = ["--actors".as_ref(), actors.as_ref()];
            let (output, more) = interrupt_a_run(
                &path,
                &args,
                &what,
                (signal, number),
                Duration::from_secs(10),
            );
            assert_silent(&output, &what);
            assert_eq!(more, "", "{what}");
        }
    }
}

/// The log of `--log-file` is written in batches about a second apart; a run interrupted
/// (Ctrl-C, `kill`) writes out what it has logged before it dies of the signal, so the log
/// holds every call made until then and a record that names the signal (followed by those
/// of calls the run made meanwhile). Here the first cart's line on stdout shows that its
/// order was logged, and the second cart waits 1000 s for the producer's next mug. Linux
/// only: elsewhere the run cannot tell whether the signals were ignored from its start,
/// and leaves them alone.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_run_has_logged_every_call_it_made() {
    let path = a_run_that_waits_after_one_cart("interrupted-logged.json");
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for actors in ["tasks", "threads"] {
            let dir = temp_path(&format!("interrupted-log-{signal}-{actors}"));
            interrupt_a_logged_run(
                &path,
                actors,
                &dir,
                (signal, number),
                Duration::from_secs(10),
            );
            let log = std::fs::read_to_string(dir.join("market_rCURRENT.log"))
                .expect("the log is written");
            let what = format!("{actors} {signal}: the log:\n{log}");
            let ordered = log.find("place_order(cart 0) -> [Product(name='Mug', price=4)]\n");
            let cut = log.find(&format!(": interrupted by SIG{signal}\n"));
            assert!(ordered.is_some() && ordered < cut, "{what}");
            std::fs::remove_dir_all(&dir).expect("the log is removed");
        }
    }
}

/// A run interrupted (Ctrl-C, `kill`) in the middle of a burst of orders, while the
/// lines of the carts last ordered still wait in the output's buffer or for the
/// supervisor, writes them out before it dies of the signal: stdout holds a whole line for
/// every cart whose order the log recorded before the signal, and nothing on stderr. The
/// one consumer opens its carts one after another, so the last order logged before the
/// signal (`place_order(cart K)`) tells that K + 1 carts were ordered, even when the log
/// has rotated its oldest records away; the burst of 200,000 carts of a mug each is far
/// from over when the signal comes, and a last cart waits 1000 s for its mug should it be.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_burst_prints_every_cart_ordered_before_the_signal() {
    let burst = 200_000;
    let cart = json!([{"type": "add", "product": "m", "quantity": 1}]);
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", burst, 0], ["m", 1, 1000]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0.01,
                       "carts": vec![cart; burst + 2]}],
        "marketplace": {"queue_size_per_producer": 100}
    });
    let path = temp_file("interrupted-burst.json", &scenario.to_string());
    let line = "c bought Product(name='Mug', price=4)";
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for actors in ["tasks", "threads"] {
            let what = format!("{actors} {signal}");
            let dir = temp_path(&format!("interrupted-burst-{signal}-{actors}"));
            let more = interrupt_a_logged_run(
                &path,
                actors,
                &dir,
                (signal, number),
                Duration::from_secs(10),
            );
            assert!(
                more.is_empty() || more.ends_with('\n'),
                "{what}: a cut line"
            );
            assert!(
                more.lines().all(|l| l == line),
                "{what}: a line not a mug's"
            );
            let printed = 1 + more.lines().count();
            let ordered = carts_ordered_before_the_signal(&dir, signal);
            std::fs::remove_dir_all(&dir).expect("the log is removed");
            assert!(
                printed >= ordered,
                "{what}: {ordered} carts ordered before the signal, {printed} lines printed"
            );
        }
    }
}

/// A cart ordered before the signal is printed whole, however long its lines take to
/// write, with or without a log: here a cart of 200 lines of a kilobyte each is bought at
/// once, the reader stops after the first line (so the pipe fills and the run is still
/// writing the cart when the signal comes), and then reads on.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_run_prints_a_cart_being_written_whole() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;

    let path = a_run_with_a_cart_of_200_long_lines("interrupted-long-cart.json");
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for actors in ["tasks", "threads"] {
            let what = format!("{actors} {signal}");
            let (child, mut stdout, first) = spawn_reading_one_line(&path, actors);
            send(&child, signal);
            let mut rest = String::new();
            stdout
                .read_to_string(&mut rest)
                .expect("the rest of stdout");
            let output = finish_within(child, Duration::from_secs(10), "an interrupted run");
            assert_eq!(output.status.signal(), Some(number), "{what}");
            assert_silent(&output, &what);
            let printed = first + &rest;
            assert!(printed.ends_with('\n'), "{what}: a cut line");
            let lines: Vec<&str> = printed.lines().collect();
            assert_eq!(lines.len(), 200, "{what}");
            assert!(lines.iter().all(|l| *l == lines[0]), "{what}: lines differ");
        }
    }
}

/// The lines of an interrupted run are written out however long that takes, but a stdout
/// that nobody reads cannot hold the process: the second signal ends it at once, with the
/// shell's 130 or 143. The reader stops after the first line of a cart of 200 lines of a
/// kilobyte each, so the pipe fills and the write-out the first signal starts cannot end.
#[cfg(target_os = "linux")]
#[test]
fn a_second_signal_ends_a_write_out_that_stdout_blocks() {
    let path = a_run_with_a_cart_of_200_long_lines("blocked-write-out.json");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        for actors in ["tasks", "threads"] {
            let what = format!("{actors} {signal}");
            // Held, unread, until the run has ended.
            let (child, _stdout, _) = spawn_reading_one_line(&path, actors);
            send(&child, signal);
            // Two signals pending at once are one: the second goes once the first is taken.
            until_delivered(&child, code - 128);
            send(&child, signal);
            let output = finish_within(child, Duration::from_secs(10), "a blocked write-out");
            assert_eq!(
                output.status.code(),
                Some(code),
                "{what}: {:?}",
                output.status
            );
            assert_silent(&output, &what);
        }
    }
}

/// A scenario, written under `name`, whose first cart, of 200 items of a product named
/// with a kilobyte (200 KB of lines, more than a pipe holds), is bought at once, and whose
/// second waits 1000 s for the producer's next item.
#[cfg(target_os = "linux")]
fn a_run_with_a_cart_of_200_long_lines(name: &str) -> std::path::PathBuf {
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "M".repeat(1000), "price": 4}},
        "producers": [{"name": "p", "products": [["m", 200, 0], ["m", 1, 1000]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0.01, "carts": [
            [{"type": "add", "product": "m", "quantity": 200}],
            [{"type": "add", "product": "m", "quantity": 2}]]}],
        "marketplace": {"queue_size_per_producer": 200}
    });
    temp_file(name, &scenario.to_string())
}

/// Starts a run of `path` with `actors`, its stdout piped, and reads the first line (the
/// first cart's), nothing more: the child, the rest of its stdout, and the line.
#[cfg(target_os = "linux")]
fn spawn_reading_one_line(
    path: &std::path::Path,
    actors: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
    String,
) {
    use std::io::{BufRead, BufReader};

    let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(path)
        .args(["--actors", actors])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the first line");
    assert!(
        line.starts_with("c bought Product(name='MMM"),
        "{actors}: {line}"
    );
    (child, stdout, line)
}

/// How many carts the log in `dir` shows ordered before the record of `signal`: one more
/// than the serial of the last cart ordered before it (carts are numbered from 0 as they
/// are opened). The rotated files come before the current one in name order.
#[cfg(target_os = "linux")]
fn carts_ordered_before_the_signal(dir: &std::path::Path, signal: &str) -> usize {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the log's directory")
        .map(|entry| entry.expect("a log file").path())
        .collect();
    files.sort();
    let log: String = files
        .iter()
        .map(|file| std::fs::read_to_string(file).expect("a log file is read"))
        .collect();
    let cut = log
        .find(&format!(": interrupted by SIG{signal}\n"))
        .unwrap_or_else(|| panic!("the signal is not logged:\n{log}"));
    let last = log[..cut]
        .lines()
        .rev()
        .find_map(|record| {
            let (_, order) = record.split_once("place_order(cart ")?;
            let (serial, products) = order.split_once(") -> ")?;
            products
                .starts_with('[')
                .then(|| serial.parse::<usize>().ok())?
        })
        .expect("an order is logged before the signal");
    last + 1
}

/// An interrupted run writes the figures of `--stats-json` until the signal, marked
/// `"interrupted": true`, as a stalled run writes its own, before it dies of the signal;
/// their purchases are the lines it printed. With `--stats` the table comes on stderr too,
/// and with `--progress` the progress line's last state, which names the interrupt.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_run_writes_its_statistics() {
    let path = a_run_that_waits_after_one_cart("interrupted-stats.json");
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for actors in ["tasks", "threads"] {
            let what = format!("{actors} {signal}");
            let stats = temp_path(&format!("interrupted-stats-{signal}-{actors}.json"));
            let args = [
                "--actors".as_ref(),
                actors.as_ref(),
                "--progress".as_ref(),
                "--stats".as_ref(),
                "--stats-json".as_ref(),
                stats.as_os_str(),
            ];
            let (output, more) = interrupt_a_run(
                &path,
                &args,
                &what,
                (signal, number),
                Duration::from_secs(10),
            );
            let printed = 1 + more.lines().count();
            let text = std::fs::read_to_string(&stats).expect("the statistics file");
            let json: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{what}: the statistics are no JSON ({e}): {text:?}"));
            assert_eq!(json["interrupted"], true, "{what}: {text}");
            assert_eq!(json["stalled"], false, "{what}: {text}");
            assert_eq!(json["totals"]["purchases"], printed, "{what}: {text}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("wall time"),
                "{what}: no table on stderr: {stderr}"
            );
            assert!(stderr.contains(", interrupted, "), "{what}: {stderr}");
            // The table's summary line, as a finished run's, says how the run ended: the
            // progress line above it is not asked for by --stats.
            let summary = stderr
                .lines()
                .skip_while(|line| !line.starts_with("wall time"))
                .nth(1)
                .unwrap_or_default();
            assert!(
                summary.starts_with(&format!("{printed} purchases, "))
                    && summary.ends_with("; interrupted"),
                "{what}: no summary line after the table: {stderr}"
            );
            std::fs::remove_file(&stats).expect("the statistics file is removed");
        }
    }
}

/// A signal that comes while a stalled run writes its report (here far longer than a
/// pipe holds, to a stderr read only after the signal) lets the report finish, whole,
/// before the process dies of the signal.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_during_the_stall_report_lets_it_finish() {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;

    let waiting = 2000;
    let cart = json!([{"type": "add", "product": "m", "quantity": 1}]);
    let consumers: Vec<_> = (0..=waiting)
        .map(|i| json!({"name": format!("c{i}"), "retry_wait_time": 0.01, "carts": [cart]}))
        .collect();
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 1000]], "republish_wait_time": 0}],
        "consumers": consumers,
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("signal-during-stall.json", &scenario.to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(&path)
        .args(["--stall-timeout", "0.5"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut first = String::new();
    stderr
        .read_line(&mut first)
        .expect("the report's first line");
    assert!(first.contains("stalled"), "{first}");
    send(&child, "TERM");
    until_delivered(&child, 15);
    let mut rest = String::new();
    stderr
        .read_to_string(&mut rest)
        .expect("the rest of the report");
    let output = finish_within(
        child,
        Duration::from_secs(10),
        "a run signalled in its report",
    );
    assert_eq!(output.status.signal(), Some(15), "{:?}", output.status);
    let named = rest
        .lines()
        .filter(|l| l.starts_with("  consumer "))
        .count();
    assert_eq!(named, waiting, "the report is cut:\n{rest}");
}

/// How many consumers wait in the runs of `stall_report_of_waiting`.
const WAITING: usize = 30;

/// The stall report of a run whose `WAITING` consumers each wait for product `y`, named
/// `wanted`, that the one producer, named `producer`, makes only after `x`, which nobody
/// buys: the run stalls at once.
fn stall_report_of_waiting(file: &str, producer: &str, wanted: &str) -> String {
    stall_report_of_consumers_waiting(file, "c", producer, wanted)
}

/// `stall_report_of_waiting`, the consumers named `consumer` followed by their number.
fn stall_report_of_consumers_waiting(
    file: &str,
    consumer: &str,
    producer: &str,
    wanted: &str,
) -> String {
    let cart = json!([{"type": "add", "product": "y", "quantity": 1}]);
    let consumers: Vec<_> = (0..WAITING)
        .map(|i| json!({"name": format!("{consumer}{i}"), "retry_wait_time": 0, "carts": [cart]}))
        .collect();
    let scenario = json!({
        "products": {
            "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
            "y": {"product_type": "Product", "name": wanted, "price": 2}},
        "producers": [{"name": producer, "products": [["x", 1, 0], ["y", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": consumers,
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file(file, &scenario.to_string());
    let output = support::marketplace(&[
        "run",
        path.to_str().unwrap(),
        "--time-scale",
        "0",
        "--stall-timeout",
        "0.2",
    ]);
    assert_eq!(output.status.code(), Some(3), "{:?}", output.status);
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A stall report names the product each waiting consumer waits for, cut after 1000
/// characters with its length, as a warning does: the file holds a name of a megabyte
/// once, but the report held it again for every consumer waiting for it, so 30 of them
/// made 30 MB of stderr (and 300 of them a peak of 600 MB).
#[test]
fn a_stall_report_shows_a_long_product_cut() {
    let stderr =
        stall_report_of_waiting("stall-long-product.json", "jammer", &"y".repeat(1_000_000));
    assert_each_waiting_line_cut(&stderr, "  consumer ", 1100, |line| {
        line.ends_with("y... (1000025 characters) (0 on sale)")
    });
}

/// A stall report names, under each waiting consumer, the producers that make what it
/// waits for, each name cut after 1000 characters with its length as a product is: a
/// producer named with a megabyte was shown whole again for each of 30 consumers.
#[test]
fn a_stall_report_shows_a_long_producer_name_cut() {
    let stderr =
        stall_report_of_waiting("stall-long-producer.json", &"j".repeat(1_000_000), "Wanted");
    assert_each_waiting_line_cut(&stderr, "    made by producers[0] ", 1200, |line| {
        line.contains("j... (1000000 characters)\": 1 of 1 on the shelf")
    });
}

/// A stall report names each waiting consumer cut after 1000 characters with its length,
/// as a producer's name is: 30 consumers named with a megabyte each made 30 MB of report.
#[test]
fn a_stall_report_shows_a_long_consumer_name_cut() {
    let stderr = stall_report_of_consumers_waiting(
        "stall-long-consumer.json",
        &"k".repeat(1_000_000),
        "jammer",
        "Wanted",
    );
    assert_each_waiting_line_cut(&stderr, "  consumer ", 1200, |line| {
        line.contains("k... (10000")
    });
}

/// Asserts that the stall report `stderr` has a line starting with `prefix` for each of the
/// [`WAITING`] consumers, each shorter than `most` bytes and `cut` as expected.
fn assert_each_waiting_line_cut(stderr: &str, prefix: &str, most: usize, cut: fn(&str) -> bool) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with(prefix))
        .collect();
    let head: String = stderr.chars().take(2000).collect();
    assert_eq!(lines.len(), WAITING, "{head}");
    for line in lines {
        assert!(
            line.len() < most && cut(line),
            "a line of {} bytes: {}",
            line.len(),
            line.chars().take(most).collect::<String>()
        );
    }
}

/// A run started with SIGINT ignored (a script's `run ... &`, where a Ctrl-C is meant for
/// the script) keeps ignoring it with `--log-file` too, while SIGTERM still ends it, logged.
#[cfg(target_os = "linux")]
#[test]
fn an_ignored_interrupt_stays_ignored_with_a_log() {
    use std::os::unix::process::ExitStatusExt;

    let path = a_run_that_waits_after_one_cart("ignored-interrupt.json");
    let dir = temp_path("ignored-interrupt-log");
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("trap '' INT && exec \"$0\" run \"$1\" --log-file \"$2\"")
        .arg(env!("CARGO_BIN_EXE_marketplace"))
        .arg(&path)
        .arg(dir.join("market.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let _stdout = first_cart_line(&mut child, "sh");
    for signal in ["INT", "TERM"] {
        send(&child, signal);
    }
    let output = finish_within(child, Duration::from_secs(10), "a run sent SIGTERM");
    assert_eq!(output.status.signal(), Some(15), "{:?}", output.status);
    let log = std::fs::read_to_string(dir.join("market_rCURRENT.log")).expect("the log");
    assert!(!log.contains("interrupted by SIGINT"), "{log}");
    assert!(log.contains(": interrupted by SIGTERM\n"), "{log}");
    std::fs::remove_dir_all(&dir).expect("the log is removed");
}

/// A cart's lines may add up to far more than the scenario's text: here a product named
/// with a megabyte, bought 1000 times in one cart, prints a gigabyte. The run writes them
/// out without holding them all (the address space it may use is smaller than the cart's
/// lines), and ends normally, its statistics counting every purchase.
#[cfg(unix)]
#[test]
fn a_cart_of_a_gigabyte_of_lines_is_written_in_bounded_memory() {
    const ITEMS: u64 = 1000;
    let path = one_cart_of("gigabyte-cart.json", 1_000_000, ITEMS);
    for actors in [
        &["--actors", "tasks", "--workers", "2"][..],
        &["--actors", "threads"],
    ] {
        let stats = temp_path(&format!("gigabyte-cart-{}.json", actors[1]));
        let mut args: Vec<&std::ffi::OsStr> = ["run".as_ref(), path.as_os_str()].into();
        args.extend(["--time-scale", "0", "--stats-json"].map(std::ffi::OsStr::new));
        args.push(stats.as_os_str());
        args.extend(actors.iter().map(std::ffi::OsStr::new));
        let actors = actors[1];
        assert_runs_within_memory(600_000, &args, &[], actors);
        let figures: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).expect("the statistics"))
                .expect("JSON statistics");
        assert_eq!(figures["totals"]["purchases"], ITEMS, "{actors}: {figures}");
        std::fs::remove_file(&stats).expect("the statistics are removed");
    }
}

/// [`sh_marketplace_within`] 30 s.
#[cfg(unix)]
fn sh_marketplace(script: &str, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Output {
    sh_marketplace_within(script, args, env, Duration::from_secs(30))
}

/// Exit code 2, nothing on stdout, no panic, and stderr holding each of `needles`.
fn assert_refused(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}: {stderr}", output.status);
    assert!(output.stdout.is_empty());
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
}

/// Files that never end are refused at once, without reading them to the size limit: a
/// NUL byte (`/dev/zero`) cannot be in JSON text, so the problem is the JSON error at or
/// before it, and random bytes fail as not UTF-8 at their first invalid byte.
#[cfg(target_os = "linux")]
#[test]
fn endless_devices_are_refused_at_their_first_bytes() {
    let script = "ulimit -v 1000000 && exec \"$0\" \"$1\" \"$2\"";
    for command in ["check", "run"] {
        let zero = sh_marketplace(script, &[command.as_ref(), "/dev/zero".as_ref()], &[]);
        assert_refused(
            &zero,
            &[
                "error: invalid scenario /dev/zero (1 problem):",
                "malformed JSON at line 1, column 1: expected value",
            ],
        );
        let random = sh_marketplace(script, &[command.as_ref(), "/dev/urandom".as_ref()], &[]);
        assert_refused(
            &random,
            &["error: cannot read /dev/urandom: not UTF-8 text: an invalid byte at line"],
        );
    }
}

/// A regular file larger than the limit is refused by its size, before it is read: here a
/// sparse file one byte past it, which takes no room on disk.
#[test]
fn a_file_past_the_size_limit_is_refused_unread() {
    use marketplace_cli::scenario::MAX_SCENARIO_BYTES;
    let path = temp_path("too-large.json");
    let file = std::fs::File::create(&path).expect("a file");
    file.set_len(MAX_SCENARIO_BYTES + 1).expect("a sparse file");
    drop(file);
    let start = Instant::now();
    let output = support::marketplace(&["check".as_ref(), path.as_os_str()]);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).expect("the file is removed");
    assert_refused(
        &output,
        &[&format!(
            "error: cannot read {}: larger than the limit of {MAX_SCENARIO_BYTES} bytes \
             (MARKETPLACE_MAX_SCENARIO_BYTES)",
            path.display()
        )],
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

/// MARKETPLACE_MAX_SCENARIO_BYTES sets the limit: a valid scenario padded with spaces to
/// exactly the limit runs, one more byte is refused, from a regular file and from a pipe
/// (`/dev/stdin`), which is read only up to the limit, however much follows; an unusable
/// value is refused naming the variable.
#[cfg(target_os = "linux")]
#[test]
fn the_size_limit_can_be_set_and_holds_for_files_and_pipes() {
    use std::io::Write;
    const VAR: &str = "MARKETPLACE_MAX_SCENARIO_BYTES";
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    })
    .to_string();
    let limit = 100_000;
    let padded = |len: usize| format!("{scenario}{}", " ".repeat(len - scenario.len()));
    let limit_text = limit.to_string();
    let env = [(VAR, limit_text.as_str())];
    let script = "ulimit -v 1000000 && exec \"$0\" run \"$1\" --time-scale 0";
    let at = temp_file("at-limit.json", &padded(limit));
    let fits = sh_marketplace(script, &[at.as_os_str()], &env);
    assert!(
        fits.status.success(),
        "{}",
        String::from_utf8_lossy(&fits.stderr)
    );
    assert_eq!(fits.stdout, b"c bought Product(name='Mug', price=4)\n");
    let over = temp_file("over-limit.json", &padded(limit + 1));
    let refused = sh_marketplace(script, &[over.as_os_str()], &env);
    assert_refused(
        &refused,
        &[&format!(
            "error: cannot read {}: larger than the limit of {limit} bytes ({VAR})",
            over.display()
        )],
    );
    // A pipe that never ends: the writer stops when the run leaves.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec \"$0\" check /dev/stdin")
        .arg(env!("CARGO_BIN_EXE_marketplace"))
        .env(VAR, &limit_text)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    std::thread::spawn(move || {
        let spaces = [b' '; 8192];
        while stdin.write_all(&spaces).is_ok() {}
    });
    let piped = finish_within(child, Duration::from_secs(30), "an endless pipe");
    assert_refused(
        &piped,
        &[&format!(
            "error: cannot read /dev/stdin: larger than the limit of {limit} bytes ({VAR})"
        )],
    );
    for bad in ["0", "-1", "lots", ""] {
        assert_size_limit_refused(script, &at, bad, "expected a whole number");
    }
}

/// `script` run on `scenario` with MARKETPLACE_MAX_SCENARIO_BYTES set to `value` is refused
/// in one line, naming the variable, then saying `expected`.
fn assert_size_limit_refused(
    script: &str,
    scenario: &std::path::Path,
    value: &str,
    expected: &str,
) {
    const VAR: &str = "MARKETPLACE_MAX_SCENARIO_BYTES";
    let output = sh_marketplace(script, &[scenario.as_os_str()], &[(VAR, value)]);
    assert_refused(&output, &[&format!("error: {VAR}: {expected}")]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).lines().count(),
        1,
        "{value:?}"
    );
}

/// MARKETPLACE_MAX_SCENARIO_BYTES is plain decimal digits: a sign, spaces, an underscore
/// or a hexadecimal prefix is refused as one line naming the variable, not read as a
/// number (Rust's integer parser took `+500` for 500).
#[test]
fn a_size_limit_that_is_not_plain_digits_is_refused() {
    let scenario = temp_file(
        "plain-digits.json",
        r#"{"products": {}, "producers": [], "consumers": [],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    for bad in ["+500", " 500", "500 ", "1_000", "0x500", "５００"] {
        assert_size_limit_refused(
            "exec \"$0\" check \"$1\"",
            &scenario,
            bad,
            "expected a whole number",
        );
    }
}

/// A MARKETPLACE_MAX_SCENARIO_BYTES past the largest limit is refused saying what the
/// largest is: "expected a whole number" was wrong about a whole number too large.
#[test]
fn a_size_limit_too_large_is_refused_naming_the_largest() {
    let scenario = temp_file(
        "limit-too-large.json",
        r#"{"products": {}, "producers": [], "consumers": [],
            "marketplace": {"queue_size_per_producer": 1}}"#,
    );
    assert_size_limit_refused(
        "exec \"$0\" check \"$1\"",
        &scenario,
        "18446744073709551616",
        &format!(
            "expected a whole number of bytes from 1 to {}, found \"18446744073709551616\"",
            u64::MAX
        ),
    );
}

/// A short file can hold a great many problems or warnings (`[0,0,...]` as the producers is
/// one problem per two bytes): the first `MAX_LISTED` are listed, then one line counts the
/// rest, so neither the memory nor the message grows with them; the count of all of them
/// stays in the first line.
#[test]
fn problems_and_warnings_past_the_listed_ones_are_counted_not_listed() {
    use marketplace_cli::scenario::MAX_LISTED;
    let many = 20 * MAX_LISTED;
    let zeros = vec![0; many];
    let bad = json!({"products": {}, "producers": zeros, "consumers": [],
                     "marketplace": {"queue_size_per_producer": 1}});
    let path = temp_file("many-problems.json", &bad.to_string());
    for command in ["check", "run"] {
        let output = support::marketplace(&[command.as_ref(), path.as_os_str()]);
        assert_refused(&output, &[&format!("({many} problems):")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), MAX_LISTED + 2, "{command}");
        assert_eq!(
            lines[MAX_LISTED],
            format!(
                "  producers[{}]: expected an object, found a number (0)",
                MAX_LISTED - 1
            )
        );
        assert_eq!(
            lines[MAX_LISTED + 1],
            format!("  ... and {} more problems", many - MAX_LISTED)
        );
    }
    let mut noisy = json!({"products": {}, "producers": [], "consumers": [],
                           "marketplace": {"queue_size_per_producer": 1}});
    for i in 0..many {
        noisy[format!("extra{i}")] = json!(0);
    }
    let path = temp_file("many-warnings.json", &noisy.to_string());
    let output = support::marketplace(&["check".as_ref(), path.as_os_str()]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + MAX_LISTED + 1, "{}", lines[0]);
    assert_eq!(
        lines[MAX_LISTED],
        format!("warning: unknown field \"extra{}\" ignored", MAX_LISTED - 1)
    );
    assert_eq!(
        lines[MAX_LISTED + 1],
        format!("warning: ... and {} more warnings", many - MAX_LISTED)
    );
}

/// A log that cannot take a byte (here no file of the process may grow: `ulimit -f 0`, as
/// on a full device) is refused before the run, as an unwritable directory is, rather than
/// losing every record in silence; the run's output, on a pipe, is not a file and would
/// not be limited.
#[cfg(target_os = "linux")]
#[test]
fn a_log_that_cannot_grow_is_refused_before_the_run() {
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("log-cannot-grow.json", &scenario.to_string());
    let dir = temp_path("log-cannot-grow");
    let log = dir.join("m.log");
    // SIGXFSZ ignored, so a write past the limit fails instead of killing the process.
    let script =
        "trap '' XFSZ && ulimit -f 0 && exec \"$0\" run \"$1\" --time-scale 0 --log-file \"$2\"";
    let output = sh_marketplace(script, &[path.as_os_str(), log.as_os_str()], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_refused(
        &output,
        &[&format!("error: cannot log to {}: ", log.display())],
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

/// Stdout on a full device: `run` stops at its first failed write, however much it had yet
/// to print (here a cart of a gigabyte of lines, and many carts of small ones), and `check`
/// and `gen` fail the same way; each with exit code 1 and one line on stderr.
#[cfg(target_os = "linux")]
#[test]
fn stdout_on_a_full_device_fails_with_one_line() {
    let cart = |quantity: u64| json!([{"type": "add", "product": "m", "quantity": quantity}]);
    let product =
        |name: String| json!({"m": {"product_type": "Product", "name": name, "price": 4}});
    let huge = json!({
        "products": product("x".repeat(1_000_000)),
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0, "carts": [cart(1000)]}],
        "marketplace": {"queue_size_per_producer": 1000}
    });
    let many = json!({
        "products": product("Mug".to_owned()),
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0, "carts": vec![cart(1); 100_000]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let huge = temp_file("full-huge.json", &huge.to_string());
    let many = temp_file("full-many.json", &many.to_string());
    let script = "exec \"$0\" \"$@\" >/dev/full";
    for actors in ["tasks", "threads"] {
        for path in [&huge, &many] {
            let args = [
                "run".as_ref(),
                path.as_os_str(),
                "--time-scale".as_ref(),
                "0".as_ref(),
                "--actors".as_ref(),
                actors.as_ref(),
            ];
            let output = sh_marketplace(script, &args, &[]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{actors}: {stderr}");
            assert_eq!(
                stderr,
                format!(
                    "error: {}: cannot write the output: No space left on device (os error 28)\n",
                    path.display()
                ),
                "{actors}"
            );
        }
    }
    for args in [&["check".as_ref(), many.as_os_str()][..], &["gen".as_ref()]] {
        let output = sh_marketplace(script, args, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr, "error: cannot write to stdout: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

/// Nesting deeper than serde_json's recursion limit (128) is malformed JSON, reported at
/// once with its place, not a stack overflow: 100,000 open brackets, at the top and
/// inside a section.
#[test]
fn deep_nesting_is_refused_at_the_recursion_limit() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for (name, text) in [
        ("deep-top.json", nested.clone()),
        ("deep-inner.json", format!("{{\"products\": {nested}}}")),
    ] {
        let path = temp_file(name, &text);
        for command in ["check", "run"] {
            let output = support::marketplace(&[command.as_ref(), path.as_os_str()]);
            assert_refused(&output, &["(1 problem):", ": recursion limit exceeded"]);
        }
    }
}

/// The limit's edge: 127 levels of nesting are read (and the top-level array then refused as
/// no scenario), 128 are malformed JSON, so the docs' "deeper than 127 levels" is exact.
#[test]
fn nesting_is_read_up_to_127_levels_and_refused_at_128() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let path = temp_file("nested-127.json", &nested(127));
    let output = support::marketplace(&["check".as_ref(), path.as_os_str()]);
    assert_refused(
        &output,
        &["the scenario must be a JSON object, found an array"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("recursion limit"), "{stderr}");
    let path = temp_file("nested-128.json", &nested(128));
    let output = support::marketplace(&["check".as_ref(), path.as_os_str()]);
    assert_refused(&output, &["(1 problem):", ": recursion limit exceeded"]);
}

/// Waits far past the clock's range (1e300 s) pause for good, and the run's end still ends
/// them: with enough published, the run finishes at once; without, the stall timeout
/// reports it, with both kinds of actors.
#[test]
fn waits_past_the_clocks_range_end_with_the_run() {
    for (wanted, code) in [(1, 0), (2, 3)] {
        let scenario = json!({
            "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
            "producers": [{"name": "p", "products": [["m", 1, 1e300]],
                           "republish_wait_time": 1e300}],
            "consumers": [{"name": "c", "retry_wait_time": 1e300,
                           "carts": [[{"type": "add", "product": "m", "quantity": wanted}]]}],
            "marketplace": {"queue_size_per_producer": 1}
        });
        let path = temp_file(&format!("far-waits-{wanted}.json"), &scenario.to_string());
        for actors in ["tasks", "threads"] {
            let child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
                .arg("run")
                .arg(&path)
                .args(["--actors", actors, "--stall-timeout", "0.5"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the marketplace binary runs");
            let output = finish_within(child, Duration::from_secs(30), "a run of far waits");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(code),
                "{actors} {wanted}: {stderr}"
            );
            assert_eq!(
                output.stdout.len(),
                if code == 0 {
                    "c bought Product(name='Mug', price=4)\n".len()
                } else {
                    0
                },
                "{actors} {wanted}"
            );
        }
    }
}

/// A scenario, written under `name`, whose first cart is bought at once and whose second
/// waits 1000 s for the producer's next mug: a run of it waits after one line.
#[cfg(unix)]
fn a_run_that_waits_after_one_cart(name: &str) -> std::path::PathBuf {
    let cart = json!([{"type": "add", "product": "m", "quantity": 1}]);
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 1000]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0.01, "carts": [cart, cart]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    temp_file(name, &scenario.to_string())
}

/// Waits (30 s at most) for the first cart's line on `child`'s stdout, the run of
/// `a_run_that_waits_after_one_cart` then waiting, and gives back the rest of stdout.
#[cfg(unix)]
fn first_cart_line(
    child: &mut std::process::Child,
    what: &str,
) -> std::io::BufReader<std::process::ChildStdout> {
    use std::io::{BufRead, BufReader};

    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let (sender, first) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = sender.send((line, stdout));
    });
    let Ok((line, rest)) = first.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        panic!("{what}: the first cart's line is not on stdout while the run waits");
    };
    assert_eq!(line, "c bought Product(name='Mug', price=4)\n", "{what}");
    rest
}

/// Runs `path` with `actors` and its log in `dir` (made afresh), interrupts it with
/// `interrupt_a_run`, and checks that it said nothing on stderr: the rest of its stdout.
#[cfg(target_os = "linux")]
fn interrupt_a_logged_run(
    path: &std::path::Path,
    actors: &str,
    dir: &std::path::Path,
    signal: (&str, i32),
    limit: Duration,
) -> String {
    let _ = std::fs::remove_dir_all(dir);
    let log = dir.join("market.log");
    let args = [
        "--actors".as_ref(),
        actors.as_ref(),
        "--log-file".as_ref(),
        log.as_os_str(),
    ];
    let what = format!("{actors} {}", signal.0);
    let (output, more) = interrupt_a_run(path, &args, &what, signal, limit);
    assert_silent(&output, &what);
    more
}

/// Runs `marketplace run PATH ARGS`, sends it SIG`signal` once the first cart's line is
/// out, and checks that it died of that signal (`number`) within `limit`: its output, and
/// the rest of its stdout, read meanwhile.
#[cfg(unix)]
fn interrupt_a_run(
    path: &std::path::Path,
    args: &[&std::ffi::OsStr],
    what: &str,
    (signal, number): (&str, i32),
    limit: Duration,
) -> (Output, String) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;

    let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary runs");
    let mut rest = first_cart_line(&mut child, what);
    send(&child, signal);
    // Read while the run writes out: the carts ordered before it stopped may take more
    // than a pipe holds, and a run blocked on a full stdout would never end.
    let reader = std::thread::spawn(move || {
        let mut more = String::new();
        rest.read_to_string(&mut more).map(|_| more)
    });
    let output = finish_within(child, limit, "an interrupted run");
    assert_eq!(output.status.signal(), Some(number), "{what}");
    let more = reader
        .join()
        .expect("the reading thread")
        .expect("the rest of stdout");
    (output, more)
}

/// Waits until signal `number`, sent to `child`, is no longer pending for it: its handler
/// has run or is running (a signal is blocked within its own handler, so one sent now is
/// delivered after it, not merged into it).
#[cfg(target_os = "linux")]
fn until_delivered(child: &std::process::Child, number: i32) {
    let status = format!("/proc/{}/status", child.id());
    let pending = || {
        let text = std::fs::read_to_string(&status).expect("the child's status");
        ["SigPnd:", "ShdPnd:"].iter().any(|field| {
            let mask = text
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .expect("a pending-signals mask");
            let mask = u64::from_str_radix(mask.trim(), 16).expect("a hexadecimal mask");
            mask >> (number - 1) & 1 == 1
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pending() {
        assert!(
            std::time::Instant::now() < deadline,
            "signal {number} still pending after 10 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Checks that `output` has nothing on stderr.
#[cfg(unix)]
fn assert_silent(output: &Output, what: &str) {
    assert!(
        output.stderr.is_empty(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
