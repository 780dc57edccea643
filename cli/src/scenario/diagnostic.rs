//! Validation findings: a problem (or warning) and the place in the file it is about.

use std::fmt::{self, Display, Write as _};

/// One finding of validation: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The place, e.g. `consumers[3].carts[1][0].product`; empty for the whole file.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a scenario was rejected: the problems found, in file order, the first
/// [`MAX_LISTED`](super::MAX_LISTED) of them listed and the others counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The problems listed; never empty.
    pub problems: Vec<Diagnostic>,
    /// The problems found after the listed ones, counted only.
    pub unlisted: usize,
}

impl ScenarioError {
    /// Every problem found, listed or not.
    pub fn count(&self) -> usize {
        self.problems.len() + self.unlisted
    }
}

/// The line that stands for `count` findings of a kind (`problem`, `warning`) found past the
/// listed ones, if there are any: `... and 3 more problems`.
pub fn unlisted_line(count: usize, kind: &str) -> Option<String> {
    let s = if count == 1 { "" } else { "s" };
    (count > 0).then(|| format!("... and {count} more {kind}{s}"))
}

impl Display for ScenarioError {
    /// One problem per line, then `... and N more problems` if some are not listed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            p.fmt(f)?;
        }
        if let Some(line) = unlisted_line(self.unlisted, "problem") {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}
