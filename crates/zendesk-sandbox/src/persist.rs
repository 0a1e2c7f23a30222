//! Saving the account to a file so a restarted sandbox keeps its tickets.

use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::AppState;
use crate::model::Account;

/// Reads a saved account; `Ok(None)` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Account>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("not a sandbox state file: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes the account now (to a temporary file, then renamed, so a crash leaves the old copy).
pub async fn save_now(state: &AppState) {
    let Some(path) = state.config.state_file.clone() else {
        return;
    };
    let text = {
        let account = state.lock_account();
        match serde_json::to_string(&*account) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise sandbox state");
                return;
            }
        }
    };
    let tmp = path.with_extension("tmp");
    let written = async {
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await
    }
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, path = %path.display(), "cannot save sandbox state");
    }
}

/// Saves every half second while something changed, until stopped.
pub async fn save_periodically(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if state.take_dirty() {
            save_now(&state).await;
        }
    }
}
