//! The deskline command line.

mod handoff_cmd;
mod ops_cmd;
mod sandbox_cmd;
mod secrets;
mod serve_cmd;
mod zendesk_cmd;

use clap::{Parser, Subcommand};

/// Connects contact-center channels to Zendesk.
#[derive(Parser)]
#[command(name = "deskline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (no configuration: embedded defaults with the built-in Zendesk sandbox).
    Serve(serve_cmd::ServeArgs),
    /// Post a realistic test call to the running service and print the ticket it became.
    TestCall(ops_cmd::TestCallArgs),
    /// Post a realistic AI handoff to the running service and print the ticket it became.
    TestHandoff(handoff_cmd::TestHandoffArgs),
    /// Inspect, retry or cancel jobs.
    Jobs {
        #[command(flatten)]
        target: ops_cmd::Target,
        #[command(subcommand)]
        command: ops_cmd::JobsCommand,
    },
    /// The agent directory: emails that match no Zendesk agent, or sync now.
    Agents {
        #[command(flatten)]
        target: ops_cmd::Target,
        #[command(subcommand)]
        command: ops_cmd::AgentsCommand,
    },
    /// Check a source's configuration against a sample payload.
    Sources {
        #[command(flatten)]
        target: ops_cmd::Target,
        #[command(subcommand)]
        command: ops_cmd::SourcesCommand,
    },
    /// Run a local Zendesk sandbox (an emulator of the Support API deskline uses).
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Connect Zendesk's webhooks to deskline (provision), or remove them (disconnect).
    Zendesk {
        #[command(subcommand)]
        command: zendesk_cmd::ZendeskCommand,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DESKLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve_cmd::run(args).await,
        Command::TestCall(args) => ops_cmd::test_call(args).await,
        Command::TestHandoff(args) => handoff_cmd::test_handoff(args).await,
        Command::Jobs { target, command } => ops_cmd::jobs(target, command).await,
        Command::Agents { target, command } => ops_cmd::agents(target, command).await,
        Command::Sources { target, command } => ops_cmd::sources(target, command).await,
        Command::Sandbox(args) => sandbox_cmd::run(args).await,
        Command::Zendesk { command } => zendesk_cmd::run(command).await,
    }
}
