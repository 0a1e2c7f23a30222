//! A configuration's problems, each naming its key, what is wrong and how to fix it, so that
//! one run reports all of them.

use std::fmt;

/// One configuration problem.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The key, e.g. `zendesk.subdomain`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}. Fix: {}", self.key, self.problem, self.fix)?;
        // A fix that is a question ("did you mean …?") or a full sentence ends itself.
        if !self.fix.ends_with(['.', '?', '!']) {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// Every problem found in a configuration.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A configuration error with one problem.
    pub fn single(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![Problem {
                key: key.to_string(),
                problem: problem.into(),
                fix: fix.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.len() {
            1 => writeln!(f, "the configuration has 1 problem:")?,
            n => writeln!(f, "the configuration has {n} problems:")?,
        }
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
