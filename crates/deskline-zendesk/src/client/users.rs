//! Users: search (and by phone), create-or-update, show, me, and the staff list; and a
//! user's organization.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::ZendeskClient;
use crate::budget::Endpoint;
use crate::error::ZendeskError;
use crate::types::{NewUser, Organization, User};

#[derive(Serialize)]
struct UserBody<'a> {
    user: &'a NewUser,
}

#[derive(Deserialize)]
struct UserEnvelope {
    user: User,
}

#[derive(Deserialize)]
struct OrganizationEnvelope {
    organization: Organization,
}

/// `+` and the digits of a phone number, so `+1 (555) 123-4567` equals `+15551234567`.
fn canonical_phone(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let rest = trimmed.strip_prefix('+')?;
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let only_separators = rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'));
    (only_separators && !digits.is_empty()).then(|| format!("+{digits}"))
}

/// Whether `s` is an E.164 number: `+` then 6 to 15 digits, nothing else.
fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (6..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

impl ZendeskClient {
    /// `GET /api/v2/users/search?query=…`, every page (Zendesk caps it at 10,000 users).
    ///
    /// Zendesk's search index lags by up to a few minutes: a user created moments ago may be
    /// missing.
    pub async fn search_users(&self, query: &str) -> Result<Vec<User>, ZendeskError> {
        let mut url = self.url("/api/v2/users/search");
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("per_page", &self.inner.page_size.to_string());
        self.list_all(url, "users").await
    }

    /// Users whose primary phone is exactly `e164` (searched with `phone:`, then filtered
    /// here because Zendesk's search also matches partial and secondary numbers).
    pub async fn find_users_by_phone(&self, e164: &str) -> Result<Vec<User>, ZendeskError> {
        if !is_e164(e164) {
            return Err(ZendeskError::BadRequest {
                description: "not sent: the phone number must be E.164, like +15551234567".into(),
            });
        }
        let found = self.search_users(&format!("phone:{e164}")).await?;
        Ok(found
            .into_iter()
            .filter(|u| u.phone.as_deref().and_then(canonical_phone).as_deref() == Some(e164))
            .collect())
    }

    /// `POST /api/v2/users/create_or_update`: matches by email or external id; returns the user
    /// and whether it was created (201) rather than updated (200). Waits for the endpoint's
    /// own limit (1 per second per account).
    pub async fn create_or_update_user(
        &self,
        user: &NewUser,
    ) -> Result<(User, bool), ZendeskError> {
        let answer = self
            .send_json(
                Method::POST,
                "/api/v2/users/create_or_update",
                Endpoint::CreateOrUpdateUser,
                &UserBody { user },
            )
            .await?;
        let created = answer.status == 201;
        Ok((answer.json::<UserEnvelope>()?.user, created))
    }

    /// `GET /api/v2/users/{id}`.
    pub async fn show_user(&self, id: u64) -> Result<User, ZendeskError> {
        let url = self.url(&format!("/api/v2/users/{id}"));
        Ok(self.get_json::<UserEnvelope>(url).await?.user)
    }

    /// `GET /api/v2/organizations/{id}`: a user's organization, with its custom fields.
    pub async fn show_organization(&self, id: u64) -> Result<Organization, ZendeskError> {
        let url = self.url(&format!("/api/v2/organizations/{id}"));
        Ok(self
            .get_json::<OrganizationEnvelope>(url)
            .await?
            .organization)
    }

    /// `GET /api/v2/users/me`: the user the API token acts as (a credentials check).
    pub async fn me(&self) -> Result<User, ZendeskError> {
        let url = self.url("/api/v2/users/me");
        Ok(self.get_json::<UserEnvelope>(url).await?.user)
    }

    /// Every agent and admin, following cursor pages to the end.
    pub async fn list_staff(&self) -> Result<Vec<User>, ZendeskError> {
        let mut url = self.url("/api/v2/users");
        url.query_pairs_mut()
            .append_pair("role[]", "agent")
            .append_pair("role[]", "admin")
            .append_pair("page[size]", &self.inner.page_size.to_string());
        self.list_all(url, "users").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(
            canonical_phone("+1 (555) 123-4567").as_deref(),
            Some("+15551234567")
        );
        assert_eq!(
            canonical_phone("+919876543210").as_deref(),
            Some("+919876543210")
        );
        assert_eq!(canonical_phone("5551234567"), None);
        assert_eq!(canonical_phone("+1 555 ext 12"), None);
        assert!(is_e164("+15551234567"));
        for bad in [
            "15551234567",
            "+1555",
            "+1 555 123 4567",
            "+0123456789",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
