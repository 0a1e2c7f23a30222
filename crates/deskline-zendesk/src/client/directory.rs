//! The account's directory besides users: groups, group memberships and ticket fields.

use super::ZendeskClient;
use crate::error::ZendeskError;
use crate::types::{Group, GroupMembership, TicketField};

impl ZendeskClient {
    /// Every group.
    pub async fn list_groups(&self) -> Result<Vec<Group>, ZendeskError> {
        self.list_all(self.cursor_url("/api/v2/groups"), "groups")
            .await
    }

    /// Every agent-to-group membership.
    pub async fn list_group_memberships(&self) -> Result<Vec<GroupMembership>, ZendeskError> {
        self.list_all(
            self.cursor_url("/api/v2/group_memberships"),
            "group_memberships",
        )
        .await
    }

    /// Every ticket field definition (system and custom).
    pub async fn list_ticket_fields(&self) -> Result<Vec<TicketField>, ZendeskError> {
        self.list_all(self.cursor_url("/api/v2/ticket_fields"), "ticket_fields")
            .await
    }
}
