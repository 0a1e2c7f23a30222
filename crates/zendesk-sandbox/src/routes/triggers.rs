//! `/api/v2/triggers`. (Being written: see the helper's task.)

use axum::Router;

use crate::app::AppState;

/// Trigger endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
}
