//! The files of `run --log-file` against the command's other files: a run whose log would
//! write, rename or remove the scenario, the statistics file or the file stdout goes to is
//! refused before anything is written or rotated (exit code 2, one line naming both), by
//! name and through `./`, `..` and links; names the log never uses are fine.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{marketplace, repo_root, run_logged, temp_path};

/// The demo scenario's bytes.
fn scenario_bytes() -> Vec<u8> {
    std::fs::read(repo_root().join("scenarios/demo.json")).expect("the demo scenario")
}

/// A fresh, empty directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = temp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a fresh directory");
    dir
}

/// The names in `dir`, sorted; none when it does not exist.
fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| {
            let entry = entry.expect("an entry");
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Whether `path` holds the demo scenario's bytes, unchanged.
fn holds_the_scenario(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes == scenario_bytes())
}

/// Asserts a refusal: code 2, nothing on stdout, one line on stderr holding each needle.
fn assert_refused(output: &Output, needles: &[&str], case: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{case}: {stderr}");
    assert!(output.stdout.is_empty(), "{case}: stdout written");
    assert_eq!(stderr.lines().count(), 1, "{case}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{case}: lacks {needle:?}: {stderr}"
        );
    }
}

/// Makes the 20 old files a log keeps, `m_r00001.log` to `m_r00020.log`, in `dir`: with
/// one more such file, the log removes the oldest as it starts.
fn twenty_old_files(dir: &Path) {
    for index in 1..=20 {
        std::fs::write(dir.join(format!("m_r{index:05}.log")), "an old record\n")
            .expect("an old log file");
    }
}

/// The scenario may not be the log's current file, however either is named: the logger
/// renames the current file away as it starts, and removes it once 20 newer ones exist.
#[test]
fn a_scenario_that_is_the_logs_current_file_is_refused() {
    let dir = fresh_dir("log-current-scenario");
    std::fs::create_dir(dir.join("sub")).expect("a subdirectory");
    let scenario = dir.join("m_rCURRENT.log");
    let mut cases = vec![
        (scenario.clone(), dir.join("m.log")),
        (dir.join("./sub/../m_rCURRENT.log"), dir.join("m.log")),
        (scenario.clone(), dir.join("sub/.././m.log")),
    ];
    #[cfg(unix)]
    {
        let link = temp_path("log-current-link.json");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&scenario, &link).expect("a symlink");
        cases.push((link, dir.join("m.log")));
    }
    // A hard link: the one file under a name of its own, outside the log's directory.
    let hard_link = temp_path("log-current-hard-link.json");
    cases.push((hard_link.clone(), dir.join("m.log")));
    for (given, log) in cases {
        std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
        if given == hard_link {
            let _ = std::fs::remove_file(&hard_link);
            std::fs::hard_link(&scenario, &hard_link).expect("a hard link");
        }
        let case = format!("{} with --log-file {}", given.display(), log.display());
        let output = run_logged(&given, &log, &[]);
        assert!(
            holds_the_scenario(&scenario),
            "{case}: the scenario was changed or moved: {:?}",
            names_in(&dir)
        );
        assert_eq!(names_in(&dir), ["m_rCURRENT.log", "sub"], "{case}");
        assert_refused(
            &output,
            &["the scenario file", &log.display().to_string()],
            &case,
        );
    }
}

/// A scenario whose name the log's clean-up takes for one of its old files is refused: the
/// clean-up keeps 20 and removes the others as the log starts and after each rotation.
/// It takes for one any name of the log's stem with the log's extension or `.gz`, whose
/// part after the stem and one more character starts with `r` and a digit and is longer
/// than two characters up to its first dot. Names outside that pattern run.
#[test]
fn a_scenario_named_like_an_old_log_file_is_refused() {
    for name in ["m_r00000.log", "m_r00021.log", "m-r12.log", "m_r00000.gz"] {
        let dir = fresh_dir("log-old-scenario");
        twenty_old_files(&dir);
        let scenario = dir.join(name);
        std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
        let before = names_in(&dir);
        let output = run_logged(&scenario, &dir.join("m.log"), &[]);
        assert!(
            holds_the_scenario(&scenario),
            "{name}: the scenario was removed or changed: {:?}",
            names_in(&dir)
        );
        assert_eq!(names_in(&dir), before, "{name}: the log rotated");
        assert_refused(&output, &["the scenario file", name], name);
    }
    for name in ["m.log", "m_r1.log", "m_r00000.json", "m_notes.log"] {
        let dir = fresh_dir("log-other-scenario");
        twenty_old_files(&dir);
        let scenario = dir.join(name);
        std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
        let output = run_logged(&scenario, &dir.join("m.log"), &[]);
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(holds_the_scenario(&scenario), "{name}");
    }
}

/// The statistics file may not be one of the log's files, existing or not: the logger
/// renames the current file away with the statistics file's handle open, and the figures
/// land in an old log file, to be removed in their turn.
#[test]
fn a_stats_file_that_is_a_log_file_is_refused() {
    let scenario = temp_path("log-stats-scenario.json");
    std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
    let dir = temp_path("log-stats");
    let _ = std::fs::remove_dir_all(&dir);
    for name in ["m_rCURRENT.log", "m_r00007.log"] {
        let stats = dir.join(name);
        let case = format!("--stats-json {name}");
        let output = run_logged(
            &scenario,
            &dir.join("m.log"),
            &["--stats-json".as_ref(), stats.as_os_str()],
        );
        assert_eq!(names_in(&dir), Vec::<String>::new(), "{case}: written");
        assert_refused(&output, &["--stats-json", name], &case);
    }
    // A link that leads to one not made yet: creating the statistics file makes it.
    #[cfg(unix)]
    {
        let link = temp_path("log-stats-dangling.json");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(dir.join("m_r00007.log"), &link).expect("a symlink");
        let output = run_logged(
            &scenario,
            &dir.join("m.log"),
            &["--stats-json".as_ref(), link.as_os_str()],
        );
        assert_eq!(
            names_in(&dir),
            Vec::<String>::new(),
            "dangling link: written"
        );
        assert_refused(&output, &["--stats-json", "m_r00007.log"], "dangling link");
    }
    // An existing one, named through `..` and through a link.
    let dir = fresh_dir("log-stats-existing");
    std::fs::create_dir(dir.join("sub")).expect("a subdirectory");
    let current = dir.join("m_rCURRENT.log");
    let mut named = vec![dir.join("sub/../m_rCURRENT.log")];
    #[cfg(unix)]
    {
        let link = temp_path("log-stats-link.json");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&current, &link).expect("a symlink");
        named.push(link);
    }
    for stats in named {
        std::fs::write(&current, "a record of an earlier run\n").expect("an earlier log");
        let case = format!("--stats-json {}", stats.display());
        let output = run_logged(
            &scenario,
            &dir.join("m.log"),
            &["--stats-json".as_ref(), stats.as_os_str()],
        );
        assert_eq!(names_in(&dir), ["m_rCURRENT.log", "sub"], "{case}");
        assert_eq!(
            std::fs::read_to_string(&current).ok().as_deref(),
            Some("a record of an earlier run\n"),
            "{case}"
        );
        assert_refused(&output, &["--stats-json", "m_rCURRENT.log"], &case);
    }
}

/// Stdout may not go to one of the log's files (`> logs/m_rCURRENT.log`): the logger
/// renames it away, and the purchase lines go into an old log file, to be removed.
#[cfg(unix)]
#[test]
fn stdout_to_a_log_file_is_refused() {
    use std::process::{Command, Stdio};
    let scenario = temp_path("log-stdout-scenario.json");
    std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
    let dir = fresh_dir("log-stdout");
    let current = dir.join("m_rCURRENT.log");
    let stdout = std::fs::File::create(&current).expect("the stdout file");
    let output = Command::new(env!("CARGO_BIN_EXE_marketplace"))
        .arg("run")
        .arg(&scenario)
        .args(["--time-scale", "0", "--log-file"])
        .arg(dir.join("m.log"))
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the marketplace binary runs");
    assert_eq!(names_in(&dir), ["m_rCURRENT.log"]);
    assert_eq!(std::fs::read(&current).ok(), Some(Vec::new()));
    assert_refused(&output, &["stdout", "m_rCURRENT.log"], "> m_rCURRENT.log");
}

/// On a redis backend too, and before any connection is tried (none could be made here).
#[test]
fn a_scenario_that_is_a_log_file_is_refused_on_a_redis_backend() {
    let dir = fresh_dir("log-redis-scenario");
    let scenario = dir.join("m_rCURRENT.log");
    std::fs::write(&scenario, scenario_bytes()).expect("the scenario");
    let log = dir.join("m.log");
    let output = marketplace(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--backend".as_ref(),
        "redis://127.0.0.1:1".as_ref(),
        "--market".as_ref(),
        "m".as_ref(),
        "--retry-for".as_ref(),
        "0".as_ref(),
        "--log-file".as_ref(),
        log.as_os_str(),
    ]);
    assert!(holds_the_scenario(&scenario), "{:?}", names_in(&dir));
    assert_eq!(names_in(&dir), ["m_rCURRENT.log"]);
    assert_refused(&output, &["the scenario file", "m_rCURRENT.log"], "redis");
}
