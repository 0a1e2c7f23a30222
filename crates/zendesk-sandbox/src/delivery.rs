//! Sends webhook requests, signed as Zendesk signs them, with timeouts and retries, and keeps
//! an activity log. (Being written: see the helper's task.)

use crate::app::AppState;
use crate::change::Outbound;

/// Every delivery and its attempts.
#[derive(Debug, Default)]
pub struct DeliveryLog {}

/// Sends each request in the background.
pub fn dispatch(_state: &AppState, _outbound: Vec<Outbound>) {}
