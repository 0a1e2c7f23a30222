//! `deskline serve`: runs the service; with no configuration, on embedded defaults (a SQLite
//! file under ./deskline-data and the Zendesk sandbox in-process).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use deskline_server::app::{self, Runtime};
use deskline_server::config::{self, Purpose, Resolved, Scope, SourceKind};
use deskline_store::SqliteStore;

use crate::secrets::GeneratedSecrets;
use crate::service::{data_dir, service_url, shown};

/// Options of `deskline serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file; without it deskline runs on embedded defaults (sandbox mode).
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Loads and checks the whole configuration for serving, with every problem in the error.
pub fn load(config_file: Option<&Path>) -> anyhow::Result<Resolved> {
    Ok(config::load_resolved(
        config_file,
        Scope::All,
        Purpose::Serve,
    )?)
}

/// Generated secrets, created on first use (only `serve` creates them).
fn secrets(resolved: &Resolved) -> anyhow::Result<GeneratedSecrets> {
    let dir = data_dir(&resolved.config);
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
    let dir = data_dir(&resolved.config);
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
    let storage = &resolved.config.storage;
    let store = SqliteStore::open_with(&storage.sqlite_path, storage.sqlite_options())
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
    let base = service_url(&resolved.config);
    let banner_sources: Vec<BannerSource> = resolved
        .sources
        .iter()
        .map(|s| BannerSource {
            name: s.name.clone(),
            kind: s.kind,
            header: s.secret_header.clone(),
            generated: s
                .secret
                .is_none()
                .then(|| secrets.sources.get(&s.name).cloned())
                .flatten(),
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
    for source in &banner_sources {
        for line in source.instructions(&base) {
            println!("{line}");
        }
    }
    println!(
        "  admin API token: see {} (or server.admin_token)",
        shown(&crate::secrets::path_in(&dir))
    );
    if sandbox.is_some() {
        let me = command_name();
        println!("  try it, in another terminal and from this directory (the commands find the");
        println!("  admin token in {}):", shown(&dir));
        println!("          {me} test-call --answered --agent priya.sharma@sandbox.test");
        println!("          {me} test-handoff");
    }
    wait_for_stop().await;
    println!("stopping deskline");
    service.shutdown().await;
    if let Some(handle) = sandbox {
        handle.shutdown().await;
    }
    Ok(())
}

/// A source as the banner describes it.
struct BannerSource {
    name: String,
    kind: SourceKind,
    header: String,
    /// The generated secret, when none is configured.
    generated: Option<String>,
}

impl BannerSource {
    /// What to give the provider: the URL, and how this kind of source authenticates.
    fn instructions(&self, base: &str) -> Vec<String> {
        let name = &self.name;
        let url = format!("{base}/hooks/{name}");
        let variable = format!("DESKLINE_SOURCES__{}__SECRET", name.to_ascii_uppercase());
        let secret = self
            .generated
            .clone()
            .unwrap_or_else(|| "<the secret configured for this source>".to_string());
        let mut lines = vec![format!(
            "  webhook for source \"{name}\" ({}): POST {url}",
            crate::test_call_cmd::kind_name(self.kind)
        )];
        match self.kind {
            SourceKind::Myoperator | SourceKind::Generic | SourceKind::Handoff => {
                lines.push(format!("      add the header  {}: {secret}", self.header));
                lines.push("      (or send the secret as the HTTP Basic auth password)".into());
            }
            SourceKind::Exotel => {
                let shown = self
                    .generated
                    .clone()
                    .unwrap_or_else(|| "<the secret>".into());
                lines.push(format!(
                    "      give Exotel the URL with the secret in it: {url}?secret={shown}"
                ));
            }
            SourceKind::Twilio => {
                lines.push(
                    "      Twilio signs each request (X-Twilio-Signature) with your account's \
                     auth token, so this source's secret must be that token"
                        .into(),
                );
                if self.generated.is_some() {
                    lines.push(format!(
                        "      (a generated secret cannot match: set {variable} to the auth token)"
                    ));
                }
                lines.push(
                    "      and Twilio must call exactly this URL (set server.public_url to the \
                     address Twilio uses)"
                        .into(),
                );
            }
            SourceKind::Aircall => {
                lines.push(
                    "      Aircall sends its webhook token in each body (the token field): this \
                     source's secret must be the token Aircall shows for the webhook"
                        .into(),
                );
                if self.generated.is_some() {
                    lines.push(format!(
                        "      (a generated secret cannot match: set {variable} to that token)"
                    ));
                }
            }
        }
        lines
    }
}

/// How to run this binary again: `deskline` when that is what the PATH finds, else its path
/// (e.g. target/debug/deskline after `cargo run`).
fn command_name() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "deskline".to_string();
    };
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .filter_map(|dir| dir.join("deskline").canonicalize().ok())
                .any(|found| found == me)
        })
        .unwrap_or(false);
    if on_path {
        "deskline".to_string()
    } else {
        me.display().to_string()
    }
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
