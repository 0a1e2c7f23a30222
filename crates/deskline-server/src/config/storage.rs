//! `[storage]`: which database deskline keeps its events and jobs in, checked, and shown
//! without the password a PostgreSQL URL may carry.

use std::fmt;
use std::path::PathBuf;

use deskline_store::{check_postgres_url, is_postgres_url, redact_url};

use super::{Problem, StorageConfig};

/// The database a checked `[storage]` section selects.
#[derive(Clone, PartialEq, Eq)]
pub enum Storage {
    /// The embedded default: one SQLite file, for one process.
    Sqlite(PathBuf),
    /// A PostgreSQL database (the URL may hold a password: show it with [`Storage::describe`]).
    Postgres(String),
}

impl Storage {
    /// What `config` selects: PostgreSQL when `storage.url` is set, else the SQLite file.
    /// Meant for a configuration [`check_storage`] accepted.
    pub fn of(config: &StorageConfig) -> Storage {
        match config.url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Storage::Postgres(url.to_string()),
            _ => Storage::Sqlite(config.sqlite_path.clone()),
        }
    }

    /// For people and logs: "PostgreSQL postgres://deskline:***@db:5432/deskline" or
    /// "SQLite deskline-data/deskline.db".
    pub fn describe(&self) -> String {
        match self {
            Storage::Sqlite(path) => format!("SQLite {}", path.display()),
            Storage::Postgres(url) => format!("PostgreSQL {}", redact_url(url)),
        }
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("sqlite_path", &self.sqlite_path)
            .field("url", &self.url.as_deref().map(redact_url))
            .finish()
    }
}

const URL_FORM: &str = "postgres://user:password@host:5432/database";

/// The problems of a `[storage]` section, each naming its key and its fix.
pub fn check_storage(config: &StorageConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut add = |problem: String, fix: String| {
        problems.push(Problem {
            key: "storage.url".to_string(),
            problem,
            fix,
        });
    };
    let Some(url) = config.url.as_deref() else {
        return problems;
    };
    let url = url.trim();
    if url.is_empty() {
        add(
            "is empty".into(),
            format!(
                "set it to a PostgreSQL database ({URL_FORM}), or remove it to keep the SQLite \
                 file storage.sqlite_path"
            ),
        );
    } else if !is_postgres_url(url) {
        add(
            format!("\"{}\" is not a PostgreSQL URL", redact_url(url)),
            format!(
                "use {URL_FORM} (or postgresql://...), or remove storage.url to keep the SQLite \
                 file storage.sqlite_path"
            ),
        );
    } else if let Err(e) = check_postgres_url(url) {
        add(
            format!("\"{}\" cannot be read: {e}", redact_url(url)),
            format!("write it as {URL_FORM}, with special characters in the password %-encoded"),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> StorageConfig {
        StorageConfig {
            url: Some(url.to_string()),
            ..StorageConfig::default()
        }
    }

    #[test]
    fn sqlite_stays_the_default_and_a_postgres_url_selects_postgres() {
        let default = StorageConfig::default();
        assert!(check_storage(&default).is_empty());
        assert!(matches!(Storage::of(&default), Storage::Sqlite(_)));
        let pg = with_url(" postgres://deskline:s3cret@db:5432/deskline ");
        assert!(check_storage(&pg).is_empty());
        assert_eq!(
            Storage::of(&pg).describe(),
            "PostgreSQL postgres://deskline:***@db:5432/deskline"
        );
    }

    #[test]
    fn bad_urls_name_the_key_and_the_fix_without_the_password() {
        for url in [
            "",
            "mysql://root:s3cret@db/deskline",
            "postgres://u:s3cret@db:port/x",
        ] {
            let problems = check_storage(&with_url(url));
            assert_eq!(problems.len(), 1, "{url:?}: {problems:?}");
            let shown = problems[0].to_string();
            assert!(shown.starts_with("storage.url: "), "{shown}");
            assert!(shown.contains("Fix: "), "{shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    #[test]
    fn debug_output_masks_the_password() {
        let shown = format!("{:?}", with_url("postgres://deskline:s3cret@db/deskline"));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("deskline:***@db"), "{shown}");
    }
}
