//! `deskline test-handoff`: posts a realistic AI handoff to the running service and prints the
//! ticket it became, the way `test-call` does for calls.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Args;
use deskline_server::config::{self, Purpose, Scope, SourceKind};
use serde_json::{json, Value};

use crate::client::{Connection, Target};
use crate::table::print_json;
use crate::test_call_cmd::{kind_name, KEYS};

/// Options of `deskline test-handoff`.
#[derive(Args, Debug)]
pub struct TestHandoffArgs {
    #[command(flatten)]
    target: Target,
    /// The contact's email (the requester).
    #[arg(long, default_value = "tom.okafor@example.com")]
    email: String,
    /// The channel the conversation is on (`web`, `whatsapp`, `sms`, …).
    #[arg(long, default_value = "web")]
    channel: String,
    /// The handoff source to post to (default: the first one configured).
    #[arg(long)]
    source: Option<String>,
    /// Print the conversation as JSON.
    #[arg(long)]
    json: bool,
    /// How long to wait for the ticket, in seconds.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

/// A realistic handoff: a web-chat conversation the AI could not finish.
pub fn handoff_payload(session_id: &str, email: &str, channel: &str) -> Value {
    let now = chrono::Utc::now();
    let at = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339();
    json!({
        "sessionId": session_id,
        "contact": {"name": "Tom Okafor", "email": email},
        "channel": channel,
        "summary": "Customer was charged twice for order 88412 and wants the duplicate refunded. The AI cannot issue refunds.",
        "transcript": [
            {"role": "user", "text": "Hi, I was charged twice for order 88412", "at": at(60)},
            {"role": "assistant", "text": "Sorry about that. I can see two charges; a colleague can refund one.", "at": at(45)},
            {"role": "user", "text": "Yes please, a person", "at": at(30)}
        ],
        "language": "en",
        "sentiment": "frustrated",
        "mode": "handed_off",
        "customData": {"dataCapture.systemField.tags": "billing, double charge"}
    })
}

/// Posts a test handoff and prints the conversation and its ticket.
pub async fn test_handoff(args: TestHandoffArgs) -> anyhow::Result<()> {
    let conn = Connection::open(&args.target, &KEYS)?;
    let handoff_sources: Vec<&String> = conn
        .config
        .sources
        .iter()
        .filter(|(_, s)| s.kind == SourceKind::Handoff)
        .map(|(n, _)| n)
        .collect();
    let source = match &args.source {
        Some(name) => match conn.source(name) {
            Some(s) if s.kind == SourceKind::Handoff => name.clone(),
            Some(s) => bail!(
                "source \"{name}\" is a {} source, not a handoff source (kind = \"handoff\")",
                kind_name(s.kind)
            ),
            None => bail!("no source named \"{name}\" in the configuration"),
        },
        None => handoff_sources
            .first()
            .map(|n| (*n).clone())
            .ok_or_else(|| {
                anyhow!(
                    "the configuration has no source with kind = \"handoff\" to post to; add one \
                 (docs/handoff.md)"
                )
            })?,
    };
    let session_id = format!(
        "test-{}-{:04}",
        chrono::Utc::now().timestamp(),
        rand::random::<u16>() % 10_000
    );
    let payload = handoff_payload(&session_id, &args.email, &args.channel);
    conn.warn_if_real_account("ticket");
    conn.post_to_source(&source, &payload, "test handoff")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let path = format!("/admin/conversations/{source}/{session_id}");
    let conversation = loop {
        match conn.admin(reqwest::Method::GET, &path).await {
            Ok(v) if !v["conversation"]["ticket_id"].is_null() => break v,
            // Not stored until the job starts: keep waiting.
            Ok(_) | Err(_) if Instant::now() <= deadline => {}
            Ok(_) | Err(_) => bail!(
                "handoff {session_id} was accepted but has no ticket after {}s; see `deskline jobs list`",
                args.wait
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if args.json {
        return print_json(&conversation);
    }
    let c = &conversation["conversation"];
    let channel = c["channel"].as_str().unwrap_or("");
    println!(
        "handoff {session_id} → ticket {} (conversation {}, channel {channel})",
        c["ticket_id"],
        c["status"]["state"].as_str().unwrap_or(""),
    );
    println!("  {}", reply_route(&args.target, channel));
    Ok(())
}

/// Where an agent's public reply on the ticket will go: the connector serving the channel, or
/// why none will deliver it.
fn reply_route(target: &Target, channel: &str) -> String {
    let read = config::read(target.config.as_deref(), Scope::Only(&["connectors"]));
    let connectors = match read {
        Ok(loaded) => config::resolve(loaded.config, Purpose::DryRun).0.connectors,
        Err(_) => {
            return "the configuration's [connectors] has problems (`deskline check` lists \
                    them), so agents' replies cannot be delivered yet"
                .to_string()
        }
    };
    match connectors.for_channel(channel) {
        Some(c) => format!(
            "an agent's public reply on that ticket goes back to the customer through connector \
             \"{}\" ({})",
            c.name, c.url
        ),
        None => format!(
            "no connector serves channel \"{channel}\": an agent's public reply on that ticket \
             waits in the dead letter (`deskline jobs list --state discarded`) until a \
             [connectors.NAME] with channels = [\"{channel}\"] is configured (docs/handoff.md)"
        ),
    }
}
