//! The start-up checks, run in the background: ingress answers from the first second while
//! these find out whether Zendesk answers and fits the configuration, retrying with backoff.
//! A misfit account (a rejected token, a missing field or group) pauses the Zendesk queue with
//! the problem as its reason, renewed on each check, so calls are kept and become tickets once
//! a check passes.

use std::time::Duration;

use tokio::sync::watch;

use super::CheckState;
use crate::config::{Problem, ResolvedSource};
use crate::preflight::{self, PreflightError};
use crate::state::AppState;
use crate::worker::call_ticket::ZENDESK_QUEUE;

/// Checks now, then again whenever a check failed (or a job asks), until `stop`.
pub async fn run(state: AppState, address_key: String, mut stop: watch::Receiver<bool>) {
    let sources: Vec<&ResolvedSource> = state.sources.values().map(|s| &s.config).collect();
    let health = state.helpdesk.clone();
    let settings = health.breaker.settings();
    let first = settings.first_probe.max(Duration::from_millis(100));
    let mut backoff = first;
    loop {
        let result = preflight::check(&state.zendesk, &address_key, &sources).await;
        let now = state.clock.now();
        let wait = match result {
            Ok(()) => {
                backoff = first;
                let before = health.set_check(CheckState::Passed { at: now });
                if !matches!(before, CheckState::Passed { .. }) {
                    tracing::info!("Zendesk answers and fits the configuration");
                }
                if !matches!(before, CheckState::Passed { .. } | CheckState::Pending) {
                    // The directory sync may have failed meanwhile; no need to wait for it.
                    health.sync_directory_now();
                }
                None
            }
            Err(PreflightError::Unreachable {
                url,
                key,
                reason,
                retry_after,
            }) => {
                let wait = retry_after.unwrap_or(backoff);
                backoff = (backoff * 2).min(settings.max_probe.max(first));
                let problem = Problem {
                    key: key.clone(),
                    problem: format!("cannot reach Zendesk at {url} ({key}): {reason}"),
                    fix: format!(
                        "check {key} and that this machine can reach it; calls are kept and \
                         become tickets once Zendesk answers"
                    ),
                };
                tracing::warn!(%url, %reason, retry_in_ms = wait.as_millis() as u64, "Zendesk check: no answer; trying again");
                health.set_check(CheckState::Unreachable {
                    at: now,
                    problem,
                    next: now + chrono_duration(wait),
                });
                Some(wait)
            }
            Err(PreflightError::Mismatch { url, problems }) => {
                backoff = first;
                let wait = health.recheck_interval;
                let until = now + chrono_duration(wait);
                let reason = pause_reason(&problems);
                for p in &problems {
                    tracing::error!(%url, key = %p.key, problem = %p.problem, fix = %p.fix, "Zendesk does not fit the configuration; the queue is paused");
                }
                // Renewed on each check and left to run out once one passes, so the pause
                // never outlives the problem by more than one interval.
                if let Err(e) = state
                    .store
                    .pause_queue(
                        ZENDESK_QUEUE,
                        until + chrono_duration(wait.min(Duration::from_secs(5))),
                        &reason,
                    )
                    .await
                {
                    tracing::error!(error = %e, "cannot pause the Zendesk queue");
                }
                health.set_check(CheckState::Misfit {
                    at: now,
                    problems,
                    next: until,
                });
                Some(wait)
            }
        };
        let health = health.clone();
        tokio::select! {
            _ = stop.changed() => return,
            _ = health.recheck_requested() => {}
            _ = sleep_or_probe(&state, wait, first) => {}
        }
    }
}

/// Sleeps `wait`; with none (the checks passed), until the breaker is open and its probe is
/// due, so an outage ends even when no job is waiting to find out.
async fn sleep_or_probe(state: &AppState, wait: Option<Duration>, tick: Duration) {
    if let Some(d) = wait {
        tokio::time::sleep(d).await;
        return;
    }
    loop {
        tokio::time::sleep(tick).await;
        if let Some(open) = state.helpdesk.breaker.open() {
            if state.clock.now() >= open.next_probe {
                return;
            }
        }
    }
}

/// The queue's pause reason: the problems, each with its key.
fn pause_reason(problems: &[Problem]) -> String {
    let list = problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.problem))
        .collect::<Vec<_>>()
        .join("; ");
    format!("Zendesk does not fit the configuration ({list})")
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(5))
}
