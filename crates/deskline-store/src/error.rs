//! The one error type every store operation returns.

use std::path::PathBuf;

use crate::types::{JobId, JobState};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's directory could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// The directory that could not be created.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be created or inspected.
    #[error("cannot create the database file {path}: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A write broke a constraint (empty kind, `max_attempts` < 1, duplicate id, ...): the
    /// transaction it was part of changed nothing.
    #[error("rejected by the database: {0}")]
    Rejected(String),
    /// No row with that id.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for ("job", "event").
        what: &'static str,
        /// The id that was looked for.
        id: i64,
    },
    /// The job exists but its state does not allow the operation.
    #[error("job {job_id} is {state}: cannot {action} it")]
    InvalidState {
        /// The job.
        job_id: JobId,
        /// Its current state.
        state: JobState,
        /// What was attempted ("complete", "cancel", ...).
        action: &'static str,
    },
    /// The job is no longer held by this lease: it was taken over (its heartbeat lapsed) or
    /// settled meanwhile. The outcome was not written; the job's current holder decides it.
    #[error(
        "job {job_id} is no longer held by {worker_id} (attempt {attempt}): cannot {action} it"
    )]
    LeaseLost {
        /// The job.
        job_id: JobId,
        /// The worker whose lease it was.
        worker_id: String,
        /// The attempt the lease was for.
        attempt: u32,
        /// What was attempted.
        action: &'static str,
    },
    /// The database could not take a write, for the reason given (locked, disk error, ...):
    /// every item of a group commit that failed as a whole gets this.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded (hand-edited row, newer schema, ...).
    #[error("malformed stored data: {0}")]
    Corrupt(String),
    /// The database URL could not be understood (the URL itself is not repeated: it may hold a
    /// password).
    #[error("invalid database URL: {0}")]
    Url(String),
    /// The database lacks migrations this deskline needs, and connecting was told not to apply
    /// them.
    #[error("the database schema is behind this deskline: migration(s) {} not applied", list(.pending))]
    SchemaBehind {
        /// The versions not applied.
        pending: Vec<i64>,
    },
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl StoreError {
    /// True when trying the same operation again later may succeed (busy database, pool
    /// exhausted, connection lost), as opposed to a rejected or impossible operation.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(err) => match err {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included; Postgres
                    // serialization failure and deadlock.
                    db.code().is_some_and(|code| {
                        let code = code.as_ref();
                        let primary = code.parse::<i64>().map(|c| c & 0xff).ok();
                        matches!(primary, Some(5) | Some(6)) || code == "40001" || code == "40P01"
                    }) || is_postgres_unavailable(db.as_ref())
                }
                _ => false,
            },
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// A PostgreSQL error that says the server is going away or cannot take more work now:
/// connection exceptions (08), insufficient resources (53), operator intervention such as a
/// shutdown (57).
fn is_postgres_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|pg| ["08", "53", "57"].iter().any(|c| pg.code().starts_with(c)))
}

/// A PostgreSQL data exception (22: a NUL character in text, a number out of range, ...): the
/// caller's value, not a broken database.
fn is_postgres_bad_value(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|pg| pg.code().starts_with("22"))
}

impl StoreError {
    /// What is wrong with the database itself, in a few words for an operator, when the
    /// failure is the database's (locked, disk, unreachable) rather than the request's; `None`
    /// for a rejected write, a missing row or a wrong state.
    pub fn outage(&self) -> Option<String> {
        let err = match self {
            StoreError::Database(err) => err,
            StoreError::Unavailable(problem) => return Some(problem.clone()),
            _ => return None,
        };
        Some(match err {
            sqlx::Error::PoolTimedOut => {
                "no database connection became free in time (the database is overloaded)".into()
            }
            sqlx::Error::PoolClosed => "the database is shut down".into(),
            sqlx::Error::WorkerCrashed => "a database connection stopped working".into(),
            sqlx::Error::Io(e) => format!("I/O error reaching the database: {e}"),
            sqlx::Error::Database(db) if is_postgres_unavailable(db.as_ref()) => {
                format!("PostgreSQL cannot take work now: {}", db.message())
            }
            sqlx::Error::Database(db)
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some() =>
            {
                return None
            }
            // SQLite's result codes: the primary code is the low byte of the extended one.
            sqlx::Error::Database(db) => {
                let primary = db
                    .code()
                    .and_then(|c| c.parse::<i64>().ok())
                    .map(|c| c & 0xff);
                match primary {
                    Some(5) | Some(6) => "the database is locked: another writer held it \
                                          longer than the busy timeout"
                        .into(),
                    Some(8) => "the database is read-only".into(),
                    Some(10) => format!("disk I/O error: {}", db.message()),
                    Some(11) => "the database file is corrupt".into(),
                    Some(13) => "the disk is full".into(),
                    Some(14) => "the database file cannot be opened".into(),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // Constraint violations are the caller's input, not a broken database: say so, so the
        // caller can answer "bad input" (invariant 5) instead of retrying forever.
        if let sqlx::Error::Database(db) = &err {
            if !matches!(db.kind(), sqlx::error::ErrorKind::Other)
                || is_postgres_bad_value(db.as_ref())
            {
                return StoreError::Rejected(db.message().to_owned());
            }
        }
        StoreError::Database(err)
    }
}
