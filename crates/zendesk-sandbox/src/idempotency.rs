//! `Idempotency-Key` on ticket creation: a first request is a miss and is remembered with its
//! answer; the same key with the same body is a hit that replays the answer; the same key with
//! another body is refused; keys are forgotten after the configured time (two hours).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// A remembered answer.
#[derive(Clone, Debug)]
pub struct Remembered {
    /// Digest of the request body the key was first used with.
    pub body_digest: [u8; 32],
    /// The status first answered.
    pub status: u16,
    /// The body first answered.
    pub response: Vec<u8>,
    /// When the key was first used.
    pub stored_at: Instant,
}

/// The outcome of looking a key up.
#[derive(Debug)]
pub enum Lookup {
    /// Not seen (or expired): handle the request and remember it.
    Miss,
    /// Seen with the same body: replay this.
    Hit(Remembered),
    /// Seen with another body.
    Mismatch,
}

/// Keys remembered by the account.
#[derive(Debug, Default)]
pub struct IdempotencyCache {
    entries: HashMap<String, Remembered>,
}

/// The digest a body is compared by.
pub fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

impl IdempotencyCache {
    /// Looks `key` up for a request with `body_digest`.
    pub fn lookup(
        &mut self,
        key: &str,
        body_digest: &[u8; 32],
        ttl: Duration,
        now: Instant,
    ) -> Lookup {
        if self.entries.len() > 50_000 {
            self.entries
                .retain(|_, r| now.duration_since(r.stored_at) < ttl);
        }
        match self.entries.get(key) {
            Some(r) if now.duration_since(r.stored_at) >= ttl => {
                self.entries.remove(key);
                Lookup::Miss
            }
            Some(r) if &r.body_digest == body_digest => Lookup::Hit(r.clone()),
            Some(_) => Lookup::Mismatch,
            None => Lookup::Miss,
        }
    }

    /// Remembers the answer given for `key`.
    pub fn remember(&mut self, key: String, remembered: Remembered) {
        self.entries.insert(key, remembered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miss_then_hit_then_mismatch_then_expiry() {
        let mut cache = IdempotencyCache::default();
        let ttl = Duration::from_secs(7200);
        let t0 = Instant::now();
        let body = digest(b"{\"ticket\":{}}");
        assert!(matches!(cache.lookup("k", &body, ttl, t0), Lookup::Miss));
        cache.remember(
            "k".into(),
            Remembered {
                body_digest: body,
                status: 201,
                response: b"{}".to_vec(),
                stored_at: t0,
            },
        );
        assert!(matches!(cache.lookup("k", &body, ttl, t0), Lookup::Hit(r) if r.status == 201));
        assert!(matches!(
            cache.lookup("k", &digest(b"other"), ttl, t0),
            Lookup::Mismatch
        ));
        assert!(matches!(
            cache.lookup("k", &body, ttl, t0 + ttl),
            Lookup::Miss
        ));
    }
}
