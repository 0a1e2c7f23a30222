//! Business rules that call deskline: webhooks (list, create, replace, delete, signing secret)
//! and ticket triggers (list, create, update, delete).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::ZendeskClient;
use crate::budget::Endpoint;
use crate::config::Secret;
use crate::error::ZendeskError;
use crate::types::{NewTrigger, NewWebhook, SigningSecret, Trigger, Webhook};

#[derive(Serialize)]
struct WebhookBody<'a> {
    webhook: &'a NewWebhook,
}

#[derive(Deserialize)]
struct WebhookEnvelope {
    webhook: Webhook,
}

#[derive(Serialize)]
struct TriggerBody<'a> {
    trigger: &'a NewTrigger,
}

#[derive(Deserialize)]
struct TriggerEnvelope {
    trigger: Trigger,
}

#[derive(Deserialize)]
struct SecretEnvelope {
    signing_secret: SecretBody,
}

#[derive(Deserialize)]
struct SecretBody {
    #[serde(default)]
    algorithm: Option<String>,
    secret: String,
}

/// The path of one webhook. Ids come from Zendesk or from deskline's store, so one that could
/// change the path (a `/`, `..`, `?`) is refused rather than sent.
fn webhook_path(id: &str, suffix: &str) -> Result<String, ZendeskError> {
    let safe = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !safe {
        return Err(ZendeskError::BadRequest {
            description: format!("not sent: {id:?} is not a webhook id"),
        });
    }
    Ok(format!("/api/v2/webhooks/{id}{suffix}"))
}

impl ZendeskClient {
    /// Every webhook of the account, following cursor pages to the end.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, ZendeskError> {
        self.list_all(self.cursor_url("/api/v2/webhooks"), "webhooks")
            .await
    }

    /// `POST /api/v2/webhooks`: creates a webhook (it gets a new signing secret).
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook, ZendeskError> {
        let body = WebhookBody { webhook };
        self.send_json(Method::POST, "/api/v2/webhooks", Endpoint::General, &body)
            .await?
            .json::<WebhookEnvelope>()
            .map(|e| e.webhook)
    }

    /// `PUT /api/v2/webhooks/{id}`: replaces the webhook's definition (Zendesk answers 204
    /// without a body). The connection method (triggers or event types) cannot change.
    pub async fn update_webhook(&self, id: &str, webhook: &NewWebhook) -> Result<(), ZendeskError> {
        let path = webhook_path(id, "")?;
        let body = WebhookBody { webhook };
        self.send_json(Method::PUT, &path, Endpoint::General, &body)
            .await
            .map(drop)
    }

    /// `DELETE /api/v2/webhooks/{id}`. A missing webhook is `NotFound`.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), ZendeskError> {
        let path = webhook_path(id, "")?;
        self.send(
            Method::DELETE,
            self.url(&path),
            Endpoint::General,
            None,
            None,
        )
        .await
        .map(drop)
    }

    /// `GET /api/v2/webhooks/{id}/signing_secret`: the key Zendesk signs its deliveries with.
    pub async fn webhook_signing_secret(&self, id: &str) -> Result<SigningSecret, ZendeskError> {
        let path = webhook_path(id, "/signing_secret")?;
        let envelope: SecretEnvelope = self.get_json(self.url(&path)).await?;
        if envelope.signing_secret.secret.is_empty() {
            return Err(ZendeskError::Decode {
                reason: format!("GET {path}: the signing secret is empty"),
            });
        }
        Ok(SigningSecret {
            algorithm: envelope.signing_secret.algorithm,
            secret: Secret::new(envelope.signing_secret.secret),
        })
    }

    /// Every ticket trigger of the account (active or not), following pages to the end.
    pub async fn list_triggers(&self) -> Result<Vec<Trigger>, ZendeskError> {
        self.list_all(self.cursor_url("/api/v2/triggers"), "triggers")
            .await
    }

    /// `POST /api/v2/triggers`: creates a trigger; it runs after the existing ones.
    pub async fn create_trigger(&self, trigger: &NewTrigger) -> Result<Trigger, ZendeskError> {
        let body = TriggerBody { trigger };
        self.send_json(Method::POST, "/api/v2/triggers", Endpoint::General, &body)
            .await?
            .json::<TriggerEnvelope>()
            .map(|e| e.trigger)
    }

    /// `PUT /api/v2/triggers/{id}`: sets what `trigger` holds, replacing all conditions and
    /// actions; the position is kept.
    pub async fn update_trigger(
        &self,
        id: u64,
        trigger: &NewTrigger,
    ) -> Result<Trigger, ZendeskError> {
        let path = format!("/api/v2/triggers/{id}");
        let body = TriggerBody { trigger };
        self.send_json(Method::PUT, &path, Endpoint::General, &body)
            .await?
            .json::<TriggerEnvelope>()
            .map(|e| e.trigger)
    }

    /// `DELETE /api/v2/triggers/{id}`. A missing trigger is `NotFound`.
    pub async fn delete_trigger(&self, id: u64) -> Result<(), ZendeskError> {
        let path = format!("/api/v2/triggers/{id}");
        self.send(
            Method::DELETE,
            self.url(&path),
            Endpoint::General,
            None,
            None,
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids_cannot_change_the_path() {
        assert_eq!(
            webhook_path("01FMJQSY40HZBCBVPZB9212S8V", "/signing_secret").ok(),
            Some("/api/v2/webhooks/01FMJQSY40HZBCBVPZB9212S8V/signing_secret".to_string())
        );
        for bad in ["", "../tickets", "a/b", "a?b=1", "a b", &"x".repeat(65)] {
            assert!(webhook_path(bad, "").is_err(), "{bad}");
        }
    }
}
