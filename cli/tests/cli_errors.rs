//! Every way `marketplace` refuses input: exit code 2, one clear message on stderr naming
//! the place of each problem, nothing on stdout; a stall exits 3 with a report, with either
//! kind of actors; more threads than the system allows exit 1 before any starts; and the
//! help and logging promises of the CLI.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::{ACTORS, marketplace, run_logged, temp_file, temp_path};

fn base() -> Value {
    json!({
        "products": {
            "t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"},
            "c": {"product_type": "Coffee", "name": "Kona", "price": 3, "acidity": 5.5,
                  "roast_level": "DARK"}
        },
        "producers": [
            {"name": "p1", "products": [["t", 2, 0.1], ["c", 1, 0]], "republish_wait_time": 0.2}
        ],
        "consumers": [
            {"name": "c1", "retry_wait_time": 0.1, "carts": [
                [{"type": "add", "product": "t", "quantity": 2},
                 {"type": "remove", "product": "t", "quantity": 1}]
            ]},
            {"name": "c2", "retry_wait_time": 0, "carts": [
                [{"type": "add", "product": "c", "quantity": 1}]
            ]}
        ],
        "marketplace": {"queue_size_per_producer": 2}
    })
}

fn run_file(name: &str, contents: &str) -> Output {
    let path = temp_file(name, contents);
    marketplace(&[
        "run".as_ref(),
        path.as_os_str(),
        "--time-scale".as_ref(),
        "0".as_ref(),
    ])
}

/// Asserts a bad-input failure: code 2, empty stdout, and each of `needles` on stderr.
fn assert_bad_input(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout must be empty: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Edits the base scenario, runs it and checks the refusal names each expected problem.
fn rejects(name: &str, edit: impl FnOnce(&mut Value), needles: &[&str]) {
    let mut v = base();
    edit(&mut v);
    let output = run_file(name, &v.to_string());
    assert_bad_input(&output, needles);
    // `check` refuses it the same way.
    let path = temp_file(&format!("{name}-check"), &v.to_string());
    assert_bad_input(&marketplace(&["check".as_ref(), path.as_os_str()]), needles);
}

#[test]
fn base_scenario_runs() {
    let output = run_file("base.json", &base().to_string());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        support::sorted(&output.stdout),
        b"c1 bought Tea(name='Mint', price=2, type='Herbal')\n\
          c2 bought Coffee(name='Kona', price=3, acidity=5.5, roast_level='DARK')\n"
    );
}

#[test]
fn unreadable_file() {
    let missing = temp_path("does-not-exist.json");
    let output = marketplace(&["run".as_ref(), missing.as_os_str()]);
    assert_bad_input(&output, &["error: cannot read", "does-not-exist.json"]);
    let dir = std::env::temp_dir();
    assert_bad_input(
        &marketplace(&["check".as_ref(), dir.as_os_str()]),
        &["error: cannot read"],
    );
    let path = temp_path("latin1.json");
    std::fs::write(&path, b"{\n  \"products\": \"\xc3\xa9caf\xe9\"}").unwrap();
    assert_bad_input(
        &marketplace(&["run".as_ref(), path.as_os_str()]),
        &[
            "error: cannot read",
            "not UTF-8 text: an invalid byte at line 2 column 21",
        ],
    );
    // A line break in the name is shown escaped: the error stays one line.
    let broken = temp_path("line\nbreak.json");
    let output = marketplace(&["run".as_ref(), broken.as_os_str()]);
    assert_bad_input(&output, &["line\\nbreak.json"]);
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

#[test]
fn malformed_json() {
    let output = run_file(
        "malformed.json",
        "{\n  \"products\": {\n    \"t\": [1, 2,]\n  }\n}",
    );
    assert_bad_input(
        &output,
        &["invalid scenario", "malformed JSON at line 3, column 16"],
    );
}

#[test]
fn truncated_json() {
    let text = base().to_string();
    let output = run_file("truncated.json", &text[..text.len() / 2]);
    assert_bad_input(&output, &["malformed JSON at line 1", "EOF while parsing"]);
    assert_bad_input(
        &run_file("empty.json", ""),
        &["malformed JSON", "EOF while parsing a value"],
    );
}

#[test]
fn wrong_types() {
    rejects(
        "types.json",
        |v| {
            v["consumers"][0]["name"] = json!(5);
            v["producers"] = json!({"name": "p1"});
            v["products"]["t"]["price"] = json!("2");
        },
        &[
            "(3 problems)",
            "products.t.price: expected a number, found a string (\"2\")",
            "producers: expected an array, found an object",
            "consumers[0].name: expected a string, found a number (5)",
        ],
    );
    rejects(
        "root.json",
        |v| *v = json!([1]),
        &["the scenario must be a JSON object, found an array"],
    );
}

#[test]
fn missing_fields_for_the_product_type() {
    rejects(
        "missing.json",
        |v| {
            v["products"]["c"]
                .as_object_mut()
                .unwrap()
                .remove("roast_level");
            v["products"]["t"].as_object_mut().unwrap().remove("type");
            v.as_object_mut().unwrap().remove("marketplace");
        },
        &[
            "products.t: missing field \"type\"",
            "products.c: missing field \"roast_level\"",
            "\n  missing field \"marketplace\"",
        ],
    );
}

#[test]
fn unknown_product_type() {
    rejects(
        "ptype.json",
        |v| v["products"]["t"]["product_type"] = json!("Juice"),
        &["products.t.product_type: unknown product_type \"Juice\""],
    );
}

#[test]
fn unknown_ids() {
    rejects(
        "ids.json",
        |v| {
            v["consumers"][1]["carts"][0][0]["product"] = json!("id9");
            v["producers"][0]["products"][1][0] = json!("nope");
        },
        &[
            "producers[0].products[1][0]: unknown product id \"nope\"",
            "consumers[1].carts[0][0].product: unknown product id \"id9\"",
        ],
    );
}

#[test]
fn negative_or_non_numeric_times() {
    rejects(
        "times.json",
        |v| {
            v["producers"][0]["products"][0][2] = json!(-0.1);
            v["producers"][0]["republish_wait_time"] = json!(null);
            v["consumers"][0]["retry_wait_time"] = json!("soon");
        },
        &[
            "producers[0].products[0][2]: must not be negative, found -0.1",
            "producers[0].republish_wait_time: expected a number, found null",
            "consumers[0].retry_wait_time: expected a number, found a string (\"soon\")",
        ],
    );
}

#[test]
fn quantities_below_one() {
    rejects(
        "quantities.json",
        |v| {
            v["consumers"][1]["carts"][0][0]["quantity"] = json!(0);
            v["producers"][0]["products"][0][1] = json!(-3);
            v["consumers"][0]["carts"][0][0]["quantity"] = json!(2.5);
        },
        &[
            "producers[0].products[0][1]: must be at least 1, found -3",
            "consumers[0].carts[0][0].quantity: expected a whole number, found 2.5",
            "consumers[1].carts[0][0].quantity: must be at least 1, found 0",
        ],
    );
}

#[test]
fn queue_size_below_one() {
    rejects(
        "queue.json",
        |v| v["marketplace"]["queue_size_per_producer"] = json!(0),
        &["marketplace.queue_size_per_producer: must be at least 1, found 0"],
    );
}

#[test]
fn queue_size_absurdly_large() {
    rejects(
        "queue-huge.json",
        |v| v["marketplace"]["queue_size_per_producer"] = json!(1_000_000_000_000_u64),
        &["marketplace.queue_size_per_producer: too large (at most 1000000), found 1000000000000"],
    );
}

/// The scenario's producers (copies of `p1`, each with a full shelf of `queue_size`) and
/// `c2`'s cart of `quantity` items of coffee; `c1` holds at most 2 items at once.
fn holding(producers: usize, queue_size: u64, quantity: u64) -> Value {
    let mut v = base();
    let p1 = v["producers"][0].clone();
    v["producers"] = Value::Array(vec![p1; producers]);
    v["marketplace"]["queue_size_per_producer"] = json!(queue_size);
    v["consumers"][1]["carts"][0][0]["quantity"] = json!(quantity);
    v
}

fn check_file(name: &str, v: &Value) -> Output {
    let path = temp_file(name, &v.to_string());
    marketplace(&["check".as_ref(), path.as_os_str()])
}

#[test]
fn holding_more_items_at_once_than_allowed() {
    let allowed = marketplace_cli::scenario::MAX_HELD_ITEMS;
    // Nine full shelves of a million, 2 items in c1's cart and the rest in c2's: exactly
    // the bound, which is accepted; one more item in c2's cart is refused.
    let at_bound = allowed - 9 * 1_000_000 - 2;
    let output = check_file("held-at-bound.json", &holding(9, 1_000_000, at_bound));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_bad_input(
        &check_file("held-over.json", &holding(9, 1_000_000, at_bound + 1)),
        &[&format!(
            "marketplace.queue_size_per_producer: the run could hold {} items at once \
             (9000000 on shelves, {} in carts), more than the {allowed} allowed",
            allowed + 1,
            allowed + 1 - 9_000_000,
        )],
    );
}

#[test]
fn shelves_or_a_cart_that_would_exhaust_memory() {
    let allowed = marketplace_cli::scenario::MAX_HELD_ITEMS;
    // Shelves alone: more producers with full shelves of a million than the bound allows.
    let producers = usize::try_from(allowed / 1_000_000 + 1).expect("a small count");
    rejects(
        "held-shelves.json",
        |v| *v = holding(producers, 1_000_000, 1),
        &[&format!(
            "the run could hold {} items at once",
            producers as u64 * 1_000_000 + 3
        )],
    );
    // One cart alone: reported at the cart, where it can be fixed.
    rejects(
        "held-cart.json",
        |v| *v = holding(1, 2, u64::MAX),
        &[&format!(
            "consumers[1].carts[0]: holds up to {} items at once, more than the {allowed} a run may hold",
            u64::MAX
        )],
    );
}

/// A value quoted in a message is cut when long, with its length, so that each problem
/// stays one readable line; minus infinity (`-1e999`) is negative, not too large.
#[test]
fn long_values_are_cut_and_minus_infinity_is_negative() {
    let text = base()
        .to_string()
        .replace(
            r#""queue_size_per_producer":2"#,
            &format!(r#""queue_size_per_producer":{}"#, "9".repeat(100_000)),
        )
        .replace(
            r#""product_type":"Tea""#,
            &format!(r#""product_type":"{}""#, "T".repeat(100_000)),
        )
        .replace(
            r#""republish_wait_time":0.2"#,
            r#""republish_wait_time":-1e999"#,
        );
    let output = run_file("long-values.json", &text);
    assert_bad_input(
        &output,
        &[
            "marketplace.queue_size_per_producer: too large (at most 1000000), found 999999",
            "9... (100000 characters)",
            "TTT\"... (100000 characters) (expected",
            "producers[0].republish_wait_time: must not be negative, found -inf",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().all(|line| line.len() < 200),
        "a long line: {} bytes in all",
        stderr.len()
    );
}

#[test]
fn cart_removing_more_than_it_added() {
    rejects(
        "remove.json",
        |v| v["consumers"][0]["carts"][0][1]["quantity"] = json!(3),
        &[
            "consumers[0].carts[0][1]: removes 3 of Tea(name='Mint', price=2, type='Herbal') but the cart holds only 2 at this point",
        ],
    );
}

#[test]
fn consumer_wanting_a_product_nobody_makes() {
    rejects(
        "unmade.json",
        |v| v["producers"][0]["products"] = json!([["t", 1, 0]]),
        &[
            "consumers[1].carts[0][0].product: no producer makes Coffee(name='Kona', price=3, acidity=5.5, roast_level='DARK') (id \"c\")",
        ],
    );
}

#[test]
fn bad_flags() {
    let path = temp_file("flags.json", &base().to_string());
    let p = path.as_os_str();
    for args in [
        vec!["run".as_ref(), p, "--time-scale".as_ref(), "fast".as_ref()],
        vec!["run".as_ref(), p, "--time-scale".as_ref(), "-1".as_ref()],
        vec!["run".as_ref(), p, "--stall-timeout".as_ref(), "0".as_ref()],
        vec![
            "run".as_ref(),
            p,
            "--stall-timeout".as_ref(),
            "1e-10".as_ref(),
        ],
        vec!["run".as_ref(), p, "--log-level".as_ref(), "info".as_ref()],
        vec!["run".as_ref(), p, "--frobnicate".as_ref()],
        vec!["run".as_ref()],
        vec!["fly".as_ref()],
        vec![],
    ] {
        let output = marketplace(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    let dir = std::env::temp_dir();
    let output = marketplace(&["run".as_ref(), p, "--log-file".as_ref(), dir.as_os_str()]);
    assert_bad_input(&output, &["error: cannot log to"]);
    // A negative value is refused as the flag's value, naming the flag, not taken for an
    // unknown flag of its own.
    for (args, needle) in [
        (
            vec!["run".as_ref(), p, "--time-scale".as_ref(), "-inf".as_ref()],
            "invalid value '-inf' for '--time-scale <F>'",
        ),
        (
            vec!["run".as_ref(), p, "--stall-timeout".as_ref(), "-1".as_ref()],
            "invalid value '-1' for '--stall-timeout <SECS>'",
        ),
        (
            vec!["gen".as_ref(), "--producers".as_ref(), "-1".as_ref()],
            "invalid value '-1' for '--producers <N>'",
        ),
        // Too large for a duration: the message gives the range, not just "> 0".
        (
            vec![
                "run".as_ref(),
                p,
                "--stall-timeout".as_ref(),
                "1e20".as_ref(),
            ],
            "from 0.000000001 to about 1.8e19, found \"1e20\"",
        ),
        (
            vec!["gen".as_ref(), "--max-wait".as_ref(), "-0.5".as_ref()],
            "invalid value '-0.5' for '--max-wait <SECS>'",
        ),
        // Not numbers a wait can be: refused as the flag's value, not read as infinity.
        (
            vec!["run".as_ref(), p, "--time-scale".as_ref(), "NaN".as_ref()],
            "invalid value 'NaN' for '--time-scale <F>'",
        ),
        (
            vec!["run".as_ref(), p, "--time-scale".as_ref(), "1e309".as_ref()],
            "invalid value '1e309' for '--time-scale <F>'",
        ),
        (
            vec!["gen".as_ref(), "--max-wait".as_ref(), "inf".as_ref()],
            "invalid value 'inf' for '--max-wait <SECS>'",
        ),
        (
            vec![
                "run".as_ref(),
                p,
                "--stall-timeout".as_ref(),
                "nan".as_ref(),
            ],
            "invalid value 'nan' for '--stall-timeout <SECS>'",
        ),
    ] {
        assert_bad_input(&marketplace(&args), &[needle]);
    }
}

/// `--actors` and `--workers`: clap's one-message refusal, naming the flag, for each bad
/// value or combination.
#[test]
fn bad_actor_flags() {
    let path = temp_file("actor-flags.json", &base().to_string());
    let p = path.as_os_str();
    for (flags, needle) in [
        (
            &["--workers", "0"][..],
            "invalid value '0' for '--workers <N>'",
        ),
        (&["--workers", "-2"], "'-2'"),
        (
            &["--workers", "many"],
            "invalid value 'many' for '--workers <N>'",
        ),
        (
            &["--workers", "1025"],
            "expected a whole number from 1 to 1024",
        ),
        (
            &["--actors", "bogus"],
            "invalid value 'bogus' for '--actors <KIND>'",
        ),
        (
            &["--actors", "threads", "--workers", "2"],
            "--workers applies to --actors tasks only",
        ),
    ] {
        let mut args = vec!["run".as_ref(), p];
        args.extend(flags.iter().map(OsStr::new));
        let output = marketplace(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{flags:?}");
        assert!(
            stderr.contains(needle),
            "{flags:?}: lacks {needle:?}:\n{stderr}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{flags:?}: {stderr}");
    }
    for flags in [
        &["--workers", "1"][..],
        &["--actors", "tasks", "--workers", "3"],
    ] {
        let mut args = vec!["run".as_ref(), p, "--time-scale".as_ref(), "0".as_ref()];
        args.extend(flags.iter().map(OsStr::new));
        let output = marketplace(&args);
        assert!(output.status.success(), "{flags:?}");
    }
}

/// The memory backend's flags are refused with a redis backend rather than ignored, before
/// any server is reached.
#[test]
fn memory_backend_flags_are_refused_with_redis() {
    let path = temp_file("redis-flags.json", &base().to_string());
    let p = path.as_os_str();
    for flags in [
        &["--actors", "threads"][..],
        &["--actors", "tasks"],
        &["--workers", "2"],
        &["--stall-timeout", "5"],
        &["--stats-json", "stats.json"],
        &["--progress"],
    ] {
        let mut args = vec![
            "run".as_ref(),
            p,
            "--backend".as_ref(),
            "redis://127.0.0.1:1".as_ref(),
            "--market".as_ref(),
            "m".as_ref(),
        ];
        args.extend(flags.iter().map(OsStr::new));
        let output = marketplace(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{flags:?}");
        let needle = format!("{} applies to the memory backend only", flags[0]);
        assert!(
            stderr.contains(&needle),
            "{flags:?}: lacks {needle:?}:\n{stderr}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{flags:?}: {stderr}");
    }
}

/// `--retry-for`: every value that is no length of time (negative, not a number, infinite,
/// past what a duration holds, empty) is refused by clap in one message naming the flag,
/// before any server is reached; so is the flag with the memory backend, where nothing is
/// retried.
#[test]
fn bad_retry_windows_are_refused_naming_the_flag() {
    let path = temp_file("retry-for.json", &base().to_string());
    let p = path.as_os_str();
    let redis = ["--backend", "redis://127.0.0.1:1", "--market", "m"];
    for value in [
        "-1", "-0.5", "nan", "NaN", "inf", "-inf", "1e20", "1e309", "soon", "",
    ] {
        let mut args = vec!["run".as_ref(), p];
        args.extend(redis.iter().map(OsStr::new));
        args.extend([OsStr::new("--retry-for"), OsStr::new(value)]);
        let output = marketplace(&args);
        let needle = format!("invalid value '{value}' for '--retry-for <SECS>'");
        assert_bad_input(&output, &[&needle]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.matches("error:").count(), 1, "{value:?}: {stderr}");
    }
    let output = marketplace(&["run".as_ref(), p, "--retry-for".as_ref(), "5".as_ref()]);
    assert_bad_input(&output, &["--retry-for apply to a redis backend only"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

/// A redis URL holding a control character is refused as a bad `--backend`, shown escaped,
/// before any connection: the URL parser would drop a tab or a newline and connect to
/// another address than the one written (`redis://127.0.0.1:63\n79` to port 6379), and the
/// connection's error would echo the URL raw, its line cut in two.
#[test]
fn a_redis_url_with_a_control_character_is_refused() {
    let path = temp_file("redis-url-control.json", &base().to_string());
    for url in [
        "redis://127.0.0.1:1\n",
        "redis://127.0.0.1:\t1",
        "redis://bad\nhost:1",
    ] {
        let output = marketplace(&[
            "run".as_ref(),
            path.as_os_str(),
            "--backend".as_ref(),
            url.as_ref(),
            "--market".as_ref(),
            "m".as_ref(),
        ]);
        let shown = format!("found {url:?}");
        assert_bad_input(&output, &["for '--backend <URL>'", &shown]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("cannot use"),
            "{url:?}: connected: {stderr}"
        );
    }
}

/// A flag's value refused while holding a line break or a tab is shown escaped in the one
/// error line, where clap would echo it raw and cut the line in two; a refused redis URL
/// keeps its password out of it, as every other error naming a server does.
#[test]
fn a_refused_value_with_a_control_character_is_shown_on_one_line() {
    let path = temp_file("control-value.json", &base().to_string());
    let redis = ["--backend", "redis://127.0.0.1:1", "--market", "m"];
    for (flag, value, extra) in [
        ("--backend", "redis://:hunter2@127.0.0.1:63\n79", &[][..]),
        ("--backend", "redis://user:hunter2@host:1\t", &[][..]),
        ("--backend", "bogus\nvalue", &[][..]),
        ("--retry-for", "1\n2", &redis[..]),
        ("--time-scale", "x\ty", &[][..]),
    ] {
        let mut args = vec!["run".as_ref(), path.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        args.extend([OsStr::new(flag), OsStr::new(value)]);
        let output = marketplace(&args);
        assert_bad_input(&output, &[&format!("for '{flag} ")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: invalid value ") && first.contains(&format!("for '{flag} ")),
            "{value:?}: the value cut the error line: {stderr:?}"
        );
        assert!(!stderr.contains('\t'), "{value:?}: a raw tab: {stderr:?}");
        assert!(
            !stderr.contains("hunter2"),
            "{value:?}: the password is shown: {stderr:?}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{value:?}: {stderr}");
    }
}

/// A refused value or argument that is a URL with a password keeps the password out of
/// the error, whatever its scheme's case or name: a URL's scheme is case-insensitive, so
/// `REDIS://` is as much a redis URL to whoever typed it, and the refusal echoes it twice.
#[test]
fn a_refused_url_keeps_its_password_out_of_the_error() {
    let path = temp_file("refused-url.json", &base().to_string());
    for args in [
        &["--backend", "REDIS://:hunter2@127.0.0.1:6379"][..],
        &["--backend", "Redis://user:hunter2@host:1"],
        &["--backend", "valkey://:hunter2@host:1"],
        &["REDIS://:hunter2@host:1"],
    ] {
        let mut all = vec!["run".as_ref(), path.as_os_str()];
        all.extend(args.iter().map(OsStr::new));
        let output = marketplace(&all);
        assert_bad_input(&output, &["error: "]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("hunter2"),
            "{args:?}: the password is shown: {stderr:?}"
        );
    }
}

/// A log file that cannot be created is refused before the run (the logger opens its file
/// only for the first record, and would then fail every record on stderr). Linux: a process
/// cannot create files in `/proc/self`, whoever runs it.
#[cfg(target_os = "linux")]
#[test]
fn a_log_file_that_cannot_be_created_is_refused() {
    let path = temp_file("log-refused.json", &base().to_string());
    let output = run_logged(&path, Path::new("/proc/self/market.log"), &[]);
    assert_bad_input(&output, &["error: cannot log to /proc/self/market.log"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).lines().count(),
        1,
        "one line"
    );
}

/// A log path under a regular file (`somefile/x.log`, `somefile/sub/x.log`) is refused
/// naming that file as not a directory, in one line, and leaves the file as it was: the
/// error of the directory made for the log ("File exists") told nothing of it.
#[test]
fn a_log_file_under_a_regular_file_is_refused_naming_it() {
    let path = temp_file("log-under-file.json", &base().to_string());
    let file = temp_file("log-under-file.txt", "kept");
    for log in [file.join("x.log"), file.join("sub").join("x.log")] {
        assert_log_refused_as_under_a_non_directory(&path, &log, &file);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
    }
}

/// A log path under a link to nothing is refused naming the link, as a path under a file
/// is: the error said "File exists", the link being there though its target is not.
#[cfg(unix)]
#[test]
fn a_log_file_under_a_dangling_link_is_refused_naming_it() {
    let path = temp_file("log-under-link.json", &base().to_string());
    let link = temp_path("log-under-link");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(temp_path("log-under-link-nowhere"), &link).unwrap();
    assert_log_refused_as_under_a_non_directory(&path, &link.join("x.log"), &link);
}

/// The part of the path in the way is named however deep under it the log would go, and
/// whatever it is: a regular file two directories up, or a link to itself (a loop).
#[cfg(unix)]
#[test]
fn a_log_file_deep_under_a_non_directory_is_refused_naming_it() {
    let path = temp_file("log-deep-under.json", &base().to_string());
    let file = temp_file("log-deep-under-file", "");
    let looped = temp_path("log-deep-under-loop");
    let _ = std::fs::remove_file(&looped);
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    for (in_the_way, log) in [
        (&file, file.join("a").join("b").join("x.log")),
        (&looped, looped.join("x.log")),
        (&looped, looped.join("a").join("x.log")),
    ] {
        assert_log_refused_as_under_a_non_directory(&path, &log, in_the_way);
    }
}

/// Runs `scenario` logging to `log` and asserts that the run is refused in one line naming
/// `in_the_way`, the part of the log's path that is not a directory.
fn assert_log_refused_as_under_a_non_directory(scenario: &Path, log: &Path, in_the_way: &Path) {
    let output = run_logged(scenario, log, &[]);
    assert_bad_input(
        &output,
        &[&format!(
            "error: cannot log to {}: {} is not a directory",
            log.display(),
            in_the_way.display()
        )],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).lines().count(),
        1,
        "one line"
    );
}

/// Runs `scenario` logging to `log`, with `extra` flags, and asserts that the run is
/// refused for a log path that names no file.
fn assert_not_a_file_path(scenario: &Path, log: &str, extra: &[&OsStr]) {
    let output = run_logged(scenario, Path::new(log), extra);
    assert_bad_input(
        &output,
        &[&format!("error: cannot log to {log}: not a file path")],
    );
}

/// The names in `dir`.
fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect()
}

/// A log path that names a directory, by ending in `/`, is refused as not a file path,
/// whether the directory exists or not, where a missing one logged beside it, to the
/// rotation's file of its name in the directory above (`logs/` to `logs_rCURRENT`).
#[test]
fn a_log_path_ending_in_a_slash_is_refused() {
    let path = temp_file("log-slash.json", &base().to_string());
    let parent = temp_path("log-slash-dir");
    std::fs::create_dir_all(&parent).unwrap();
    for dir in ["existing", "missing"] {
        if dir == "existing" {
            std::fs::create_dir_all(parent.join(dir)).unwrap();
        }
        let log = format!("{}/{dir}/", parent.display());
        assert_not_a_file_path(&path, &log, &[]);
        let made = names_in(&parent);
        assert!(
            made.iter().all(|name| name == "existing"),
            "{log}: the refused run made {made:?}"
        );
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

/// A log path whose last component is `.` names a directory as much as one ending in `/`
/// (`Path` drops both, and takes the name before for a file's): a missing `DIR/.` is
/// refused as not a file path, as `DIR//` and `DIR/./` are, and makes nothing.
#[test]
fn a_log_path_ending_in_a_dot_is_refused() {
    let path = temp_file("log-dot.json", &base().to_string());
    let parent = temp_path("log-dot-dir");
    std::fs::create_dir_all(&parent).unwrap();
    for ending in ["/.", "//", "/./"] {
        let log = format!("{}/missing{ending}", parent.display());
        assert_not_a_file_path(&path, &log, &[]);
        let made = names_in(&parent);
        assert!(made.is_empty(), "{log}: the refused run made {made:?}");
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

/// A log path that names a directory (`out`, `out/`, `out/.`, existing or not) is refused
/// as such even beside a `--stats-json` file under a name the log of the directory's name
/// would take (`out_r00001.json`): there is no such log to keep clear of, so the error is
/// the log's, not the file's.
#[test]
fn a_log_path_naming_a_directory_is_refused_before_its_names_are_checked() {
    let path = temp_file("log-dir-names.json", &base().to_string());
    let parent = temp_path("log-dir-names");
    std::fs::create_dir_all(&parent).unwrap();
    let stats = parent.join("out_r00001.json");
    for ending in ["/", "/.", "", "/", "/."] {
        if ending.is_empty() {
            std::fs::create_dir(parent.join("out")).unwrap();
        }
        let log = format!("{}/out{ending}", parent.display());
        assert_not_a_file_path(&path, &log, &["--stats-json".as_ref(), stats.as_os_str()]);
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

/// A scenario that needs more threads than the system can map is refused before any
/// thread starts (a thread that cannot map its signal stack would abort the process):
/// exit code 1, one message that points to tasks, no panic. As tasks it runs. Linux only,
/// and only where the limit is low enough to build such a scenario quickly.
#[cfg(target_os = "linux")]
#[test]
fn more_threads_than_the_system_allows_fail_cleanly() {
    let Some(limit) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .filter(|&limit| limit <= 1 << 20)
    else {
        println!("skipped: vm.max_map_count is unknown or too large");
        return;
    };
    // A thread takes 4 memory maps, so this is beyond the limit whatever else is mapped.
    let producers: Vec<Value> = (0..limit / 4 + 1)
        .map(|i| json!({"name": format!("p{i}"), "products": [["t", 1, 0]], "republish_wait_time": 0}))
        .collect();
    let mut scenario = base();
    scenario["producers"] = Value::Array(producers);
    scenario["consumers"] = json!([]);
    let path = temp_file("too-many-threads.json", &scenario.to_string());
    let run = |actors: &str| {
        marketplace(&[
            "run".as_ref(),
            path.as_os_str(),
            "--actors".as_ref(),
            actors.as_ref(),
        ])
    };
    let output = run("threads");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("cannot run:"), "{stderr}");
    assert!(
        stderr.contains("as tasks instead (--actors tasks)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let output = run("tasks");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `gen` refuses sizes it would exhaust memory building or running, each with the flag or
/// the product of flags that is too large, before it builds anything.
#[test]
fn gen_refuses_sizes_too_large_to_build() {
    for (args, needle) in [
        (
            &["--producers", "10000000000"][..],
            "'--producers <N>': 10000000000 is not in 0..=1000000",
        ),
        (
            &["--consumers", "1000001"],
            "'--consumers <N>': 1000001 is not in 0..=1000000",
        ),
        (&["--ops", "0"], "'--ops <N>': 0 is not in 1..=2000000"),
        (
            &["--consumers", "1000", "--carts", "100000"],
            "error: gen: operations (consumers x carts x operations per cart) 400000000 is more",
        ),
        (
            &["--producers", "100", "--queue-size", "1000000"],
            "error: gen: items held at once",
        ),
    ] {
        let mut all = vec!["gen"];
        all.extend_from_slice(args);
        assert_bad_input(&marketplace(&all), &[needle]);
    }
}

/// A message that cannot be written (stderr on a full device) does not turn the exit
/// code into a panic's 101: each command still ends with the code its outcome calls for.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stderr_keeps_the_exit_code() {
    use std::process::{Command, Stdio};
    let scenario = temp_file("full-stderr.json", &base().to_string());
    let scenario = scenario.to_str().expect("a UTF-8 temporary path");
    for (args, code) in [
        (&["check", "/nonexistent/scenario.json"][..], 2),
        (&["run", "/nonexistent/scenario.json"], 2),
        (&["run", scenario, "--time-scale", "0", "--stats"], 0),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let status = Command::new(env!("CARGO_BIN_EXE_marketplace"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(full)
            .status()
            .expect("the marketplace binary runs");
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

/// The statistics file may not be the scenario, by its name or through a hard link:
/// creating it would empty the scenario.
#[test]
fn a_stats_file_that_is_the_scenario_is_refused() {
    let scenario = temp_file("stats-over-scenario.json", &base().to_string());
    let link = temp_path("stats-link.json");
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(&scenario, &link).expect("a hard link");
    for stats in [&scenario, &link] {
        let output = marketplace(&[
            "run".as_ref(),
            scenario.as_os_str(),
            "--time-scale".as_ref(),
            "0".as_ref(),
            "--stats-json".as_ref(),
            stats.as_os_str(),
        ]);
        assert_bad_input(&output, &["is the scenario file itself"]);
        assert_eq!(
            std::fs::read_to_string(&scenario).expect("the scenario is still there"),
            base().to_string()
        );
    }
}

#[test]
fn help_teaches_and_documents_exit_codes() {
    for args in [&["--help"][..], &["run", "--help"], &["gen", "--help"]] {
        let output = marketplace(args);
        assert!(output.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Exit codes:"), "{args:?}: {help}");
        assert!(help.contains("3  `run` stalled"), "{args:?}: {help}");
    }
    let help = String::from_utf8_lossy(&marketplace(&["run", "--help"]).stdout).into_owned();
    for needle in [
        "--actors <KIND>",
        "[default: tasks]",
        "--workers <N>",
        "one per CPU",
    ] {
        assert!(help.contains(needle), "run --help lacks {needle:?}: {help}");
    }
}

/// `gen --help` states the range of every size it takes: docs/scenario-format.md sends the
/// reader there for them.
#[test]
fn gen_help_gives_the_range_of_each_size() {
    let help = String::from_utf8_lossy(&marketplace(&["gen", "--help"]).stdout).into_owned();
    for (flag, range) in [
        ("--producers <N>", "0 to 1,000,000"),
        ("--consumers <N>", "0 to 1,000,000"),
        ("--products <N>", "1 to 100,000"),
        ("--carts <N>", "1 to 2,000,000"),
        ("--ops <N>", "1 to 2,000,000"),
        ("--queue-size <N>", "1 to 1,000,000"),
        ("--max-wait <SECS>", "0 or more"),
    ] {
        // The long help puts each flag's description on the line after the flag.
        let described = help
            .split_once(flag)
            .and_then(|(_, rest)| rest.lines().nth(1))
            .unwrap_or_else(|| panic!("gen --help lacks {flag}: {help}"));
        assert!(
            described.contains(range),
            "gen --help: {flag} says {:?}, without its range {range:?}",
            described.trim()
        );
    }
}

/// A producer whose queue (size 1) fills with a product nobody buys can never publish the
/// one a consumer waits for: the run must stop with exit code 3 and say who waits for what.
#[test]
fn stall_exits_3_with_a_report() {
    let scenario = json!({
        "products": {
            "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
            "y": {"product_type": "Tea", "name": "Wanted", "price": 2, "type": "Black"}
        },
        "producers": [{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": [
            {"name": "waiter", "retry_wait_time": 0,
             "carts": [[{"type": "add", "product": "y", "quantity": 1}]]},
            {"name": "done", "retry_wait_time": 0, "carts": []}
        ],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("stall.json", &scenario.to_string());
    let check = marketplace(&["check".as_ref(), path.as_os_str()]);
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains(
        "warning: producers[0].products[0]: no consumer buys Product(name='Unwanted', price=1)"
    ));
    for actors in ACTORS {
        for scale in ["0", "1"] {
            let output = marketplace(&[
                "run".as_ref(),
                path.as_os_str(),
                "--time-scale".as_ref(),
                scale.as_ref(),
                "--stall-timeout".as_ref(),
                "0.3".as_ref(),
                "--actors".as_ref(),
                actors.as_ref(),
            ]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{actors} at {scale}: {stderr}"
            );
            assert!(output.stdout.is_empty());
            for needle in [
                "stalled: no consumer made progress for 0.3 s",
                "consumer \"waiter\" waits for Tea(name='Wanted', price=2, type='Black') (0 on sale)",
                "made by producers[0] \"jammer\": 1 of 1 on the shelf (queue full",
            ] {
                assert!(
                    stderr.contains(needle),
                    "{actors} at {scale}: lacks {needle:?}:\n{stderr}"
                );
            }
        }
    }
}

#[test]
fn log_file_records_every_call_in_a_created_directory() {
    for actors in ACTORS {
        log_file_records_every_call(actors);
    }
}

fn log_file_records_every_call(actors: &str) {
    let dir = temp_path(&format!("logs-{actors}"));
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.join("deeper").join("run.log");
    let scenario = temp_file("logged.json", &base().to_string());
    let output = run_logged(
        &scenario,
        &log,
        &["--stats".as_ref(), "--actors".as_ref(), actors.as_ref()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 purchases"));
    let files: Vec<_> = std::fs::read_dir(dir.join("deeper")).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    for call in [
        "register_producer()",
        "publish(",
        "new_cart()",
        "add_to_cart(",
        "remove_from_cart(",
        "place_order(",
        "close()",
    ] {
        assert!(text.contains(call), "log lacks {call}:\n{text}");
    }
    assert!(
        text.contains("Tea(name='Mint', price=2, type='Herbal')"),
        "{text}"
    );
}

/// A `--stats-json` or `gen --expected` file that is the file stdout goes to (`> out.txt`
/// with `--stats-json out.txt`) is refused: both would be written from the start of the
/// one file, each over the other, and the command would still succeed.
#[cfg(unix)]
#[test]
fn a_side_file_that_is_stdout_is_refused() {
    use std::process::{Command, Stdio};
    let scenario = temp_file("side-file-scenario.json", &base().to_string());
    let out = temp_path("side-file-stdout.txt");
    let cases: [(&[&OsStr], &str); 2] = [
        (
            &[
                "run".as_ref(),
                scenario.as_os_str(),
                "--time-scale".as_ref(),
                "0".as_ref(),
                "--stats-json".as_ref(),
                out.as_os_str(),
            ],
            "is the file stdout goes to",
        ),
        (
            &["gen".as_ref(), "--expected".as_ref(), out.as_os_str()],
            "is the file stdout goes to",
        ),
    ];
    for (args, needle) in cases {
        let stdout = std::fs::File::create(&out).expect("the stdout file");
        let output = Command::new(env!("CARGO_BIN_EXE_marketplace"))
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .expect("the marketplace binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let written = std::fs::read(&out).expect("the stdout file");
        assert!(written.is_empty(), "{args:?} wrote {} bytes", written.len());
    }
    // Another file is fine.
    let elsewhere = temp_path("side-file-elsewhere.json");
    let stdout = std::fs::File::create(&out).expect("the stdout file");
    let status = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .args(["gen".as_ref(), "--expected".as_ref(), elsewhere.as_os_str()])
        .stdout(stdout)
        .status()
        .expect("the marketplace binary runs");
    assert!(status.success());
}

/// A `gen --expected` file that cannot be created is bad input, named with its flag, and
/// found before anything is generated: nothing on stdout, and the file of a refused `gen`
/// is not left behind.
#[test]
fn an_unwritable_expected_file_is_refused() {
    let dir = std::env::temp_dir();
    let missing = temp_path("no-such-dir").join("expected.txt");
    for file in [dir.as_path(), missing.as_path()] {
        let output = marketplace(&["gen".as_ref(), "--expected".as_ref(), file.as_os_str()]);
        assert_bad_input(
            &output,
            &["error: cannot write the expected output (--expected) to "],
        );
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    }
    let expected = temp_path("refused-gen.expected");
    let output = marketplace(&[
        "gen".as_ref(),
        "--consumers".as_ref(),
        "1000000".as_ref(),
        "--carts".as_ref(),
        "1000".as_ref(),
        "--expected".as_ref(),
        expected.as_os_str(),
    ]);
    assert_bad_input(&output, &["error: gen: operations"]);
    assert!(!expected.exists(), "a refused gen left {expected:?}");
}

/// A reader that stops early (`marketplace run SCEN | head -1`, `marketplace gen | head -1`)
/// ends the command quietly, as coreutils end, killed by SIGPIPE without a word: exit code 1
/// (the output could not be written), nothing on stderr, no panic. Each output is larger
/// than a pipe holds, so the command is still writing when the reader goes.
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut scenario = base();
    scenario["producers"] = json!([{"name": "p1", "products": [["t", 1, 0]],
                                    "republish_wait_time": 0}]);
    scenario["consumers"] = json!([{"name": "c1", "retry_wait_time": 0, "carts":
        [[{"type": "add", "product": "t", "quantity": 100_000}]]}]);
    scenario["marketplace"]["queue_size_per_producer"] = json!(100_000);
    let path = temp_file("closed-early.json", &scenario.to_string());
    let path = path.to_str().expect("a UTF-8 temporary path");
    for args in [
        &["run", path, "--time-scale", "0"][..],
        &["run", path, "--time-scale", "0", "--actors", "threads"],
        &["gen", "--producers", "300", "--consumers", "300"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace"))
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the marketplace binary runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut first)
            .expect("a first line");
        assert!(!first.is_empty(), "{args:?}: no output");
        // The reader is gone here, as `head -1` goes after its line.
        let output = support::finish_within(
            child,
            std::time::Duration::from_secs(60),
            "a command whose reader left",
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

/// Help that cannot be written (stdout on a full device) is an output failure like any
/// other: exit code 1 and one line naming stdout, not a silent success.
#[cfg(target_os = "linux")]
#[test]
fn help_that_cannot_be_written_fails() {
    use std::process::{Command, Stdio};
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["--version"],
        &["gen", "-h"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let output = Command::new(env!("CARGO_BIN_EXE_marketplace"))
            .args(args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .expect("the marketplace binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr, "error: cannot write to stdout: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

/// An unknown argument or subcommand holding a control character is shown escaped on every
/// line of the usage error, its tips included (clap echoes it raw in the tip that says how
/// to pass it as a value, and in the line of an unknown subcommand), so the error has the
/// same lines as for a name without one.
#[test]
fn an_unknown_argument_with_a_control_character_is_shown_escaped_on_every_line() {
    let path = temp_file("control-argument.json", &base().to_string());
    let path = path.to_str().expect("a UTF-8 temporary path");
    for (args, plain) in [
        (vec!["run", path, "--fo\no"], vec!["run", path, "--foxo"]),
        (
            vec!["run", path, "--b\x1b[31m"],
            vec!["run", path, "--bx[31m"],
        ),
        (
            vec!["run", "--tim\te-scale", "0", path],
            vec!["run", "--timxe-scale", "0", path],
        ),
        (vec!["ru\tn", path], vec!["ruxn", path]),
        (vec!["gen", "-\r"], vec!["gen", "-x"]),
    ] {
        let output = marketplace(&args);
        let shown = args
            .iter()
            .find(|a| a.chars().any(char::is_control))
            .unwrap();
        assert_bad_input(&output, &[&shown.escape_debug().to_string()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: a raw control character: {stderr:?}"
        );
        let expected = String::from_utf8_lossy(&marketplace(&plain).stderr).into_owned();
        assert_eq!(
            stderr.lines().count(),
            expected.lines().count(),
            "{args:?}: not the lines of {plain:?}: {stderr:?} against {expected:?}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{args:?}: {stderr}");
    }
}

/// Bidirectional controls and other invisible format characters (Unicode category Cf) in
/// what the user wrote are shown escaped wherever an error line echoes it, like control
/// characters: raw, a right-to-left override reorders the line on screen and can disguise
/// which file or value it names.
#[test]
fn bidirectional_and_invisible_characters_are_shown_escaped_in_errors() {
    let hidden = ['\u{202e}', '\u{2066}', '\u{200b}', '\u{feff}', '\u{61c}'];
    let path = temp_file("format-characters.json", &base().to_string());
    let path = path.to_str().expect("a UTF-8 temporary path");
    let missing = temp_path("no\u{202e}nosj.such\u{2066}\u{200b}.json");
    let missing = missing.to_str().expect("a UTF-8 temporary path");
    let mut unknown_id = base();
    unknown_id["consumers"][1]["carts"][0][0]["product"] = json!("c\u{202e}\u{feff}\u{61c}");
    let unknown_id = temp_file("format-characters-id.json", &unknown_id.to_string());
    let unknown_id = unknown_id.to_str().expect("a UTF-8 temporary path");
    let mut wrong = Vec::new();
    for (args, escaped) in [
        // An error line naming a path.
        (
            vec!["run", missing],
            r"no\u{202e}nosj.such\u{2066}\u{200b}.json",
        ),
        // A usage error echoing a value.
        (
            vec!["run", path, "--actors", "tasks\u{202e}"],
            r"tasks\u{202e}",
        ),
        // A usage error echoing an unknown argument, and its tips.
        (vec!["run", path, "--fo\u{2066}o"], r"--fo\u{2066}o"),
        // A scenario's problem quoting a string of the file, as JSON does.
        (vec!["run", unknown_id], r"c\u202e\ufeff\u061c"),
    ] {
        let output = marketplace(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        if stderr.contains(hidden) || !stderr.contains(escaped) {
            wrong.push(format!("{args:?} (expected {escaped:?}): {stderr:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "raw format characters:\n{}",
        wrong.join("\n")
    );
}

/// Actors whose names hold a NUL (`"p\u0000q"`, valid JSON) run as threads as they do as
/// tasks: a thread's name cannot hold one, and spawning the actor's thread panicked.
#[test]
fn actor_names_holding_a_nul_run_as_threads() {
    let mut v = base();
    v["producers"][0]["name"] = json!("p\u{0}q");
    v["consumers"][0]["name"] = json!("c\u{0}d");
    let path = temp_file("nul-names.json", &v.to_string());
    for actors in ACTORS {
        let output = support::run_scenario(&path, "0", actors);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{actors}: {}: {stderr}",
            output.status
        );
        assert!(!stderr.contains("panicked"), "{actors}: {stderr}");
        assert!(
            output.stdout.starts_with(b"c\0d bought "),
            "{actors}: {:?}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}
