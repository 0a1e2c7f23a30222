//! `deskline sources try`: what a sample payload would become, without sending anything. A dry
//! run: it needs the source's configuration only, no Zendesk account and no secrets.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use deskline_core::event::CallEvent;
use deskline_core::phone::PartyNumber;
use deskline_core::plan::{RequesterPlan, TicketPlan};
use deskline_server::config::{self, Purpose, Scope};
use deskline_server::preview::{HandoffPreview, Planned, Preview};
use deskline_store::Store;
use serde_json::Value;

use crate::client::Target;
use crate::jobs_cmd::Output;
use crate::service::{service_url, shown};
use crate::table::print_json;

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
pub async fn sources(
    target: Target,
    output: Output,
    command: SourcesCommand,
) -> anyhow::Result<()> {
    let SourcesCommand::Try {
        source,
        file,
        content_type,
    } = command;
    let config_file = target.config.as_deref();
    let names = config::source_names(config_file);
    if !names.contains(&source) {
        let from = match config_file {
            Some(f) => format!("{} has", f.display()),
            None => "the embedded defaults (no --config) have".to_string(),
        };
        bail!(
            "no source named \"{source}\": {from} {}. Give --config with the file that defines \
             [sources.{source}]",
            if names.is_empty() {
                "no source".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let key = format!("sources.{source}");
    let resolved = config::load_resolved(
        config_file,
        Scope::Only(&["server", "storage", &key]),
        Purpose::DryRun,
    )?;
    let Some(src) = resolved.sources.iter().find(|s| s.name == source) else {
        bail!("source \"{source}\" could not be read from the configuration");
    };
    let body = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type = content_type.unwrap_or_else(|| guess_content_type(&file));
    if let Some(handoff) = deskline_server::preview::preview_handoff(src, &body, &content_type) {
        let handoff = handoff.map_err(|e| {
            anyhow::anyhow!("{} is not a valid {source} handoff: {e}", file.display())
        })?;
        if output.json {
            return print_json(&handoff);
        }
        print_handoff(&handoff);
        return Ok(());
    }
    // The synced directory, when the service has run with this configuration here; agents
    // show as unmatched otherwise.
    // A dry run changes nothing: no SQLite file is created, no migration applied.
    let db = &resolved.config.storage.sqlite_path;
    let store = match deskline_server::config::Storage::of(&resolved.config.storage) {
        deskline_server::config::Storage::Sqlite(_) if !db.exists() => None,
        _ => Some(
            crate::store_open::open(
                &resolved.config,
                deskline_store::SchemaPolicy::RequireCurrent,
            )
            .await?,
        ),
    };
    let url = format!("{}/hooks/{source}", service_url(&resolved.config));
    let previews =
        deskline_server::preview::preview(src, store.as_deref(), &body, &content_type, &url)
            .await
            .map_err(|e| {
                anyhow::anyhow!("{} is not a valid {source} payload: {e}", file.display())
            })?;
    if output.json {
        return print_json(&previews);
    }
    if previews.is_empty() {
        println!("source {source} ignores this payload: no call event in it");
    }
    if store.is_none() {
        println!(
            "(no agent directory at {}: agents show as unmatched until `deskline serve` has \
             synced it there)",
            shown(db)
        );
    }
    for (i, p) in previews.iter().enumerate() {
        print_preview(i + 1, previews.len(), p, store.as_deref()).await;
    }
    Ok(())
}

fn guess_content_type(file: &Path) -> String {
    match file.extension().and_then(|e| e.to_str()) {
        Some("txt") | Some("form") => "application/x-www-form-urlencoded".to_string(),
        _ => "application/json".to_string(),
    }
}

fn number(n: &PartyNumber) -> String {
    match n {
        PartyNumber::Known { phone } => phone.to_string(),
        PartyNumber::Withheld => "a withheld number".to_string(),
        PartyNumber::Unparseable { raw } => format!("\"{raw}\" (not a phone number)"),
    }
}

async fn print_preview(n: usize, of: usize, preview: &Preview, store: Option<&dyn Store>) {
    let event = &preview.event.event;
    println!(
        "event {n} of {of}: call {} {} (dedupe key {})",
        event.call_id(),
        event.kind(),
        preview.event.dedupe_key
    );
    if let CallEvent::Ended(call) = event {
        let to = call.line.as_ref().map(number).unwrap_or_else(|| "-".into());
        println!(
            "  call    : {} from {} to {to}, started {}, {} s",
            call.direction.as_str(),
            call.from().map_or_else(|| "-".to_string(), number),
            call.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            call.total_seconds
        );
        match &call.answered_by {
            Some(a) => println!(
                "  agent   : {}{}",
                a.name.as_deref().unwrap_or("(no name)"),
                a.email
                    .as_deref()
                    .map(|e| format!(" <{e}>"))
                    .unwrap_or_default()
            ),
            None => println!("  agent   : nobody answered"),
        }
    }
    match &preview.plan {
        Planned::Ticket(plan) => print_plan(plan, store).await,
        Planned::NoTicket(why) => println!("  no ticket: {why}"),
    }
}

async fn print_plan(plan: &TicketPlan, store: Option<&dyn Store>) {
    println!(
        "  ticket (would be created, external id {}):",
        plan.external_id
    );
    println!("    subject  : {}", plan.subject);
    match &plan.requester {
        RequesterPlan::Phone { phone, name } => println!("    requester: {name} ({phone})"),
        RequesterPlan::Shared(r) => println!("    requester: {} <{}> (shared)", r.name, r.email),
    }
    let agent = match (plan.assignee_id, store) {
        (Some(id), Some(store)) => match store.agent_by_zendesk_id(id as i64).await {
            Ok(Some(a)) => Some(format!("{} <{}> (agent {id})", a.name, a.email)),
            _ => Some(format!("agent {id}")),
        },
        (Some(id), None) => Some(format!("agent {id}")),
        (None, _) => None,
    };
    if let Some(agent) = agent {
        println!("    assignee : {agent}");
    }
    if let Some(email) = &plan.unmatched_agent_email {
        println!("    assignee : none: {email} matches no Zendesk agent (listed by `deskline agents mismatches`)");
    }
    if plan.group_id == Some(0) && store.is_none() {
        println!(
            "    group    : as configured (its id comes from the directory `deskline serve` syncs)"
        );
    } else if let Some(id) = plan.group_id {
        let name = match store {
            Some(s) => s
                .group_by_id(id as i64)
                .await
                .ok()
                .flatten()
                .map(|g| g.name),
            None => None,
        };
        match name {
            Some(name) => println!("    group    : {name} (group {id})"),
            None => println!("    group    : group {id}"),
        }
    }
    println!("    tags     : {}", plan.tags.join(", "));
    for (id, value) in &plan.custom_fields {
        println!("    field {id} = {}", text(value));
    }
    println!(
        "    note ({}):",
        if plan.public_note {
            "public"
        } else {
            "internal"
        }
    );
    for line in plan.note.lines() {
        println!("      {line}");
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_handoff(p: &HandoffPreview) {
    let h = &p.handoff;
    println!(
        "handoff {} on channel {} (dedupe key {})",
        h.session_id, h.channel, p.dedupe_key
    );
    println!("  ticket (created, or joined to the contact's open one):");
    println!("    subject : {}", p.ticket.subject);
    println!("    tags    : {}", p.ticket.tags.join(", "));
    for (id, value) in &p.ticket.fields {
        println!("    field {id} = {}", text(value));
    }
    println!("    summary (internal note):");
    for line in p.ticket.summary.lines() {
        println!("      {line}");
    }
    match &p.ticket.transcript {
        Some(t) => println!("    transcript: {} line(s)", t.lines().count()),
        None => println!("    transcript: none"),
    }
}
