//! `deskline jobs …` and `deskline agents …`: the queue and the agent directory of a running
//! service, as tables and summaries for people, or `--json` for scripts.

use anyhow::Context;
use clap::{Args, Subcommand};
use deskline_store::{AgentMismatch, DirectoryReplaced, Job, JobDetail, JobState};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Connection, Target};
use crate::table::{clip, print_json, print_table, table, time};

/// `--json`, shared by the commands that print tables.
#[derive(Args, Debug, Clone, Copy)]
pub struct Output {
    /// Print the service's answer as JSON (for scripts) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `deskline jobs …`
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, oldest first.
    List {
        /// available, running, retryable, completed, discarded or cancelled.
        #[arg(long)]
        state: Option<JobState>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one job with its attempts.
    Show {
        /// The job id.
        id: i64,
    },
    /// Run a job again now (from the dead letter, or before its scheduled retry).
    Retry {
        /// The job id.
        id: i64,
    },
    /// Cancel a job that has not run yet.
    Cancel {
        /// The job id.
        id: i64,
    },
}

fn field<T: DeserializeOwned>(mut answer: Value, key: &str) -> anyhow::Result<T> {
    serde_json::from_value(answer[key].take())
        .with_context(|| format!("cannot read the service's answer ({key})"))
}

/// Runs a `jobs` subcommand.
pub async fn jobs(target: Target, output: Output, command: JobsCommand) -> anyhow::Result<()> {
    let conn = Connection::open(&target, &[])?;
    match command {
        JobsCommand::List { state, limit } => {
            let mut path = format!("/admin/jobs?limit={limit}");
            if let Some(s) = state {
                path.push_str(&format!("&state={s}"));
            }
            let answer = conn.admin(reqwest::Method::GET, &path).await?;
            if output.json {
                return print_json(&answer);
            }
            let jobs: Vec<Job> = field(answer, "jobs")?;
            print_jobs(&jobs, state)?;
        }
        JobsCommand::Show { id } => {
            let answer = conn
                .admin(reqwest::Method::GET, &format!("/admin/jobs/{id}"))
                .await?;
            if output.json {
                return print_json(&answer);
            }
            print_job(&field(answer, "job")?)?;
        }
        JobsCommand::Retry { id } | JobsCommand::Cancel { id } => {
            let (action, done) = match command {
                JobsCommand::Retry { .. } => ("retry", "will run again now"),
                _ => ("cancel", "is cancelled and will not run"),
            };
            let answer = conn
                .admin(reqwest::Method::POST, &format!("/admin/jobs/{id}/{action}"))
                .await?;
            if output.json {
                return print_json(&answer);
            }
            println!("job {id} {done}");
        }
    }
    Ok(())
}

fn print_jobs(jobs: &[Job], state: Option<JobState>) -> anyhow::Result<()> {
    if jobs.is_empty() {
        match state {
            Some(JobState::Discarded) => println!("no discarded jobs: the dead letter is empty"),
            Some(s) => println!("no {s} jobs"),
            None => println!("no jobs yet: each event deskline receives becomes one or more jobs"),
        }
        return Ok(());
    }
    let mut t = table(&["id", "state", "kind", "attempts", "updated", "last error"]);
    for j in jobs {
        let updated = j.finalized_at.or(j.attempted_at).unwrap_or(j.created_at);
        t.add_row(vec![
            j.id.to_string(),
            j.state.to_string(),
            j.kind.clone(),
            format!("{}/{}", j.attempt, j.max_attempts),
            time(&updated),
            clip(j.last_error().map_or("", |e| e.error.as_str()), 100),
        ]);
    }
    print_table(&t)
}

fn print_job(detail: &JobDetail) -> anyhow::Result<()> {
    let j = &detail.job;
    println!(
        "job {} ({} on queue {}): {}, attempt {} of {}",
        j.id, j.kind, j.queue, j.state, j.attempt, j.max_attempts
    );
    if let Some(e) = &detail.event {
        println!(
            "  event     : {} from source {} ({})",
            e.id.0, e.source, e.dedupe_key
        );
    }
    println!("  created   : {}", time(&j.created_at));
    match (j.state, j.finalized_at) {
        (_, Some(at)) => println!("  finished  : {}", time(&at)),
        (JobState::Available | JobState::Retryable, None) => {
            println!("  next run  : {}", time(&j.scheduled_at))
        }
        _ => {}
    }
    if j.snoozes > 0 {
        println!(
            "  snoozed   : {} time(s){}",
            j.snoozes,
            j.snooze_reason
                .as_deref()
                .map(|r| format!(", last because {r}"))
                .unwrap_or_default()
        );
    }
    println!("  arguments : {}", j.args);
    if detail.attempts.is_empty() {
        println!("no attempts yet");
    } else {
        let mut t = table(&["attempt", "started", "took", "outcome", "http", "answer"]);
        for a in &detail.attempts {
            t.add_row(vec![
                a.attempt.to_string(),
                time(&a.started_at),
                format!("{} ms", a.duration_ms),
                a.outcome.as_str().to_string(),
                a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                clip(a.response_summary.as_deref().unwrap_or(""), 80),
            ]);
        }
        print_table(&t)?;
    }
    for e in &j.errors {
        println!(
            "error of attempt {} ({}): {}",
            e.attempt,
            time(&e.at),
            e.error
        );
    }
    if j.state == JobState::Discarded {
        println!("once the cause is fixed: deskline jobs retry {}", j.id);
    }
    Ok(())
}

/// `deskline agents …`
#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Agent emails from calls that match no Zendesk agent.
    Mismatches,
    /// Sync the agent directory from Zendesk now.
    Sync,
}

/// Runs an `agents` subcommand.
pub async fn agents(target: Target, output: Output, command: AgentsCommand) -> anyhow::Result<()> {
    let conn = Connection::open(&target, &[])?;
    match command {
        AgentsCommand::Mismatches => {
            let answer = conn
                .admin(reqwest::Method::GET, "/admin/agents/mismatches")
                .await?;
            if output.json {
                return print_json(&answer);
            }
            let list: Vec<AgentMismatch> = field(answer, "mismatches")?;
            if list.is_empty() {
                println!("every agent email seen in calls matches a Zendesk agent");
                return Ok(());
            }
            let mut t = table(&["email as sent", "calls", "last seen", "source", "last call"]);
            for m in &list {
                t.add_row(vec![
                    m.email_as_sent.clone(),
                    m.count.to_string(),
                    time(&m.last_seen),
                    m.source.clone(),
                    m.last_call_id.clone().unwrap_or_default(),
                ]);
            }
            print_table(&t)?;
            println!(
                "these calls went to the fallback group: add the agents in Zendesk (or fix the \
                 emails at the provider), then run `deskline agents sync`"
            );
        }
        AgentsCommand::Sync => {
            let answer = conn
                .admin(reqwest::Method::POST, "/admin/directory/sync")
                .await?;
            if output.json {
                return print_json(&answer);
            }
            let r: DirectoryReplaced = field(answer, "synced")?;
            println!(
                "synced {} agent(s) and {} group(s) from Zendesk",
                r.agents, r.groups
            );
            if r.resolved_mismatches > 0 {
                println!(
                    "{} agent email(s) that matched nobody now match an agent",
                    r.resolved_mismatches
                );
            }
        }
    }
    Ok(())
}
