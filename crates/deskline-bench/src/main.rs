//! deskline's benchmarks. They measure and print; they assert nothing, and `cargo test` does
//! not run them. See docs/benchmarks.md for the commands, the figures and how to read them.
//!
//! Each subcommand starts the Zendesk sandbox and deskline in this process on loopback ports,
//! with a SQLite file in a temporary directory, and prints a table and one JSON line.

mod calls;
mod drain;
mod handoffs;
mod harness;
mod ingest;
mod load;
mod stats;
mod tickets;

use clap::{Parser, Subcommand};

/// deskline's benchmarks (build with --release).
#[derive(Parser)]
#[command(name = "deskline-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Durable ingest rate on SQLite, against a /healthz baseline (the worker is paused).
    Ingest(ingest::IngestArgs),
    /// Calls → tickets end to end, and Zendesk requests per ticket, for first-time, repeat
    /// and mixed callers; peak memory.
    Tickets(tickets::TicketsArgs),
    /// Drain rate of a backlog under the account's rate limit, as a fraction of the limit.
    Drain(drain::DrainArgs),
    /// AI handoffs → tickets (new contacts, and returning contacts joining their open
    /// ticket) and agents' replies → the customer's channel: throughput, reply latency and
    /// Zendesk requests per handoff and per reply.
    Handoffs(handoffs::HandoffsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest::run(args).await,
            Command::Tickets(args) => tickets::run(args).await,
            Command::Drain(args) => drain::run(args).await,
            Command::Handoffs(args) => handoffs::run(args).await,
        }
    })
}
