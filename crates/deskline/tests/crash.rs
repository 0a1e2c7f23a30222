//! Invariants 1 and 2 across a crash: `deskline serve` is killed with SIGKILL while it is
//! acknowledging a batch of After-Call webhooks and working their jobs, then restarted with the
//! same configuration. Every call acknowledged with a 2xx must end with exactly one ticket in
//! the Zendesk sandbox, and no call may have two.
//!
//! Real processes only: the sandbox (`deskline sandbox`) and the service (`deskline serve`)
//! run as children of the test and are driven over loopback HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CALLS: usize = 200;
/// Acknowledgements after which the service is killed.
const KILL_AFTER_ACKS: usize = 100;
const POSTERS: usize = 8;
const SECRET: &str = "crash-test-secret";
const ADMIN_TOKEN: &str = "crash-test-admin-token";
const CALLERS: [&str; 5] = [
    "+919820000101",
    "+919820000102",
    "+919820000103",
    "+919820000104",
    "+919876543210",
];

/// A child process killed (SIGKILL) and reaped on drop.
struct Running(Child);

impl Running {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scratch directory, removed on drop unless the test failed (its logs help then).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("deskline-crash-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("crash test: logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A command for the deskline binary with no `DESKLINE_*` variable inherited from the
/// environment the tests run in: they would override the configuration file (and
/// `DESKLINE_LOG` is currently read as a configuration key too, which `serve` refuses).
fn deskline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskline"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKLINE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Starts `deskline sandbox` on a free port and returns it with its base URL.
fn start_sandbox(dir: &Path) -> (Running, String) {
    let mut child = deskline()
        .arg("sandbox")
        .args(["--port", "0", "--index-delay", "0", "--state"])
        .arg(dir.join("sandbox.json"))
        .stdout(Stdio::piped())
        .stderr(File::create(dir.join("sandbox.log")).expect("sandbox log"))
        .spawn()
        .expect("deskline sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        if let Some(u) = line.strip_prefix("Zendesk sandbox listening on ") {
            url = Some(u.trim().to_string());
        }
        if line.trim_start().starts_with("try") {
            break;
        }
    }
    // Keep reading so the sandbox never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (running, url.expect("the sandbox prints its URL"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn write_config(dir: &Path, sandbox_url: &str, port: u16) -> PathBuf {
    let config: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        admin_token = "{ADMIN_TOKEN}"

        [zendesk]
        email = "admin@sandbox.test"
        api_token = "sandbox-token"

        [worker]
        concurrency = 4
        backoff_base = "100ms"
        backoff_cap = "2s"
        lease = "2s"
        poll_interval = "50ms"

        [sources.myoperator]
        kind = "myoperator"
        secret = "{SECRET}"
        fields = {{ call_id = 10001, direction = 10002, duration = 10003, recording_url = 10004, caller_number = 10005 }}
        "#
    ))
    .expect("valid TOML");
    let mut config = config;
    // Paths and URLs are inserted as values so that no escaping can go wrong.
    config["zendesk"]
        .as_table_mut()
        .expect("[zendesk]")
        .insert("url".into(), toml::Value::String(sandbox_url.to_string()));
    let mut storage = toml::Table::new();
    storage.insert(
        "sqlite_path".into(),
        toml::Value::String(dir.join("deskline.db").to_string_lossy().into_owned()),
    );
    config.insert("storage".into(), toml::Value::Table(storage));
    let path = dir.join("deskline.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialize")).expect("write config");
    path
}

/// Starts `deskline serve --config FILE` and waits until it answers `/healthz`.
async fn start_service(
    http: &reqwest::Client,
    dir: &Path,
    config: &Path,
    base: &str,
    run: u32,
) -> Running {
    let log = |name: &str| File::create(dir.join(format!("serve-{run}.{name}"))).expect("log");
    let child = deskline()
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(log("out"))
        .stderr(log("err"))
        .spawn()
        .expect("deskline serve starts");
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return running;
            }
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!(
                "deskline serve exited with {status} before answering /healthz; see {}",
                dir.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "deskline serve did not answer /healthz within 60 s; see {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn call_id(i: usize) -> String {
    format!("crash-{i:04}")
}

/// A realistic MyOperator After-Call payload: even calls answered by Priya, odd ones missed.
fn payload(i: usize) -> Value {
    let id = call_id(i);
    let from = CALLERS[i % CALLERS.len()];
    let now = 1_767_000_000 + i64::try_from(i).unwrap_or_default() * 60;
    let start = now - 95;
    let answered = i.is_multiple_of(2);
    let email = "priya.sharma@sandbox.test";
    let legs = if answered {
        json!([{"_ds": "ANSWER", "_ac": "received", "_st": start + 8, "_et": now, "_dr": "00:01:27",
                "_rr": [{"_id": "a1", "_na": "Priya", "_em": email, "_ex": "10"}]}])
    } else {
        json!([{"_ds": "NOANSWER", "_ac": "missed", "_st": start + 8, "_et": now, "_dr": "00:01:27",
                "_rr": [{"_id": "q1", "_na": "Queue", "_em": "", "_ex": "10"}]}])
    };
    json!({
        "_ai": id, "_ci": "deskline-crash", "_cl": from, "_cr": from.trim_start_matches('+'),
        "_st": start, "_ms": start * 1000, "_et": now, "_dr": "00:01:35", "_ev": 1,
        "_su": if answered { 1 } else { 2 }, "_dn": "Support", "_se": "Crash test",
        "_fn": if answered { format!("{id}.mp3") } else { String::new() },
        "_fu": if answered { format!("https://recordings.example/{id}") } else { String::new() },
        "_ld": legs,
    })
}

async fn post_call(
    http: &reqwest::Client,
    base: &str,
    i: usize,
) -> Result<(reqwest::StatusCode, Value), reqwest::Error> {
    let r = http
        .post(format!("{base}/hooks/myoperator"))
        .header("X-Deskline-Secret", SECRET)
        .json(&payload(i))
        .send()
        .await?;
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn admin_get(http: &reqwest::Client, base: &str, path: &str) -> Option<Value> {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

fn count(queue: &Value, state: &str) -> u64 {
    queue["jobs_by_state"][state].as_u64().unwrap_or(0)
}

async fn sandbox_request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http
        .request(method, url)
        .basic_auth("admin@sandbox.test/token", Some("sandbox-token"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON from the sandbox")
}

/// Every ticket in the sandbox, by external id, read with cursor paging.
async fn tickets_by_external_id(
    http: &reqwest::Client,
    sandbox: &str,
) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut url = format!("{sandbox}/api/v2/tickets?page[size]=100");
    loop {
        let page = sandbox_request(http, reqwest::Method::GET, &url, None).await;
        for t in page["tickets"].as_array().expect("tickets") {
            if let Some(ext) = t["external_id"].as_str() {
                out.entry(ext.to_string())
                    .or_default()
                    .push(t["id"].as_u64().expect("ticket id"));
            }
        }
        if !page["meta"]["has_more"].as_bool().unwrap_or(false) {
            return out;
        }
        url = page["links"]["next"]
            .as_str()
            .expect("a next link")
            .to_string();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_then_restart_gives_every_acknowledged_call_exactly_one_ticket() {
    let scratch = Scratch::new();
    let dir = scratch.0.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let (_sandbox, sandbox_url) = start_sandbox(&dir);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = write_config(&dir, &sandbox_url, port);

    let mut service = start_service(&http, &dir, &config, &base, 1).await;
    // Slow Zendesk down so that jobs are in flight when the service dies.
    sandbox_request(
        &http,
        reqwest::Method::PUT,
        &format!("{sandbox_url}/sandbox/faults"),
        Some(json!({"latency_ms": 50})),
    )
    .await;

    // --- The batch, with a SIGKILL in the middle ---------------------------------------------
    let next = Arc::new(AtomicUsize::new(0));
    let acks = Arc::new(AtomicUsize::new(0));
    let acknowledged: Arc<Mutex<BTreeSet<usize>>> = Arc::default();
    let mut posters = Vec::new();
    for _ in 0..POSTERS {
        let (http, base) = (http.clone(), base.clone());
        let (next, acks, acknowledged) = (next.clone(), acks.clone(), acknowledged.clone());
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= CALLS {
                    return;
                }
                if let Ok((status, _)) = post_call(&http, &base, i).await {
                    if status.is_success() {
                        acknowledged.lock().expect("lock").insert(i);
                        acks.fetch_add(1, Ordering::SeqCst);
                    } else {
                        panic!("call {i} answered {status} before the crash");
                    }
                }
                // A steady stream (about 25 calls a second) rather than one burst, so that the
                // kill lands mid-batch.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        assert!(
            Instant::now() < deadline,
            "fewer than {KILL_AFTER_ACKS} acknowledgements in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Kill while the worker holds jobs and has finished some (bounded: kill anyway after 20 s),
    // so the crash meets calls in every stage: acknowledged only, in flight, and done.
    let stage_deadline = Instant::now() + Duration::from_secs(20);
    let mut running_at_kill = 0;
    let mut completed_at_kill = 0;
    while Instant::now() < stage_deadline {
        if let Some(q) = admin_get(&http, &base, "/admin/queue").await {
            running_at_kill = count(&q, "running");
            completed_at_kill = count(&q, "completed");
            if running_at_kill > 0 && completed_at_kill >= 10 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    service.kill(); // SIGKILL: no shutdown hook runs.
    let acks_at_kill = acks.load(Ordering::SeqCst);
    for p in posters {
        p.await.expect("poster task");
    }
    let acked_before_crash: BTreeSet<usize> = acknowledged.lock().expect("lock").clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let info = sandbox_request(
        &http,
        reqwest::Method::GET,
        &format!("{sandbox_url}/sandbox/info"),
        None,
    )
    .await;
    eprintln!(
        "crash test: killed after {acks_at_kill} acknowledgements with {running_at_kill} job(s) \
         running and {completed_at_kill} completed; {} call(s) acknowledged before the crash; \
         Zendesk then held {} ticket(s)",
        acked_before_crash.len(),
        info["counts"]["tickets"]
    );
    assert!(acked_before_crash.len() >= KILL_AFTER_ACKS);

    // --- Restart with the same configuration --------------------------------------------------
    sandbox_request(
        &http,
        reqwest::Method::DELETE,
        &format!("{sandbox_url}/sandbox/faults"),
        None,
    )
    .await;
    let _service = start_service(&http, &dir, &config, &base, 2).await;

    // Calls not acknowledged before the crash (never sent, or cut off) are delivered again, as
    // a provider would; one cut off after its commit is answered as a duplicate.
    for i in (0..CALLS).filter(|i| !acked_before_crash.contains(i)) {
        let (status, body) = post_call(&http, &base, i).await.expect("service answers");
        assert!(status.is_success(), "call {i}: {status} {body}");
    }
    // Redelivery of acknowledged calls: 2xx, recognised as duplicates, no new work.
    for &i in acked_before_crash.iter().step_by(20) {
        let (status, body) = post_call(&http, &base, i).await.expect("service answers");
        assert_eq!(status, reqwest::StatusCode::OK, "call {i}: {body}");
        assert_eq!(body["status"], "duplicate", "call {i}: {body}");
    }

    // --- Wait until the queue is drained (rescued jobs included) ------------------------------
    let deadline = Instant::now() + Duration::from_secs(180);
    let queue = loop {
        if let Some(q) = admin_get(&http, &base, "/admin/queue").await {
            let pending = ["available", "running", "retryable"]
                .iter()
                .map(|s| count(&q, s))
                .sum::<u64>();
            if pending == 0 {
                break q;
            }
            assert!(
                Instant::now() < deadline,
                "the queue did not drain within 180 s: {q}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let discarded = admin_get(&http, &base, "/admin/jobs?state=discarded").await;
    assert_eq!(
        count(&queue, "discarded"),
        0,
        "jobs were dead-lettered: {discarded:?}"
    );
    assert!(count(&queue, "completed") >= CALLS as u64, "{queue}");

    // --- What Zendesk holds -------------------------------------------------------------------
    let tickets = tickets_by_external_id(&http, &sandbox_url).await;
    let duplicated: Vec<(&String, &Vec<u64>)> =
        tickets.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "calls with more than one ticket: {duplicated:?}"
    );
    let missing_acked: Vec<String> = acked_before_crash
        .iter()
        .map(|&i| format!("myoperator:{}", call_id(i)))
        .filter(|ext| !tickets.contains_key(ext))
        .collect();
    assert!(
        missing_acked.is_empty(),
        "calls acknowledged before the crash without a ticket: {missing_acked:?}"
    );
    for i in 0..CALLS {
        let ext = format!("myoperator:{}", call_id(i));
        assert_eq!(
            tickets.get(&ext).map(Vec::len),
            Some(1),
            "call {i} (acknowledged after the restart) must have exactly one ticket"
        );
    }
    let log = sandbox_request(
        &http,
        reqwest::Method::GET,
        &format!("{sandbox_url}/sandbox/requests"),
        None,
    )
    .await;
    let log = log["requests"].as_array().cloned().unwrap_or_default();
    let creates = log
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/api/v2/tickets")
        .count();
    let hits = log
        .iter()
        .filter(|r| r["idempotency_lookup"] == "hit")
        .count();
    let lookups = log
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("external_id=myoperator"))
        })
        .count();
    eprintln!(
        "crash test: {creates} ticket create request(s) ({hits} idempotency hit(s)), \
         {lookups} look-up(s) by external id, for {CALLS} calls"
    );
    let ours = tickets
        .keys()
        .filter(|k| k.starts_with("myoperator:crash-"))
        .count();
    assert_eq!(ours, CALLS, "tickets for unknown calls");
}
