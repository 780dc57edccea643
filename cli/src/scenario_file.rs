//! Reading a scenario file into text, for `run` and `check`.
//!
//! Owns the size limit (`MAX_SCENARIO_BYTES`, or `MARKETPLACE_MAX_SCENARIO_BYTES` from the
//! environment) and the checks made while reading. Invariants: never more than the limit
//! plus one byte is read, whatever the file is (a device or a pipe that never ends, such
//! as `/dev/zero`, included); the buffer grows only through `try_reserve_exact`, so a
//! machine out of memory gives an error (exit code 2) instead of an abort; each piece is
//! checked as it arrives, so invalid UTF-8 or a control character JSON cannot hold ends the
//! read at once rather than after the limit. Every failure is one line naming the file.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use marketplace_cli::scenario::MAX_SCENARIO_BYTES;

use crate::failure::Failure;
use crate::shown_path;

/// The environment variable that sets the size limit of a scenario file, in bytes.
const MAX_BYTES_VAR: &str = "MARKETPLACE_MAX_SCENARIO_BYTES";

/// The size limit of a scenario file: [`MAX_SCENARIO_BYTES`], or what [`MAX_BYTES_VAR`] says
/// in plain decimal digits.
fn max_scenario_bytes() -> Result<u64, Failure> {
    let Some(value) = std::env::var_os(MAX_BYTES_VAR) else {
        return Ok(MAX_SCENARIO_BYTES);
    };
    // Plain decimal digits only: `u64::from_str` also takes a leading `+`, which no
    // documented form of the value has.
    value
        .to_str()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|&limit| limit >= 1)
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "error: {MAX_BYTES_VAR}: expected a whole number of bytes from 1 to {}, found {value:?}",
                u64::MAX
            ))
        })
}

/// How much of a file is read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// The text of the scenario file at `path`; text that is not UTF-8 is refused with the
/// place of its first invalid byte, and a file past the size limit with the limit.
///
/// A file can be a device or a pipe that never ends (`/dev/zero`), so it is read a piece
/// at a time and never past the limit, and checked as it comes: invalid UTF-8 is refused
/// at once, and so is a control character that JSON text cannot hold (anything below a
/// space but a tab or a line break): the text up to it is returned, whose JSON error (at
/// that character or before it) is the one the whole file would give.
pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    let limit = max_scenario_bytes()?;
    let refused =
        |why: String| Failure::bad_input(format!("error: cannot read {}: {why}", shown_path(path)));
    let too_large = || {
        refused(format!(
            "larger than the limit of {limit} bytes ({MAX_BYTES_VAR})"
        ))
    };
    let mut file = File::open(path).map_err(|e| refused(e.to_string()))?;
    let size = file
        .metadata()
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| m.len());
    if size.is_some_and(|size| size > limit) {
        return Err(too_large());
    }
    // One byte past the limit tells a file that is too large.
    let most = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let mut bytes: Vec<u8> = Vec::new();
    let out_of_memory = |_| refused("out of memory".to_owned());
    if let Some(size) = size {
        // A byte more than the file's size: the read that finds its end needs room too,
        // which would otherwise double the buffer.
        let expected = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX);
        bytes
            .try_reserve_exact(expected.min(most))
            .map_err(out_of_memory)?;
    }
    // `bytes[..checked]` is UTF-8 without a control character.
    let mut checked = 0;
    loop {
        if bytes.len() == bytes.capacity() {
            let room = bytes.capacity().max(READ_CHUNK).min(most - bytes.len());
            bytes.try_reserve_exact(room).map_err(out_of_memory)?;
        }
        let len = bytes.len();
        let room = (bytes.capacity() - len).min(READ_CHUNK).min(most - len);
        bytes.resize(len + room, 0);
        let read = loop {
            match io::Read::read(&mut file, &mut bytes[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        bytes.truncate(len + *read.as_ref().unwrap_or(&0));
        read.map_err(|e| refused(e.to_string()))?;
        if bytes.len() > limit.try_into().unwrap_or(usize::MAX) {
            return Err(too_large());
        }
        let end = bytes.len() == len;
        let fresh = match std::str::from_utf8(&bytes[checked..]) {
            Ok(text) => text.len(),
            Err(e) if e.error_len().is_none() && !end => e.valid_up_to(),
            Err(e) => return Err(refused(not_utf8(&bytes[..checked + e.valid_up_to()]))),
        };
        let control = bytes[checked..checked + fresh]
            .iter()
            .position(|&b| b < b' ' && !matches!(b, b'\t' | b'\n' | b'\r'));
        if let Some(at) = control {
            bytes.truncate(checked + at + 1);
            checked = bytes.len();
            break;
        }
        checked += fresh;
        if end {
            break;
        }
    }
    debug_assert_eq!(checked, bytes.len());
    String::from_utf8(bytes)
        .map_err(|e| refused(not_utf8(&e.as_bytes()[..e.utf8_error().valid_up_to()])))
}

/// Why text that is valid UTF-8 up to `valid` is not: the place of the byte after it.
fn not_utf8(valid: &[u8]) -> String {
    let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // Columns count bytes, as the JSON errors' do.
    let column = 1 + valid.len() - line_start;
    format!("not UTF-8 text: an invalid byte at line {line} column {column}")
}
