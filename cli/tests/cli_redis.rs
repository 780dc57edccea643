//! `marketplace run --backend redis://…`: a run shared by several processes through one
//! `redis-server` (started by this test binary on a free loopback port, stopped at the
//! end). Every reference scenario runs as two processes (`--role producers` and
//! `--role consumers`), and as four (the producers, and the consumers split over three
//! processes with `--only`); sorted together, their outputs must equal `NN.ref.out`.
//! Bad servers and markets are refused with exit code 2 and nothing on stdout.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use marketplace_cli::runner::{
    Interrupt, InterruptedReport, RETRY_FOR, RemoteEnd, RemoteError, RemoteOptions, Role,
    fingerprint, run_remote,
};
use marketplace_cli::scenario::Scenario;
use marketplace_harness::redis_server::{
    RedisServer, blocked_clients, free_port, fresh_market_name, shared_server,
};
use marketplace_redis::READ_TIMEOUT;
use support::{
    assert_runs_within_memory, finish_within, marketplace, one_cart_of, panic_message_of,
    reference_dir, send, sorted, temp_file, temp_path,
};

/// Starts `marketplace run SCENARIO --time-scale 0 --backend URL --market MARKET EXTRA...`
/// on the shared server.
fn start(scenario: &Path, market: &str, extra: &[&str]) -> Child {
    start_on(&shared_server().url(), scenario, market, extra)
}

/// The same on the server at `url`.
fn start_on(url: &str, scenario: &Path, market: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(scenario)
        .args(["--time-scale", "0", "--backend", url])
        .args(["--market", market])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the marketplace binary starts")
}

/// Waits for every process; what each did. Each child's pipes are drained by a thread of
/// its own: a process whose output nobody reads would block on a full pipe and hold up the
/// whole run.
fn wait_all(children: Vec<Child>) -> Vec<Output> {
    let readers: Vec<_> = children
        .into_iter()
        .map(|child| std::thread::spawn(move || child.wait_with_output()))
        .collect();
    readers
        .into_iter()
        .map(|reader| {
            reader
                .join()
                .expect("reader thread")
                .expect("the process ends")
        })
        .collect()
}

/// Waits for every process; all must succeed. Their stdouts, concatenated.
fn finish(children: Vec<Child>, what: &str) -> Vec<u8> {
    let mut stdout = Vec::new();
    for output in wait_all(children) {
        assert!(
            output.status.success(),
            "{what}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout.extend_from_slice(&output.stdout);
    }
    stdout
}

fn scenario_of(path: &Path) -> Scenario {
    Scenario::from_json(&std::fs::read_to_string(path).expect("readable")).expect("valid")
}

fn reference_runs(split_consumers: bool) {
    let Some(dir) = reference_dir() else { return };
    for n in 1..=10 {
        let input = dir.join(format!("{n:02}.in"));
        let expected = std::fs::read(dir.join(format!("{n:02}.ref.out"))).expect("NN.ref.out");
        let market = fresh_market_name(&format!("ref{n:02}"));
        let mut children = vec![start(&input, &market, &["--role", "producers"])];
        if split_consumers {
            let names: Vec<String> = scenario_of(&input)
                .consumers()
                .iter()
                .map(|c| c.name.clone())
                .collect();
            for part in 0..3 {
                let mine: Vec<&str> = names
                    .iter()
                    .skip(part)
                    .step_by(3)
                    .map(String::as_str)
                    .collect();
                if !mine.is_empty() {
                    let only = mine.join(",");
                    children.push(start(
                        &input,
                        &market,
                        &["--role", "consumers", "--only", &only],
                    ));
                }
            }
        } else {
            children.push(start(&input, &market, &["--role", "consumers"]));
        }
        let what = format!("{} on redis, {} processes", input.display(), children.len());
        let output = finish(children, &what);
        assert!(
            sorted(&output) == expected,
            "{what}: sorted output differs from the reference:\n{}",
            String::from_utf8_lossy(&sorted(&output))
        );
        println!("conforms: {what}");
    }
}

#[test]
fn every_reference_scenario_as_producers_and_consumers_processes() {
    reference_runs(false);
}

#[test]
fn every_reference_scenario_with_consumers_split_over_three_processes() {
    reference_runs(true);
}

const SMALL: &str = r#"{
    "products": {"t": {"product_type": "Tea", "name": "Linden", "price": 9, "type": "Herbal"},
                 "u": {"product_type": "Tea", "name": "Linden", "price": 9.0, "type": "Herbal"}},
    "producers": [{"name": "p", "products": [["u", 2, 0.1], ["t", 1, 0.1]], "republish_wait_time": 0.1}],
    "consumers": [{"name": "c", "retry_wait_time": 0.1,
                   "carts": [[{"type": "add", "product": "t", "quantity": 3}]]}],
    "marketplace": {"queue_size_per_producer": 1}
}"#;

/// Equal products share a queue on the server, and each prints as it was published.
#[test]
fn equal_products_share_a_queue_and_print_as_published() {
    let scenario = temp_file("redis-small.json", SMALL);
    let market = fresh_market_name("small");
    let output = finish(vec![start(&scenario, &market, &[])], "small scenario");
    let text = String::from_utf8(sorted(&output)).expect("UTF-8");
    assert_eq!(
        text,
        "c bought Tea(name='Linden', price=9, type='Herbal')\n\
         c bought Tea(name='Linden', price=9.0, type='Herbal')\n\
         c bought Tea(name='Linden', price=9.0, type='Herbal')\n"
    );
}

/// `--stats` on a redis backend is one line of this process's purchases and the market's
/// state at the end, not the memory run's table: a process sees only its own actors.
#[test]
fn stats_on_a_redis_backend_is_one_summary_line() {
    let scenario = temp_file("redis-stats.json", SMALL);
    let market = fresh_market_name("stats");
    let child = start(&scenario, &market, &["--stats"]);
    let output = child.wait_with_output().expect("the process ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .count();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("{lines} purchases in this process in ")),
        "{stderr}"
    );
    assert!(stderr.contains("; at the end: "), "{stderr}");
}

/// `--log-file` on a redis backend logs every call the process makes, as a memory run does,
/// with products in their printed form.
#[test]
fn log_file_records_every_call_of_a_redis_run() {
    let scenario = temp_file(
        "redis-logged.json",
        &SMALL.replace(
            r#"[[{"type": "add", "product": "t", "quantity": 3}]]"#,
            r#"[[{"type": "add", "product": "t", "quantity": 3},
                 {"type": "remove", "product": "u", "quantity": 1}]]"#,
        ),
    );
    let dir = temp_path("redis-logs");
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.join("run.log");
    let market = fresh_market_name("logged");
    let child = start(
        &scenario,
        &market,
        &["--log-file", log.to_str().expect("a UTF-8 path")],
    );
    finish(vec![child], "a logged run");
    let text: String = std::fs::read_dir(&dir)
        .expect("the log's directory")
        .map(|file| std::fs::read_to_string(file.expect("a file").path()).expect("readable"))
        .collect();
    for call in [
        "register_producer() -> ",
        "publish_timeout(",
        "new_cart() -> ",
        "add_to_cart_timeout(",
        "remove_from_cart(",
        "place_order(",
        "close()",
    ] {
        assert!(text.contains(call), "log lacks {call}:\n{text}");
    }
    assert!(
        text.contains("Tea(name='Linden', price=9.0, type='Herbal')"),
        "{text}"
    );
}

/// The log of a redis run's large cart takes no more memory than its output does, as a
/// memory run's: the order's record lists every product in the cart (here 1 GB), and the
/// log keeps its first megabyte. Joined into one text before it was logged, the list took
/// a gigabyte and the run aborted for want of memory, under a limit of 500 MB on address
/// space.
#[cfg(unix)]
#[test]
fn the_log_of_a_large_redis_cart_is_written_in_bounded_memory() {
    let path = one_cart_of("redis-large-cart-logged.json", 10_000_000, 100);
    let dir = temp_path("redis-large-cart-log");
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.join("market.log");
    let url = shared_server().url();
    let market = fresh_market_name("large-cart-logged");
    let args = [
        "run".as_ref(),
        path.as_os_str(),
        "--time-scale".as_ref(),
        "0".as_ref(),
        "--backend".as_ref(),
        url.as_ref(),
        "--market".as_ref(),
        market.as_ref(),
        "--log-file".as_ref(),
        log.as_os_str(),
    ];
    // glibc reserves address space for an arena of its own per thread that allocates,
    // which the limit counts; with one, it counts what is used.
    let env = [("MALLOC_ARENA_MAX", "1")];
    // The producer's records (each a megabyte, cut) rotate the order's out of the files
    // kept, so the run's end, not the record, is what tells.
    assert_runs_within_memory(500_000, &args, &env, "redis");
    std::fs::remove_dir_all(&dir).expect("the log is removed");
}

/// How long a process of these tests may run: each ends in a few seconds when it works.
const HANG: Duration = Duration::from_secs(30);

/// Closes `market` from outside, as a failed process of the run does.
fn close_market(server: &RedisServer, market: &str) {
    marketplace_redis::RedisMarketplace::<String>::connect(&server.url(), market, 1)
        .and_then(|m| {
            m.close()
                .map_err(marketplace_redis::ConnectError::Unreachable)
        })
        .expect("closed");
}

fn assert_refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    assert!(stderr.contains(needle), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs the small scenario on `url`, market `m`, where nobody is expected to answer.
fn run_small_on(url: &str) -> Output {
    let scenario = temp_file("redis-nobody.json", SMALL);
    marketplace(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--backend".as_ref(),
        url.as_ref(),
        "--market".as_ref(),
        "m".as_ref(),
    ])
}

#[test]
fn an_unreachable_server_is_refused_with_exit_code_2() {
    // A port that was free a moment ago: nobody listens there.
    let url = format!("redis://127.0.0.1:{}", free_port());
    assert_refused(&run_small_on(&url), &url);
}

/// A password in the URL stays out of the error, which names the server without it.
#[test]
fn a_refusal_does_not_show_the_password() {
    let port = free_port();
    let output = run_small_on(&format!("redis://user:hunter2@127.0.0.1:{port}"));
    assert_refused(&output, &format!("redis://user:***@127.0.0.1:{port}"));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}

/// A login the server refuses is told in one line naming the server and the refusal, exit
/// code 2, without the password.
#[test]
fn a_denied_login_is_refused_in_one_line() {
    let server = RedisServer::start();
    server.config_set("requirepass", "sesame");
    let url = format!("redis://:hunter2@127.0.0.1:{}", server.port());
    let output = run_small_on(&url);
    assert_refused(&output, "refused the login");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", server.port())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("sesame"),
        "{stderr}"
    );
}

/// A replica is refused in one line naming its master. Its master is a port nobody listens
/// on: the role is the replica's own at once, and no sync writes a file.
#[test]
fn a_replica_is_refused_naming_its_master() {
    let replica = RedisServer::start();
    let master_port = free_port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg(&["127.0.0.1", &master_port])
        .query(&mut replica.connection())
        .expect("REPLICAOF");
    assert_refused(
        &run_small_on(&replica.url()),
        &format!("replica of 127.0.0.1:{master_port}"),
    );
}

#[test]
fn a_market_holding_another_scenario_is_refused() {
    let first = temp_file("redis-first.json", SMALL);
    let other = temp_file(
        "redis-other.json",
        &SMALL.replace("\"quantity\": 3", "\"quantity\": 2"),
    );
    let market = fresh_market_name("mismatch");
    finish(vec![start(&first, &market, &[])], "first run");
    let output = start(&other, &market, &[])
        .wait_with_output()
        .expect("ends");
    assert_refused(&output, "holds another scenario");
    // The same scenario again: that run has ended.
    let output = start(&first, &market, &[])
        .wait_with_output()
        .expect("ends");
    assert_refused(&output, "has ended");
}

#[test]
fn unknown_actor_names_are_refused() {
    let scenario = temp_file("redis-only.json", SMALL);
    let market = fresh_market_name("only");
    let output = start(&scenario, &market, &["--only", "c,nobody"])
        .wait_with_output()
        .expect("ends");
    assert_refused(&output, "nobody");
}

/// An `--only` name outside the process's `--role` would select nothing and leave the
/// process waiting for a run it takes no part in: refused, naming the actor.
#[test]
fn actor_names_outside_the_role_are_refused() {
    let scenario = temp_file("redis-only-role.json", SMALL);
    for (role, name) in [("producers", "c"), ("consumers", "p")] {
        let market = fresh_market_name("only-role");
        let output = finish_within(
            start(&scenario, &market, &["--role", role, "--only", name]),
            HANG,
            "a process that runs no actor waits for the run to end",
        );
        assert_refused(&output, &format!("--only: \"{name}\" is a"));
    }
}

/// A redis run refused after its `--log-file` started, before the log's first record (an
/// `--only` name outside `--role`, a server that does not answer), leaves behind none of
/// the directories the log made, as a run refused for its `--stats-json` file does.
#[test]
fn a_refused_redis_run_leaves_no_directory_made_for_the_log() {
    let scenario = temp_file("redis-refused-log.json", SMALL);
    let nobody = format!("redis://127.0.0.1:{}", free_port());
    let cases: [(&str, &[&str], &str); 2] = [
        (
            &shared_server().url(),
            &["--role", "producers", "--only", "c"],
            "--only: \"c\" is a",
        ),
        (&nobody, &["--retry-for", "0"], "cannot use"),
    ];
    for (url, extra, refusal) in cases {
        let made = temp_path("redis-refused-log-dir");
        let log = made.join("a/m.log");
        let mut extra = extra.to_vec();
        extra.extend(["--log-file", log.to_str().unwrap()]);
        let output = finish_within(
            start_on(url, &scenario, &fresh_market_name("refused-log"), &extra),
            HANG,
            "a refused run ends",
        );
        assert_refused(&output, refusal);
        assert!(
            !made.exists(),
            "{extra:?}: the refused run left {made:?} behind"
        );
    }
}

/// A market closed before a consumer finished (as a failed process closes it) ends the
/// consumer's process with exit code 1 and a message, instead of leaving it waiting.
#[test]
fn a_market_closed_early_fails_the_waiting_consumers() {
    let scenario = temp_file("redis-closed.json", SMALL);
    let market = fresh_market_name("closed");
    let server = RedisServer::start();
    let consumer = start_on(&server.url(), &scenario, &market, &["--role", "consumers"]);
    // The consumer is asleep on the server, waiting for a tea no producer makes.
    server.until_a_client_waits();
    close_market(&server, &market);
    let output = finish_within(
        consumer,
        HANG,
        "the consumer kept running after the market closed",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("closed before it finished"), "{stderr}");
}

/// A signal that comes while a failed run's process writes its error line waits for the
/// line, as it waits for an interrupted run's `--stats` line, and then the process dies of
/// it: the line is not cut. The consumer's name, which the line holds, is longer than any
/// pipe can buffer, so the process is still writing the line when the test has read its
/// first bytes and sends the signal.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_while_a_failed_run_tells_its_error_waits_for_the_line() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;

    let pipe_max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .expect("the largest pipe buffer")
        .trim()
        .parse()
        .expect("a size");
    let mut json: serde_json::Value = serde_json::from_str(SMALL).expect("valid");
    json["consumers"][0]["name"] = "c".repeat(2 * pipe_max).into();
    let scenario = temp_file("redis-long-error.json", &json.to_string());
    let market = fresh_market_name("long-error");
    let server = RedisServer::start();
    let mut consumer = start_on(&server.url(), &scenario, &market, &["--role", "consumers"]);
    server.until_a_client_waits();
    close_market(&server, &market);
    let mut stderr = consumer.stderr.take().expect("stderr is piped");
    let mut told = vec![0; "error: ".len()];
    stderr.read_exact(&mut told).expect("the error line begins");
    assert_eq!(told, b"error: ");
    send(&consumer, "INT");
    stderr.read_to_end(&mut told).expect("the rest of stderr");
    let output = finish_within(consumer, HANG, "a failed run signalled");
    let told = String::from_utf8_lossy(&told);
    assert!(
        told.ends_with("closed before it finished\n") && told.lines().count() == 1,
        "the error line is cut: {} bytes, ending {:?}",
        told.len(),
        told.get(told.len().saturating_sub(40)..)
            .unwrap_or_default()
    );
    assert_eq!(output.status.signal(), Some(2), "{:?}", output.status);
}

/// Closed before any consumer finished, a producers-only process reports the failure (exit
/// code 1) instead of a success.
#[test]
fn a_producers_process_fails_when_the_market_closes_before_the_consumers_finish() {
    let scenario = temp_file("redis-producers.json", SMALL);
    let market = fresh_market_name("producers");
    let server = RedisServer::start();
    let producers = start_on(&server.url(), &scenario, &market, &["--role", "producers"]);
    // Its one producer is full (capacity 1) and asleep, waiting for room.
    server.until_a_client_waits();
    close_market(&server, &market);
    let output = finish_within(
        producers,
        HANG,
        "the producers kept running after the market closed",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("after 0 of 1 consumers finished"),
        "{stderr}"
    );
}

/// A scenario without consumers has nothing to wait for: every process ends at once, as a
/// local run does.
#[test]
fn a_scenario_without_consumers_ends_at_once() {
    let scenario = temp_file(
        "redis-no-consumers.json",
        &SMALL.replace(
            r#"[{"name": "c", "retry_wait_time": 0.1,
                   "carts": [[{"type": "add", "product": "t", "quantity": 3}]]}]"#,
            "[]",
        ),
    );
    let market = fresh_market_name("noconsumers");
    let output = finish_within(
        start(&scenario, &market, &[]),
        HANG,
        "a run without consumers never ended",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
}

/// What became of a process started on a market where another process already runs its
/// actors and waits on the server: it ended, or it joined the run, its actors waiting too.
enum Second {
    Ended(Output),
    Joined(Child),
}

/// Watches `child` until it ends, or more than `waiting` clients are blocked on `server`
/// (the first process's), which means that `child`'s actors wait there too.
fn second_process(server: &RedisServer, mut child: Child, waiting: u64) -> Second {
    let mut watch = server.connection();
    let started = Instant::now();
    loop {
        if child
            .try_wait()
            .expect("the process is waited for")
            .is_some()
        {
            return Second::Ended(child.wait_with_output().expect("the process ends"));
        }
        if blocked_clients(&mut watch) > waiting {
            return Second::Joined(child);
        }
        assert!(
            started.elapsed() < HANG,
            "the second process neither ended nor waited on the server within {HANG:?}"
        );
        std::thread::yield_now();
    }
}

/// Runs the small scenario's actors of `role` in one process and, once they wait on the
/// server (`waiting` clients blocked), the actor `name` of that role again in a second
/// process, which must be refused before it does anything on the market; then the other
/// role, so that the run ends. The first process and the other role's must succeed, and
/// their outputs, sorted together, equal a single process's, with as many producers
/// registered on the market as the scenario has.
fn assert_an_actor_runs_in_one_process(role: &str, name: &str, waiting: u64) {
    let scenario = temp_file(&format!("redis-twice-{role}.json"), SMALL);
    let single = marketplace(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--time-scale".as_ref(),
        "0".as_ref(),
    ]);
    assert!(single.status.success(), "{single:?}");
    let market = fresh_market_name(&format!("twice-{role}"));
    let server = RedisServer::start();
    let first = start_on(&server.url(), &scenario, &market, &["--role", role]);
    server.until_clients_wait(waiting);
    let second = start_on(
        &server.url(),
        &scenario,
        &market,
        &["--role", role, "--only", name],
    );
    let second = second_process(&server, second, waiting);
    let other = if role == "producers" {
        "consumers"
    } else {
        "producers"
    };
    let rest = start_on(&server.url(), &scenario, &market, &["--role", other]);
    let mut children = vec![first, rest];
    let refused = match second {
        Second::Ended(output) => Some(output),
        Second::Joined(child) => {
            children.push(child);
            None
        }
    };
    let outputs = wait_all(children);
    let producers =
        marketplace_redis::RedisMarketplace::<String>::connect(&server.url(), &market, 1)
            .and_then(|m| {
                m.stats()
                    .map_err(marketplace_redis::ConnectError::Unreachable)
            })
            .expect("the market's state")
            .producers;
    let stdout: Vec<u8> = outputs.iter().flat_map(|o| o.stdout.clone()).collect();
    let Some(refused) = refused else {
        panic!(
            "a second process running {name:?} joined the run instead of being refused: exit \
             statuses {:?}, {} purchase lines against a single process's {}, {producers} \
             producers registered for the scenario's {}",
            outputs.iter().map(|o| o.status.code()).collect::<Vec<_>>(),
            stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            single
                .stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            scenario_of(&scenario).producers().len(),
        );
    };
    let kind = if role == "producers" {
        "producer"
    } else {
        "consumer"
    };
    assert_refused(
        &refused,
        &format!("{kind} {name:?} is run by another process on market {market:?}"),
    );
    // What to do about it: a crashed process's claim stays, so a rerun needs a new market.
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("run again on a new --market"),
        "{refused:?}"
    );
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&sorted(&stdout)),
        String::from_utf8_lossy(&sorted(&single.stdout))
    );
    assert_eq!(producers, scenario_of(&scenario).producers().len());
}

/// A consumer run by two processes would buy its carts twice, and the first to finish
/// could close the market on the other: the second process is refused.
#[test]
fn a_consumer_already_run_by_another_process_is_refused() {
    // Its consumer waits for a tea no producer has made yet.
    assert_an_actor_runs_in_one_process("consumers", "c", 1);
}

/// A producer run by two processes would publish its items twice: the second process is
/// refused.
#[test]
fn a_producer_already_run_by_another_process_is_refused() {
    // Its producer waits for room (capacity 1), and the process for the run's end.
    assert_an_actor_runs_in_one_process("producers", "p", 2);
}

/// `--retry-for SECS`, as the command line writes it.
fn retry_for(window: Duration) -> [String; 2] {
    ["--retry-for".to_owned(), window.as_secs_f64().to_string()]
}

/// A server that stops answering but keeps its connections open (`kill -STOP`, a hung host)
/// fails the run with one line naming the call and the server once the process's retry
/// window (`--retry-for`) has passed: the wait's round notices the silence (its read times
/// out), the call is retried for the window, and the failed process then tries once to close
/// the market for the others, instead of retrying that for a second window.
#[test]
fn a_server_that_stops_answering_fails_the_run_after_one_retry_window() {
    let scenario = temp_file("redis-stopped.json", SMALL);
    let market = fresh_market_name("stopped");
    let server = RedisServer::start();
    let window = Duration::from_secs(1);
    let mut args = vec!["--role".to_owned(), "producers".to_owned()];
    args.extend(retry_for(window));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let producers = start_on(&server.url(), &scenario, &market, &args);
    // Its one producer is full and asleep, waiting for room; the main thread waits for the
    // end of the run.
    server.until_a_client_waits();
    let silenced = server.silence();
    let started = Instant::now();
    // Past the window: a wait round's read timeout, the last try's, and the one try of
    // close; one more for a loaded machine.
    let bound = window + 4 * READ_TIMEOUT;
    assert!(
        bound < RETRY_FOR,
        "the default window alone would pass the bound, so meeting it shows the flag's effect"
    );
    let output = finish_within(producers, 2 * bound, "the run outlived a stopped server");
    let took = started.elapsed();
    drop(silenced);
    println!("the run failed {took:.1?} after the server stopped answering");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!(
            "on redis server 127.0.0.1:{}: no answer in time",
            server.port()
        )),
        "{stderr}"
    );
    assert!(
        took >= window && took < bound,
        "the run failed {took:?} after the server stopped, with a window of {window:?}"
    );
}

/// `--retry-for` is the time a process waits for a lost server: of two processes whose
/// servers are killed (every connection then refused at once), the one with the shorter
/// window fails sooner, and the other waits out most of its own. Each fails with one line
/// that names the call made once.
#[test]
fn a_shorter_retry_window_fails_a_run_on_a_lost_server_sooner() {
    let scenario = temp_file("redis-window.json", SMALL);
    let short = Duration::from_secs(1);
    let long = 6 * short;
    let runs = [short, long].map(|window| {
        let server = RedisServer::start();
        let mut args = vec!["--role".to_owned(), "consumers".to_owned()];
        args.extend(retry_for(window));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let market = fresh_market_name("window");
        let consumers = start_on(&server.url(), &scenario, &market, &args);
        // The consumer is asleep on the server, waiting for a tea no producer makes.
        server.until_a_client_waits();
        (server, consumers)
    });
    let ended = std::thread::scope(|s| {
        let waits: Vec<_> = runs
            .into_iter()
            .map(|(server, consumers)| {
                let port = server.port();
                drop(server);
                let killed = Instant::now();
                s.spawn(move || {
                    let output = finish_within(consumers, HANG, "the run outlived its server");
                    (port, output, killed.elapsed())
                })
            })
            .collect();
        waits
            .into_iter()
            .map(|w| w.join().expect("waiter"))
            .collect::<Vec<_>>()
    });
    for (port, output, took) in &ended {
        println!("with the server on {port} killed, the run failed in {took:.1?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(output.stdout.is_empty());
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&format!(
                "consumer \"c\": add_to_cart_timeout on redis server 127.0.0.1:{port}: "
            )),
            "{stderr}"
        );
        assert_eq!(stderr.matches("add_to_cart").count(), 1, "{stderr}");
    }
    let (took_short, took_long) = (ended[0].2, ended[1].2);
    // A call gives up when its next pause would end past its window, so it may stop short
    // of the window by one pause, which is under the short window.
    assert!(
        took_long >= long - short,
        "a window of {long:?} failed after {took_long:?}"
    );
    assert!(
        took_short < long - short,
        "a window of {short:?} failed after {took_short:?}, as late as one of {long:?} may"
    );
}

/// A process of a redis run interrupted (SIGTERM) while it writes a cart it ordered, here
/// 200 lines of a kilobyte to a pipe read only from its first line on after the signal,
/// prints the cart whole before it dies of the signal, as a memory run does.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_redis_run_prints_a_cart_being_written_whole() {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;

    let path = one_cart_larger_than_a_pipe("redis-interrupted-cart.json");
    let market = fresh_market_name("interrupted-cart");
    let mut child = start(&path, &market, &[]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut printed = String::new();
    stdout
        .read_line(&mut printed)
        .expect("the cart's first line");
    send(&child, "TERM");
    stdout
        .read_to_string(&mut printed)
        .expect("the rest of stdout");
    let output = finish_within(child, Duration::from_secs(30), "an interrupted run");
    assert_eq!(output.status.signal(), Some(15), "{output:?}");
    assert!(printed.ends_with('\n'), "a cut line");
    assert_eq!(printed.lines().count(), 200, "the cart is cut");
}

/// A panic while a consumer writes its lines (here in the caller's sink) ends the run with
/// that panic, through the library's `run_remote`: the other actors are stopped and the
/// market closed, none left waiting for a consumer that will never finish.
#[test]
fn a_panic_in_the_output_ends_a_redis_run_with_that_panic() {
    struct Panicking;
    impl std::io::Write for Panicking {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            panic!("the sink panics");
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let scenario = Scenario::from_json(SMALL).expect("valid");
    let remote = RemoteOptions {
        url: shared_server().url(),
        market: fresh_market_name("panickingsink"),
        role: Role::All,
        only: None,
        fingerprint: fingerprint(SMALL.as_bytes()),
        retry_for: RETRY_FOR,
        interrupt: Interrupt::default(),
        interrupted: None,
        interrupted_market: true,
    };
    let message = panic_message_of(move || run_remote(&scenario, &remote, 0.0, Panicking), HANG)
        .expect("the run goes on after its sink panicked");
    assert_eq!(message.as_deref(), Some("the sink panics"));
}

/// A scenario whose consumer `c` buys a mug of `p` and then waits for a product of `q`:
/// a process run with `--only p,c` waits after one cart.
fn waiting_after_one_cart() -> serde_json::Value {
    serde_json::json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4},
                     "x": {"product_type": "Product", "name": "Nobody's", "price": 1}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0},
                      {"name": "q", "products": [["x", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 1}],
                                 [{"type": "add", "product": "x", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    })
}

/// A process of a redis run interrupted (SIGINT, SIGTERM) while its consumer waits, after
/// one cart, for a product of a producer no process runs, prints the `--stats` line of what it did until the
/// signal, marked as interrupted, before it dies of the signal, as an interrupted memory
/// run prints its table.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_redis_run_prints_its_stats_line() {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;

    let path = temp_file(
        "redis-interrupted-stats.json",
        &waiting_after_one_cart().to_string(),
    );
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        let market = fresh_market_name(&format!("interrupted-stats-{signal}"));
        let mut child = start(&path, &market, &["--stats", "--only", "p,c"]);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut printed = String::new();
        stdout
            .read_line(&mut printed)
            .expect("the first cart's line");
        assert_eq!(
            printed, "c bought Product(name='Mug', price=4)\n",
            "{signal}"
        );
        send(&child, signal);
        stdout
            .read_to_string(&mut printed)
            .expect("the rest of stdout");
        let output = finish_within(child, HANG, "an interrupted run");
        assert_eq!(output.status.signal(), Some(number), "{signal}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(printed.lines().count(), 1, "{signal}: {printed:?}");
        assert_eq!(stderr.lines().count(), 1, "{signal}: one line: {stderr:?}");
        assert!(
            stderr.starts_with("1 purchases in this process in "),
            "{signal}: {stderr:?}"
        );
        assert!(stderr.contains("interrupted"), "{signal}: {stderr:?}");
    }
}

/// A sink whose first write tells `writing` and then waits for `go`.
struct Gate {
    writing: Option<std::sync::mpsc::Sender<()>>,
    go: std::sync::mpsc::Receiver<()>,
}

impl std::io::Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(writing) = self.writing.take() {
            let _ = writing.send(());
            let _ = self.go.recv();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An interrupt asked for while the last cart of a run is written (so it waits for it)
/// is told once: either the interrupt's report or the run's own, never both, which the
/// command would print as two `--stats` lines.
#[test]
fn an_interrupt_during_the_last_cart_is_reported_once() {
    use marketplace_cli::runner::{Interrupt, RemoteOptions, Role, fingerprint, run_remote};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let market = fresh_market_name("last-cart");
    let interrupt = Interrupt::new();
    let reports = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reports);
    let options = RemoteOptions {
        url: shared_server().url(),
        market,
        role: Role::All,
        only: None,
        fingerprint: fingerprint(SMALL.as_bytes()),
        retry_for: RETRY_FOR,
        interrupt: interrupt.clone(),
        interrupted: Some(Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })),
        interrupted_market: true,
    };
    let scenario = Scenario::from_json(SMALL).expect("valid");
    let (writing, written) = std::sync::mpsc::channel();
    let (go, gone) = std::sync::mpsc::channel();
    let outcome = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let sink = Gate {
                writing: Some(writing),
                go: gone,
            };
            // The end's watch is let go here, before the interrupt is joined below.
            run_remote(&scenario, &options, 0.0, sink).outcome
        });
        written.recv().expect("the cart is being written");
        let asked = s.spawn(|| interrupt.interrupt_and_wait());
        while !interrupt.is_requested() {
            std::thread::yield_now();
        }
        go.send(()).expect("the run waits");
        let outcome = run.join().expect("the run does not panic");
        asked.join().expect("the interrupt does not panic");
        outcome
    });
    let reports = reports.load(Ordering::SeqCst);
    assert_eq!(
        reports + usize::from(outcome.is_ok()),
        1,
        "{reports} interrupt reports and the run's {outcome:?}"
    );
}

/// A signal while the process still connects (here to a listener that never answers)
/// ends it at once, as before the run: there is nothing yet to report, and it would wait
/// for the connection to give up. Measured against how long that takes without a signal.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_while_connecting_ends_the_process_at_once() {
    use std::os::unix::process::ExitStatusExt;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!(
        "redis://{}",
        listener.local_addr().expect("the listener's address")
    );
    let silent = std::thread::spawn(move || {
        // Keeps every connection open and silent until the test ends.
        listener.incoming().collect::<Vec<_>>()
    });
    let scenario = temp_file("redis-silent.json", SMALL);
    let args = |child: &mut Command| {
        child
            .arg("run")
            .arg(&scenario)
            .args(["--backend", &url, "--market", "m", "--stats"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    };
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_marketplace"));
    args(&mut command);
    let refused = command.output().expect("the binary runs");
    let giving_up = started.elapsed();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");

    let mut command = Command::new(env!("CARGO_BIN_EXE_marketplace"));
    args(&mut command);
    let child = command.spawn().expect("the binary runs");
    // The process is connecting once the server's accept queue holds its connection;
    // /proc tells when its socket to the server is open.
    let port = url.rsplit(':').next().expect("a port").to_owned();
    let port = format!(":{:04X} ", port.parse::<u16>().expect("a port number"));
    let deadline = Instant::now() + HANG;
    while !std::fs::read_to_string("/proc/net/tcp")
        .expect("the TCP table")
        .lines()
        .any(|line| {
            line.split_whitespace()
                .nth(2)
                .is_some_and(|remote| format!("{remote} ").ends_with(&port))
        })
    {
        assert!(Instant::now() < deadline, "the process never connected");
        std::thread::yield_now();
    }
    let signalled = Instant::now();
    send(&child, "INT");
    let output = finish_within(child, HANG, "a connecting process");
    let took = signalled.elapsed();
    assert_eq!(output.status.signal(), Some(2), "{output:?}");
    assert!(
        took < giving_up / 4,
        "died {took:?} after the signal; a connection gives up after {giving_up:?}"
    );
    drop(silent);
}

/// A process interrupted once its server is gone prints its `--stats` line, the market's
/// state unknown, and dies of the signal soon: it does not retry asking for that state for
/// its whole retry window, which the signal would wait out.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupt_after_the_server_is_lost_is_not_held_for_the_retry_window() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;

    let window = Duration::from_secs(6);
    let server = RedisServer::start();
    let path = temp_file(
        "redis-interrupted-lost.json",
        &waiting_after_one_cart().to_string(),
    );
    let market = fresh_market_name("interrupted-lost");
    let mut args = vec!["--stats".to_owned(), "--only".to_owned(), "p,c".to_owned()];
    args.extend(retry_for(window));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = start_on(&server.url(), &path, &market, &args);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut printed = String::new();
    stdout
        .read_line(&mut printed)
        .expect("the first cart's line");
    assert_eq!(printed, "c bought Product(name='Mug', price=4)\n");
    drop(server);
    let signalled = Instant::now();
    send(&child, "INT");
    let output = finish_within(child, HANG, "an interrupted run without its server");
    let took = signalled.elapsed();
    assert_eq!(output.status.signal(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("1 purchases in this process in ") && stderr.contains("interrupted"),
        "{stderr:?}"
    );
    assert!(
        took < window / 2,
        "died {took:?} after the signal, with a retry window of {window:?}"
    );
}

/// A sink that tells `flushed` at each flush (each cart's lines out).
struct Flushes(std::sync::mpsc::Sender<()>);

impl std::io::Write for Flushes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.send(());
        Ok(())
    }
}

/// Options for a run of `scenario` on a fresh market of the shared server, given `interrupt`.
fn options_for(scenario: &str, only: Option<&[&str]>, interrupt: &Interrupt) -> RemoteOptions {
    RemoteOptions {
        url: shared_server().url(),
        market: fresh_market_name("library"),
        role: Role::All,
        only: only.map(|names| names.iter().map(|&name| name.to_owned()).collect()),
        fingerprint: fingerprint(scenario.as_bytes()),
        retry_for: RETRY_FOR,
        interrupt: interrupt.clone(),
        interrupted: None,
        interrupted_market: true,
    }
}

/// Runs of one scenario on one interrupt, each on a market and a thread of its own.
struct ReportedRuns {
    /// Each run's market.
    markets: Vec<String>,
    /// Each run's end, as it ends.
    ends: std::sync::mpsc::Receiver<RemoteEnd>,
}

/// Starts a run of `json` (its producer "p" and consumer "c") for each of `reports`, the
/// report of its interrupt, with `interrupt`, each on a fresh market and a thread of its
/// own; returns once each has flushed a first cart.
fn start_reported_runs<R>(
    json: &str,
    interrupt: &Interrupt,
    reports: impl IntoIterator<Item = R>,
) -> ReportedRuns
where
    R: Fn(InterruptedReport) + Send + Sync + 'static,
{
    let (flushed, flushes) = std::sync::mpsc::channel();
    let (ended, ends) = std::sync::mpsc::channel();
    let mut markets = Vec::new();
    for report in reports {
        let scenario = Scenario::from_json(json).expect("valid");
        let mut options = options_for(json, Some(&["p", "c"]), interrupt);
        options.interrupted = Some(std::sync::Arc::new(report));
        markets.push(options.market.clone());
        let (flushed, ended) = (flushed.clone(), ended.clone());
        std::thread::spawn(move || {
            let _ = ended.send(run_remote(&scenario, &options, 0.0, Flushes(flushed)));
        });
    }
    for _ in &markets {
        flushes
            .recv_timeout(HANG)
            .expect("each run's first cart is out");
    }
    ReportedRuns { markets, ends }
}

impl ReportedRuns {
    /// Closes each run's market from outside, as a failed process of a run closes it, and
    /// asserts that each run then returns `RemoteError::Interrupted`.
    fn close_and_see_each_interrupted(self) {
        for market in &self.markets {
            close_market(shared_server(), market);
        }
        for _ in &self.markets {
            let outcome = self.ends.recv_timeout(HANG).map(|end| end.outcome);
            assert!(
                matches!(outcome, Ok(Err(RemoteError::Interrupted))),
                "{outcome:?}"
            );
        }
    }
}

/// Asks `interrupt` for the end on a thread of its own: whether that returned within `HANG`.
fn interrupt_returns(interrupt: &Interrupt) -> bool {
    let (returned, returns) = std::sync::mpsc::channel();
    let interrupt = interrupt.clone();
    std::thread::spawn(move || {
        interrupt.interrupt_and_wait();
        let _ = returned.send(());
    });
    returns.recv_timeout(HANG).is_ok()
}

/// A report of an interrupt that panics (the caller's `interrupted`) still lets the one
/// who asked for the interrupt go on, instead of leaving it waiting forever for a watch
/// nobody finishes; the panic reaches the caller of `run_remote` once the run ends (here
/// closed from outside, as a failed process of the run closes it).
#[test]
fn a_report_that_panics_does_not_hold_the_interrupt() {
    let json = waiting_after_one_cart().to_string();
    let scenario = Scenario::from_json(&json).expect("valid");
    let interrupt = Interrupt::new();
    let mut options = options_for(&json, Some(&["p", "c"]), &interrupt);
    options.interrupted = Some(std::sync::Arc::new(|_| panic!("the report panics")));
    let market = options.market.clone();
    let (flushed, flushes) = std::sync::mpsc::channel();
    let (ended, ends) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_remote(&scenario, &options, 0.0, Flushes(flushed))
        }));
        let message = unwound
            .err()
            .and_then(|payload| payload.downcast_ref::<&str>().map(|m| m.to_string()));
        let _ = ended.send(message);
    });
    flushes.recv_timeout(HANG).expect("the first cart is out");
    assert!(
        interrupt_returns(&interrupt),
        "the interrupt waits forever after its report panicked"
    );
    close_market(shared_server(), &market);
    let message = ends.recv_timeout(HANG).expect("the run ends once closed");
    assert_eq!(message.as_deref(), Some("the report panics"));
}

/// The end of a failed run keeps the one who asks for the interrupt waiting until the
/// caller lets it go, having told the failure: a signal then cannot end the command before
/// its error line.
#[test]
fn a_failed_run_holds_the_interrupt_until_its_end_is_dropped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let json = waiting_after_one_cart().to_string();
    let scenario = Scenario::from_json(&json).expect("valid");
    let interrupt = Interrupt::new();
    let options = options_for(&json, Some(&["p", "c"]), &interrupt);
    let market = options.market.clone();
    let (flushed, flushes) = std::sync::mpsc::channel();
    let (ended, ends) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = ended.send(run_remote(&scenario, &options, 0.0, Flushes(flushed)));
    });
    flushes.recv_timeout(HANG).expect("the first cart is out");
    close_market(shared_server(), &market);
    let end = ends.recv_timeout(HANG).expect("the run ends once closed");
    assert!(
        matches!(end.outcome, Err(RemoteError::Failed(_))),
        "{:?}",
        end.outcome
    );
    let told = Arc::new(AtomicBool::new(false));
    let (returned, returns) = std::sync::mpsc::channel();
    let asker = interrupt.clone();
    let seen = Arc::clone(&told);
    std::thread::spawn(move || {
        asker.interrupt_and_wait();
        let _ = returned.send(seen.load(Ordering::SeqCst));
    });
    while !interrupt.is_requested() {
        std::thread::yield_now();
    }
    told.store(true, Ordering::SeqCst);
    drop(end);
    assert_eq!(
        returns.recv_timeout(HANG),
        Ok(true),
        "the interrupt went on before the failure was told"
    );
}

/// An interrupt that served a run serves the next one: an interrupt during the second run
/// is reported, and the one who asked goes on once both runs' ends are let go. The first
/// run's end, still held, keeps the one who asked waiting but not the second run's report.
#[test]
fn an_interrupt_serves_a_second_run() {
    for dropped_between in [true, false] {
        let interrupt = Interrupt::new();
        let small = Scenario::from_json(SMALL).expect("valid");
        let first = options_for(SMALL, None, &interrupt);
        let (flushed, flushes) = std::sync::mpsc::channel();
        let first_end = run_remote(&small, &first, 0.0, Flushes(flushed.clone()));
        first_end.outcome.as_ref().expect("the first run ends");
        let held = (!dropped_between).then_some(first_end);
        while flushes.try_recv().is_ok() {}
        let json = waiting_after_one_cart().to_string();
        let scenario = Scenario::from_json(&json).expect("valid");
        let mut second = options_for(&json, Some(&["p", "c"]), &interrupt);
        let (told, tells) = std::sync::mpsc::channel();
        let told = std::sync::Mutex::new(told);
        second.interrupted = Some(std::sync::Arc::new(move |report| {
            let _ = told.lock().expect("not poisoned").send(report);
        }));
        std::thread::spawn(move || run_remote(&scenario, &second, 0.0, Flushes(flushed)));
        flushes
            .recv_timeout(HANG)
            .expect("the second run's first cart is out");
        let (returned, returns) = std::sync::mpsc::channel();
        let asker = interrupt.clone();
        std::thread::spawn(move || {
            asker.interrupt_and_wait();
            let _ = returned.send(());
        });
        let report = tells.recv_timeout(HANG);
        assert!(
            report.as_ref().is_ok_and(|report| report.purchases == 1),
            "dropped between: {dropped_between}: {report:?}"
        );
        drop(held);
        assert!(
            returns.recv_timeout(HANG).is_ok(),
            "dropped between: {dropped_between}: the interrupt waits forever"
        );
    }
}

/// A scenario whose consumer `c` orders two carts of one mug each, made by `p`.
fn two_carts_of_mugs() -> serde_json::Value {
    serde_json::json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "p", "products": [["m", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 1}],
                                 [{"type": "add", "product": "m", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    })
}

/// A run interrupted through the library while a consumer writes a cart, and then ended
/// from outside (its market closed, as a failed process of the run closes it), returns
/// `RemoteError::Interrupted`: its consumer, which stops before its next order, does not
/// keep the run from ending.
#[test]
fn an_interrupted_run_returns_once_its_market_closes() {
    let json = two_carts_of_mugs().to_string();
    let scenario = Scenario::from_json(&json).expect("valid");
    let interrupt = Interrupt::new();
    let options = options_for(&json, None, &interrupt);
    let market = options.market.clone();
    let (writing, written) = std::sync::mpsc::channel();
    let (go, gone) = std::sync::mpsc::channel();
    let (ended, ends) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sink = Gate {
            writing: Some(writing),
            go: gone,
        };
        let _ = ended.send(run_remote(&scenario, &options, 0.0, sink).outcome);
    });
    written
        .recv_timeout(HANG)
        .expect("the first cart is being written");
    let asker = interrupt.clone();
    let (returned, returns) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        asker.interrupt_and_wait();
        let _ = returned.send(());
    });
    while !interrupt.is_requested() {
        std::thread::yield_now();
    }
    go.send(()).expect("the run writes on");
    returns
        .recv_timeout(HANG)
        .expect("the interrupt returns once the cart is out");
    close_market(shared_server(), &market);
    let outcome = ends.recv_timeout(HANG);
    assert!(
        matches!(outcome, Ok(Err(RemoteError::Interrupted))),
        "the run did not end once its market closed: {outcome:?}"
    );
}

/// A reader that stops early (`marketplace run --backend redis://... | head -1`) ends a
/// process of a redis run as it ends a memory run: exit code 1 and nothing on stderr. The
/// cart is larger than a pipe holds, so the process is still writing when the reader goes.
#[test]
fn a_reader_that_stops_early_ends_a_redis_run_quietly() {
    use std::io::{BufRead, BufReader};

    let path = one_cart_larger_than_a_pipe("redis-closed-early.json");
    let market = fresh_market_name("closed-early");
    let mut child = start(&path, &market, &[]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut first)
        .expect("a first line");
    assert!(first.starts_with("c bought "), "{first:?}");
    // The reader is gone here, as `head -1` goes after its line.
    let output = finish_within(child, HANG, "a redis run whose reader left");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, "", "a message for a reader that left");
}

/// A stdout that cannot take the lines (a full device) fails a process of a redis run with
/// exit code 1 and one line, worded as a memory run's.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stdout_fails_a_redis_run_in_one_line() {
    let path = temp_file("redis-full-stdout.json", SMALL);
    let market = fresh_market_name("full-stdout");
    let output = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(&path)
        .args(["--time-scale", "0", "--backend", &shared_server().url()])
        .args(["--market", &market])
        .stdout(std::fs::File::create("/dev/full").expect("/dev/full opens"))
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(": cannot write the output: "),
        "{stderr}"
    );
}

/// An interrupt asked for before `run_remote` ends the run once it has connected, before
/// any actor starts: `RemoteError::Interrupted`, nothing told to `interrupted` (the
/// process did nothing), and an end that does not hold the interrupt.
#[test]
fn an_interrupt_asked_before_the_run_ends_it_untold() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let scenario = Scenario::from_json(SMALL).expect("valid");
    let interrupt = Interrupt::new();
    assert!(interrupt_returns(&interrupt), "nothing holds it yet");
    let told = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&told);
    let mut options = options_for(SMALL, None, &interrupt);
    options.interrupted = Some(Arc::new(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    }));
    let (flushed, flushes) = std::sync::mpsc::channel();
    let end = run_remote(&scenario, &options, 0.0, Flushes(flushed));
    assert!(
        matches!(end.outcome, Err(RemoteError::Interrupted)),
        "{:?}",
        end.outcome
    );
    assert_eq!(told.load(Ordering::SeqCst), 0, "a report of nothing");
    assert!(flushes.try_recv().is_err(), "an order was placed");
    assert!(interrupt_returns(&interrupt), "the end holds the interrupt");
    drop(end);
}

/// Two runs at once on one interrupt, from two threads: a request is told once by each,
/// the one who asked goes on once both are told, and each run, its market closed, returns
/// `RemoteError::Interrupted`.
#[test]
fn two_runs_at_once_on_one_interrupt_each_tell_it_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let json = waiting_after_one_cart().to_string();
    let interrupt = Interrupt::new();
    let told = Arc::new(AtomicUsize::new(0));
    let runs = start_reported_runs(
        &json,
        &interrupt,
        (0..2).map(|_| {
            let counted = Arc::clone(&told);
            move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }),
    );
    assert!(interrupt_returns(&interrupt), "the interrupt waits forever");
    assert_eq!(told.load(Ordering::SeqCst), 2, "each run tells it once");
    runs.close_and_see_each_interrupted();
}

/// A scenario file named `file` whose one consumer orders one cart of 200 lines of a
/// kilobyte each: more than a pipe holds, so its process is still writing the cart when a
/// test acts.
fn one_cart_larger_than_a_pipe(file: &str) -> PathBuf {
    let name = "N".repeat(1000);
    let scenario = serde_json::json!({
        "products": {"m": {"product_type": "Product", "name": name, "price": 4}},
        "producers": [{"name": "p", "products": [["m", 200, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "m", "quantity": 200}]]}],
        "marketplace": {"queue_size_per_producer": 200}
    });
    temp_file(file, &scenario.to_string())
}

/// A loopback stand-in for a server: forwards every connection to the real server at
/// `port`, and, once armed, holds (never forwards) the first command a client sends after
/// the market's `is_closed` check, telling the test through `held`. For a test that needs
/// the process stuck on the server right after it has decided on something.
struct HoldingProxy {
    port: u16,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    held: std::sync::mpsc::Receiver<()>,
}

impl HoldingProxy {
    fn new(port: u16) -> HoldingProxy {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let proxy_port = listener.local_addr().expect("an address").port();
        let armed = Arc::new(AtomicBool::new(false));
        let checked = Arc::new(AtomicBool::new(false));
        let (tell, held) = std::sync::mpsc::channel();
        let arming = Arc::clone(&armed);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let (mut from_server, mut to_client) = (
                    server.try_clone().expect("a second handle"),
                    client.try_clone().expect("a second handle"),
                );
                std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
                let (armed, checked, tell) =
                    (Arc::clone(&arming), Arc::clone(&checked), tell.clone());
                std::thread::spawn(move || {
                    let _ = forward_commands(client, &server, &armed, &checked, &tell);
                    // Ends the copy of the server's replies too.
                    let _ = server.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        HoldingProxy {
            port: proxy_port,
            armed,
            held,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `client`'s commands to `server` one at a time (RESP arrays of bulk strings),
/// until the one to hold (see `HoldingProxy`), which it keeps, the connection open.
fn forward_commands(
    client: std::net::TcpStream,
    mut server: &std::net::TcpStream,
    armed: &std::sync::atomic::AtomicBool,
    checked: &std::sync::atomic::AtomicBool,
    tell: &std::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    use std::io::{BufRead, Read, Write};
    use std::sync::atomic::Ordering;

    let mut client = std::io::BufReader::new(client);
    loop {
        let mut raw = Vec::new();
        let mut args = Vec::new();
        client.read_until(b'\n', &mut raw)?;
        let Some(count) = raw.strip_prefix(b"*") else {
            return Ok(());
        };
        let count: usize = String::from_utf8_lossy(count).trim().parse().unwrap_or(0);
        for _ in 0..count {
            let start = raw.len();
            client.read_until(b'\n', &mut raw)?;
            let len: usize = String::from_utf8_lossy(&raw[start + 1..])
                .trim()
                .parse()
                .unwrap_or(0);
            let mut arg = vec![0; len + 2];
            client.read_exact(&mut arg)?;
            raw.extend_from_slice(&arg);
            arg.truncate(len);
            args.push(arg);
        }
        if armed.load(Ordering::SeqCst) {
            if checked.load(Ordering::SeqCst) {
                let _ = tell.send(());
                // Held: the connection stays open and silent until the process ends.
                return client.read_to_end(&mut Vec::new()).map(drop);
            }
            if args
                .windows(2)
                .any(|pair| pair[0] == b"closed" && pair[1].is_empty())
            {
                checked.store(true, Ordering::SeqCst);
            }
        }
        server.write_all(&raw)?;
    }
}

/// A signal that comes once a process of a redis run has failed (here its market closed
/// before its consumer finished), while the process still tries to close the market on a
/// server that does not answer, gets the failure's error line told before the process dies
/// of the signal, as a signal that comes after the run's end does: the failure is not
/// taken for an interrupt, which would have told nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_after_a_run_failed_gets_the_error_line() {
    use std::os::unix::process::ExitStatusExt;

    let scenario = temp_file("redis-failed-then-signalled.json", SMALL);
    let server = RedisServer::start();
    for (signal, number) in [("INT", 2), ("TERM", 15)] {
        for extra in [&[][..], &["--stats"][..]] {
            let proxy = HoldingProxy::new(server.port());
            let market = fresh_market_name(&format!("failed-then-{signal}"));
            let mut args = vec!["--role", "consumers"];
            args.extend(extra);
            let consumer = start_on(&proxy.url(), &scenario, &market, &args);
            // The consumer is asleep on the server, waiting for a tea no producer makes.
            server.until_a_client_waits();
            proxy.arm();
            close_market(&server, &market);
            // The consumer found the market closed, so the run has failed, and the
            // process's close of the market is held.
            proxy
                .held
                .recv_timeout(HANG)
                .expect("the failed process closes the market");
            send(&consumer, signal);
            let output = finish_within(consumer, HANG, "a failed run signalled");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let what = format!("{signal} {extra:?}");
            assert_eq!(output.status.signal(), Some(number), "{what}: {output:?}");
            assert!(output.stdout.is_empty(), "{what}: {output:?}");
            assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr:?}");
            assert!(
                stderr.starts_with("error: ") && stderr.contains("closed before it finished"),
                "{what}: {stderr:?}"
            );
        }
    }
}

/// A `Hold` the caller keeps across `run_remote` keeps the one who asked for the interrupt
/// waiting until it is let go, as any hold does, but not the run's report of the interrupt,
/// which waits only for the run's own orders in progress: the report is told at once, and
/// the run, its market closed from outside, returns `RemoteError::Interrupted`.
#[test]
fn a_hold_kept_across_a_run_does_not_hold_its_report() {
    let json = waiting_after_one_cart().to_string();
    let interrupt = Interrupt::new();
    let (told, tells) = std::sync::mpsc::channel();
    let held = interrupt.hold();
    let runs = start_reported_runs(
        &json,
        &interrupt,
        [move |report| {
            let _ = told.send(report);
        }],
    );
    let (returned, returns) = std::sync::mpsc::channel();
    let asker = interrupt.clone();
    std::thread::spawn(move || {
        asker.interrupt_and_wait();
        let _ = returned.send(());
    });
    let report = tells.recv_timeout(HANG);
    assert!(
        report.as_ref().is_ok_and(|report| report.purchases == 1),
        "the report waits for the caller's hold: {report:?}"
    );
    assert!(
        returns.try_recv().is_err(),
        "the request went on before the caller's hold was let go"
    );
    close_market(shared_server(), &runs.markets[0]);
    let end = runs
        .ends
        .recv_timeout(HANG)
        .expect("the run ends once closed");
    assert!(
        matches!(end.outcome, Err(RemoteError::Interrupted)),
        "{:?}",
        end.outcome
    );
    assert!(
        returns.try_recv().is_err(),
        "the request went on before the caller's hold was let go"
    );
    drop(end);
    drop(held);
    assert!(
        returns.recv_timeout(HANG).is_ok(),
        "the request waits forever once every hold is let go"
    );
}

/// A report of the interrupt (`RemoteOptions::interrupted`) that itself asks for the
/// interrupt and waits returns, instead of waiting for its own run's watch, which only its
/// return finishes; the one who asked first goes on too.
#[test]
fn a_report_that_asks_for_the_interrupt_itself_returns() {
    let json = waiting_after_one_cart().to_string();
    let interrupt = Interrupt::new();
    let (asked, asks) = std::sync::mpsc::channel();
    let inner = interrupt.clone();
    let runs = start_reported_runs(
        &json,
        &interrupt,
        [move |_| {
            inner.interrupt_and_wait();
            let _ = asked.send(());
        }],
    );
    assert!(
        interrupt_returns(&interrupt),
        "the request waits forever on a report that asks for it"
    );
    assert!(
        asks.recv_timeout(HANG).is_ok(),
        "the report's own request waits for its own watch"
    );
    runs.close_and_see_each_interrupted();
}

/// Two runs given one interrupt, whose reports each ask for the interrupt and wait: each
/// request waits for the other run's report, which is itself waiting in its request, so
/// neither may wait for the other's watch; both return, and so does the one who asked first.
#[test]
fn two_runs_whose_reports_both_ask_for_the_interrupt_return() {
    let json = waiting_after_one_cart().to_string();
    let interrupt = Interrupt::new();
    let (asked, asks) = std::sync::mpsc::channel();
    let runs = start_reported_runs(
        &json,
        &interrupt,
        (0..2).map(|_| {
            let (inner, asked) = (interrupt.clone(), asked.clone());
            move |_| {
                inner.interrupt_and_wait();
                let _ = asked.send(());
            }
        }),
    );
    assert!(
        interrupt_returns(&interrupt),
        "the request waits forever on two reports that ask for it"
    );
    for _ in 0..2 {
        assert!(
            asks.recv_timeout(HANG).is_ok(),
            "a report's request waits for the other report, which waits for it"
        );
    }
    runs.close_and_see_each_interrupted();
}

/// A process of a redis run without `--stats`, interrupted while its server is silent
/// (`kill -STOP`) and its consumer only waits (no order in progress), dies of the signal at
/// once, with nothing on stderr: it does not first ask the silent server for the market's
/// state, which only the `--stats` line would tell, and which would hold the signal until
/// the question is given up.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupt_without_stats_does_not_ask_a_silent_server() {
    use std::os::unix::process::ExitStatusExt;

    let scenario = temp_file("redis-silent-interrupted.json", SMALL);
    let server = RedisServer::start();
    let market = fresh_market_name("silent-interrupted");
    let consumer = start_on(&server.url(), &scenario, &market, &["--role", "consumers"]);
    // The consumer is asleep on the server, waiting for a tea no producer makes.
    server.until_a_client_waits();
    let silenced = server.silence();
    let started = Instant::now();
    send(&consumer, "INT");
    let output = finish_within(consumer, HANG, "an interrupted run on a silent server");
    let took = started.elapsed();
    drop(silenced);
    assert_eq!(output.status.signal(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    // Nothing is waited for: a question to the silent server would be given up only after
    // a new connection's time, or a read timeout through one already open.
    assert!(
        took < marketplace_redis::CONNECT_TIMEOUT / 2,
        "the signal took {took:?} to end the process, a connect time is {:?}",
        marketplace_redis::CONNECT_TIMEOUT
    );
}

/// A process refused for an actor another process runs names it cut after 1000 characters
/// with its length, as every message names an actor: a consumer named with a megabyte
/// made an error line of a megabyte.
#[test]
fn an_actor_run_elsewhere_is_named_cut_when_long() {
    let scenario = serde_json::json!({
        "products": {"t": {"product_type": "Tea", "name": "Linden", "price": 9, "type": "Herbal"}},
        "producers": [{"name": "p", "products": [["t", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "k".repeat(1_000_000), "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "t", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let scenario = temp_file("redis-long-consumer.json", &scenario.to_string());
    let market = fresh_market_name("long-consumer");
    let server = RedisServer::start();
    // No producer runs, so the first process's consumer waits for its tea.
    let mut first = start_on(&server.url(), &scenario, &market, &["--role", "consumers"]);
    server.until_clients_wait(1);
    let second = start_on(&server.url(), &scenario, &market, &["--role", "consumers"]);
    let second = finish_within(second, Duration::from_secs(30), "a refused second process");
    let _ = first.kill();
    let _ = first.wait();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{}", second.status);
    assert!(second.stdout.is_empty());
    assert!(
        stderr.len() < 1500
            && stderr.contains("consumer \"kkk")
            && stderr.contains("k... (1000000 characters)\" is run by another process"),
        "{} bytes: {}",
        stderr.len(),
        stderr.chars().take(1500).collect::<String>()
    );
}
