//! Whether two names reach one file: the identity of an existing file (its device and
//! inode on Unix, its canonical path elsewhere), and that of the file stdout goes to.
//!
//! Invariants: files are told apart by what their names reach, through links of either
//! kind, never by the names' text; a file that does not exist has no identity, so it is
//! the same as no other; only a regular file counts as the one stdout goes to, since a
//! terminal or pipe may well take several outputs. An output of the command that would go
//! to stdout's file is refused (`not_stdout`): each would overwrite the other.

use std::fs;
#[cfg(unix)]
use std::fs::File;
#[cfg(unix)]
use std::io;
use std::path::Path;
#[cfg(not(unix))]
use std::path::PathBuf;

use crate::failure::Failure;
use crate::shown_path;

/// What tells one existing file from another, whatever its names: its device and inode.
#[cfg(unix)]
pub(crate) type Identity = (u64, u64);
/// What tells one existing file from another, whatever its names: its canonical path.
#[cfg(not(unix))]
pub(crate) type Identity = PathBuf;

/// The identity of the file `path` names, through links of either kind; none when it
/// does not exist.
pub(crate) fn identity(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        fs::canonicalize(path).ok()
    }
}

/// Whether `a` and `b` name one existing file, through links of either kind.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    let a = identity(a);
    a.is_some() && a == identity(b)
}

/// The identity of the regular file stdout goes to (`> out.txt`), if it goes to one. A
/// terminal or pipe is no file: another output that reaches it too
/// (`--stats-json /dev/stderr` on a terminal) is fine.
pub(crate) fn stdout_file() -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let stdout = io::stdout().as_fd().try_clone_to_owned().ok()?;
        let stdout = File::from(stdout).metadata().ok()?;
        stdout.is_file().then(|| (stdout.dev(), stdout.ino()))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Whether `path` names the regular file stdout goes to: a second output written there
/// starts at its beginning too, and each would overwrite the other.
fn is_stdout_file(path: &Path) -> bool {
    stdout_file().is_some_and(|stdout| identity(path) == Some(stdout))
}

/// Refuses `path` as the file of `flag` when stdout goes to it.
pub(crate) fn not_stdout(flag: &str, path: &Path) -> Result<(), Failure> {
    if is_stdout_file(path) {
        return Err(Failure::bad_input(format!(
            "error: {flag} {} is the file stdout goes to",
            shown_path(path)
        )));
    }
    Ok(())
}
