//! The deskline command line.

mod sandbox_cmd;

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
    /// Run a local Zendesk sandbox (an emulator of the Support API deskline uses).
    Sandbox(sandbox_cmd::SandboxArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DESKLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Sandbox(args) => sandbox_cmd::run(args).await,
    }
}
