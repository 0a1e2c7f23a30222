//! Whether this instance does the periodic work, as the election in `periodic` last saw it.
//!
//! Kept apart from `periodic` (which runs the work over the whole `AppState`) so that a worker
//! waiting for leadership imports only this, not the election.

use tokio::sync::watch;

/// Whether this instance holds the periodic-work lease, as last seen.
#[derive(Clone, Debug)]
pub struct Leadership {
    leader: watch::Receiver<bool>,
}

impl Leadership {
    /// Follows the election's published state.
    pub fn following(leader: watch::Receiver<bool>) -> Leadership {
        Leadership { leader }
    }

    /// True while this instance is the leader.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Waits until this instance is the leader; false if leadership is no longer tracked.
    pub async fn wait(&mut self) -> bool {
        self.leader.wait_for(|leader| *leader).await.is_ok()
    }
}
