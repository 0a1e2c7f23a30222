//! The deskline command line.

mod check_cmd;
mod client;
mod handoff_cmd;
mod jobs_cmd;
mod memory;
mod migrate_cmd;
mod report;
mod sandbox_cmd;
mod secrets;
mod serve_cmd;
mod service;
mod sources_cmd;
mod status_cmd;
mod store_open;
mod table;
mod test_call_cmd;
mod zendesk_cmd;

use std::process::ExitCode;

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
    /// Apply the database migrations this deskline needs (serve applies them at start unless
    /// --no-migrate).
    Migrate(migrate_cmd::MigrateArgs),
    /// Report every problem of a configuration and of its Zendesk account at once (exit 1 if any).
    Check(check_cmd::CheckArgs),
    /// Post a realistic test call to the running service and print the ticket it became.
    TestCall(test_call_cmd::TestCallArgs),
    /// Post a realistic AI handoff to the running service and print the ticket it became.
    TestHandoff(handoff_cmd::TestHandoffArgs),
    /// Whether the running service accepts calls and they become tickets: Zendesk's state
    /// (checks, outage, pauses), the directory, job counts, and each problem with its fix.
    Status {
        #[command(flatten)]
        target: client::Target,
        #[command(flatten)]
        output: jobs_cmd::Output,
    },
    /// Inspect, retry or cancel jobs.
    Jobs {
        #[command(flatten)]
        target: client::Target,
        #[command(flatten)]
        output: jobs_cmd::Output,
        #[command(subcommand)]
        command: jobs_cmd::JobsCommand,
    },
    /// The agent directory: emails that match no Zendesk agent, or sync now.
    Agents {
        #[command(flatten)]
        target: client::Target,
        #[command(flatten)]
        output: jobs_cmd::Output,
        #[command(subcommand)]
        command: jobs_cmd::AgentsCommand,
    },
    /// Check a source's configuration against a sample payload (a dry run: nothing is sent).
    Sources {
        #[command(flatten)]
        target: client::Target,
        #[command(flatten)]
        output: jobs_cmd::Output,
        #[command(subcommand)]
        command: sources_cmd::SourcesCommand,
    },
    /// Run a local Zendesk sandbox (an emulator of the Support API deskline uses).
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Connect Zendesk's webhooks to deskline (provision), or remove them (disconnect).
    Zendesk {
        #[command(subcommand)]
        command: zendesk_cmd::ZendeskCommand,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DESKLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return report::fail(&anyhow::Error::new(e).context("cannot start")),
    };
    // Errors are printed here, for people: returning them from main would print their Debug
    // form, with a stack backtrace whenever RUST_BACKTRACE is set.
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report::fail(&e),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve_cmd::run(args).await,
        Command::Migrate(args) => migrate_cmd::run(args).await,
        Command::Check(args) => check_cmd::check(args).await,
        Command::TestCall(args) => test_call_cmd::test_call(args).await,
        Command::TestHandoff(args) => handoff_cmd::test_handoff(args).await,
        Command::Status { target, output } => status_cmd::status(target, output).await,
        Command::Jobs {
            target,
            output,
            command,
        } => jobs_cmd::jobs(target, output, command).await,
        Command::Agents {
            target,
            output,
            command,
        } => jobs_cmd::agents(target, output, command).await,
        Command::Sources {
            target,
            output,
            command,
        } => sources_cmd::sources(target, output, command).await,
        Command::Sandbox(args) => sandbox_cmd::run(args).await,
        Command::Zendesk { command } => zendesk_cmd::run(command).await,
    }
}
