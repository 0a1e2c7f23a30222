//! The first hour with deskline from the README alone: `deskline check`, configuration
//! mistakes, `sources try` as the examples write it, and the README's list of secrets, each run
//! as the built binary from a directory of the user's own with RUST_BACKTRACE=1.

mod common;

use std::path::Path;

use common::{assert_empty, deskline, free_port, repo_root, run};

/// A configuration for a remote account at `zendesk_url`, written in its own directory.
fn remote_config(dir: &Path, zendesk_url: &str, extra: &str) -> String {
    let path = dir.join("deskline.toml");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[storage]
sqlite_path = "data/deskline.db"

[zendesk]
url = "{zendesk_url}"
email = "admin@sandbox.test"

[sources.myoperator]
kind = "myoperator"
{extra}
"#,
        port = free_port()
    );
    std::fs::write(&path, text).expect("the configuration is written");
    path.to_str().expect("a UTF-8 path").to_string()
}

async fn start_sandbox() -> zendesk_sandbox::SandboxHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    zendesk_sandbox::start(zendesk_sandbox::SandboxConfig::default(), listener)
        .await
        .expect("the sandbox starts")
}

const SECRET: &str = "a-long-random-source-secret-0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_problem_of_the_configuration_and_the_account_at_once() {
    let sandbox = start_sandbox().await;
    let config_dir = tempfile::tempdir().expect("a directory for the configuration");
    let cwd = tempfile::tempdir().expect("the user's directory");
    let config = remote_config(
        config_dir.path(),
        &sandbox.base_url,
        "fallback_group = \"Voice-Missed\"\nfields = { call_id = 999, direction = 10002 }\n\
         [worker]\nconcurency = 2\n",
    );
    let check = |token: &str| {
        run(deskline(cwd.path())
            .env("DESKLINE_ZENDESK__API_TOKEN", token)
            .env("DESKLINE_SOURCES__MYOPERATOR__SECRET", SECRET)
            .args(["check", "--config", &config]))
    };
    let r = tokio::task::block_in_place(|| check(zendesk_sandbox::DEFAULT_API_TOKEN));
    assert_eq!(r.code, 1, "{}", r.all());
    for expected in [
        "configuration: 1 problem",
        "  - worker.concurency: is not a known key (in ",
        "did you mean `worker.concurrency`?",
        &format!("Zendesk account: {} (zendesk.url)", sandbox.base_url),
        "token, ticket fields and groups: 2 problems",
        "sources.myoperator.fields.call_id: is 999, but Zendesk has no active ticket field 999. Fix: use one of 10001 \"Call ID\"",
        "sources.myoperator.fallback_group: is \"Voice-Missed\", but Zendesk has no such group. Fix: create it in Zendesk, or use one of ",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?} in:\n{}", r.all());
    }
    assert!(
        !r.stdout.contains("Name("),
        "no Rust debug text: {}",
        r.all()
    );
    assert_eq!(
        r.stderr,
        "error: 3 problems found; fix them and run `deskline check` again\n"
    );

    let r = tokio::task::block_in_place(|| check("not-the-token"));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout
            .contains("zendesk.api_token: Zendesk rejected the API token (401 Unauthorized)"),
        "{}",
        r.all()
    );
    assert_empty(cwd.path());
    sandbox.shutdown().await;
}

#[test]
fn an_unreachable_zendesk_is_named_with_the_key_that_set_it() {
    let config_dir = tempfile::tempdir().expect("a directory for the configuration");
    let cwd = tempfile::tempdir().expect("the user's directory");
    let url = format!("http://127.0.0.1:{}", free_port());
    let config = remote_config(config_dir.path(), &url, "");
    let expected = format!("cannot reach Zendesk at {url} (zendesk.url): connection refused");
    let with_secrets = |cmd: &mut std::process::Command| {
        cmd.env("DESKLINE_ZENDESK__API_TOKEN", "a-token")
            .env("DESKLINE_SOURCES__MYOPERATOR__SECRET", SECRET);
    };
    let mut cmd = deskline(cwd.path());
    with_secrets(&mut cmd);
    let r = run(cmd.args(["check", "--config", &config]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("configuration: no problems"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains(&expected), "{}", r.all());

    // serve starts anyway: calls are kept until Zendesk answers, and `deskline status` says
    // what is wrong and where to fix it.
    let data = config_dir.path().join("data");
    let mut cmd = deskline(cwd.path());
    with_secrets(&mut cmd);
    cmd.env("DESKLINE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN);
    let _serving = serve_until(cmd.args(["serve", "--config", &config]), "admin API token");
    let status = |json: bool| {
        let mut cmd = deskline(cwd.path());
        cmd.env("DESKLINE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN)
            .args(["status", "--config", &config]);
        if json {
            cmd.arg("--json");
        }
        run(&mut cmd)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let r = loop {
        let r = status(false);
        if r.stdout.contains(&expected) || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(r.code, 0, "{}", r.all());
    for shown in [
        "degraded",
        "unreachable",
        "zendesk.url",
        &expected,
        "calls are kept",
    ] {
        assert!(r.stdout.contains(shown), "{shown:?} in:\n{}", r.all());
    }
    let r = status(true);
    let body: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", r.all()));
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["helpdesk"]["state"], "unreachable", "{body}");
    assert!(
        body["problems"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["key"] == "zendesk.url")),
        "{body}"
    );
    assert!(
        data.exists(),
        "serve made its data directory next to the configuration"
    );
    assert_empty(cwd.path());
}

/// The admin token the serving test configures.
const ADMIN_TOKEN: &str = "newcomer-admin-token-0123456789";

/// Starts a command and reads its stdout up to the line containing `last`.
fn serve_until(cmd: &mut std::process::Command, last: &str) -> common::Running {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("deskline serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = common::Running(child);
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        let done = line.contains(last);
        seen.push(line);
        if done {
            return running;
        }
    }
    panic!(
        "deskline serve ended before printing {last:?}:\n{}",
        seen.join("\n")
    );
}

#[test]
fn check_on_the_embedded_defaults_passes_and_creates_nothing() {
    let cwd = tempfile::tempdir().expect("the user's directory");
    let r = run(deskline(cwd.path()).arg("check"));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("configuration: no problems")
            && r.stdout.contains("Zendesk account: the built-in sandbox")
            && r.stdout
                .contains("token, ticket fields and groups: no problems")
            && r.stdout.contains("ready: `deskline serve` will start"),
        "{}",
        r.all()
    );
    assert_empty(cwd.path());
}

#[test]
fn every_unknown_key_is_named_with_the_one_meant_and_serve_creates_nothing() {
    let cwd = tempfile::tempdir().expect("the user's directory");
    let r = run(deskline(cwd.path())
        .env("DESKLINE_WORKER__CONCURENCY", "3")
        .env("DESKLINE_ZENDESK__PLAM", "team")
        .arg("serve"));
    assert_eq!(r.code, 2, "{}", r.all());
    assert_eq!(
        r.stderr,
        "error: the configuration has 2 problems:\n  \
         - worker.concurency: is not a known key (from DESKLINE_WORKER__CONCURENCY). Fix: did you mean `worker.concurrency` (DESKLINE_WORKER__CONCURRENCY)?\n  \
         - zendesk.plam: is not a known key (from DESKLINE_ZENDESK__PLAM). Fix: did you mean `zendesk.plan` (DESKLINE_ZENDESK__PLAN)?\n"
    );
    assert_empty(cwd.path());
}

/// Copies `files` (relative to the repository) into `dir` at the same relative paths.
fn copy_into(dir: &Path, files: &[&str]) {
    for f in files {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("directories");
        std::fs::copy(repo_root().join(f), &to).expect("the file is copied");
    }
}

#[test]
fn the_generic_example_s_command_works_as_written_with_no_account_and_no_secret() {
    let text = std::fs::read_to_string(repo_root().join("examples/generic/ringly.toml"))
        .expect("the example");
    let command = text
        .lines()
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix("deskline sources try")
        })
        .expect("the example names its command");
    let args: Vec<&str> = ["sources", "try"]
        .into_iter()
        .chain(command.split_whitespace())
        .collect();
    let cwd = tempfile::tempdir().expect("the user's directory");
    copy_into(
        cwd.path(),
        &[
            "examples/generic/ringly.toml",
            "examples/generic/ringly-call-ended.json",
        ],
    );
    let r = run(deskline(cwd.path()).args(&args));
    assert_eq!(r.code, 0, "{args:?}: {}", r.all());
    for expected in [
        "event 1 of 1: call rng_c_7Hq2LkP9 ended",
        "ticket (would be created, external id ringly:rng_c_7Hq2LkP9)",
        "subject  : Answered inbound call from +442079460958",
        "note (internal):",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?}: {}", r.all());
    }
    let r = run(deskline(cwd.path()).args(&args).arg("--json"));
    assert_eq!(r.code, 0, "{}", r.all());
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json is JSON");
    assert!(json[0]["ticket"]["subject"].is_string(), "{json:#}");
    assert!(!r.stdout.contains("\"Ok\""), "no Rust Result in the JSON");
    let left: Vec<_> = std::fs::read_dir(cwd.path())
        .expect("the directory")
        .map(|e| e.expect("an entry").file_name())
        .collect();
    assert_eq!(left, ["examples"], "a dry run creates nothing");

    // The same source is not in the embedded defaults: the message says how to give it.
    let empty = tempfile::tempdir().expect("another directory");
    let r = run(deskline(empty.path()).args([
        "sources",
        "try",
        "--source",
        "ringly",
        "ringly-call-ended.json",
    ]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the embedded defaults (no --config) have assistant, myoperator")
            && r.stderr.contains("Give --config"),
        "{}",
        r.all()
    );
    assert_empty(empty.path());
}

/// The `export DESKLINE_…` lines of the README's section on a real account.
fn readme_exports() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme
        .split("## Connecting a real Zendesk account")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the section");
    section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split('=').next())
        .map(str::to_string)
        .collect()
}

/// A value fit for each secret.
fn value_for(variable: &str) -> &'static str {
    if variable.starts_with("DESKLINE_CONNECTORS__") {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="
    } else {
        "0123456789abcdef0123456789abcdef"
    }
}

#[test]
fn the_readme_exports_every_secret_the_example_needs() {
    let exports = readme_exports();
    let example =
        std::fs::read_to_string(repo_root().join("examples/deskline.toml")).expect("the example");
    let listed: Vec<String> = example
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.trim_start_matches('#').split_whitespace().next())
        .filter(|w| w.starts_with("DESKLINE_"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        exports, listed,
        "README and examples/deskline.toml list the same secrets"
    );
    assert_eq!(exports.len(), 4, "{exports:?}");

    let cwd = tempfile::tempdir().expect("the user's directory");
    copy_into(cwd.path(), &["examples/deskline.toml"]);
    // No real account is reached from a test: Zendesk is a closed local port here.
    let zendesk = format!("http://127.0.0.1:{}", free_port());
    let check = |leave_out: Option<&str>| {
        let mut cmd = deskline(cwd.path());
        cmd.env("DESKLINE_ZENDESK__URL", &zendesk);
        for v in exports.iter().filter(|v| Some(v.as_str()) != leave_out) {
            cmd.env(v, value_for(v));
        }
        run(cmd.args(["check", "--config", "examples/deskline.toml"]))
    };
    let r = check(None);
    assert!(
        r.stdout.contains("configuration: no problems"),
        "{}",
        r.all()
    );
    for v in &exports {
        let r = check(Some(v));
        assert!(
            r.stdout.contains("configuration: 1 problem") && r.code == 1,
            "without {v}: {}",
            r.all()
        );
    }
}

#[test]
fn a_test_call_to_a_real_account_warns_before_it_posts() {
    let config_dir = tempfile::tempdir().expect("a directory for the configuration");
    let cwd = tempfile::tempdir().expect("the user's directory");
    let path = config_dir.path().join("deskline.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n[zendesk]\nsubdomain = \"acme\"\n\
             [sources.myoperator]\nkind = \"myoperator\"\n",
            free_port()
        ),
    )
    .expect("written");
    let r = run(deskline(cwd.path())
        .env("DESKLINE_SERVER__ADMIN_TOKEN", "an-admin-token")
        .env("DESKLINE_SOURCES__MYOPERATOR__SECRET", SECRET)
        .args(["test-call", "--missed", "--config"])
        .arg(&path));
    assert_eq!(r.code, 1, "{}", r.all());
    let warning = r
        .stderr
        .find("warning: this makes a real ticket in the Zendesk account at https://acme.zendesk.com (zendesk.subdomain)")
        .unwrap_or_else(|| panic!("a warning: {}", r.all()));
    let error = r
        .stderr
        .find("error: the test call was not accepted: cannot reach deskline")
        .unwrap_or_else(|| panic!("the post fails here: {}", r.all()));
    assert!(
        warning < error,
        "the warning comes before posting: {}",
        r.all()
    );
    assert_empty(cwd.path());
}
