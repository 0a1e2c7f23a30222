//! `deskline check`: every problem of a configuration and of the Zendesk account it names (the
//! token, the ticket fields and the groups), in one round, before `deskline serve` meets them.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use deskline_server::config::{self, Problem, Purpose, Resolved, Scope, ZendeskTarget};
use deskline_server::preflight::{self, PreflightError};
use deskline_zendesk::{Secret, ZendeskClient, ZendeskConfig};

/// Options of `deskline check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The configuration to check (none: the embedded defaults, with the built-in sandbox).
    #[arg(long, short = 'c', env = "DESKLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Checks the configuration and the account; an error (exit 1) when anything is wrong.
pub async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let file = args.config.as_deref();
    match file {
        Some(f) => println!("checking {} with the DESKLINE_* environment", f.display()),
        None => {
            println!("checking the embedded defaults (no --config) with the DESKLINE_* environment")
        }
    }
    let (resolved, problems) = match config::read(file, Scope::All) {
        Ok(loaded) => {
            let (resolved, mut problems) = config::resolve(loaded.config, Purpose::Serve);
            let mut all = loaded.unknown_keys;
            all.append(&mut problems);
            (Some(resolved), all)
        }
        Err(e) => (None, e.problems),
    };
    print_section("", "configuration", &problems);
    let mut found = problems.len();
    match resolved {
        None => println!("Zendesk account: not checked, the configuration could not be read"),
        Some(r) => found += check_account(&r, &problems).await?,
    }
    if found > 0 {
        bail!(
            "{found} problem{} found; fix {} and run `deskline check` again",
            if found == 1 { "" } else { "s" },
            if found == 1 { "it" } else { "them" }
        );
    }
    let config_arg = file
        .map(|f| format!(" --config {}", f.display()))
        .unwrap_or_default();
    println!("ready: `deskline serve{config_arg}` will start");
    Ok(())
}

fn print_section(indent: &str, what: &str, problems: &[Problem]) {
    match problems.len() {
        0 => println!("{indent}{what}: no problems"),
        1 => println!("{indent}{what}: 1 problem"),
        n => println!("{indent}{what}: {n} problems"),
    }
    for p in problems {
        println!("{indent}  - {p}");
    }
}

/// The account's problems, printed; how many.
async fn check_account(r: &Resolved, config_problems: &[Problem]) -> anyhow::Result<usize> {
    let key = r.zendesk_address_key();
    let mut sandbox = None;
    let (url, email, token) = match &r.zendesk {
        ZendeskTarget::Sandbox => {
            // The sandbox `serve` starts is seeded the same way each time: check against a
            // fresh one, in memory.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let handle =
                zendesk_sandbox::start(zendesk_sandbox::SandboxConfig::default(), listener).await?;
            let url = handle.base_url.clone();
            sandbox = Some(handle);
            println!("Zendesk account: the built-in sandbox (zendesk.sandbox = true)");
            (
                url,
                zendesk_sandbox::DEFAULT_ADMIN_EMAIL.to_string(),
                zendesk_sandbox::DEFAULT_API_TOKEN.to_string(),
            )
        }
        ZendeskTarget::Remote { .. }
            if config_problems
                .iter()
                .any(|p| p.key.starts_with("zendesk.")) =>
        {
            println!("Zendesk account: not checked until the zendesk.* problems above are fixed");
            return Ok(0);
        }
        ZendeskTarget::Remote {
            base_url,
            email,
            api_token,
        } => (base_url.clone(), email.clone(), api_token.clone()),
    };
    let mut zconfig = ZendeskConfig::new(url.clone(), email, Secret::new(token));
    zconfig.requests_per_minute = r.requests_per_minute;
    zconfig.timeout = r.config.zendesk.timeout;
    let problems = match ZendeskClient::new(&zconfig) {
        Err(e) => vec![Problem {
            key: key.to_string(),
            problem: format!("cannot talk to {url}: {e}"),
            fix: format!("check {key}, zendesk.email and zendesk.api_token"),
        }],
        Ok(client) => {
            match preflight::check(&client, key, &r.sources.iter().collect::<Vec<_>>()).await {
                Ok(()) => Vec::new(),
                Err(e @ PreflightError::Unreachable { .. }) => vec![Problem {
                    key: key.to_string(),
                    problem: e.to_string(),
                    fix: format!("check {key} and that this machine can reach it"),
                }],
                Err(PreflightError::Mismatch { problems, .. }) => problems,
            }
        }
    };
    if sandbox.is_none() {
        println!("Zendesk account: {url} ({key})");
    }
    print_section("  ", "token, ticket fields and groups", &problems);
    if let Some(handle) = sandbox {
        handle.shutdown().await;
    }
    Ok(problems.len())
}
