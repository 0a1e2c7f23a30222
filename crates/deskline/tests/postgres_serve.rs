//! `deskline serve` on PostgreSQL, as an operator runs it: the schema applied by
//! `deskline migrate`, the service started with `--no-migrate`, and a posted call (delivered
//! twice) that becomes exactly one ticket in the Zendesk sandbox. The database URL's password
//! never appears in what the commands print.
//!
//! Real processes (`deskline sandbox`, `deskline migrate`, `deskline serve`) and a fresh
//! database on the server at `DESKLINE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `./scripts/test` provides one).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::postgres::{admin_url, database_url, start_sandbox, Database};
use common::{deskline, free_port, run, Running};

const SECRET: &str = "pg-serve-secret-0123456789";
const ADMIN_TOKEN: &str = "pg-serve-admin-token";

fn write_config(dir: &Path, sandbox_url: &str, port: u16, database_url: &str) -> PathBuf {
    let mut config: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        admin_token = "{ADMIN_TOKEN}"

        [zendesk]
        email = "admin@sandbox.test"
        api_token = "sandbox-token"

        [worker]
        poll_interval = "100ms"

        [sources.myoperator]
        kind = "myoperator"
        secret = "{SECRET}"
        "#
    ))
    .expect("valid TOML");
    config["zendesk"]
        .as_table_mut()
        .expect("[zendesk]")
        .insert("url".into(), toml::Value::String(sandbox_url.to_string()));
    let mut storage = toml::Table::new();
    // The data directory (generated secrets) still comes from sqlite_path; no SQLite file may
    // be created there.
    storage.insert(
        "sqlite_path".into(),
        toml::Value::String(dir.join("data/deskline.db").to_string_lossy().into_owned()),
    );
    storage.insert("url".into(), toml::Value::String(database_url.to_string()));
    config.insert("storage".into(), toml::Value::Table(storage));
    let path = dir.join("deskline.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialize")).expect("write config");
    path
}

/// An answered MyOperator After-Call payload.
fn payload(call_id: &str) -> Value {
    let end = 1_767_000_000_i64;
    let start = end - 95;
    json!({
        "_ai": call_id, "_ci": "deskline-pg", "_cl": "+919820000101", "_cr": "919820000101",
        "_st": start, "_ms": start * 1000, "_et": end, "_dr": "00:01:35", "_ev": 1,
        "_su": 1, "_dn": "Support", "_se": "PostgreSQL test",
        "_fn": "", "_fu": "",
        "_ld": [{"_ds": "ANSWER", "_ac": "received", "_st": start + 8, "_et": end,
                 "_dr": "00:01:27",
                 "_rr": [{"_id": "a1", "_na": "Priya", "_em": "priya.sharma@sandbox.test",
                          "_ex": "10"}]}],
    })
}

/// The sandbox's tickets with this external id.
async fn tickets_for(http: &reqwest::Client, sandbox: &str, external_id: &str) -> Vec<Value> {
    let page: Value = http
        .get(format!("{sandbox}/api/v2/tickets?page[size]=100"))
        .basic_auth("admin@sandbox.test/token", Some("sandbox-token"))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("JSON from the sandbox");
    page["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter(|t| t["external_id"].as_str() == Some(external_id))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_migrate_then_serve_turns_a_posted_call_into_exactly_one_ticket() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().expect("a scratch directory");
    let dir = dir.path();
    let (_sandbox, sandbox_url) = start_sandbox(dir, &[]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (url, password) = database_url(&admin_url(), &db.name);
    let config = write_config(dir, &sandbox_url, port, &url);
    let config_arg = config.to_string_lossy().into_owned();
    let hidden = |what: &str, out: &str| {
        if !password.is_empty() {
            assert!(
                !out.contains(&password),
                "{what} printed the password:\n{out}"
            );
        }
    };

    // Told not to migrate, serve refuses an empty database and says what to run.
    let refused = run(deskline(dir).args(["serve", "--no-migrate", "--config", &config_arg]));
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(
        refused.stderr.contains("deskline migrate"),
        "{}",
        refused.all()
    );
    hidden("serve --no-migrate", &refused.all());

    let migrated = run(deskline(dir).args(["migrate", "--config", &config_arg]));
    assert_eq!(migrated.code, 0, "{}", migrated.all());
    assert!(
        // Every migration there is.
        migrated.stdout.contains("applied 3 migration(s): 1, 2, 3"),
        "{}",
        migrated.all()
    );
    assert!(migrated.stdout.contains("PostgreSQL"), "{}", migrated.all());
    hidden("migrate", &migrated.all());
    let again = run(deskline(dir).args(["migrate", "--config", &config_arg]));
    assert!(again.stdout.contains("up to date"), "{}", again.all());

    let out = dir.join("serve.out");
    let err = dir.join("serve.err");
    let child = deskline(dir)
        .args(["serve", "--no-migrate", "--config", &config_arg])
        .stdout(File::create(&out).expect("log"))
        .stderr(File::create(&err).expect("log"))
        .spawn()
        .expect("deskline serve starts");
    let mut service = Running(child);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let logs = || {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(&err).unwrap_or_default()
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if let Ok(Some(status)) = service.0.try_wait() {
            panic!("deskline serve exited with {status}:\n{}", logs());
        }
        assert!(
            Instant::now() < deadline,
            "no /healthz in 60 s:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The provider delivers the same call twice.
    for _ in 0..2 {
        let r = http
            .post(format!("{base}/hooks/myoperator"))
            .header("X-Deskline-Secret", SECRET)
            .json(&payload("pg-call-1"))
            .send()
            .await
            .expect("deskline answers");
        assert!(r.status().is_success(), "{}", r.status());
    }

    let external_id = "myoperator:pg-call-1";
    let deadline = Instant::now() + Duration::from_secs(60);
    let tickets = loop {
        let tickets = tickets_for(&http, &sandbox_url, external_id).await;
        if !tickets.is_empty() || Instant::now() > deadline {
            break tickets;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(tickets.len(), 1, "one ticket for the call:\n{}", logs());

    // Its job is completed and nothing else is left to do.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queue: Value = http
            .get(format!("{base}/admin/queue"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin API answers")
            .json()
            .await
            .expect("JSON");
        let by_state = &queue["jobs_by_state"];
        let unfinished: u64 = ["available", "running", "retryable", "discarded"]
            .iter()
            .map(|s| by_state[*s].as_u64().unwrap_or(0))
            .sum();
        if unfinished == 0 && by_state["completed"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "jobs left: {queue}\n{}", logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tickets_for(&http, &sandbox_url, external_id).await.len(), 1);
    assert!(
        !dir.join("data/deskline.db").exists(),
        "no SQLite database is created on PostgreSQL"
    );

    drop(service);
    hidden("serve", &logs());
    assert!(logs().contains("PostgreSQL"), "{}", logs());
}
