//! `deskline sandbox`: runs the local Zendesk emulator until interrupted.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use zendesk_sandbox::{FaultSettings, Plan, SandboxConfig, Seed};

/// Options of `deskline sandbox`.
#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = zendesk_sandbox::DEFAULT_PORT)]
    port: u16,
    /// Address to bind; loopback by default so the sandbox is not exposed.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Seed file (JSON) replacing the built-in account: agents, groups, fields, users.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Zendesk plan; sets the account-wide requests per minute.
    #[arg(long, default_value = "enterprise", value_parser = parse_plan)]
    plan: Plan,
    /// Account-wide requests per minute, overriding the plan's.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Email of the admin the API token acts as.
    #[arg(long, env = "SANDBOX_ADMIN_EMAIL", default_value = zendesk_sandbox::DEFAULT_ADMIN_EMAIL)]
    admin_email: String,
    /// API token accepted by the sandbox.
    #[arg(long, env = "SANDBOX_API_TOKEN", default_value = zendesk_sandbox::DEFAULT_API_TOKEN, hide_env_values = true)]
    token: String,
    /// Keep state in this file so a restarted sandbox keeps its tickets.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Seconds before a new user can be found by /users/search.
    #[arg(long, default_value_t = 5.0)]
    index_delay: f64,
    /// Milliseconds of latency added to every API answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0 to 1) of API requests answered with 500, 502 or 503.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fraction (0 to 1) of API requests whose connection is dropped.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Start with a 429 storm lasting this many seconds.
    #[arg(long, default_value_t = 0)]
    storm_seconds: u64,
}

fn parse_plan(s: &str) -> Result<Plan, String> {
    s.parse()
}

impl SandboxArgs {
    fn into_config(self) -> anyhow::Result<(SandboxConfig, String, u16)> {
        let seed = match &self.seed {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read seed file {}", path.display()))?;
                Seed::from_json(&text).with_context(|| format!("seed file {}", path.display()))?
            }
            None => Seed::default_seed(),
        };
        if !(0.0..=3600.0).contains(&self.index_delay) {
            anyhow::bail!("--index-delay must be between 0 and 3600 seconds");
        }
        let faults = FaultSettings {
            latency_ms: self.latency_ms,
            error_rate: self.error_rate,
            drop_rate: self.drop_rate,
            rate_limit_storm_seconds: self.storm_seconds,
            ..FaultSettings::default()
        };
        faults.validate().map_err(anyhow::Error::msg)?;
        let config = SandboxConfig {
            admin_email: self.admin_email,
            api_token: self.token,
            plan: self.plan,
            rate_limit_per_minute: self.rate_limit,
            search_index_delay: Duration::from_secs_f64(self.index_delay),
            seed,
            state_file: self.state,
            faults,
            ..SandboxConfig::default()
        };
        Ok((config, self.host, self.port))
    }
}

/// Starts the sandbox, prints how to reach it, and runs until Ctrl-C.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let (config, host, port) = args.into_config()?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| {
            format!("cannot listen on {host}:{port} (is another sandbox running? try --port)")
        })?;
    let email = config.admin_email.clone();
    let token = config.api_token.clone();
    let limit = config.effective_rate_limit();
    let plan = config.plan.name();
    let handle = zendesk_sandbox::start(config, listener).await?;
    println!("Zendesk sandbox listening on {}", handle.base_url);
    println!("  API base URL : {}/api/v2", handle.base_url);
    println!("  credentials  : {email}/token:{token}   (HTTP Basic), or Bearer {token}");
    println!("  agents       : <agent email>:agent-password acts in the agent workspace (via web)");
    println!("  rate limit   : {limit} requests/minute ({plan} plan)");
    println!(
        "  try          : curl -u {email}/token:{token} {}/api/v2/users?role=agent",
        handle.base_url
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    println!("stopping sandbox");
    handle.shutdown().await;
    Ok(())
}
