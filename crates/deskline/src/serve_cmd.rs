//! `deskline serve`: runs the service; with no configuration, on embedded defaults (a SQLite
//! file under ./deskline-data and the Zendesk sandbox in-process).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use deskline_server::app::{self, Runtime};
use deskline_server::config::{self, Config, Resolved};
use deskline_store::SqliteStore;

use crate::secrets::GeneratedSecrets;

/// Options of `deskline serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file; without it deskline runs on embedded defaults (sandbox mode).
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Loads and checks the configuration, printing every problem.
pub fn load(config_file: Option<&Path>) -> anyhow::Result<Resolved> {
    let config = Config::load(config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    config::validate(config).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The data directory: where the SQLite file lives.
pub fn data_dir(resolved: &Resolved) -> PathBuf {
    resolved
        .config
        .storage
        .sqlite_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The base URL the service answers at.
pub fn service_url(resolved: &Resolved) -> String {
    resolved
        .config
        .server
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", resolved.config.server.listen))
}

/// Generated secrets, created on first use.
pub fn secrets(resolved: &Resolved) -> anyhow::Result<GeneratedSecrets> {
    let dir = data_dir(resolved);
    let mut secrets = GeneratedSecrets::load(&dir)?;
    let needing: Vec<String> = resolved
        .sources
        .iter()
        .filter(|s| s.secret.is_none())
        .map(|s| s.name.clone())
        .collect();
    if secrets.ensure(&needing) {
        secrets.save(&dir)?;
    }
    Ok(secrets)
}

async fn start_sandbox(data_dir: &Path) -> anyhow::Result<zendesk_sandbox::SandboxHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot open a port for the Zendesk sandbox")?;
    let config = zendesk_sandbox::SandboxConfig {
        state_file: Some(data_dir.join("sandbox-state.json")),
        ..zendesk_sandbox::SandboxConfig::default()
    };
    Ok(zendesk_sandbox::start(config, listener).await?)
}

/// Runs the service until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let resolved = load(args.config.as_deref())?;
    let dir = data_dir(&resolved);
    let secrets = secrets(&resolved)?;
    let admin_token = resolved
        .config
        .server
        .admin_token
        .clone()
        .unwrap_or_else(|| secrets.admin_token.clone());
    let mut sandbox = None;
    let (url, email, token) = match Runtime::remote_zendesk(&resolved) {
        Some(remote) => remote,
        None => {
            let handle = start_sandbox(&dir).await?;
            tracing::warn!(url = %handle.base_url, "SANDBOX MODE: tickets go to the built-in Zendesk sandbox, not a real account");
            let url = handle.base_url.clone();
            sandbox = Some(handle);
            (
                url,
                zendesk_sandbox::DEFAULT_ADMIN_EMAIL.to_string(),
                zendesk_sandbox::DEFAULT_API_TOKEN.to_string(),
            )
        }
    };
    let store = SqliteStore::open(&resolved.config.storage.sqlite_path)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                resolved.config.storage.sqlite_path.display()
            )
        })?;
    let listen = resolved.config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (set server.listen or DESKLINE_SERVER__LISTEN)")
        })?;
    let base = service_url(&resolved);
    let banner_sources: Vec<(String, String, Option<String>)> = resolved
        .sources
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.secret_header.clone(),
                s.secret
                    .is_none()
                    .then(|| secrets.sources.get(&s.name).cloned())
                    .flatten(),
            )
        })
        .collect();
    let runtime = Runtime {
        store: Arc::new(store),
        zendesk_url: url.clone(),
        zendesk_email: email,
        zendesk_token: token,
        generated_secrets: secrets.sources.clone(),
        admin_token,
        clock: app::system_clock(),
        worker_id: format!("deskline-{}", std::process::id()),
        // Used only when server.recording_link_key is not set.
        recording_link_key: Some(secrets.recording_link_key.clone()),
    };
    let service = app::start(resolved, runtime, listener).await?;
    let provisioned = match &sandbox {
        Some(_) => Some(provision_sandbox(&service).await),
        None => None,
    };
    println!("deskline is running on {base}");
    if sandbox.is_some() {
        println!("  SANDBOX MODE: tickets go to the built-in Zendesk sandbox at {url} (not a real Zendesk account)");
        println!(
            "  sandbox login: {}/token:{}",
            zendesk_sandbox::DEFAULT_ADMIN_EMAIL,
            zendesk_sandbox::DEFAULT_API_TOKEN
        );
        match provisioned {
            Some(Ok(())) => println!(
                "  the sandbox's webhooks and reply trigger call deskline at {base}/zendesk/webhook"
            ),
            Some(Err(e)) => println!("  the sandbox's webhooks could not be set up: {e}"),
            None => {}
        }
    } else {
        println!("  Zendesk: {url}");
    }
    for (name, header, generated) in banner_sources {
        println!("  webhook for source {name:?}: POST {base}/hooks/{name}");
        match generated {
            Some(secret) => println!("      add the header  {header}: {secret}"),
            None => {
                println!("      add the header  {header}: <the secret configured for this source>")
            }
        }
    }
    println!(
        "  admin API token: see {} (or server.admin_token)",
        crate::secrets::path_in(&dir).display()
    );
    if sandbox.is_some() {
        println!("  try it: deskline test-call --answered --agent priya.sharma@sandbox.test");
        println!("          deskline test-handoff");
    }
    wait_for_stop().await;
    println!("stopping deskline");
    service.shutdown().await;
    if let Some(handle) = sandbox {
        handle.shutdown().await;
    }
    Ok(())
}

/// Points the in-process sandbox's webhooks and reply trigger at this service, as
/// `deskline zendesk provision` does for a real account (a no-op when already done), so
/// agents' replies and ticket events flow locally too.
async fn provision_sandbox(service: &app::Service) -> anyhow::Result<()> {
    let mut addr = service.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
    }
    let endpoint = reqwest::Url::parse(&format!("http://{addr}/zendesk/webhook"))?;
    deskline_server::provision::provision(
        &service.state.zendesk,
        service.state.store.as_ref(),
        &endpoint,
        chrono::Utc::now(),
    )
    .await?;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
