//! Commands that talk to a running deskline: `test-call`, `jobs`, `agents`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::serve_cmd;
use deskline_server::config::SourceKind;

/// Where the running service is and how to authenticate; from the same configuration.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The configuration the service runs with (none: embedded defaults).
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The service's base URL (default: from the configuration).
    #[arg(long, global = true)]
    pub url: Option<String>,
}

/// A running deskline, as the configuration describes it, with an admin-authenticated client.
pub(crate) struct Connection {
    pub(crate) url: String,
    admin_token: String,
    pub(crate) http: reqwest::Client,
    pub(crate) resolved: deskline_server::config::Resolved,
}

impl Connection {
    /// Reads the configuration (and generated secrets) the service runs with.
    pub(crate) fn open(target: &Target) -> anyhow::Result<Connection> {
        let resolved = serve_cmd::load(target.config.as_deref())?;
        let secrets = serve_cmd::secrets(&resolved)?;
        let admin_token = resolved
            .config
            .server
            .admin_token
            .clone()
            .unwrap_or(secrets.admin_token);
        Ok(Connection {
            url: target
                .url
                .clone()
                .unwrap_or_else(|| serve_cmd::service_url(&resolved))
                .trim_end_matches('/')
                .to_string(),
            admin_token,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            resolved,
        })
    }

    /// Posts `payload` to `source`'s hook with its secret (configured or generated), as the
    /// provider would; a refusal is an error with deskline's message.
    pub(crate) async fn post_to_source(
        &self,
        source: &deskline_server::config::ResolvedSource,
        payload: &Value,
        what: &str,
    ) -> anyhow::Result<Value> {
        let secrets = serve_cmd::secrets(&self.resolved)?;
        let secret = source
            .secret
            .clone()
            .or_else(|| secrets.sources.get(&source.name).cloned())
            .context("the source has no secret")?;
        let request = self
            .http
            .post(format!("{}/hooks/{}", self.url, source.name))
            .header(source.secret_header.as_str(), secret)
            .json(payload);
        self.send(request)
            .await
            .with_context(|| format!("the {what} was not accepted"))
    }

    /// Sends a request to the service: its JSON answer, or an error with the status and
    /// deskline's message.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let r = request.send().await.with_context(|| {
            format!(
                "cannot reach deskline at {} (is `deskline serve` running?)",
                self.url
            )
        })?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{status}: {}",
                body["message"].as_str().unwrap_or("no message")
            );
        }
        Ok(body)
    }

    /// A request to the admin API; a non-2xx answer is an error with its message.
    pub(crate) async fn admin(&self, method: reqwest::Method, path: &str) -> anyhow::Result<Value> {
        let request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin_token);
        self.send(request).await
    }
}

/// Options of `deskline test-call`.
#[derive(Args, Debug)]
pub struct TestCallArgs {
    #[command(flatten)]
    target: Target,
    /// An answered call (needs --agent).
    #[arg(long, conflicts_with = "missed", required_unless_present = "missed")]
    answered: bool,
    /// A missed call.
    #[arg(long)]
    missed: bool,
    /// Email of the agent who answered.
    #[arg(long, required_if_eq("answered", "true"))]
    agent: Option<String>,
    /// The caller's number.
    #[arg(long, default_value = "+919876543210")]
    from: String,
    /// The source to post to (default: the first call source).
    #[arg(long)]
    source: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// How long to wait for the ticket, in seconds.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

/// A realistic MyOperator After-Call payload.
pub fn after_call_payload(call_id: &str, answered_by: Option<&str>, from: &str, now: i64) -> Value {
    let start = now - 95;
    let legs = match answered_by {
        Some(email) => json!([{
            "_ds": "ANSWER", "_ac": "received", "_st": start + 8, "_et": now, "_dr": format_hms(87),
            "_rr": [{"_id": "test-agent", "_na": email.split('@').next().unwrap_or(email), "_em": email, "_ex": "10"}]
        }]),
        None => json!([{
            "_ds": "NOANSWER", "_ac": "missed", "_st": start + 8, "_et": now, "_dr": format_hms(87),
            "_rr": [{"_id": "test-agent", "_na": "Queue", "_em": "", "_ex": "10"}]
        }]),
    };
    json!({
        "_ai": call_id, "_ci": "deskline-test", "_cl": from, "_cr": from.trim_start_matches('+'),
        "_st": start, "_ms": start * 1000, "_et": now, "_dr": format_hms(95), "_ev": 1,
        "_su": if answered_by.is_some() { 1 } else { 2 }, "_dn": "Support", "_se": "Test call",
        "_fn": if answered_by.is_some() { format!("{call_id}.mp3") } else { String::new() },
        "_fu": if answered_by.is_some() { format!("https://recordings.example/{call_id}") } else { String::new() },
        "_ld": legs,
    })
}

fn format_hms(secs: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Posts a test call and prints the ticket it became.
pub async fn test_call(args: TestCallArgs) -> anyhow::Result<()> {
    let conn = Connection::open(&args.target)?;
    let source = match &args.source {
        Some(s) => conn
            .resolved
            .sources
            .iter()
            .find(|x| &x.name == s)
            .with_context(|| format!("no source named {s:?} in the configuration"))?,
        None => conn
            .resolved
            .sources
            .iter()
            .find(|s| s.kind != SourceKind::Handoff)
            .context("the configuration has no call source")?,
    };
    let now = chrono::Utc::now().timestamp();
    let call_id = format!("test-{now}-{:04}", rand::random::<u16>() % 10_000);
    let agent = if args.answered {
        args.agent.as_deref()
    } else {
        None
    };
    let payload = after_call_payload(&call_id, agent, &args.from, now);
    conn.post_to_source(source, &payload, "test call").await?;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let path = format!("/admin/calls/{}/{call_id}", source.name);
    let result = loop {
        let v = conn.admin(reqwest::Method::GET, &path).await?;
        if !v["ticket_id"].is_null() {
            break v;
        }
        if Instant::now() > deadline {
            bail!(
                "call {call_id} was accepted but has no ticket after {}s; see `deskline jobs list`",
                args.wait
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    let t = &result["ticket"];
    println!("call {call_id} → ticket {}", result["ticket_id"]);
    println!("  subject : {}", t["subject"].as_str().unwrap_or(""));
    println!("  status  : {}", t["status"].as_str().unwrap_or(""));
    match (t["assignee_id"].as_u64(), t["group_id"].as_u64()) {
        (Some(a), _) => println!("  assignee: agent {a}"),
        (None, Some(g)) => println!("  group   : {g} (unassigned)"),
        _ => println!("  unassigned"),
    }
    println!(
        "  tags    : {}",
        t["tags"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    if let Some(fields) = t["custom_fields"].as_array() {
        for f in fields {
            println!("  field {} = {}", f["id"], f["value"]);
        }
    }
    Ok(())
}

/// `deskline jobs …`
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, newest state first.
    List {
        /// available, running, retryable, completed, discarded or cancelled.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one job with its attempts.
    Show {
        /// The job id.
        id: i64,
    },
    /// Run a job again now (from the dead letter, or before its scheduled retry).
    Retry {
        /// The job id.
        id: i64,
    },
    /// Cancel a job that has not run yet.
    Cancel {
        /// The job id.
        id: i64,
    },
}

/// Runs a `jobs` subcommand.
pub async fn jobs(target: Target, command: JobsCommand) -> anyhow::Result<()> {
    let conn = Connection::open(&target)?;
    let out = match command {
        JobsCommand::List { state, limit } => {
            let mut path = format!("/admin/jobs?limit={limit}");
            if let Some(s) = state {
                path.push_str(&format!("&state={s}"));
            }
            let v = conn.admin(reqwest::Method::GET, &path).await?;
            for j in v["jobs"].as_array().cloned().unwrap_or_default() {
                let last_error = j["errors"]
                    .as_array()
                    .and_then(|e| e.last())
                    .and_then(|e| e["error"].as_str())
                    .unwrap_or("");
                println!(
                    "{:>6}  {:<10} {:<12} attempt {}/{}  {}",
                    j["id"],
                    j["state"].as_str().unwrap_or(""),
                    j["kind"].as_str().unwrap_or(""),
                    j["attempt"],
                    j["max_attempts"],
                    last_error
                );
            }
            return Ok(());
        }
        JobsCommand::Show { id } => {
            conn.admin(reqwest::Method::GET, &format!("/admin/jobs/{id}"))
                .await?
        }
        JobsCommand::Retry { id } => {
            conn.admin(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry"))
                .await?
        }
        JobsCommand::Cancel { id } => {
            conn.admin(reqwest::Method::POST, &format!("/admin/jobs/{id}/cancel"))
                .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `deskline agents …`
#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Agent emails from calls that match no Zendesk agent.
    Mismatches,
    /// Sync the agent directory from Zendesk now.
    Sync,
}

/// Runs an `agents` subcommand.
pub async fn agents(target: Target, command: AgentsCommand) -> anyhow::Result<()> {
    let conn = Connection::open(&target)?;
    match command {
        AgentsCommand::Mismatches => {
            let v = conn
                .admin(reqwest::Method::GET, "/admin/agents/mismatches")
                .await?;
            let list = v["mismatches"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("every agent email seen in calls matches a Zendesk agent");
            }
            for m in list {
                println!(
                    "{:<40} {} call(s), last {} (source {}, last call {})",
                    m["email_as_sent"].as_str().unwrap_or(""),
                    m["count"],
                    m["last_seen"].as_str().unwrap_or(""),
                    m["source"].as_str().unwrap_or(""),
                    m["last_call_id"].as_str().unwrap_or("-")
                );
            }
        }
        AgentsCommand::Sync => {
            let v = conn
                .admin(reqwest::Method::POST, "/admin/directory/sync")
                .await?;
            println!("{}", serde_json::to_string_pretty(&v["synced"])?);
        }
    }
    Ok(())
}

/// `deskline sources …`
#[derive(Subcommand, Debug)]
pub enum SourcesCommand {
    /// Show the events and the ticket plan a sample payload would produce (nothing is sent).
    Try {
        /// The source, as named in the configuration.
        #[arg(long)]
        source: String,
        /// The sample body (JSON, or form-encoded for .txt/.form files).
        file: PathBuf,
        /// The content type (default: from the file's extension).
        #[arg(long)]
        content_type: Option<String>,
    },
}

/// Runs a `sources` subcommand.
pub async fn sources(target: Target, command: SourcesCommand) -> anyhow::Result<()> {
    let SourcesCommand::Try {
        source,
        file,
        content_type,
    } = command;
    let resolved = serve_cmd::load(target.config.as_deref())?;
    let Some(src) = resolved.sources.iter().find(|s| s.name == source) else {
        let names: Vec<&str> = resolved.sources.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "no source named {source:?}; the configuration has {}",
            names.join(", ")
        );
    };
    let body = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type =
        content_type.unwrap_or_else(|| match file.extension().and_then(|e| e.to_str()) {
            Some("txt") | Some("form") => "application/x-www-form-urlencoded".to_string(),
            _ => "application/json".to_string(),
        });
    if let Some(handoff) = deskline_server::preview::preview_handoff(src, &body, &content_type) {
        let handoff = handoff.map_err(|e| {
            anyhow::anyhow!("{} is not a valid {source} handoff: {e}", file.display())
        })?;
        println!("{}", serde_json::to_string_pretty(&handoff)?);
        return Ok(());
    }
    // The synced directory, when the service has run here; agents show as unmatched otherwise.
    let db = &resolved.config.storage.sqlite_path;
    let store = if db.exists() {
        Some(deskline_store::SqliteStore::open(db).await?)
    } else {
        None
    };
    let url = format!("{}/hooks/{source}", serve_cmd::service_url(&resolved));
    let previews = deskline_server::preview::preview(
        src,
        store.as_ref().map(|s| s as &dyn deskline_store::Store),
        &body,
        &content_type,
        &url,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{} is not a valid {source} payload: {e}", file.display()))?;
    if previews.is_empty() {
        println!("the source ignores this payload (no call event in it)");
    }
    println!("{}", serde_json::to_string_pretty(&previews)?);
    Ok(())
}
