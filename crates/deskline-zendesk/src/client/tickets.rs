//! Tickets: create (idempotent), create through Talk Partner Edition, find by external id,
//! show, update, and list comments.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{json_body, ZendeskClient};
use crate::budget::Endpoint;
use crate::error::ZendeskError;
use crate::types::{
    via, Comment, CreatedTicket, IdempotencyLookup, NewTicket, Ticket, TicketUpdate,
};

/// Longest `Idempotency-Key` Zendesk is known to accept.
const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Serialize)]
struct CreateBody<'a> {
    ticket: &'a NewTicket,
}

#[derive(Serialize)]
struct VoiceBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    display_to_agent: Option<u64>,
    ticket: &'a NewTicket,
}

#[derive(Serialize)]
struct UpdateBody<'a> {
    ticket: &'a TicketUpdate,
}

#[derive(Deserialize)]
struct TicketEnvelope {
    ticket: Ticket,
}

/// A request the client refuses to send, because Zendesk could only reject it.
fn not_sent(description: impl Into<String>) -> ZendeskError {
    ZendeskError::BadRequest {
        description: format!("not sent: {}", description.into()),
    }
}

impl ZendeskClient {
    /// `POST /api/v2/tickets` with an `Idempotency-Key`: the same key and body within two
    /// hours returns the first ticket (`Hit`) instead of creating another.
    pub async fn create_ticket(
        &self,
        ticket: &NewTicket,
        idempotency_key: &str,
    ) -> Result<CreatedTicket, ZendeskError> {
        if ticket.comment.is_none() {
            return Err(not_sent(
                "a new ticket needs a comment (Zendesk requires it)",
            ));
        }
        let key_ok = !idempotency_key.is_empty()
            && idempotency_key.len() <= MAX_IDEMPOTENCY_KEY
            && idempotency_key.bytes().all(|b| b.is_ascii_graphic());
        let key = match HeaderValue::from_str(idempotency_key) {
            Ok(v) if key_ok => v,
            _ => {
                return Err(not_sent(
                    "the idempotency key must be 1 to 255 visible ASCII characters",
                ))
            }
        };
        let body = json_body(&CreateBody { ticket }, "POST /api/v2/tickets")?;
        let answer = self
            .send(
                Method::POST,
                self.url("/api/v2/tickets"),
                Endpoint::General,
                Some(body),
                Some((HeaderName::from_static("idempotency-key"), key)),
            )
            .await?;
        let idempotency = answer
            .headers
            .get("x-idempotency-lookup")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                "hit" => Some(IdempotencyLookup::Hit),
                "miss" => Some(IdempotencyLookup::Miss),
                _ => None,
            });
        let envelope: TicketEnvelope = answer.json()?;
        tracing::debug!(
            ticket_id = envelope.ticket.id,
            status = answer.status,
            ?idempotency,
            "Zendesk ticket created"
        );
        Ok(CreatedTicket {
            ticket: envelope.ticket,
            idempotency,
        })
    }

    /// `POST /api/v2/channels/voice/tickets` (Talk Partner Edition): `via_id` must be 44
    /// (voicemail, with a `voice_comment`), 45 or 46; `display_to_agent` pops the ticket in
    /// that agent's browser.
    ///
    /// Not idempotent on Zendesk's side: before retrying after an unclear failure, look the
    /// ticket up with [`ZendeskClient::tickets_by_external_id`].
    pub async fn create_voice_ticket(
        &self,
        ticket: &NewTicket,
        display_to_agent: Option<u64>,
    ) -> Result<Ticket, ZendeskError> {
        match ticket.via_id {
            Some(via::VOICEMAIL) if ticket.voice_comment.is_none() => {
                return Err(not_sent(
                    "a voicemail ticket (via_id 44) needs a voice_comment",
                ))
            }
            Some(via::VOICEMAIL | via::PHONE_CALL_INBOUND | via::PHONE_CALL_OUTBOUND) => {}
            _ => {
                return Err(not_sent(
                    "a voice ticket needs via_id 44 (voicemail), 45 (inbound) or 46 (outbound)",
                ))
            }
        }
        let body = VoiceBody {
            display_to_agent,
            ticket,
        };
        self.send_json(
            Method::POST,
            "/api/v2/channels/voice/tickets",
            Endpoint::General,
            &body,
        )
        .await?
        .json::<TicketEnvelope>()
        .map(|e| e.ticket)
    }

    /// Every ticket with this external id (not unique on Zendesk; archived tickets excluded).
    pub async fn tickets_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Vec<Ticket>, ZendeskError> {
        let mut url = self.cursor_url("/api/v2/tickets");
        url.query_pairs_mut()
            .append_pair("external_id", external_id);
        self.list_all(url, "tickets").await
    }

    /// `GET /api/v2/tickets/{id}`.
    pub async fn show_ticket(&self, id: u64) -> Result<Ticket, ZendeskError> {
        let url = self.url(&format!("/api/v2/tickets/{id}"));
        Ok(self.get_json::<TicketEnvelope>(url).await?.ticket)
    }

    /// `PUT /api/v2/tickets/{id}`: changes what `update` sets, optionally adding a comment.
    pub async fn update_ticket(
        &self,
        id: u64,
        update: &TicketUpdate,
    ) -> Result<Ticket, ZendeskError> {
        let path = format!("/api/v2/tickets/{id}");
        let mut body = serde_json::to_value(UpdateBody { ticket: update }).map_err(|e| {
            ZendeskError::BadRequest {
                description: format!("not sent: cannot encode the body of {path}: {e}"),
            }
        })?;
        if update.unassign {
            // `null` is how Zendesk clears a field; the typed field can only set one.
            body["ticket"]["assignee_id"] = serde_json::Value::Null;
        }
        self.send_json(Method::PUT, &path, Endpoint::TicketUpdate, &body)
            .await?
            .json::<TicketEnvelope>()
            .map(|e| e.ticket)
    }

    /// Every comment of a ticket, oldest first.
    pub async fn list_comments(&self, ticket_id: u64) -> Result<Vec<Comment>, ZendeskError> {
        let url = self.cursor_url(&format!("/api/v2/tickets/{ticket_id}/comments"));
        self.list_all(url, "comments").await
    }
}
