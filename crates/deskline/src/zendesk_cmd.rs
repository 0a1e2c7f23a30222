//! `deskline zendesk provision` and `deskline zendesk disconnect`: create (or remove) the
//! webhooks and trigger through which Zendesk calls deskline, using the configuration and the
//! database the service uses (docs/zendesk.md, "Connecting Zendesk's webhooks").

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};
use deskline_server::app::{self, Runtime};
use deskline_server::config::Resolved;
use deskline_server::health::gate::StoreGate;
use deskline_server::health::shared_budget::{budget_host, SharedBudget};
use deskline_server::health::{Breaker, BreakerSettings};
use deskline_server::provision::{self, DisconnectReport, ProvisionReport};
use deskline_server::zendesk_hook;
use deskline_store::{SchemaPolicy, Store};
use deskline_zendesk::{Secret, ZendeskClient, ZendeskConfig};

use crate::serve_cmd;

/// `deskline zendesk ...`
#[derive(Subcommand, Debug)]
pub enum ZendeskCommand {
    /// Create or update deskline's webhooks and reply trigger in Zendesk and store their
    /// signing secrets; running it again changes nothing unless something drifted.
    Provision(ProvisionArgs),
    /// Remove the webhooks and trigger `provision` made, and the secrets it stored.
    Disconnect(DisconnectArgs),
}

/// Options of `deskline zendesk provision`.
#[derive(Args, Debug)]
pub struct ProvisionArgs {
    /// The configuration the service runs with.
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// deskline's public base URL, as Zendesk reaches it (default: server.public_url); the
    /// webhooks call PUBLIC_URL/zendesk/webhook.
    #[arg(long, value_name = "PUBLIC_URL")]
    pub url: Option<String>,
}

/// Options of `deskline zendesk disconnect`.
#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// The configuration the service runs with.
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Runs a `zendesk` subcommand.
pub async fn run(command: ZendeskCommand) -> anyhow::Result<()> {
    match command {
        ZendeskCommand::Provision(args) => provision_cmd(args).await,
        ZendeskCommand::Disconnect(args) => disconnect_cmd(args).await,
    }
}

/// The Zendesk account of the configuration, and a client for it.
///
/// The embedded sandbox is refused: it lives inside `deskline serve`, on a port chosen at
/// each start, so there is no account this command could reach, and nothing it made would
/// survive the next start's fresh port. A standalone `deskline sandbox` is a remote account
/// like any other (zendesk.url).
fn client(resolved: &Resolved) -> anyhow::Result<(ZendeskClient, String)> {
    let Some((url, email, token)) = Runtime::remote_zendesk(resolved) else {
        bail!(
            "this configuration uses the built-in Zendesk sandbox (zendesk.sandbox = true, the \
             default without --config), which only exists inside `deskline serve`, so there is \
             no Zendesk account to provision. Give --config with zendesk.subdomain (or \
             zendesk.url), zendesk.email and zendesk.api_token; to try it locally, run \
             `deskline sandbox` and set zendesk.url to the URL it prints"
        );
    };
    let mut config = ZendeskConfig::new(url.clone(), email, Secret::new(token));
    config.requests_per_minute = resolved.requests_per_minute;
    config.timeout = resolved.config.zendesk.timeout;
    let client = ZendeskClient::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((client, url))
}

/// The database the service uses (SQLite in WAL mode, or PostgreSQL: safe to open while it
/// runs).
async fn open_store(resolved: &Resolved) -> anyhow::Result<Arc<dyn Store>> {
    crate::store_open::open(&resolved.config, SchemaPolicy::Migrate).await
}

/// `client` honouring the service's shared Zendesk pause, and recording any 429 it meets, so
/// provisioning never sends inside a `Retry-After` the service (or it) received.
fn gated(client: ZendeskClient, store: &Arc<dyn Store>, resolved: &Resolved) -> ZendeskClient {
    let z = &resolved.config.zendesk;
    let breaker = Arc::new(Breaker::new(BreakerSettings {
        failures: z.outage_after_failures,
        first_probe: z.outage_first_probe,
        max_probe: z.outage_max_probe,
    }));
    // The running service's budget too: provisioning's requests count against the account.
    let budget = SharedBudget::new(
        &budget_host(&client),
        resolved.requests_per_minute,
        resolved.ticket_updates_per_minute,
    );
    let gate =
        StoreGate::new(store.clone(), app::system_clock(), breaker).with_shared_budget(budget);
    client.with_gate(Arc::new(gate))
}

async fn provision_cmd(args: ProvisionArgs) -> anyhow::Result<()> {
    let resolved = serve_cmd::load(args.config.as_deref())?;
    let (client, zendesk_url) = client(&resolved)?;
    let public_url = args
        .url
        .clone()
        .or_else(|| resolved.config.server.public_url.clone())
        .filter(|u| !u.trim().is_empty());
    let Some(public_url) = public_url else {
        bail!(
            "no public URL for Zendesk to call: pass --url https://deskline.example.com or set \
             server.public_url in the configuration (or DESKLINE_SERVER__PUBLIC_URL); the \
             webhooks call <public URL>{}",
            provision::WEBHOOK_PATH
        );
    };
    let endpoint = provision::webhook_endpoint(&public_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(&resolved).await?;
    let client = gated(client, &store, &resolved);
    println!("Zendesk: {zendesk_url}");
    println!("webhook endpoint: {endpoint}");
    let report = provision::provision(&client, store.as_ref(), &endpoint, chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n(what was done before this is kept; run the command again once the cause is fixed)"))?;
    print_provision(&report);
    let configured = resolved
        .config
        .zendesk
        .webhook_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let provisioned = zendesk_hook::provisioned_secrets(store.as_ref())
        .await
        .unwrap_or_default();
    if zendesk_hook::configured_secret_differs(configured, &provisioned) {
        println!(
            "warning: zendesk.webhook_secret differs from the provisioned signing secrets; \
             deskline accepts deliveries signed with any of them: remove it unless a webhook \
             deskline did not provision signs with it"
        );
    }
    Ok(())
}

/// What was created, updated or left alone; never a secret (links are named, not shown).
fn print_provision(report: &ProvisionReport) {
    for o in &report.objects {
        println!(
            "  {} \"{}\" ({}): {}",
            o.kind.as_str(),
            o.name,
            o.id,
            o.change.as_str()
        );
    }
    if report.links_written.is_empty() {
        println!("  signing secrets and ids in deskline's database: unchanged");
    } else {
        println!(
            "  stored in deskline's database: {}",
            report.links_written.join(", ")
        );
    }
    for d in &report.duplicates {
        println!("  note: another {d}; delete it in Zendesk if it is a leftover");
    }
    if report.changed_anything() {
        println!("Zendesk is connected: deskline accepts its signed deliveries from now on.");
    } else {
        println!("Already provisioned: nothing changed.");
    }
}

async fn disconnect_cmd(args: DisconnectArgs) -> anyhow::Result<()> {
    let resolved = serve_cmd::load(args.config.as_deref())?;
    let (client, zendesk_url) = client(&resolved)?;
    let store = open_store(&resolved).await?;
    let client = gated(client, &store, &resolved);
    println!("Zendesk: {zendesk_url}");
    let report = provision::disconnect(&client, store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n(what was removed before this stays removed; run the command again once the cause is fixed)"))?;
    print_disconnect(&report);
    Ok(())
}

fn print_disconnect(report: &DisconnectReport) {
    if report.is_noop() {
        println!(
            "Nothing to remove: deskline is not provisioned here (no recorded ids, and no \
             webhook or trigger named \"{}\", \"{}\" or \"{}\").",
            provision::REPLIES_WEBHOOK_NAME,
            provision::EVENTS_WEBHOOK_NAME,
            provision::REPLY_TRIGGER_NAME
        );
        return;
    }
    for r in &report.removed {
        let what = if r.existed { "removed" } else { "already gone" };
        println!("  {} \"{}\" ({}): {what}", r.kind.as_str(), r.name, r.id);
    }
    if !report.links_removed.is_empty() {
        println!(
            "  deleted from deskline's database: {}",
            report.links_removed.join(", ")
        );
    }
    println!("Disconnected: Zendesk no longer calls deskline, and deskline no longer holds its signing secrets.");
}
