//! Waking idle workers of every instance when jobs are inserted: ingest and enqueue send
//! `NOTIFY deskline_jobs, '<queue>'` inside their transaction (PostgreSQL delivers it at commit,
//! and drops it on rollback), and one `LISTEN` connection per process hands the queue names to
//! whoever subscribed. A notification sent while the listener reconnects is lost, so this only
//! shortens waits; polling still finds every job.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::types::NewJob;

/// The channel job insertions are announced on; the payload is the queue's name.
pub const WAKE_CHANNEL: &str = "deskline_jobs";

/// How long the listener waits before reconnecting after losing its connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Announces, inside the caller's transaction, that jobs were queued on each queue of `jobs`.
pub(super) async fn announce(conn: &mut PgConnection, jobs: &[&NewJob]) -> Result<(), StoreError> {
    let queues: BTreeSet<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    for queue in queues {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(WAKE_CHANNEL)
            .bind(queue)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The process's subscription to [`WAKE_CHANNEL`], started on first use and stopped when the
/// last handle to the store is dropped.
#[derive(Debug, Clone)]
pub(super) struct Wakeups {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    sender: broadcast::Sender<String>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = listener.take() {
            task.abort();
        }
    }
}

impl Wakeups {
    pub(super) fn new(pool: PgPool) -> Self {
        let (sender, _) = broadcast::channel(256);
        Wakeups {
            inner: Arc::new(Inner {
                pool,
                sender,
                listener: Mutex::new(None),
            }),
        }
    }

    /// A receiver of queue names; starts the listener the first time (must be called inside
    /// a Tokio runtime).
    pub(super) fn subscribe(&self) -> broadcast::Receiver<String> {
        let receiver = self.inner.sender.subscribe();
        let mut listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if listener.is_none() {
            let pool = self.inner.pool.clone();
            let sender = self.inner.sender.clone();
            *listener = Some(tokio::spawn(listen(pool, sender)));
        }
        receiver
    }
}

/// Forwards every notification on [`WAKE_CHANNEL`] until the pool is closed.
async fn listen(pool: PgPool, sender: broadcast::Sender<String>) {
    loop {
        if pool.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for new jobs; polling meanwhile");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(WAKE_CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for new jobs; polling meanwhile");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        loop {
            match listener.recv().await {
                // Nobody subscribed right now is fine: the next poll finds the job.
                Ok(note) => {
                    let _ = sender.send(note.payload().to_string());
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    // recv reconnects on its next call; what was sent meanwhile is lost.
                    tracing::warn!(error = %e, "lost the connection listening for new jobs");
                    tokio::time::sleep(RECONNECT_DELAY).await;
                }
            }
        }
    }
}
