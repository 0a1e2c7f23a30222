//! Group commit for ingress: acknowledgements that arrive together are written together.
//!
//! Requests hand their event and jobs to one writer task and wait for its answer. The writer
//! takes everything waiting (up to [`MAX_BATCH`]), stores it with one
//! [`Store::ingest_batch`] (one transaction on SQLite: one lock, one commit, one WAL sync),
//! and answers each request only after that commit. With one request in flight a batch is
//! that one request, so nothing waits for a timer; under load, batches grow by themselves.
//!
//! The write runs in the writer task, not in the request: a provider that hangs up cannot cut
//! a transaction short. Its event may still be stored; its redelivery is then a duplicate.

use std::sync::Arc;

use deskline_store::{IngestItem, Ingested, NewInboundEvent, NewJob, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most deliveries written in one transaction.
pub const MAX_BATCH: usize = 256;

/// Deliveries that may wait for the writer before senders wait too.
const BACKLOG: usize = 4 * MAX_BATCH;

/// One delivery waiting for the writer, with where its answer goes.
struct Pending {
    item: IngestItem,
    answer: oneshot::Sender<Result<Ingested, StoreError>>,
}

/// The handle requests store their events through; cheap to share.
#[derive(Debug, Clone)]
pub struct IngestWriter {
    queue: mpsc::Sender<Pending>,
}

impl IngestWriter {
    /// Starts the writer task on the current runtime; it ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> IngestWriter {
        let (queue, waiting) = mpsc::channel(BACKLOG);
        tokio::spawn(write_batches(store, waiting));
        IngestWriter { queue }
    }

    /// Stores an event with its jobs, as [`Store::ingest`] does, answering once it is durable.
    pub async fn ingest(
        &self,
        event: NewInboundEvent,
        jobs: Vec<NewJob>,
    ) -> Result<Ingested, StoreError> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            item: (event, jobs),
            answer,
        };
        if self.queue.send(pending).await.is_err() {
            return Err(StoreError::Unavailable(
                "the ingest writer has stopped (the service is shutting down)".into(),
            ));
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the ingest writer stopped before answering (the service is shutting down)".into(),
            ))
        })
    }
}

/// The writer task: drains what is waiting, stores it, answers each, and again.
async fn write_batches(store: Arc<dyn Store>, mut waiting: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, answers): (Vec<IngestItem>, Vec<_>) =
            batch.drain(..).map(|p| (p.item, p.answer)).unzip();
        let size = items.len();
        let results = store.ingest_batch(items).await;
        metrics::histogram!("deskline_ingest_batch_size").record(size as f64);
        if results.len() != size {
            tracing::error!(
                size,
                answers = results.len(),
                "the store answered a batch with the wrong number of answers"
            );
        }
        let mut results = results.into_iter();
        for answer in answers {
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Unavailable(
                    "the store gave no answer for this event".into(),
                ))
            });
            // A requester that hung up gets nothing; its event is stored all the same.
            let _ = answer.send(result);
        }
    }
}
