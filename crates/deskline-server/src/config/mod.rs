//! Configuration: embedded defaults, then a TOML file, then `DESKLINE_*` environment variables
//! (`DESKLINE_ZENDESK__API_TOKEN` sets `zendesk.api_token`). See docs/configuration.md.

mod error;
mod handoff;
mod listener;
mod load;
mod recordings;
mod storage;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deskline_core::hours::{AfterHours, BusinessHours};
use deskline_core::plan::{AnsweringAgent, CallFields, GroupRef};
use deskline_core::sources::generic::GenericMapping;
use deskline_core::threading::ThreadingPolicy;
use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Problem};
pub use handoff::{
    Assignee, Connector, ConnectorConfig, Connectors, HandoffConfig, HandoffSettings,
};
pub use load::{load_resolved, read, source_names, Loaded, Scope};
pub use recordings::{
    MyOperatorPull, RecordingsConfig, ResolvedRecordings, DEFAULT_MYOPERATOR_API_URL,
};
pub use storage::{check_storage, Storage};
pub use validate::{resolve, validate, Purpose, Resolved, ResolvedSource, ZendeskTarget};

/// The whole configuration file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP listener.
    pub server: ServerConfig,
    /// Where events and jobs are kept.
    pub storage: StorageConfig,
    /// The Zendesk account.
    pub zendesk: ZendeskConfig,
    /// The job workers.
    pub worker: WorkerConfig,
    /// The agent directory.
    pub directory: DirectoryConfig,
    /// How long finished work is kept.
    pub retention: RetentionConfig,
    /// Named event sources; each receives at `POST /hooks/{name}`.
    pub sources: BTreeMap<String, SourceConfig>,
    /// Named outbound connectors that deliver agents' replies to conversation channels.
    pub connectors: BTreeMap<String, ConnectorConfig>,
}

/// `[server]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL providers reach deskline at, for the printed webhook URLs.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Bearer token for `/admin/*`; generated and kept in the data directory when absent.
    pub admin_token: Option<String>,
    /// Key signing deskline's recording links (at least 32 bytes); generated and kept in the
    /// data directory when absent.
    pub recording_link_key: Option<String>,
    /// Largest body of a request whose proof of origin is inside the body (Twilio and Zendesk
    /// signatures, Aircall's token), so it must be read before it is trusted.
    pub signed_max_body_bytes: usize,
    /// Time from a request's first byte to the end of its headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time from the end of a request's headers to the end of its body.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long a connection may wait for its next request (or its first).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_body_bytes: 256 * 1024,
            admin_token: None,
            recording_link_key: None,
            signed_max_body_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
        }
    }
}

/// `[storage]` (its `Debug` form masks the URL's password: see `storage.rs`)
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The SQLite database file (created with its directory when missing); used unless `url`
    /// is set. Its directory also keeps the generated secrets.
    pub sqlite_path: PathBuf,
    /// A PostgreSQL database, `postgres://user:password@host:5432/database`, instead of the
    /// SQLite file: for several instances on one database.
    pub url: Option<String>,
    /// How long a write waits for another writer before the request is answered 503.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
}

impl StorageConfig {
    /// The SQLite store's tuning for this configuration.
    pub fn sqlite_options(&self) -> deskline_store::SqliteOptions {
        deskline_store::SqliteOptions {
            busy_timeout: self.busy_timeout,
            ..deskline_store::SqliteOptions::default()
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            sqlite_path: PathBuf::from("deskline-data/deskline.db"),
            url: None,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// `[zendesk]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZendeskConfig {
    /// Run the built-in Zendesk sandbox in-process and use it.
    pub sandbox: bool,
    /// Any base URL (a sandbox, a test double); overrides `subdomain`.
    pub url: Option<String>,
    /// The account's subdomain: `acme` for https://acme.zendesk.com.
    pub subdomain: Option<String>,
    /// Email of the agent deskline acts as.
    pub email: Option<String>,
    /// API token (Admin Center → Apps and integrations → APIs → Zendesk API).
    pub api_token: Option<String>,
    /// `team`, `growth`, `professional`, `enterprise` or `high-volume`.
    pub plan: String,
    /// Overrides the plan's requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Ticket updates per minute (Zendesk limits them apart: 100, or 300 with High Volume).
    pub ticket_updates_per_minute: Option<u32>,
    /// Timeout of one Zendesk request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The signing secret of the webhook Zendesk calls deskline with; when absent, the one
    /// stored by provisioning is used, and with neither, Zendesk webhooks are refused.
    pub webhook_secret: Option<String>,
    /// How far a Zendesk webhook's signature timestamp may be from now (replay protection).
    #[serde(with = "humantime_serde")]
    pub webhook_max_skew: Duration,
    /// How long after Zendesk creates a voice ticket deskline keeps looking for the AI phone
    /// session it belongs to (an AI may register the call just after the ticket exists).
    #[serde(with = "humantime_serde")]
    pub voice_session_wait: Duration,
    /// Zendesk requests in a row, across jobs and checks, that get no answer (refused,
    /// timed out, dropped) or a 5xx before deskline treats Zendesk as out: the queue pauses and
    /// no job spends an attempt until Zendesk answers again.
    pub outage_after_failures: u32,
    /// While Zendesk is out (or unreachable at start), the first wait before trying again;
    /// doubled after each failed try.
    #[serde(with = "humantime_serde")]
    pub outage_first_probe: Duration,
    /// The longest wait between tries while Zendesk is out.
    #[serde(with = "humantime_serde")]
    pub outage_max_probe: Duration,
    /// While the account does not fit the configuration (a rejected token, a missing field or
    /// group), how often it is checked again; the queue stays paused until a check passes.
    #[serde(with = "humantime_serde")]
    pub recheck_interval: Duration,
}

impl Default for ZendeskConfig {
    fn default() -> Self {
        ZendeskConfig {
            sandbox: false,
            url: None,
            subdomain: None,
            email: None,
            api_token: None,
            plan: "enterprise".to_string(),
            requests_per_minute: None,
            ticket_updates_per_minute: None,
            timeout: Duration::from_secs(30),
            webhook_secret: None,
            webhook_max_skew: Duration::from_secs(300),
            voice_session_wait: Duration::from_secs(120),
            outage_after_failures: 5,
            outage_first_probe: Duration::from_secs(5),
            outage_max_probe: Duration::from_secs(300),
            recheck_interval: Duration::from_secs(30),
        }
    }
}

/// `[worker]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Attempts before a job goes to the dead letter.
    pub max_attempts: u32,
    /// First retry delay; doubled on each attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_cap: Duration,
    /// A running job's lease: its worker renews it every third of this while the job runs,
    /// and the jobs of an instance that stopped renewing are taken over once it lapses. The
    /// periodic work's leader lease lasts as long.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Replaced by `lease`; kept only to point an older configuration at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescue_after: Option<String>,
    /// How often idle workers look for new jobs.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 4,
            max_attempts: 12,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(600),
            lease: Duration::from_secs(20),
            rescue_after: None,
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// `[directory]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// How often agents and groups are synced from Zendesk.
    #[serde(with = "humantime_serde")]
    pub sync_interval: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            sync_interval: Duration::from_secs(600),
        }
    }
}

/// `[retention]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Completed and cancelled jobs, their attempts and the raw bodies of events all of whose
    /// jobs are gone are removed this long after they finished. Dead letters stay.
    #[serde(with = "humantime_serde")]
    pub period: Duration,
    /// How often the elected instance prunes.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Rows removed per transaction, so pruning never holds the write lock for long.
    pub batch: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            period: Duration::from_secs(30 * 24 * 3600),
            interval: Duration::from_secs(600),
            batch: 500,
        }
    }
}

/// What kind of events a source sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// MyOperator calling webhooks (After-Call, In-Call, Disposition, v2).
    Myoperator,
    /// Twilio voice status callbacks; `secret` is the account's auth token.
    Twilio,
    /// Aircall call webhooks; `secret` is the webhook's token.
    Aircall,
    /// Exotel status callbacks and applet requests.
    Exotel,
    /// Any provider, mapped by `[sources.NAME.mapping]` (see docs/providers/generic.md).
    Generic,
    /// AI agent or chat widget handoffs (see docs/handoff.md).
    Handoff,
}

/// `[sources.NAME]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The provider.
    pub kind: SourceKind,
    /// Shared secret the provider sends in `secret_header`, or as the Basic auth password.
    pub secret: Option<String>,
    /// Header carrying the secret.
    #[serde(default = "default_secret_header")]
    pub secret_header: String,
    /// Region for numbers without a country code (ISO code, e.g. `IN`).
    #[serde(default = "default_region")]
    pub default_region: String,
    /// Time zone for times in notes (IANA name, e.g. `Asia/Kolkata`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Group for missed calls and for calls whose agent is not in Zendesk (name or id).
    #[serde(default = "default_fallback_group")]
    pub fallback_group: GroupRef,
    /// Use the Talk Partner Edition voice endpoint.
    #[serde(default)]
    pub talk_partner_edition: bool,
    /// Make the call note public (it is private by default).
    #[serde(default)]
    pub public_note: bool,
    /// Subject template (Jinja).
    pub subject_template: Option<String>,
    /// Note template (Jinja).
    pub note_template: Option<String>,
    /// Extra tags on every ticket.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom field ids.
    #[serde(default)]
    pub fields: CallFields,
    /// Requester for withheld and unrecognised numbers.
    #[serde(default)]
    pub shared_requester: SharedRequesterConfig,
    /// First or last answering agent of a transferred call.
    #[serde(default)]
    pub answering_agent: AnsweringAgent,
    /// Agent numbers or extensions as the provider sends them → Zendesk agent emails.
    #[serde(default)]
    pub agent_numbers: BTreeMap<String, String>,
    /// Open the ticket when the call starts ringing (needs In-Call or ringing events) and
    /// complete it when the call ends; still one ticket per call.
    #[serde(default)]
    pub open_ticket_on_ring: bool,
    /// Ticket field for disposition names (text).
    pub disposition_field: Option<u64>,
    /// For `kind = "generic"`: where the call's data is in the provider's payload.
    pub mapping: Option<GenericMapping>,
    /// Opening hours (for after-hours handling of missed calls).
    pub business_hours: Option<BusinessHours>,
    /// What happens to a missed call outside business hours.
    pub after_hours: Option<AfterHours>,
    /// One ticket per call (default), per caller within a window, or missed calls rolled up.
    #[serde(default)]
    pub threading: ThreadingPolicy,
    /// Which recording link tickets get: the provider's (default) or deskline's stable one.
    #[serde(default)]
    pub recordings: RecordingsConfig,
    /// For `kind = "handoff"`: how handoffs become tickets.
    pub handoff: Option<HandoffConfig>,
}

/// `[sources.NAME.shared_requester]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedRequesterConfig {
    /// Its email.
    pub email: String,
    /// Its name.
    pub name: String,
}

impl Default for SharedRequesterConfig {
    fn default() -> Self {
        SharedRequesterConfig {
            email: "unknown-caller@deskline.invalid".to_string(),
            name: "Unknown caller".to_string(),
        }
    }
}

fn default_secret_header() -> String {
    "X-Deskline-Secret".to_string()
}
fn default_region() -> String {
    "IN".to_string()
}
fn default_time_zone() -> String {
    "UTC".to_string()
}
fn default_fallback_group() -> GroupRef {
    GroupRef::Name("Voice-Missed-Calls".to_string())
}

impl SourceConfig {
    /// A MyOperator source with defaults.
    pub fn myoperator(secret: Option<String>) -> SourceConfig {
        SourceConfig {
            kind: SourceKind::Myoperator,
            secret,
            secret_header: default_secret_header(),
            default_region: default_region(),
            time_zone: default_time_zone(),
            fallback_group: default_fallback_group(),
            talk_partner_edition: false,
            public_note: false,
            subject_template: None,
            note_template: None,
            tags: Vec::new(),
            fields: CallFields::default(),
            shared_requester: SharedRequesterConfig::default(),
            answering_agent: AnsweringAgent::default(),
            agent_numbers: BTreeMap::new(),
            open_ticket_on_ring: false,
            disposition_field: None,
            mapping: None,
            business_hours: None,
            after_hours: None,
            threading: ThreadingPolicy::default(),
            recordings: RecordingsConfig::default(),
            handoff: None,
        }
    }
}

impl Config {
    /// The embedded defaults: the in-process sandbox, a SQLite file, one MyOperator source
    /// mapped to the sandbox's seeded call fields, and one handoff source (`assistant`).
    pub fn embedded() -> Config {
        let mut source = SourceConfig::myoperator(None);
        source.time_zone = "Asia/Kolkata".to_string();
        source.fields = CallFields {
            call_id: Some(10001),
            direction: Some(10002),
            duration: Some(10003),
            recording_url: Some(10004),
            caller_number: Some(10005),
        };
        let mut sources = BTreeMap::new();
        sources.insert("myoperator".to_string(), source);
        // An AI agent or chat widget can be tried locally too (`deskline test-handoff`).
        let mut assistant = SourceConfig::myoperator(None);
        assistant.kind = SourceKind::Handoff;
        assistant.handoff = Some(HandoffConfig::default());
        sources.insert("assistant".to_string(), assistant);
        Config {
            zendesk: ZendeskConfig {
                sandbox: true,
                ..ZendeskConfig::default()
            },
            sources,
            ..Config::default()
        }
    }

    /// Reads the whole configuration: embedded defaults when `file` is `None`, else the file;
    /// then the `DESKLINE_*` environment on top. Every unknown key and every value of the wrong
    /// type is reported at once.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let loaded = read(file, Scope::All)?;
        if loaded.unknown_keys.is_empty() {
            Ok(loaded.config)
        } else {
            Err(ConfigError {
                problems: loaded.unknown_keys,
            })
        }
    }
}
