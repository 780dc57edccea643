//! The log of `run --log-file`: every marketplace call, through `flexi_logger`, to a file
//! rotated at 1 MB with 20 old files kept.
//!
//! Invariants: a log that cannot be kept is refused before the run (exit code 2), by making
//! and writing a file in its directory, since the logger opens its file only for the first
//! record; during the run the logger's own errors are dropped rather than repeated once per
//! record (or turned into a panic when stderr fails too), and `stop` tells in one line,
//! after the run, whether the directory could still take files. The log's start makes its
//! directory itself, recording each directory its `create_dir` made, so that a run refused
//! after the log started, before its first record, takes back those and no other
//! (`abandon`). The logger writes its records out in batches about a second apart; a run
//! interrupted by SIGINT or SIGTERM has the watcher of those (`interrupt_watcher`) write
//! out what it holds. The names the log writes, renames and removes (`LogNames`) are the
//! command's to keep clear of its other files before the log starts. A record's message is
//! cut at `MAX_MESSAGE_BYTES`, since the logger holds each record whole in memory.

use std::cell::Cell;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use flexi_logger::{
    Cleanup, Criterion, ErrorChannel, FileSpec, Logger, LoggerHandle, Naming, WriteMode,
};

use crate::failure::Failure;
use crate::file_identity::{Identity, identity};
use crate::shown_path;

/// The log of --log-file, and where it goes.
pub(crate) struct Log {
    handle: LoggerHandle,
    path: PathBuf,
    /// The directories the log's start made for its file, innermost first (`make_dirs`).
    made_dirs: Vec<PathBuf>,
}

impl Log {
    /// The logger, for the watcher of SIGINT and SIGTERM to write it out.
    pub(crate) fn handle(&self) -> &LoggerHandle {
        &self.handle
    }
}

pub(crate) fn start(path: &Path, level: &str) -> Result<Log, Failure> {
    let bad = |why: &dyn std::fmt::Display| {
        Failure::bad_input(format!("error: cannot log to {}: {why}", shown_path(path)))
    };
    // FileSpec::try_from panics on a path without a file name; refuse those first.
    if !is_a_file_path(path) {
        return Err(bad(&"not a file path"));
    }
    let path = std::path::absolute(path).map_err(|e| bad(&e))?;
    let spec = FileSpec::try_from(path.as_path()).map_err(|e| bad(&e))?;
    // The logger would make the directory too, but not say which of it were made: those
    // are made here, so that a refused run takes back these and only these.
    let made_dirs = make_dirs(path.parent().unwrap_or(&path)).map_err(|e| bad(&e))?;
    let built = Logger::try_with_str(level).and_then(|logger| {
        logger
            .log_to_file(spec)
            .format_for_files(flexi_logger::detailed_format)
            .rotate(
                Criterion::Size(ROTATE_BYTES),
                Naming::Numbers,
                Cleanup::KeepLogFiles(20),
            )
            .write_mode(WriteMode::BufferAndFlush)
            // The logger reports a file it cannot open or write on its error channel, once
            // per record (a flood, when the directory goes away mid-run), and panics in the
            // logging thread when that channel fails too (stderr on a full device). Its
            // errors are dropped instead, and `stop` tells once whether the log could be kept.
            .error_channel(ErrorChannel::DevNull)
            .panic_if_error_channel_is_broken(false)
            .build()
    });
    let (logger, handle) = match built {
        Ok(built) => built,
        Err(e) => {
            remove_dirs(&made_dirs);
            return Err(bad(&e));
        }
    };
    quiet_the_loggers_panics();
    if let Err(e) = log::set_boxed_logger(Box::new(Contained(logger))) {
        handle.shutdown();
        remove_dirs(&made_dirs);
        return Err(bad(&e));
    }
    // The directory is there now, but the logger opens its file only for the first record,
    // and a file it cannot open then fails every record on stderr while the run goes on:
    // make sure now that a file can be made there (the logger renames an old one there too).
    let log = Log {
        handle,
        path,
        made_dirs,
    };
    match can_create_beside(&log.path) {
        Ok(()) => Ok(log),
        Err(e) => {
            abandon(log);
            Err(bad(&e))
        }
    }
}

/// Whether `path` can name the log's file: it has a file name, and names no directory, by
/// its form or as an existing one.
fn is_a_file_path(path: &Path) -> bool {
    path.file_name().is_some() && !names_a_dir(path) && !path.is_dir()
}

/// Whether `path` names a directory by its form, existing or not: it ends in a separator
/// or in a `.` component. `Path` drops both, and `file_name` takes the component before
/// them for a file's name (the log of `logs/` or `logs/.` would be `logs_rCURRENT`).
fn names_a_dir(path: &Path) -> bool {
    let ends_in_separator = |bytes: &[u8]| {
        bytes
            .last()
            .is_some_and(|&last| std::path::is_separator(char::from(last)))
    };
    let bytes = path.as_os_str().as_encoded_bytes();
    ends_in_separator(bytes) || bytes.strip_suffix(b".").is_some_and(ends_in_separator)
}

/// Gives up the log of a run refused after the log started: stops the logger, which
/// writes out what it holds, and removes the directories its start made. Before the log's
/// first record those are all empty (the logger opens its file only for that record); a
/// record's file keeps its directory, and those above it.
pub(crate) fn abandon(log: Log) {
    contained(|| log.handle.shutdown());
    remove_dirs(&log.made_dirs);
}

/// Makes the directory `dir` with those above it that are missing, as `create_dir_all`
/// does, and returns the ones this call made, innermost first: only a `create_dir` that
/// succeeded counts, so neither a directory that was there (even one reached through a
/// made one, as `kept` in `new/../kept`) nor one another process made meanwhile is
/// listed. A failure takes back what was made.
fn make_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    let outcome = make_dirs_into(dir, &mut made);
    made.reverse();
    if let Err(e) = outcome {
        remove_dirs(&made);
        return Err(e);
    }
    Ok(made)
}

/// `make_dirs`, listing what it made outermost first.
fn make_dirs_into(dir: &Path, made: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            made.push(dir.to_owned());
            return Ok(());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) if dir.is_dir() => return Ok(()),
        Err(e) => return Err(named_non_directory(dir).unwrap_or(e)),
    }
    if let Some(parent) = dir.parent() {
        make_dirs_into(parent, made)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            made.push(dir.to_owned());
            Ok(())
        }
        Err(_) if dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The error for a `dir` that cannot be made because it, or the nearest of its parents
/// that exists, is not a directory (a file, or a link to nothing), naming that one: the
/// system says only "File exists" or "Not a directory", which does not tell which part
/// of the path is wrong.
fn named_non_directory(dir: &Path) -> Option<io::Error> {
    // `symlink_metadata`: a link to nothing is there, and in the way, though its target
    // is not.
    let existing = dir
        .ancestors()
        .find(|part| fs::symlink_metadata(part).is_ok())?;
    (!existing.is_dir()).then(|| {
        io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", shown_path(existing)),
        )
    })
}

/// Removes `dirs`, innermost first, each only while empty: nothing put in one meanwhile
/// is lost, and a directory that stays keeps the ones above it.
fn remove_dirs(dirs: &[PathBuf]) {
    for dir in dirs {
        if fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

/// The names the log of `--log-file` may write, rename or remove, as the logger makes and
/// finds them: it writes `STEM_rCURRENT.EXT`, renames that (the one it finds as it starts,
/// too) to `STEM_rNNNNN.EXT`, and its clean-up removes, past the 20 kept, any file of the
/// directory it takes for an old one (see [`LogNames::takes`]). Another file of the
/// command under one of these names would be renamed, removed or written into the log.
pub(crate) struct LogNames {
    /// The log's path as given, whose directory the messages name its files in.
    given: PathBuf,
    /// Its directory, resolved as [`resolved`] does.
    dir: PathBuf,
    /// Its file name without the extension, as the logger reads it.
    stem: String,
    /// Its extension, if it has one.
    suffix: Option<String>,
}

impl LogNames {
    /// The names of the log at `path`; none for a path that names no file, which `start`
    /// refuses (so that its refusal, not one of these names, is the error).
    pub(crate) fn of(path: &Path) -> Option<Self> {
        if !is_a_file_path(path) {
            return None;
        }
        let stem = path.file_stem()?.to_string_lossy().into_owned();
        let suffix = path.extension().map(|s| s.to_string_lossy().into_owned());
        Some(LogNames {
            given: path.to_owned(),
            dir: resolved(parent_of(path)),
            stem,
            suffix,
        })
    }

    /// Whether the logger writes, renames or removes a file of this name in its directory.
    /// The clean-up's test is looser than the names it makes: the name starts with the stem
    /// (whatever character follows it), ends in the log's extension or `.gz` (any, for a
    /// log without one), and what follows the stem and that character, up to its first
    /// dot, is longer than two characters and starts with `r` and a digit; the logger
    /// compares the names as lossy UTF-8 text, and so does this.
    fn takes(&self, name: &OsStr) -> bool {
        let text = name.to_string_lossy();
        let current = match &self.suffix {
            Some(suffix) => format!("{}_rCURRENT.{suffix}", self.stem),
            None => format!("{}_rCURRENT", self.stem),
        };
        if text == current {
            return true;
        }
        if !text.starts_with(&self.stem) {
            return false;
        }
        let name = Path::new(name);
        let extension = name.extension().map(OsStr::to_string_lossy);
        let extension = extension.as_deref();
        if self
            .suffix
            .as_deref()
            .is_some_and(|suffix| extension != Some(suffix) && extension != Some("gz"))
        {
            return false;
        }
        let Some(stem) = name.file_stem().map(OsStr::to_string_lossy) else {
            return false;
        };
        let Some(rest) = stem.get(self.stem.len() + 1..) else {
            return false;
        };
        let infix = rest.split('.').next().unwrap_or_default();
        let mut chars = infix.chars();
        infix.len() > 2
            && chars.next() == Some('r')
            && chars.next().is_some_and(|c| c.is_ascii_digit())
    }

    /// The log's file that `path` is, named in the log's directory as given: by its name
    /// (the path's own, which a link in the log's directory has, or the one its links
    /// lead to, existing or not), or as the same existing file (a hard link, or a link
    /// among the log's files that leads to it).
    pub(crate) fn holding(&self, path: &Path) -> Option<PathBuf> {
        let own = path
            .file_name()
            .map(|name| resolved(parent_of(path)).join(name));
        let by_name = own.into_iter().chain([resolved(path)]).find_map(|name| {
            let file = name.file_name().filter(|file| self.takes(file))?;
            (name.parent() == Some(self.dir.as_path())).then(|| self.given.with_file_name(file))
        });
        if by_name.is_some() {
            return by_name;
        }
        self.holding_identity(&identity(path)?)
    }

    /// The log's existing file that is the file of `id`, named as in [`Self::holding`].
    pub(crate) fn holding_identity(&self, id: &Identity) -> Option<PathBuf> {
        fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter(|entry| self.takes(&entry.file_name()))
            .find(|entry| identity(&entry.path()).as_ref() == Some(id))
            .map(|entry| self.given.with_file_name(entry.file_name()))
    }
}

/// The directory of `path`, `.` for a bare file name.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `path` made absolute, its links followed as far as it exists, and its `.` and `..`
/// taken by name past that (as creating it would): two names of one file resolve alike
/// whether it exists or not, and a link that leads nowhere yet resolves to where a file
/// made through it would be.
fn resolved(path: &Path) -> PathBuf {
    /// Links followed past the existing part, as the system's own limit on a lookup.
    const MOST_LINKS: u32 = 40;
    resolved_within(path, MOST_LINKS)
}

fn resolved_within(path: &Path, links: u32) -> PathBuf {
    if let Ok(real) = fs::canonicalize(path) {
        return real;
    }
    let Ok(absolute) = std::path::absolute(path) else {
        return path.to_owned();
    };
    let (Some(last), Some(parent)) = (absolute.components().next_back(), absolute.parent()) else {
        return absolute;
    };
    let base = resolved_within(parent, links);
    match last {
        Component::Normal(name) => {
            let joined = base.join(name);
            match fs::read_link(&joined) {
                Ok(target) if links > 0 => resolved_within(&base.join(target), links - 1),
                _ => joined,
            }
        }
        Component::ParentDir => base
            .parent()
            .map_or_else(|| base.clone(), Path::to_path_buf),
        _ => base,
    }
}

/// Whether a file can be created and written in the directory of `path`: creates one
/// beside it, under a short name of this process's own (so no long log name takes it past
/// the system's limit), writes a byte (a full device takes an empty file, not a record),
/// and removes it. A file already of that name is someone else's, or left by an earlier
/// process of this id that was killed before removing it: it is left alone, and the next
/// name tried.
fn can_create_beside(path: &Path) -> io::Result<()> {
    let mut attempt = 0;
    let (probe, mut file) = loop {
        let probe = path.with_file_name(probe_name(attempt));
        // `create_new` makes the file or fails in one step (O_EXCL), so no file that
        // appeared between two tries is ever opened, let alone removed.
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(file) => break (probe, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < PROBE_NAMES => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file.write_all(b"\n");
    drop(file);
    let removed = fs::remove_file(&probe);
    written.and(removed)
}

/// How many names past the first `can_create_beside` tries before giving up: a directory
/// holding all of them is no user's by accident.
const PROBE_NAMES: u32 = 100;

/// The name of the probe of `can_create_beside`'s try `attempt`: this process's id, and
/// from the second try on the try's number.
fn probe_name(attempt: u32) -> String {
    let pid = std::process::id();
    if attempt == 0 {
        format!(".marketplace-{pid}.check")
    } else {
        format!(".marketplace-{pid}-{attempt}.check")
    }
}

/// The size past which the log's current file rotates.
const ROTATE_BYTES: u64 = 1_000_000;

/// The most bytes of a record's message the log keeps: its files' size. The logger formats
/// a record whole in memory before it writes it, and an order's record lists every
/// product in the cart, so a cart that prints gigabytes, which the output writes a piece
/// at a time, would take gigabytes here, and abort the run where there are not.
const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// A record's message as the log keeps it: its first [`MAX_MESSAGE_BYTES`] at most, cut
/// at a character's boundary, and the count of the bytes cut after them.
#[derive(Default)]
struct CutMessage {
    kept: String,
    cut: u64,
}

impl CutMessage {
    fn of(args: &std::fmt::Arguments<'_>) -> Self {
        let mut message = CutMessage::default();
        // Writing into it never fails.
        let _ = std::fmt::write(&mut message, *args);
        message
    }
}

impl std::fmt::Write for CutMessage {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.cut == 0 {
            let mut end = MAX_MESSAGE_BYTES
                .saturating_sub(self.kept.len())
                .min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            self.kept.push_str(&text[..end]);
            self.cut = (text.len() - end) as u64;
        } else {
            self.cut += text.len() as u64;
        }
        Ok(())
    }
}

impl std::fmt::Display for CutMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kept)?;
        if self.cut > 0 {
            write!(f, " ... ({} more bytes not logged)", self.cut)?;
        }
        Ok(())
    }
}

/// The name of the logger's thread that removes old files after a rotation.
const CLEANUP_THREAD: &str = "flexi_logger-fs-cleanup";

/// Set once the logger panicked: some records, or the removal of old files, were lost.
static LOGGER_PANICKED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is inside a call into the logger.
    static IN_LOGGER: Cell<bool> = const { Cell::new(false) };
}

/// The logger, each call into it contained: the logger lists the log's directory with an
/// `unwrap` when it opens its first file and when it removes old ones, so a directory
/// removed at that moment panics whichever thread logs (the run's main thread, an actor)
/// or its clean-up thread, and the panic message lands on stderr mid-run. A panic inside
/// the logger is the log's failure, not the run's: the record is lost, the run goes on,
/// and `stop` tells it in its one line. A record reaches the logger with its message cut
/// to [`MAX_MESSAGE_BYTES`].
struct Contained(Box<dyn log::Log>);

impl log::Log for Contained {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.0.enabled(record.metadata()) {
            return;
        }
        contained(|| {
            let message = CutMessage::of(record.args());
            self.0.log(
                &log::Record::builder()
                    .metadata(record.metadata().clone())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .args(format_args!("{message}"))
                    .build(),
            );
        });
    }

    fn flush(&self) {
        contained(|| self.0.flush());
    }
}

/// Runs `call` into the logger, keeping a panic in it from the caller and from stderr.
fn contained(call: impl FnOnce()) {
    let outer = IN_LOGGER.replace(true);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_LOGGER.set(outer);
    if outcome.is_err() {
        // Ordering: read by `stop` on this thread or after the run's threads are joined.
        LOGGER_PANICKED.store(true, Ordering::Relaxed);
    }
}

/// Keeps the panic message of a panic inside the logger (see [`Contained`]) off stderr;
/// every other panic is reported as before. The logger's clean-up thread cannot be
/// contained from outside, and its panic ends only that thread: it is recorded the same
/// way. (Should the logger rename that thread, its panic messages come back, and
/// `cli_resources.rs::a_log_directory_removed_again_and_again_gives_no_panic_message`
/// fails.)
fn quiet_the_loggers_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            if IN_LOGGER.get() || std::thread::current().name() == Some(CLEANUP_THREAD) {
                // Ordering: as in `contained`; the clean-up thread is joined by the
                // logger's shutdown before `stop` reads it.
                LOGGER_PANICKED.store(true, Ordering::Relaxed);
            } else {
                report(panic);
            }
        }));
    });
}

/// Writes out what the logger holds.
pub(crate) fn write_out(handle: &LoggerHandle) {
    contained(|| handle.flush());
}

/// Writes out and stops the log of --log-file, if one was started; when its directory
/// can no longer take files (removed or made read-only during the run, or its device
/// full), says so in one line, unless `quiet`: records since then may be lost, but the
/// run's outcome stands.
pub(crate) fn stop(log: Option<Log>, quiet: bool) {
    if let Some(log) = log {
        write_out(&log.handle);
        contained(|| log.handle.shutdown());
        if quiet {
            return;
        }
        if let Err(e) = can_create_beside(&log.path) {
            tell!(
                "warning: the log {} could not be kept during the run ({e}); records may be missing",
                shown_path(&log.path)
            );
        } else if LOGGER_PANICKED.load(Ordering::Relaxed) {
            tell!(
                "warning: the log {} lost its directory during the run; records may be missing, and its old files past the 20 kept were not all removed",
                shown_path(&log.path)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own for the test `name`, empty.
    fn empty_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "marketplace-log-file-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    }

    /// A file of the user's under the probe's first name is neither truncated nor removed:
    /// the probe takes another name, and leaves nothing behind.
    #[test]
    fn the_probe_never_touches_a_file_it_did_not_create() {
        let dir = empty_dir("probe");
        let theirs = dir.join(probe_name(0));
        fs::write(&theirs, "the user's own\n").expect("the user's file");
        can_create_beside(&dir.join("m.log")).expect("the directory takes files");
        assert_eq!(
            fs::read_to_string(&theirs).ok().as_deref(),
            Some("the user's own\n"),
            "the user's file {theirs:?} was changed or removed"
        );
        let left: Vec<_> = fs::read_dir(&dir)
            .expect("the directory lists")
            .map(|entry| entry.expect("an entry").file_name())
            .collect();
        assert_eq!(left, [theirs.file_name().expect("a name")]);
        fs::remove_dir_all(&dir).expect("the directory is removed");
    }
}
