//! Request and response bodies, with field names exactly as the Zendesk API spells them.
//!
//! Requests leave out what is unset (`skip_serializing_if`) so a create never clears a field
//! by accident. Responses are tolerant: unknown fields are ignored, `null` is accepted wherever
//! the live API sends it, and an unknown enum value or odd timestamp does not fail a whole page.

mod organization;
mod request;
mod response;
mod rules;

use serde::{Deserialize, Serialize};

pub use organization::Organization;
pub use request::*;
pub use response::*;
pub use rules::*;

/// A ticket's status (the status category when custom statuses are active).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    /// Not yet assigned or opened.
    New,
    /// Being worked on.
    Open,
    /// Waiting for the requester.
    Pending,
    /// Waiting for a third party.
    Hold,
    /// Answered; closes automatically later.
    Solved,
    /// Archived; cannot be reopened or updated.
    Closed,
    /// A value this client does not know; never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// A ticket's priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Most urgent.
    Urgent,
    /// High.
    High,
    /// Normal.
    Normal,
    /// Low.
    Low,
    /// A value this client does not know; never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// A ticket's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketType {
    /// A problem other incidents can link to.
    Problem,
    /// An incident (possibly of a problem).
    Incident,
    /// A question.
    Question,
    /// A task with a due date.
    Task,
    /// A value this client does not know; never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserRole {
    /// A customer.
    #[serde(rename = "end-user")]
    EndUser,
    /// A staff member who works tickets.
    #[serde(rename = "agent")]
    Agent,
    /// A staff member who also administers the account.
    #[serde(rename = "admin")]
    Admin,
    /// A value this client does not know; never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// Via ids the Talk Partner Edition endpoint accepts (`ticket.via_id`).
pub mod via {
    /// Voicemail (`api_voicemail`); needs a `voice_comment`.
    pub const VOICEMAIL: u32 = 44;
    /// Inbound phone call (`api_phone_call_inbound`).
    pub const PHONE_CALL_INBOUND: u32 = 45;
    /// Outbound phone call (`api_phone_call_outbound`).
    pub const PHONE_CALL_OUTBOUND: u32 = 46;
    /// Web service: how Zendesk marks every change made through the API.
    pub const WEB_SERVICE: u32 = 5;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_ticket_sends_only_what_is_set_and_always_public() {
        let t = NewTicket {
            comment: Some(NewComment::private_text("Missed call")),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&t).ok(),
            Some(json!({"comment": {"body": "Missed call", "public": false}}))
        );
        let t = NewTicket {
            subject: Some("Call".into()),
            comment: Some(NewComment::private_html("<p>x</p>")),
            ticket_type: Some(TicketType::Question),
            status: Some(TicketStatus::Open),
            custom_fields: vec![CustomField::new(10001, "CA1")],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&t).ok(),
            Some(
                json!({"subject": "Call", "comment": {"html_body": "<p>x</p>", "public": false},
                "type": "question", "status": "open",
                "custom_fields": [{"id": 10001, "value": "CA1"}]})
            )
        );
    }

    #[test]
    fn unknown_enum_values_are_read_but_never_sent() {
        let t: Ticket = serde_json::from_value(json!({"id": 1, "status": "archived",
            "priority": null, "tags": null, "custom_fields": null, "via": {"channel": 5},
            "created_at": "not a time", "updated_at": "2026-05-01T10:00:00Z", "extra": 1}))
        .unwrap_or_default();
        assert_eq!(t.id, 1);
        assert_eq!(t.status, Some(TicketStatus::Unknown));
        assert!(t.tags.is_empty() && t.created_at.is_none() && t.updated_at.is_some());
        assert_eq!(t.via.and_then(|v| v.channel).as_deref(), Some("5"));
        let update = TicketUpdate {
            status: Some(TicketStatus::Unknown),
            ..Default::default()
        };
        assert!(serde_json::to_value(&update).is_err());
    }

    #[test]
    fn users_tolerate_nulls() {
        let u: User = serde_json::from_value(json!({"id": 7, "name": "Caller", "email": null,
            "role": "end-user", "user_fields": null, "active": null, "external_id": 12}))
        .unwrap_or_default();
        assert_eq!(u.id, 7);
        assert_eq!(u.role, Some(UserRole::EndUser));
        assert_eq!(u.external_id.as_deref(), Some("12"));
        assert!(u.user_fields.is_empty() && !u.active);
    }
}
