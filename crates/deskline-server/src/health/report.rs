//! The status report behind `/readyz` and `GET /admin/status` (and so `deskline status`):
//! whether calls are being accepted, whether they can become tickets, and if not, each
//! problem with the configuration key it concerns and how to fix it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::gate::ZENDESK_API_PAUSE;
use super::{breaker::Open, CheckState};
use crate::config::Problem;
use crate::state::AppState;
use crate::worker::call_ticket::ZENDESK_QUEUE;

/// The service as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Calls are accepted and become tickets.
    Ready,
    /// Calls are accepted and kept; they wait for the problems listed to pass.
    Degraded,
    /// The store does not answer: calls cannot be accepted.
    Unavailable,
}

/// The helpdesk, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HelpdeskState {
    /// It answers and fits the configuration.
    Ok,
    /// The first check has not finished.
    Checking,
    /// It does not answer (the checks, or the breaker, say so).
    Unreachable,
    /// It asked deskline to wait (a 429, or a 503 with `Retry-After`).
    RateLimited,
    /// It answers, and does not fit the configuration (token, fields, groups).
    Misconfigured,
}

/// A pause in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PauseReport {
    /// Until when.
    pub until: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// The helpdesk's part of the report.
#[derive(Clone, Debug, Serialize)]
pub struct HelpdeskReport {
    /// In one word.
    pub state: HelpdeskState,
    /// When the account was last checked.
    pub checked_at: Option<DateTime<Utc>>,
    /// When it is checked again, while a check fails.
    pub next_check: Option<DateTime<Utc>>,
    /// The circuit breaker, while open.
    pub outage: Option<Open>,
    /// Zendesk's own pause (429), shared by every request of every instance.
    pub rate_limit_pause: Option<PauseReport>,
    /// The Zendesk queue's pause: no job runs until it ends.
    pub queue_pause: Option<PauseReport>,
}

/// The agent directory's part of the report.
#[derive(Clone, Debug, Serialize)]
pub struct DirectoryReport {
    /// When it was last synced.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Agents known.
    pub agents: u64,
    /// Why the latest sync failed, if it did.
    pub last_error: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// In one word.
    pub status: Overall,
    /// Whether the store answers.
    pub store: &'static str,
    /// The helpdesk.
    pub helpdesk: HelpdeskReport,
    /// The agent directory.
    pub directory: Option<DirectoryReport>,
    /// Jobs by state (admin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs: Option<BTreeMap<String, u64>>,
    /// Each problem, with its key and fix; empty when ready.
    pub problems: Vec<Problem>,
}

/// Builds the report; `with_jobs` adds job counts (the admin API's view).
pub async fn build(state: &AppState, address_key: &str, with_jobs: bool) -> StatusReport {
    let now = state.clock.now();
    let health = &state.helpdesk;
    let mut problems = Vec::new();
    let store_ok = match state.store.health().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "store is not healthy");
            let cause = e.outage().unwrap_or_else(|| e.to_string());
            problems.push(Problem {
                key: "storage".into(),
                problem: format!("the store does not answer ({cause}): calls cannot be accepted"),
                fix: "check the database (storage.sqlite_path's file, its disk and permissions, \
                      or the server at storage.url)"
                    .into(),
            });
            false
        }
    };
    let pause = |key: &'static str| async move {
        state
            .store
            .queue_paused_until(key, now)
            .await
            .ok()
            .flatten()
            .map(|p| PauseReport {
                until: p.paused_until,
                reason: p.reason,
            })
    };
    let rate_limit_pause = pause(ZENDESK_API_PAUSE).await;
    let queue_pause = pause(ZENDESK_QUEUE).await;
    let outage = health.breaker.open();
    let check = health.check();
    let (mut helpdesk_state, checked_at, next_check) = match &check {
        CheckState::Pending => (HelpdeskState::Checking, None, None),
        CheckState::Passed { at } => (HelpdeskState::Ok, Some(*at), None),
        CheckState::Unreachable { at, problem, next } => {
            problems.push(problem.clone());
            (HelpdeskState::Unreachable, Some(*at), Some(*next))
        }
        CheckState::Misfit {
            at,
            problems: found,
            next,
        } => {
            problems.extend(found.iter().cloned());
            (HelpdeskState::Misconfigured, Some(*at), Some(*next))
        }
    };
    if let Some(open) = &outage {
        if helpdesk_state != HelpdeskState::Unreachable {
            problems.push(Problem {
                key: address_key.to_string(),
                problem: format!(
                    "Zendesk has not answered {} requests in a row since {} (latest: {}); the \
                     queue waits and tries again at {}",
                    open.failures, open.since, open.last_error, open.next_probe
                ),
                fix: format!(
                    "nothing to do if Zendesk has an incident (calls are kept, no attempt is \
                     spent); otherwise check {address_key} and this machine's network"
                ),
            });
        }
        if helpdesk_state != HelpdeskState::Misconfigured {
            helpdesk_state = HelpdeskState::Unreachable;
        }
    }
    if let Some(p) = &rate_limit_pause {
        problems.push(Problem {
            key: "zendesk.requests_per_minute".into(),
            problem: format!(
                "Zendesk asked deskline to wait until {} ({})",
                p.until, p.reason
            ),
            fix: "nothing to do: calls are kept and sent after the pause; if it recurs, lower \
                  zendesk.requests_per_minute (other integrations share the account's limit)"
                .into(),
        });
        if helpdesk_state == HelpdeskState::Ok || helpdesk_state == HelpdeskState::Checking {
            helpdesk_state = HelpdeskState::RateLimited;
        }
    }
    let directory = match state.store.directory_status().await {
        Ok(d) => {
            // While Zendesk is out or misfit, the sync fails for that reason, already listed.
            if d.last_synced_at.is_none() && helpdesk_state == HelpdeskState::Ok {
                if let Some(error) = &d.last_error {
                    problems.push(Problem {
                        key: "zendesk.email".into(),
                        problem: format!("the agent directory has never been synced: {error}"),
                        fix: "it is retried on its own; answered calls are assigned once it \
                              syncs (zendesk.email must be allowed to list agents and groups)"
                            .into(),
                    });
                }
            }
            Some(DirectoryReport {
                last_synced_at: d.last_synced_at,
                agents: d.agent_count,
                last_error: d.last_error,
            })
        }
        Err(_) => None,
    };
    let jobs = if with_jobs {
        state.store.count_jobs_by_state().await.ok().map(|counts| {
            counts
                .into_iter()
                .map(|(s, n)| (s.as_str().to_string(), n))
                .collect()
        })
    } else {
        None
    };
    let status = if !store_ok {
        Overall::Unavailable
    } else if problems.is_empty() && helpdesk_state == HelpdeskState::Ok {
        Overall::Ready
    } else {
        Overall::Degraded
    };
    StatusReport {
        status,
        store: if store_ok { "ok" } else { "unavailable" },
        helpdesk: HelpdeskReport {
            state: helpdesk_state,
            checked_at,
            next_check,
            outage,
            rate_limit_pause,
            queue_pause,
        },
        directory,
        jobs,
        problems,
    }
}
