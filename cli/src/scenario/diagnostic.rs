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

/// Why a scenario was rejected: every problem found, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The problems; never empty.
    pub problems: Vec<Diagnostic>,
}

impl Display for ScenarioError {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            p.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}
