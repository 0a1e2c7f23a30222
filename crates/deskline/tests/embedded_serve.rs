//! `deskline serve` on embedded defaults, as a newcomer runs it: real processes, a temporary
//! working directory, the commands the README and the banner suggest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The deskline binary run in `dir`, with no `DESKLINE_*` variable inherited from the
/// environment the tests run in (they would change the embedded defaults), and with
/// RUST_BACKTRACE=1 as many Rust users have it.
fn deskline(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskline"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKLINE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_BACKTRACE", "1").current_dir(dir);
    cmd
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Runs a command to the end; its status and output.
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn calls_and_handoffs_become_tickets_and_the_sandbox_calls_back() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = deskline(dir.path())
        .arg("serve")
        .env("DESKLINE_SERVER__LISTEN", &listen)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskline serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let _serve = Running(child);
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        let done = line.contains("deskline test-handoff");
        banner.push(line);
        if done || Instant::now() > deadline {
            break;
        }
    }
    let banner = banner.join("\n");
    assert!(
        banner.contains("webhook for source \"assistant\""),
        "{banner}"
    );
    assert!(
        banner.contains("reply trigger call deskline at"),
        "the sandbox is provisioned: {banner}"
    );
    let sandbox_url = banner
        .lines()
        .find_map(|l| l.split("built-in Zendesk sandbox at ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the sandbox URL is printed")
        .to_string();
    let url = format!("http://{listen}");

    let (ok, out) = run(deskline(dir.path()).args([
        "test-call",
        "--url",
        &url,
        "--answered",
        "--agent",
        "priya.sharma@sandbox.test",
    ]));
    assert!(ok, "{out}");
    assert!(out.contains("→ ticket"), "{out}");

    let (ok, out) = run(deskline(dir.path()).args(["test-handoff", "--url", &url]));
    assert!(ok, "{out}");
    let ticket: u64 = out
        .split("→ ticket ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a ticket id in {out}"));

    // An agent replies in the sandbox: its trigger calls deskline back, which finds no
    // connector for the web channel on embedded defaults and says so in the dead letter.
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{sandbox_url}/api/v2/tickets/{ticket}"))
        .basic_auth("priya.sharma@sandbox.test", Some("agent-password"))
        .json(&serde_json::json!({"ticket": {"comment": {"body": "Refunded!", "public": true}}}))
        .send()
        .await
        .expect("agent reply");
    assert!(r.status().is_success(), "{}", r.status());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out) =
            run(deskline(dir.path()).args(["jobs", "list", "--url", &url, "--state", "discarded"]));
        assert!(ok, "{out}");
        if out.contains("reply_delivery") {
            assert!(out.contains("no connector serves channel"), "{out}");
            break;
        }
        assert!(Instant::now() < deadline, "no reply delivery job: {out}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Retrying from the dead letter: one line saying so.
    let (ok, out) = run(deskline(dir.path()).args([
        "jobs",
        "list",
        "--url",
        &url,
        "--state",
        "discarded",
        "--json",
    ]));
    assert!(ok, "{out}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("--json is JSON");
    let id = listed["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["kind"] == "reply_delivery"))
        .and_then(|j| j["id"].as_i64())
        .expect("the reply delivery job");
    let (ok, out) =
        run(deskline(dir.path()).args(["jobs", "retry", &id.to_string(), "--url", &url]));
    assert!(ok, "{out}");
    assert_eq!(out, format!("job {id} will run again now\n"));
}
