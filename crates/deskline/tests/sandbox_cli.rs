//! `deskline sandbox` as a user runs it: a real process, its printed URL and credentials.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `deskline sandbox ARGS --port 0` and returns the process and its printed lines up
/// to its last start-up line (reading stops there, so nothing later may be printed).
fn start(args: &[&str]) -> (Running, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskline"))
        .arg("sandbox")
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskline starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        let done = line.trim_start().starts_with("try");
        lines.push(line);
        if done || Instant::now() > deadline {
            break;
        }
    }
    (running, lines)
}

fn base_url(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Zendesk sandbox listening on "))
        .expect("the base URL is printed")
        .trim()
        .to_string()
}

#[tokio::test]
async fn prints_url_and_credentials_and_serves_the_default_seed() {
    let (_running, lines) = start(&[]);
    let base = base_url(&lines);
    let text = lines.join("\n");
    assert!(
        text.contains("admin@sandbox.test/token:sandbox-token"),
        "{text}"
    );
    assert!(text.contains("700 requests/minute"), "{text}");
    let users: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v2/users?role=agent"))
        .basic_auth("admin@sandbox.test/token", Some("sandbox-token"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(users["count"], 12);
}

#[tokio::test]
async fn seed_plan_and_token_options_apply() {
    let dir = std::env::temp_dir().join(format!("deskline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"{"groups":[{"name":"Helpdesk"}],
            "users":[{"name":"Ops","email":"ops@acme.test","role":"admin"},
                     {"name":"Ann","email":"ann@acme.test","role":"agent","groups":["Helpdesk"]}]}"#,
    )
    .expect("write seed");
    let seed_arg = seed.to_string_lossy().to_string();
    let (_running, lines) = start(&[
        "--seed",
        &seed_arg,
        "--plan",
        "team",
        "--admin-email",
        "ops@acme.test",
        "--token",
        "t0ken",
    ]);
    let base = base_url(&lines);
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v2/groups"))
        .basic_auth("ops@acme.test/token", Some("t0ken"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-rate-limit"], "200");
    let groups: serde_json::Value = r.json().await.expect("json");
    assert_eq!(groups["groups"][0]["name"], "Helpdesk");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_fail_with_a_message_naming_the_problem() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_deskline"))
            .arg("sandbox")
            .args(["--port", "0"])
            .args(args)
            .output()
            .expect("deskline runs");
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run(&["--plan", "gold"]).contains("unknown plan"));
    assert!(run(&["--seed", "/nonexistent/seed.json"]).contains("/nonexistent/seed.json"));
    assert!(run(&["--error-rate", "3"]).contains("error_rate"));
}
