//! What `marketplace run` shows besides the purchase lines: the progress line (`--progress`,
//! `--no-progress`, `--quiet`, and the live line on a terminal), the `--stats` table and the
//! `--stats-json` file, and the refusals of their flags. Whatever is shown goes to stderr
//! (or the file): stdout keeps exactly the purchase lines.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use support::{ACTORS, assert_conforms, marketplace, repo_root, temp_file, temp_path};

/// `scenarios/<name>.json` and the sorted output it must print.
fn shipped(name: &str) -> (PathBuf, Vec<u8>) {
    let dir = repo_root().join("scenarios");
    let expected = std::fs::read(dir.join(format!("{name}.expected"))).expect("expected output");
    (dir.join(format!("{name}.json")), expected)
}

/// Runs `marketplace run SCENARIO ARGS...`.
fn run(scenario: &Path, args: &[&str]) -> Output {
    let mut all = vec![OsStr::new("run"), scenario.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    marketplace(&all)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn purchase_lines(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout).lines().count()
}

#[test]
fn the_long_demo_is_what_its_scenario_predicts() {
    let (path, expected) = shipped("long");
    let scenario = marketplace_cli::scenario::Scenario::from_json(
        &std::fs::read_to_string(path).expect("scenarios/long.json"),
    )
    .expect("a valid scenario");
    assert!(scenario.warnings().is_empty(), "{:?}", scenario.warnings());
    let predicted: String = scenario
        .expected_output()
        .expect("a determined output")
        .into_iter()
        .map(|line| line + "\n")
        .collect();
    assert_eq!(predicted.as_bytes(), expected);
    assert_eq!(
        scenario.purchase_count(),
        expected.iter().filter(|&&b| b == b'\n').count() as u128
    );
}

/// `--progress` with stderr piped: a plain line a second and one at the end, on stderr
/// only; stdout is the same as without it. At this scale the demo runs about 2 s.
#[test]
fn progress_lines_go_to_stderr_only() {
    let (path, expected) = shipped("long");
    let output = run(&path, &["--time-scale", "0.25", "--progress"]);
    assert_conforms(&output, &expected, "long.json --progress");
    let stderr = stderr(&output);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.iter().all(|line| line.starts_with("progress: ")),
        "{stderr}"
    );
    let total = expected.iter().filter(|&&b| b == b'\n').count();
    // At least one line while it ran (after 1 s), with the rate and the open carts.
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines[0].contains(&format!("/{total} purchases (")),
        "{stderr}"
    );
    assert!(lines[0].contains("/s, "), "{stderr}");
    assert!(lines[0].contains("open cart"), "{stderr}");
    let last = lines[lines.len() - 1];
    assert!(
        last.starts_with(&format!("progress: {total}/{total} purchases (100%)")),
        "{stderr}"
    );
    assert!(last.contains("done"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("progress"));
}

/// When nothing moved for a second, the line names the consumer that has waited longest
/// and what for: here "zoe" waits 2.2 s (in timed retries) for the saffron's next batch.
#[test]
fn the_progress_line_names_the_slowest_consumer_when_nothing_moves() {
    let scenario = json!({
        "products": {
            "s": {"product_type": "Product", "name": "Saffron", "price": 30},
            "m": {"product_type": "Product", "name": "Mug", "price": 4}
        },
        "producers": [
            {"name": "spice", "products": [["s", 1, 2.2]], "republish_wait_time": 0},
            {"name": "pottery", "products": [["m", 1, 0]], "republish_wait_time": 0}
        ],
        "consumers": [
            {"name": "zoe", "retry_wait_time": 0.4,
             "carts": [[{"type": "add", "product": "s", "quantity": 2}]]},
            {"name": "bo", "retry_wait_time": 0,
             "carts": [[{"type": "add", "product": "m", "quantity": 1}]]}
        ],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("slowest.json", &scenario.to_string());
    let output = run(&path, &["--progress", "--actors", "threads"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(purchase_lines(&output), 3);
    let stderr = stderr(&output);
    assert!(stderr.contains("1/3 purchases"), "{stderr}");
    assert!(stderr.contains("; nothing moved for "), "{stderr}");
    assert!(
        stderr.contains("; consumer \"zoe\" has waited ")
            && stderr.contains(" s for Product(name='Saffron', price=30)"),
        "{stderr}"
    );
}

/// The line names the product the slowest consumer waits for cut after 1000 characters
/// with its length, as the stall report does: shown whole, a product named with a
/// megabyte made a megabyte of every line.
#[test]
fn the_progress_line_shows_a_long_product_cut() {
    let scenario = json!({
        "products": {
            "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
            "y": {"product_type": "Product", "name": "y".repeat(1_000_000), "price": 2}},
        "producers": [{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "waiter", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "y", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    assert_progress_lines_naming_cut(
        "progress-long-product.json",
        &scenario,
        "; consumer \"waiter\" has waited ",
        |line| line.ends_with("y... (1000025 characters)"),
    );
}

/// The line names the slowest consumer cut after 1000 characters with its length, as it
/// cuts the product: a consumer named with a megabyte made a megabyte of every line.
#[test]
fn the_progress_line_shows_a_long_consumer_name_cut() {
    let scenario = json!({
        "products": {
            "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
            "y": {"product_type": "Product", "name": "Wanted", "price": 2}},
        "producers": [{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "w".repeat(1_000_000), "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "y", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    assert_progress_lines_naming_cut(
        "progress-long-consumer.json",
        &scenario,
        "; consumer \"www",
        |line| line.contains("w... (1000000 characters)\" has waited "),
    );
}

/// Runs `scenario` (written to `file_name`) with `--progress` until it stalls and asserts
/// that some progress line holds `naming`, and that each such line is under 1200 bytes and
/// `cut` as expected.
fn assert_progress_lines_naming_cut(
    file_name: &str,
    scenario: &Value,
    naming: &str,
    cut: fn(&str) -> bool,
) {
    let path = temp_file(file_name, &scenario.to_string());
    // Long enough for a refresh after the second of idleness that names the consumer.
    let output = run(&path, &["--progress", "--stall-timeout", "3.5"]);
    assert_eq!(output.status.code(), Some(3), "{:?}", output.status);
    let stderr = stderr(&output);
    let named: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(naming))
        .collect();
    assert!(
        !named.is_empty(),
        "{}",
        stderr.chars().take(2000).collect::<String>()
    );
    for line in named {
        assert!(
            line.len() < 1200 && cut(line),
            "a line of {} bytes: {}",
            line.len(),
            line.chars().take(1200).collect::<String>()
        );
    }
}

/// Without a terminal (stderr is a pipe here) nothing is drawn unless asked for, and
/// `--quiet` or `--no-progress` draw nothing: stderr stays empty.
#[test]
fn without_a_terminal_or_when_quiet_stderr_stays_empty() {
    let (path, expected) = shipped("demo");
    for actors in ACTORS {
        for flags in [
            &[][..],
            &["--quiet"],
            &["-q"],
            &["--no-progress"],
            &["--no-progress", "--quiet"],
        ] {
            let mut args = vec!["--time-scale", "0.1", "--actors", actors];
            args.extend(flags);
            let output = run(&path, &args);
            let what = format!("demo.json {args:?}");
            assert_conforms(&output, &expected, &what);
            assert_eq!(stderr(&output), "", "{what}");
        }
    }
}

/// `--stats`: the table per consumer and per producer, with totals, then the summary line.
#[test]
fn stats_prints_the_table_with_the_right_totals() {
    let (path, expected) = shipped("demo");
    for actors in ACTORS {
        let output = run(&path, &["--time-scale", "0", "--stats", "--actors", actors]);
        assert_conforms(
            &output,
            &expected,
            &format!("demo.json --stats --actors {actors}"),
        );
        let stderr = stderr(&output);
        let lines: Vec<&str> = stderr.lines().collect();
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            words(lines[0]),
            ["consumer", "carts", "purchases", "retries", "waiting"],
            "{stderr}"
        );
        // demo.json: 4 consumers, 7 carts, 16 purchases; 6 producers.
        let consumers_total = lines
            .iter()
            .find(|l| l.starts_with("total (4)"))
            .expect(&stderr);
        assert_eq!(words(consumers_total)[2..4], ["7", "16"], "{stderr}");
        for name in ["ana", "bo", "chidi", "dana"] {
            assert!(
                lines.iter().any(|l| l.starts_with(name)),
                "{name}: {stderr}"
            );
        }
        let producers = lines
            .iter()
            .position(|l| l.starts_with("producer"))
            .expect(&stderr);
        assert_eq!(words(lines[producers]), ["producer", "published", "full"]);
        let producers_total = lines
            .iter()
            .find(|l| l.starts_with("total (6)"))
            .expect(&stderr);
        let published: u64 = lines[producers + 1..]
            .iter()
            .take(6)
            .map(|l| {
                l.split_whitespace()
                    .rev()
                    .nth(1)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(words(producers_total)[2], published.to_string(), "{stderr}");
        // Every purchase needs an item published.
        assert!(published >= 16, "{stderr}");
        assert!(
            lines.iter().any(|l| l.starts_with("wall time ")),
            "{stderr}"
        );
        assert!(
            lines.last().unwrap().starts_with("16 purchases, "),
            "{stderr}"
        );
        // Columns line up: the numbers of a table end where its header does.
        assert_eq!(
            lines[0].chars().count(),
            consumers_total.chars().count(),
            "{stderr}"
        );
    }
}

/// The statistics table shows an actor's name cut after 1000 characters with its length,
/// as the stall report does: the table pads each row to its widest name, so one consumer
/// named with a megabyte among 200 made 200 MB of stderr.
#[test]
fn the_stats_table_shows_a_long_actor_name_cut() {
    const CONSUMERS: usize = 200;
    let cart = json!([{"type": "add", "product": "m", "quantity": 1}]);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let name = if i == 0 {
                "k".repeat(1_000_000)
            } else {
                format!("c{i}")
            };
            json!({"name": name, "retry_wait_time": 0, "carts": [cart]})
        })
        .collect();
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "j".repeat(1_000_000), "products": [["m", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": consumers,
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("stats-long-name.json", &scenario.to_string());
    let output = run(&path, &["--stats"]);
    assert!(output.status.success(), "{}", output.status);
    let table = stderr(&output);
    assert!(
        table.len() < (CONSUMERS + 20) * 1100
            && table.contains("k... (1000000 characters)")
            && table.contains("j... (1000000 characters)"),
        "a table of {} bytes",
        table.len()
    );
}

/// `--stats-json` keeps every name whole, however long: programs read it, and a name cut
/// there could no longer be told from another that starts alike.
#[test]
fn stats_json_keeps_long_actor_names_whole() {
    let cart = json!([{"type": "add", "product": "m", "quantity": 1}]);
    let scenario = json!({
        "products": {"m": {"product_type": "Product", "name": "Mug", "price": 4}},
        "producers": [{"name": "j".repeat(1_000_000), "products": [["m", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "k".repeat(1_000_000), "retry_wait_time": 0, "carts": [cart]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let path = temp_file("stats-json-long-name.json", &scenario.to_string());
    let file = temp_path("stats-json-long-name.out.json");
    let output = run(&path, &["--stats-json", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", output.status);
    let stats: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for (actors, letter) in [("consumers", "k"), ("producers", "j")] {
        let name = stats[actors][0]["name"].as_str().unwrap_or_default();
        assert!(
            name == letter.repeat(1_000_000),
            "{actors}[0].name of {} characters: {}",
            name.chars().count(),
            name.chars().rev().take(40).collect::<String>()
        );
    }
}

/// `--stats-json`: valid JSON of the documented shape whose totals are the purchase lines
/// printed and the sums of the per-actor figures, with both kinds of actors.
#[test]
fn stats_json_adds_up_with_both_kinds_of_actors() {
    let (path, expected) = shipped("long");
    for actors in ACTORS {
        let file = temp_path(&format!("stats-{actors}.json"));
        let output = run(
            &path,
            &[
                "--time-scale",
                "0",
                "--actors",
                actors,
                "--stats-json",
                file.to_str().unwrap(),
            ],
        );
        let what = format!("long.json --stats-json --actors {actors}");
        assert_conforms(&output, &expected, &what);
        assert_eq!(stderr(&output), "", "{what}");
        let stats: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let lines = purchase_lines(&output) as u64;
        assert_eq!(stats["stalled"], false, "{what}");
        assert!(stats["wall_seconds"].as_f64().unwrap() > 0.0, "{what}");
        let totals = &stats["totals"];
        assert_eq!(totals["purchases"].as_u64(), Some(lines), "{what}");
        let consumers = stats["consumers"].as_array().unwrap();
        let producers = stats["producers"].as_array().unwrap();
        assert_eq!((consumers.len(), producers.len()), (11, 8), "{what}");
        assert_eq!(consumers[0]["name"], "ana");
        assert_eq!(producers[7]["name"], "spice merchant");
        let sum = |list: &[Value], key: &str| -> u64 {
            list.iter().map(|entry| entry[key].as_u64().unwrap()).sum()
        };
        assert_eq!(sum(consumers, "purchases"), lines, "{what}");
        assert_eq!(totals["carts"].as_u64(), Some(sum(consumers, "carts")));
        assert_eq!(totals["carts"], 87, "every cart of long.json is ordered");
        assert_eq!(totals["retries"].as_u64(), Some(sum(consumers, "retries")));
        assert_eq!(
            totals["published"].as_u64(),
            Some(sum(producers, "published"))
        );
        assert_eq!(totals["full"].as_u64(), Some(sum(producers, "full")));
        assert!(sum(producers, "published") >= lines, "{what}");
        for consumer in consumers {
            assert!(
                consumer["waiting_seconds"].as_f64().unwrap() >= 0.0,
                "{what}"
            );
        }
    }
}

/// A scenario that stalls: its one consumer waits for a product its producer, full of
/// another, never publishes.
fn stalling() -> Value {
    json!({
        "products": {
            "x": {"product_type": "Product", "name": "Unwanted", "price": 1},
            "y": {"product_type": "Tea", "name": "Wanted", "price": 2, "type": "Black"}
        },
        "producers": [{"name": "jammer", "products": [["x", 1, 0], ["y", 1, 0]],
                       "republish_wait_time": 0}],
        "consumers": [{"name": "waiter", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "y", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    })
}

/// A stalled run writes its figures too, saying so; the table comes before the report.
#[test]
fn stats_are_written_after_a_stall() {
    let scenario = stalling();
    let path = temp_file("stalled-stats.json", &scenario.to_string());
    for actors in ACTORS {
        let file = temp_path(&format!("stalled-stats-{actors}.out.json"));
        let output = run(
            &path,
            &[
                "--time-scale",
                "0",
                "--stall-timeout",
                "0.3",
                "--actors",
                actors,
                "--stats",
                "--stats-json",
                file.to_str().unwrap(),
            ],
        );
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "{actors}: {stderr}");
        assert!(output.stdout.is_empty());
        let table = stderr.find("total (1)").expect(&stderr);
        assert!(table < stderr.find("stalled: ").expect(&stderr), "{stderr}");
        let stats: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(stats["stalled"], true, "{actors}");
        assert_eq!(stats["totals"]["purchases"], 0, "{actors}");
        let waiter = &stats["consumers"][0];
        assert_eq!(
            (waiter["name"].as_str(), waiter["carts"].as_u64()),
            (Some("waiter"), Some(0))
        );
        assert!(
            waiter["retries"].as_u64().unwrap() >= 1,
            "{actors}: {stats}"
        );
        assert!(
            waiter["waiting_seconds"].as_f64().unwrap() >= 0.25,
            "{actors}: {stats}"
        );
        let jammer = &stats["producers"][0];
        assert_eq!(jammer["published"], 1, "{actors}: {stats}");
        assert!(jammer["full"].as_u64().unwrap() >= 1, "{actors}: {stats}");
    }
}

/// A `--stats-json` file that cannot be created is bad input, found before the run starts.
#[test]
fn an_unwritable_stats_file_is_refused_before_the_run() {
    let (path, _) = shipped("demo");
    let missing_dir = temp_path("no-such-dir").join("stats.json");
    let dir = std::env::temp_dir();
    for file in [missing_dir.as_path(), dir.as_path()] {
        let output = run(
            &path,
            &["--time-scale", "0", "--stats-json", file.to_str().unwrap()],
        );
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(output.stdout.is_empty(), "{file:?}");
        assert!(
            stderr.starts_with("error: cannot write the statistics to "),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// Runs `scenario` logging to `log` with statistics to `stats`, which cannot be made, and
/// asserts that the run is refused for it.
fn assert_refused_for_the_stats_file(scenario: &Path, log: &str, stats: &str) {
    let args = [
        "--time-scale",
        "0",
        "--log-file",
        log,
        "--stats-json",
        stats,
    ];
    let output = run(scenario, &args);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}: {stderr}");
    assert!(
        stderr.starts_with("error: cannot write the statistics to "),
        "{log}: {stderr}"
    );
}

/// A run refused for its `--stats-json` file leaves behind none of the directories its
/// `--log-file` made, and keeps every directory that was there before, with what it holds.
#[test]
fn a_refused_stats_file_leaves_no_directory_made_for_the_log() {
    let (path, _) = shipped("demo");
    let kept = temp_path("kept-log-dir");
    std::fs::create_dir_all(&kept).unwrap();
    let users_file = kept.join("notes.txt");
    std::fs::write(&users_file, "the user's").unwrap();
    let stats = temp_path("no-such-stats-dir").join("stats.json");
    let stats = stats.to_str().unwrap();
    // Made from scratch, through a `..`, inside a directory that was there, and none made.
    for (log, made) in [
        (
            temp_path("new-log-dir").join("a/b/m.log"),
            temp_path("new-log-dir"),
        ),
        (
            temp_path("dotdot-log-dir").join("a/../b/m.log"),
            temp_path("dotdot-log-dir"),
        ),
        (kept.join("a/b/m.log"), kept.join("a")),
        (kept.join("m.log"), kept.clone()),
    ] {
        let log = log.to_str().unwrap();
        assert_refused_for_the_stats_file(&path, log, stats);
        if made == kept {
            assert_eq!(
                std::fs::read_dir(&kept).unwrap().count(),
                1,
                "{log}: the log left a file in a directory that was there"
            );
        } else {
            assert!(
                !made.exists(),
                "{log}: the refused run left {made:?} behind"
            );
        }
        assert_eq!(std::fs::read_to_string(&users_file).unwrap(), "the user's");
    }
    std::fs::remove_dir_all(&kept).unwrap();
}

/// A directory that was there before and that the log's path reaches only through one it
/// made (`new/../kept`: `kept` cannot be looked up until `new` exists) is kept by a run
/// refused for its `--stats-json` file, empty as it is; the one made is removed.
#[test]
fn a_refused_stats_file_keeps_a_directory_reached_through_one_the_log_made() {
    let (path, _) = shipped("demo");
    let parent = temp_path("reached-log-dir");
    let kept = parent.join("kept");
    std::fs::create_dir_all(&kept).unwrap();
    let stats = temp_path("reached-no-stats-dir").join("stats.json");
    let stats = stats.to_str().unwrap();
    for log in ["new/../kept/m.log", "new/../kept/sub/m.log"] {
        let log = parent.join(log);
        let log = log.to_str().unwrap();
        assert_refused_for_the_stats_file(&path, log, stats);
        let left: Vec<_> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["kept"], "{log}: the refused run left {left:?}");
        assert_eq!(
            std::fs::read_dir(&kept).unwrap().count(),
            0,
            "{log}: the refused run left something in {kept:?}"
        );
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

/// A `--stats-json` file that can be created but not written fails when the run ends, with
/// exit code 1 and the same message, as any output that cannot be written.
#[cfg(target_os = "linux")]
#[test]
fn a_stats_file_that_cannot_be_written_fails_after_the_run() {
    let (path, _) = shipped("demo");
    let output = run(&path, &["--time-scale", "0", "--stats-json", "/dev/full"]);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!output.stdout.is_empty(), "the run happened");
    assert!(
        stderr.starts_with("error: cannot write the statistics to /dev/full: "),
        "{stderr}"
    );
}

/// Flags that contradict each other are refused by clap: exit code 2, one message.
#[test]
fn conflicting_flags_are_refused() {
    let (path, _) = shipped("demo");
    for flags in [
        &["--progress", "--no-progress"][..],
        &["--progress", "--quiet"],
        &["--progress", "-q"],
        &["--quiet", "--stats"],
    ] {
        let output = run(&path, flags);
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{flags:?}");
        assert!(
            stderr.contains("cannot be used with"),
            "{flags:?}: {stderr}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{flags:?}: {stderr}");
    }
}

/// On a terminal (a pseudo-terminal made by util-linux's `script`) the live line is drawn
/// on stderr, and stdout, redirected to a file, still holds the purchase lines alone;
/// `--quiet` draws nothing; on a dumb terminal, where a line cannot be redrawn in place,
/// nothing is drawn unless `--progress` asks for plain lines. Skipped where `script` is
/// missing.
#[cfg(target_os = "linux")]
#[test]
fn the_live_line_is_drawn_on_a_terminal_and_never_on_stdout() {
    use std::process::Command;
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let (path, expected) = shipped("long");
    for (term, flags, drawn) in [
        ("xterm", "", Some("375/375 purchases, done")),
        ("xterm", "--quiet", None),
        ("dumb", "", None),
        (
            "dumb",
            "--progress",
            Some("progress: 375/375 purchases (100%)"),
        ),
    ] {
        let out = temp_path(&format!("live-out-{term}{flags}.txt"));
        let typescript = temp_path(&format!("live-tty-{term}{flags}.txt"));
        let command = format!(
            "{} run {} --time-scale 0.1 {flags} > {}",
            quote(Path::new(env!("CARGO_BIN_EXE_marketplace"))),
            quote(&path),
            quote(&out)
        );
        let status = Command::new("script")
            .env("TERM", term)
            .args(["-qec", &command])
            .arg(&typescript)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status();
        let Ok(status) = status else {
            println!("skipped: `script` (util-linux) is not available");
            return;
        };
        let what = format!("TERM={term} {command}");
        assert!(status.success(), "{what}: {status}");
        let stdout = std::fs::read(&out).unwrap();
        assert_eq!(support::sorted(&stdout), expected, "{what}");
        let terminal = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
        match drawn {
            Some(last) => assert!(terminal.contains(last), "{what}:\n{terminal}"),
            None => assert!(!terminal.contains("purchases"), "{what}:\n{terminal}"),
        }
    }
}

#[test]
fn run_help_documents_progress_and_statistics() {
    let output = marketplace(&["run", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--progress",
        "--no-progress",
        "-q, --quiet",
        "--stats",
        "--stats-json <FILE>",
        "a live progress line",
        "[default: shown when stderr is a terminal]",
        "a --log-file, --stats-json or --expected file that cannot be",
    ] {
        assert!(
            help.contains(needle),
            "run --help lacks {needle:?}:\n{help}"
        );
    }
}

/// The number and unit that follow each `prefix` in `text` (`wall time 0.008 s`).
fn times_after<'t>(text: &'t str, prefix: &str) -> Vec<(f64, &'t str)> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let mut words = text[at + prefix.len()..].split_whitespace();
            let number = words.next().unwrap_or_default();
            let unit = words.next().unwrap_or_default();
            let number = number
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("no number after {prefix:?}: {text}"));
            (number, unit.trim_end_matches([',', ';']))
        })
        .collect()
}

/// Asserts that `text` shows a positive time after each `prefix`, in a unit of time.
fn assert_positive_times(text: &str, prefix: &str, what: &str) {
    let times = times_after(text, prefix);
    assert!(!times.is_empty(), "{what}: no {prefix:?} in {text}");
    for (number, unit) in times {
        assert!(
            number > 0.0 && ["s", "ms", "µs", "ns"].contains(&unit),
            "{what}: a positive time shown as {number} {unit:?} after {prefix:?}: {text}"
        );
    }
}

/// A time the command shows is never a positive one rounded to zero: the stall report of
/// a timeout of a nanosecond, the wall time, the progress line's time, the summary line
/// and each consumer's time waiting of a run over in microseconds.
#[test]
fn no_time_shown_rounds_a_positive_one_to_zero() {
    let stall = stalling();
    let quick = json!({
        "products": {"t": {"product_type": "Tea", "name": "Mint", "price": 2, "type": "Herbal"}},
        "producers": [{"name": "p", "products": [["t", 1, 0]], "republish_wait_time": 0}],
        "consumers": [{"name": "c", "retry_wait_time": 0,
                       "carts": [[{"type": "add", "product": "t", "quantity": 1}]]}],
        "marketplace": {"queue_size_per_producer": 1}
    });
    let stall = temp_file("tiny-times-stall.json", &stall.to_string());
    let quick = temp_file("tiny-times-quick.json", &quick.to_string());
    for actors in ACTORS {
        for (path, stalls) in [(&stall, true), (&quick, false)] {
            let file = temp_path(&format!("tiny-times-{actors}-{stalls}.out.json"));
            // A nanosecond's timeout stalls any run, so only the stalled one has it.
            let timeout = if stalls { "1e-9" } else { "60" };
            let output = run(
                path,
                &[
                    "--time-scale",
                    "0",
                    "--stall-timeout",
                    timeout,
                    "--actors",
                    actors,
                    "--progress",
                    "--stats",
                    "--stats-json",
                    file.to_str().unwrap(),
                ],
            );
            let what = format!("--actors {actors}, stalls: {stalls}");
            let stderr = stderr(&output);
            assert_eq!(
                output.status.code(),
                Some(if stalls { 3 } else { 0 }),
                "{what}: {stderr}"
            );
            assert_positive_times(&stderr, "wall time ", &what);
            assert_positive_times(&stderr, "%) at ", &what);
            if stalls {
                assert_positive_times(&stderr, "no consumer made progress for ", &what);
            } else {
                assert_positive_times(&stderr, " producer republishes in ", &what);
            }
            let stats: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for consumer in stats["consumers"].as_array().unwrap() {
                let name = consumer["name"].as_str().unwrap();
                let line = stderr
                    .lines()
                    .find(|line| line.split_whitespace().next() == Some(name))
                    .expect(&stderr);
                if consumer["waiting_seconds"].as_f64().unwrap() > 0.0 {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    let figure = words[words.len() - 2..].join(" ");
                    assert_positive_times(&format!("waiting {figure}"), "waiting ", &what);
                }
            }
        }
    }
}
