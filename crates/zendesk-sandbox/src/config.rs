//! How a sandbox instance is set up: credentials, plan and limits, seed, timings.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::faults::FaultSettings;
use crate::seed::Seed;

/// The port `deskline sandbox` listens on when none is given.
pub const DEFAULT_PORT: u16 = 8925;
/// The email of the seeded admin whose API token deskline uses.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@sandbox.test";
/// The API token accepted when none is configured.
pub const DEFAULT_API_TOKEN: &str = "sandbox-token";

/// A Zendesk Suite plan; it sets the account-wide request budget per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Suite Team: 200 requests per minute.
    Team,
    /// Suite Growth: 400 requests per minute.
    Growth,
    /// Suite Professional: 400 requests per minute.
    Professional,
    /// Suite Enterprise: 700 requests per minute.
    Enterprise,
    /// The High Volume API add-on: 2,500 requests per minute.
    HighVolume,
}

impl Plan {
    /// Account-wide requests per minute, as in Zendesk's rate-limit table.
    pub fn requests_per_minute(self) -> u32 {
        match self {
            Plan::Team => 200,
            Plan::Growth | Plan::Professional => 400,
            Plan::Enterprise => 700,
            Plan::HighVolume => 2500,
        }
    }

    /// Ticket updates per minute across the account (300 with High Volume).
    pub fn ticket_updates_per_minute(self) -> u32 {
        match self {
            Plan::HighVolume => 300,
            _ => 100,
        }
    }

    /// The plan's name as accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Team => "team",
            Plan::Growth => "growth",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
            Plan::HighVolume => "high-volume",
        }
    }
}

impl FromStr for Plan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "team" => Ok(Plan::Team),
            "growth" => Ok(Plan::Growth),
            "professional" => Ok(Plan::Professional),
            "enterprise" => Ok(Plan::Enterprise),
            "high-volume" | "high_volume" | "highvolume" => Ok(Plan::HighVolume),
            other => Err(format!(
                "unknown plan {other:?}: expected team, growth, professional, enterprise or high-volume"
            )),
        }
    }
}

/// Everything a sandbox instance needs to start.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Email of the admin the default API token acts as.
    pub admin_email: String,
    /// The API token accepted in Basic `{email}/token:{token}` and as a Bearer token.
    pub api_token: String,
    /// The account's subdomain, used in `url` fields (`https://{subdomain}.zendesk.com` is not
    /// contacted; URLs point back at the sandbox).
    pub subdomain: String,
    /// Numeric account id, sent in webhook headers and event envelopes.
    pub account_id: u64,
    /// The plan; it sets the default account-wide budget.
    pub plan: Plan,
    /// Overrides the plan's requests per minute.
    pub rate_limit_per_minute: Option<u32>,
    /// Length of the account-wide rate-limit window (Zendesk: one minute); the budget is counted
    /// per window, so a shorter window makes rate-limit tests quick.
    pub rate_window: Duration,
    /// `POST /api/v2/users/create_or_update` requests allowed per second per account.
    pub create_or_update_per_second: u32,
    /// Updates allowed per user per ticket in ten minutes.
    pub ticket_updates_per_ticket: u32,
    /// How long an `Idempotency-Key` is remembered (Zendesk: two hours).
    pub idempotency_ttl: Duration,
    /// How long after creation a user becomes findable by `/users/search`.
    pub search_index_delay: Duration,
    /// The data the account starts with.
    pub seed: Seed,
    /// Where state is saved and restored from; in memory only when absent.
    pub state_file: Option<PathBuf>,
    /// Faults active from the start.
    pub faults: FaultSettings,
    /// How long a webhook delivery may take before it counts as timed out.
    pub webhook_timeout: Duration,
    /// Retries after a failed delivery (timeout, connection error or 5xx).
    pub webhook_retries: u32,
    /// Delay before the first delivery retry; doubled on each further retry.
    pub webhook_retry_backoff: Duration,
    /// Request-log entries kept (oldest dropped first).
    pub request_log_capacity: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            admin_email: DEFAULT_ADMIN_EMAIL.to_string(),
            api_token: DEFAULT_API_TOKEN.to_string(),
            subdomain: "sandbox".to_string(),
            account_id: 9_000_001,
            plan: Plan::Enterprise,
            rate_limit_per_minute: None,
            rate_window: Duration::from_secs(60),
            create_or_update_per_second: 1,
            ticket_updates_per_ticket: 30,
            idempotency_ttl: Duration::from_secs(2 * 60 * 60),
            search_index_delay: Duration::from_secs(5),
            seed: Seed::default_seed(),
            state_file: None,
            faults: FaultSettings::default(),
            webhook_timeout: Duration::from_secs(10),
            webhook_retries: 3,
            webhook_retry_backoff: Duration::from_secs(1),
            request_log_capacity: 100_000,
        }
    }
}

impl SandboxConfig {
    /// The account-wide budget per window actually in force.
    pub fn effective_rate_limit(&self) -> u32 {
        self.rate_limit_per_minute
            .unwrap_or_else(|| self.plan.requests_per_minute())
    }
}
