//! `deskline test-call`: posts a realistic MyOperator After-Call payload to the running service,
//! as MyOperator would, and prints the ticket it became.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Args;
use deskline_server::config::SourceKind;
use serde_json::{json, Value};

use crate::client::{Connection, Target};
use crate::report::usage;
use crate::table::print_json;

/// Options of `deskline test-call`.
#[derive(Args, Debug)]
pub struct TestCallArgs {
    #[command(flatten)]
    target: Target,
    /// An answered call (needs --agent).
    #[arg(long, conflicts_with = "missed")]
    answered: bool,
    /// A missed call.
    #[arg(long)]
    missed: bool,
    /// Email of the agent who answered.
    #[arg(long, value_name = "EMAIL")]
    agent: Option<String>,
    /// The caller's number.
    #[arg(long, default_value = "+919876543210")]
    from: String,
    /// The MyOperator source to post to (default: the first one configured).
    #[arg(long)]
    source: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// How long to wait for the ticket, in seconds.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

/// The keys test-call reads: the sources, and whether Zendesk is the sandbox.
pub(crate) const KEYS: [&str; 4] = [
    "sources",
    "zendesk.sandbox",
    "zendesk.url",
    "zendesk.subdomain",
];

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

/// The source to post to: test-call builds MyOperator payloads only, so a MyOperator source
/// (posting one to another provider's source would only be refused as malformed).
fn pick_source(conn: &Connection, asked: Option<&str>) -> anyhow::Result<String> {
    let kinds = || {
        conn.config
            .sources
            .iter()
            .map(|(n, s)| format!("{n} ({})", kind_name(s.kind)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match asked {
        Some(name) => match conn.source(name) {
            Some(s) if s.kind == SourceKind::Myoperator => Ok(name.to_string()),
            Some(s) => bail!(
                "source \"{name}\" is a {} source, and test-call only builds MyOperator calls. \
                 Give --source with a myoperator source, or post a sample from \
                 examples/{}/ with curl (`deskline sources try --source {name} FILE` shows what \
                 it would become)",
                kind_name(s.kind),
                kind_name(s.kind)
            ),
            None => bail!(
                "no source named \"{name}\"; the configuration has {}",
                kinds()
            ),
        },
        None => conn
            .config
            .sources
            .iter()
            .find(|(_, s)| s.kind == SourceKind::Myoperator)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                anyhow!(
                    "test-call builds MyOperator calls, and the configuration has no source with \
                     kind = \"myoperator\" (it has {}). Add one, or try another provider's \
                     sample with `deskline sources try --source NAME FILE`",
                    kinds()
                )
            }),
    }
}

/// A source kind as written in the configuration.
pub(crate) fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Myoperator => "myoperator",
        SourceKind::Twilio => "twilio",
        SourceKind::Aircall => "aircall",
        SourceKind::Exotel => "exotel",
        SourceKind::Generic => "generic",
        SourceKind::Handoff => "handoff",
    }
}

/// Posts a test call and prints the ticket it became.
pub async fn test_call(args: TestCallArgs) -> anyhow::Result<()> {
    let agent = match (args.answered, args.missed, args.agent.as_deref()) {
        (true, _, Some(agent)) => Some(agent),
        (true, _, None) => {
            return Err(usage(
                "--answered needs --agent EMAIL, the agent who took the call (in the sandbox, \
                 e.g. priya.sharma@sandbox.test)",
            ))
        }
        (false, true, _) => None,
        (false, false, _) => {
            return Err(usage(
                "say which call to make: --answered --agent EMAIL (a call an agent took) or \
                 --missed (a call nobody answered)",
            ))
        }
    };
    let conn = Connection::open(&args.target, &KEYS)?;
    let source = pick_source(&conn, args.source.as_deref())?;
    let now = chrono::Utc::now().timestamp();
    let call_id = format!("test-{now}-{:04}", rand::random::<u16>() % 10_000);
    let payload = after_call_payload(&call_id, agent, &args.from, now);
    conn.warn_if_real_account("ticket");
    conn.post_to_source(&source, &payload, "test call").await?;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let path = format!("/admin/calls/{source}/{call_id}");
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
        return print_json(&result);
    }
    print_ticket(&call_id, &source, &result);
    Ok(())
}

/// The ticket, with the assignee and group by name when the directory knows them.
fn print_ticket(call_id: &str, source: &str, result: &Value) {
    let t = &result["ticket"];
    println!(
        "call {call_id} (source {source}) → ticket {}",
        result["ticket_id"]
    );
    println!("  subject : {}", t["subject"].as_str().unwrap_or(""));
    println!("  status  : {}", t["status"].as_str().unwrap_or(""));
    let named = |who: &Value, id: u64, what: &str| match who["name"].as_str() {
        Some(name) => format!("{name} ({what} {id})"),
        None => format!("{what} {id}"),
    };
    if let Some(a) = t["assignee_id"].as_u64() {
        let who = &result["assignee"];
        match (who["name"].as_str(), who["email"].as_str()) {
            (Some(name), Some(email)) => println!("  assignee: {name} <{email}> (agent {a})"),
            _ => println!("  assignee: agent {a}"),
        }
    }
    match (t["assignee_id"].as_u64(), t["group_id"].as_u64()) {
        (None, Some(g)) => println!(
            "  group   : {}, unassigned",
            named(&result["group"], g, "group")
        ),
        (Some(_), Some(g)) => println!("  group   : {}", named(&result["group"], g, "group")),
        (None, None) => println!("  unassigned, in no group"),
        _ => {}
    }
    let tags: Vec<&str> = t["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!("  tags    : {}", tags.join(", "));
    for f in t["custom_fields"].as_array().into_iter().flatten() {
        if !f["value"].is_null() {
            let value = match &f["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  field {} = {value}", f["id"]);
        }
    }
}
