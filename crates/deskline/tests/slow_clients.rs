//! A burst of slow and stalled unauthenticated connections against the real `deskline serve`
//! process: the timeouts cut them, webhooks are acknowledged meanwhile, and the process's
//! resident memory (VmRSS in /proc/PID/status) returns near where it was before the burst.
//!
//! The burst is the worst an unauthenticated client can do: half the connections stall in
//! their headers, half send an Aircall body (whose token is inside, so it must be read before
//! it is trusted) to just short of the limit and stop. The figures are in docs/benchmarks.md.
#![cfg(target_os = "linux")] // VmRSS is read from /proc.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "slow-clients-secret-0123456789";
const AIRCALL_TOKEN: &str = "slow-clients-aircall-token-01234";
/// The body limit of Aircall's requests in this test: the shipped `max_body_bytes`, so the
/// stalled bodies hold as much as they ever could.
const BODY_LIMIT: usize = 256 * 1024;
const STALLED: usize = 50;
/// How long any wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A child process killed and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let mut config: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        admin_token = "slow-clients-admin-token"
        max_body_bytes = {BODY_LIMIT}
        signed_max_body_bytes = {BODY_LIMIT}
        header_read_timeout = "1s"
        body_read_timeout = "2s"
        idle_timeout = "2s"

        [zendesk]
        sandbox = true

        [sources.myoperator]
        kind = "myoperator"
        secret = "{SECRET}"

        [sources.aircall]
        kind = "aircall"
        secret = "{AIRCALL_TOKEN}"
        "#
    ))
    .expect("valid TOML");
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
async fn start_service(http: &reqwest::Client, dir: &Path, config: &Path, base: &str) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskline"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKLINE_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd
        .arg("serve")
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskline serve starts");
    let mut running = Running(child);
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return running;
            }
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!("deskline serve exited with {status} before answering /healthz");
        }
        assert!(start.elapsed() < DEADLINE, "deskline serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// A MyOperator After-Call payload for call `id`, missed (so its ticket needs no agent).
fn call(id: &str) -> Value {
    json!({
        "_ai": id, "_ci": "deskline-slow-clients", "_cl": "+919820000101", "_cr": "919820000101",
        "_st": 1_767_000_000, "_ms": 1_767_000_000_000_i64, "_et": 1_767_000_095,
        "_dr": "00:01:35", "_ev": 1, "_su": 2, "_dn": "Support", "_se": "Slow clients",
        "_fn": "", "_fu": "",
        "_ld": [{"_ds": "NOANSWER", "_ac": "missed", "_st": 1_767_000_008, "_et": 1_767_000_095,
                 "_dr": "00:01:27", "_rr": [{"_id": "q1", "_na": "Queue", "_em": "", "_ex": "10"}]}],
    })
}

async fn deliver(http: &reqwest::Client, base: &str, id: &str) {
    let r = http
        .post(format!("{base}/hooks/myoperator"))
        .header("X-Deskline-Secret", SECRET)
        .json(&call(id))
        .send()
        .await
        .expect("the webhook is answered");
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED, "call {id}");
}

/// Reads until the server closes the connection; fails the test if it keeps it open.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_all)
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

async fn settle_and_measure(pid: u32) -> u64 {
    tokio::time::sleep(Duration::from_secs(2)).await;
    rss_kib(pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_stalled_connections_is_cut_and_its_memory_returned() {
    let dir = tempfile::TempDir::new().expect("scratch directory");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client");
    let config = write_config(dir.path(), port);
    let service = start_service(&http, dir.path(), &config, &base).await;
    let pid = service.0.id();
    // Warm up: the paths a webhook takes, the worker and the sandbox are all in memory.
    for i in 0..30 {
        deliver(&http, &base, &format!("warm-{i}")).await;
    }
    let before = settle_and_measure(pid).await;

    let addr = format!("127.0.0.1:{port}");
    let mut stalled = Vec::new();
    for i in 0..STALLED {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        let head = format!(
            "POST /hooks/aircall HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {BODY_LIMIT}\r\n\r\n"
        );
        if i % 2 == 0 {
            // The head without the blank line that ends it.
            stream
                .write_all(head.trim_end().as_bytes())
                .await
                .expect("send");
        } else {
            stream.write_all(head.as_bytes()).await.expect("send");
            let body = vec![b' '; BODY_LIMIT - 1024];
            stream.write_all(&body).await.expect("send the body");
        }
        stalled.push((i % 2 == 1, stream));
    }
    // Webhooks are acknowledged while the burst holds its connections.
    for i in 0..10 {
        deliver(&http, &base, &format!("during-{i}")).await;
    }
    let during = rss_kib(pid);

    for (in_body, mut stream) in stalled {
        let answer = until_closed(&mut stream).await;
        if in_body {
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        } else {
            assert!(answer.is_empty(), "{answer}");
        }
    }
    for i in 0..10 {
        deliver(&http, &base, &format!("after-{i}")).await;
    }
    let held = BODY_LIMIT as u64 * (STALLED as u64 / 2) / 1024;
    // Near: within a quarter of what the burst held, and never more than 4 MiB above.
    let slack = (held / 4).min(4 * 1024);
    // deskline serve hands free memory back every few seconds: wait for it, within a bound.
    let start = Instant::now();
    let mut after = rss_kib(pid);
    while after > before + slack && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = after.min(rss_kib(pid));
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "VmRSS of deskline serve: before {:.1} MiB, during {:.1} MiB, after {:.1} MiB",
        mib(before),
        mib(during),
        mib(after)
    );
    assert!(
        during > before + held / 2,
        "the burst was measured while the bodies were held ({before} → {during} KiB)"
    );
    assert!(
        after <= before + slack,
        "VmRSS returns near its baseline: before {before} KiB, during {during} KiB, after {after} KiB"
    );
}
