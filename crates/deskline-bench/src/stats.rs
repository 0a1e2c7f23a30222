//! What the sandbox's request log and the job table say about a run: Zendesk requests by
//! purpose, and how long each call took from acknowledgement to ticket.

use std::collections::BTreeMap;

use deskline_store::{JobFilter, JobId, JobState, Store, MAX_LIST_LIMIT};
use serde_json::{json, Value};

/// Why deskline sent a request, read from its method and path.
pub fn purpose(method: &str, path: &str) -> &'static str {
    let bare = path.split('?').next().unwrap_or(path);
    let bare = bare.strip_suffix(".json").unwrap_or(bare);
    match (method, bare) {
        ("POST", "/api/v2/tickets") | ("POST", "/api/v2/channels/voice/tickets") => "ticket_create",
        ("GET", "/api/v2/tickets") => "ticket_lookup",
        ("GET", "/api/v2/users/search") => "user_search",
        ("POST", "/api/v2/users/create_or_update") => "user_create",
        ("GET", "/api/v2/users/me") | ("GET", "/api/v2/ticket_fields") => "preflight",
        ("GET", "/api/v2/users")
        | ("GET", "/api/v2/groups")
        | ("GET", "/api/v2/group_memberships") => "directory",
        _ => by_resource(method, bare),
    }
}

/// Purposes of paths that name one resource (`/api/v2/tickets/{id}`, its comments, a user)
/// and of provisioning (webhooks, triggers).
fn by_resource(method: &str, bare: &str) -> &'static str {
    let segments: Vec<&str> = bare.trim_start_matches("/api/v2/").split('/').collect();
    let is_id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (method, segments.as_slice()) {
        ("GET", ["tickets", id]) if is_id(id) => "ticket_show",
        ("PUT", ["tickets", id]) if is_id(id) => "ticket_update",
        ("GET", ["tickets", id, "comments"]) if is_id(id) => "comment_list",
        ("GET", ["users", id]) if is_id(id) => "user_show",
        (_, ["webhooks", ..]) | (_, ["triggers", ..]) => "provision",
        _ => "other",
    }
}

/// Zendesk requests of one stretch of a run.
#[derive(Clone, Debug, Default)]
pub struct RequestCounts {
    /// Every request by purpose (429 answers included).
    pub by_purpose: BTreeMap<&'static str, u64>,
    /// 429 answers (account limit, endpoint limits, storms).
    pub rate_limited: u64,
    /// 5xx answers and dropped connections.
    pub failed: u64,
    /// Idempotency-Key replays.
    pub idempotent_hits: u64,
}

impl RequestCounts {
    /// Counts the entries of a request log.
    pub fn of(entries: &[Value]) -> RequestCounts {
        let mut c = RequestCounts::default();
        for e in entries {
            let p = purpose(
                e["method"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
            );
            *c.by_purpose.entry(p).or_default() += 1;
            match e["status"].as_u64().unwrap_or(0) {
                429 => c.rate_limited += 1,
                0 | 500..=599 => c.failed += 1,
                _ => {}
            }
            if e["idempotency_lookup"] == "hit" {
                c.idempotent_hits += 1;
            }
        }
        c
    }

    /// Requests for `purpose`.
    pub fn get(&self, purpose: &str) -> u64 {
        self.by_purpose.get(purpose).copied().unwrap_or(0)
    }

    /// Requests made for calls: everything but preflight, directory sync and provisioning.
    pub fn for_calls(&self) -> u64 {
        self.by_purpose
            .iter()
            .filter(|(p, _)| !matches!(**p, "preflight" | "directory" | "provision"))
            .map(|(_, n)| n)
            .sum()
    }

    /// Preflight, directory-sync and provisioning requests.
    pub fn housekeeping(&self) -> u64 {
        self.get("preflight") + self.get("directory") + self.get("provision")
    }

    /// As JSON.
    pub fn json(&self) -> Value {
        json!({
            "by_purpose": self.by_purpose,
            "for_calls": self.for_calls(),
            "housekeeping": self.housekeeping(),
            "rate_limited": self.rate_limited,
            "failed": self.failed,
            "idempotent_hits": self.idempotent_hits,
        })
    }
}

/// The id of the newest job (0 when there is none).
pub async fn last_job_id(store: &dyn Store) -> anyhow::Result<i64> {
    let mut cursor = 0;
    loop {
        let page = store
            .list_jobs(&JobFilter {
                limit: MAX_LIST_LIMIT,
                after_id: Some(JobId(cursor)),
                ..JobFilter::default()
            })
            .await?;
        match page.last() {
            Some(j) => cursor = j.id.0,
            None => return Ok(cursor),
        }
    }
}

/// Completed jobs with an id above `after`: (call id, milliseconds from insert to completion).
pub async fn completed_jobs_after(
    store: &dyn Store,
    after: i64,
) -> anyhow::Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = store
            .list_jobs(&JobFilter {
                state: Some(JobState::Completed),
                limit: MAX_LIST_LIMIT,
                after_id: Some(JobId(cursor)),
                ..JobFilter::default()
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        cursor = last.id.0;
        for j in &page {
            if let Some(done) = j.finalized_at {
                let ms = (done - j.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                let call = j.args["call_id"].as_str().unwrap_or_default().to_string();
                out.push((call, ms));
            }
        }
    }
}

/// The `p`-th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints rows as an aligned table; the first row is the header.
pub fn table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        println!("  {}", line.join("  "));
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            println!("  {}", "-".repeat(total));
        }
    }
}
