//! Triggers and event subscriptions run after every ticket create and update.
//! (Being written: see the helper's task.)

use crate::change::{Outbound, TicketChange};
use crate::model::Account;

/// Runs active triggers in position order against `change` (applying their ticket actions)
/// and collects the webhook requests they and the event subscriptions produce.
pub fn after_ticket_change(
    _account: &mut Account,
    _base_url: &str,
    _account_id: u64,
    _change: &TicketChange,
) -> Vec<Outbound> {
    Vec::new()
}
