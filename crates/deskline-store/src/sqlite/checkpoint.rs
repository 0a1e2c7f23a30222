//! WAL checkpoints in the background, off the write path.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the WAL past its threshold
//! (about 4 MiB): that commit, and with group commit every acknowledgement of its batch, waited
//! while pages were copied into the database file and the file was synced. A passive checkpoint
//! from a connection of its own does the same work beside the writers, never blocking them.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::oneshot;

/// How often the WAL is copied back into the database: often enough that the WAL stays a few
/// MiB at thousands of commits a second.
const INTERVAL: Duration = Duration::from_millis(200);

/// Keeps the checkpointer running; it stops when this is dropped (with the last store clone).
#[derive(Debug)]
pub(super) struct Checkpointer {
    _stop: oneshot::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database `options` open, on the current runtime.
    pub(super) fn start(options: SqliteConnectOptions) -> Checkpointer {
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(options, stopped));
        Checkpointer { _stop: stop }
    }
}

async fn run(options: SqliteConnectOptions, mut stopped: oneshot::Receiver<()>) {
    let mut conn: Option<SqliteConnection> = None;
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        let current = match conn.as_mut() {
            Some(current) => current,
            None => match options.connect().await {
                Ok(fresh) => conn.insert(fresh),
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpointer cannot open the database");
                    continue;
                }
            },
        };
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *current)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying with a new connection");
            conn = None;
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}
