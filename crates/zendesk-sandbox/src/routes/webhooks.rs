//! `/api/v2/webhooks`. (Being written: see the helper's task.)

use axum::Router;

use crate::app::AppState;

/// Webhook endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
}
