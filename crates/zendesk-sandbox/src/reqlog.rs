//! The request log: one entry per request the sandbox received, read by tests and benchmarks
//! (for example to count Zendesk requests per ticket, or to check `Retry-After` was honoured).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One request as the sandbox saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestEntry {
    /// Position in the log, increasing from 1; use it with `?since=`.
    pub seq: u64,
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The status answered; 0 when the connection was dropped.
    pub status: u16,
    /// `hit` or `miss` when an `Idempotency-Key` was looked up.
    pub idempotency_lookup: Option<String>,
    /// Time spent answering, in milliseconds.
    pub duration_ms: u64,
    /// The fault injected, if any: `latency`, `server_error`, `dropped`, `storm`.
    pub fault: Option<&'static str>,
    /// `Retry-After` sent with a 429, in seconds.
    pub retry_after: Option<u64>,
}

/// A bounded log of requests, oldest first.
#[derive(Debug)]
pub struct RequestLog {
    entries: VecDeque<RequestEntry>,
    capacity: usize,
    next_seq: u64,
}

impl RequestLog {
    /// A log keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> RequestLog {
        RequestLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
        }
    }

    /// Appends an entry, numbering it.
    pub fn push(&mut self, mut entry: RequestEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Entries with a sequence number above `since`.
    pub fn since(&self, since: u64) -> Vec<RequestEntry> {
        self.entries
            .iter()
            .filter(|e| e.seq > since)
            .cloned()
            .collect()
    }

    /// Forgets every entry (numbering continues).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> RequestEntry {
        RequestEntry {
            seq: 0,
            at: Utc::now(),
            method: "GET".into(),
            path: path.into(),
            status: 200,
            idempotency_lookup: None,
            duration_ms: 0,
            fault: None,
            retry_after: None,
        }
    }

    #[test]
    fn keeps_the_newest_entries_and_numbers_them() {
        let mut log = RequestLog::new(2);
        for p in ["/a", "/b", "/c"] {
            log.push(entry(p));
        }
        let all = log.since(0);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].path, "/b");
        assert_eq!(all[1].seq, 3);
        assert_eq!(log.since(2).len(), 1);
    }
}
