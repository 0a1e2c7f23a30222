//! The commands that talk to a running service (`jobs`, `agents`, `test-call`,
//! `test-handoff`), run as a newcomer runs them: from another directory than `deskline serve`,
//! with RUST_BACKTRACE=1, checking what they print, how they exit, and that they create nothing.

mod common;

use std::path::Path;

use common::{assert_empty, deskline, free_port, run, serve};

/// A sandbox-mode configuration with a relative database path (relative to this file), a
/// source of each kind whose authentication differs, and a handoff source.
fn write_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("deskline.toml");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

[storage]
sqlite_path = "data/deskline.db"

[zendesk]
sandbox = true

[sources.aircall]
kind = "aircall"

[sources.exotel]
kind = "exotel"

[sources.myoperator]
kind = "myoperator"
time_zone = "Asia/Kolkata"
fields = {{ call_id = 10001, direction = 10002, duration = 10003, recording_url = 10004, caller_number = 10005 }}

[sources.twilio]
kind = "twilio"

[sources.assistant]
kind = "handoff"
"#
    );
    std::fs::write(&path, text).expect("the configuration is written");
    path
}

/// The banner's lines about one source, up to the next source.
fn banner_section<'a>(banner: &'a str, name: &str) -> &'a str {
    let start = banner
        .find(&format!("webhook for source \"{name}\""))
        .unwrap_or_else(|| panic!("{name} in the banner:\n{banner}"));
    let rest = &banner[start..];
    let end = rest[1..]
        .find("webhook for source")
        .or_else(|| rest.find("admin API token"))
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

#[test]
fn a_service_is_used_from_another_directory_through_its_configuration() {
    let service_dir = tempfile::tempdir().expect("a directory for serve");
    let user_dir = tempfile::tempdir().expect("the user's own directory");
    let cwd = user_dir.path();
    let config = write_config(service_dir.path(), free_port());
    let config = config.to_str().expect("a UTF-8 path");
    let (_serve, banner) = serve(service_dir.path(), &["--config", config]);

    // The banner says what each kind of provider must be given.
    let header = "add the header  X-Deskline-Secret: ";
    assert!(
        banner_section(&banner, "myoperator").contains(header),
        "{banner}"
    );
    assert!(
        banner_section(&banner, "assistant").contains(header),
        "{banner}"
    );
    let twilio = banner_section(&banner, "twilio");
    assert!(
        twilio.contains("X-Twilio-Signature") && twilio.contains("auth token"),
        "{twilio}"
    );
    assert!(!twilio.contains("X-Deskline-Secret"), "{twilio}");
    let aircall = banner_section(&banner, "aircall");
    assert!(aircall.contains("the token field"), "{aircall}");
    assert!(!aircall.contains("X-Deskline-Secret"), "{aircall}");
    assert!(
        banner_section(&banner, "exotel").contains("/hooks/exotel?secret="),
        "{banner}"
    );
    assert!(
        service_dir
            .path()
            .join("data/generated-secrets.toml")
            .exists(),
        "serve keeps its secrets beside the database, relative to the configuration file"
    );

    // The README's exports for a real account are in this shell too: they must not break a
    // command that only needs the service's address and token.
    let with_exports = |cmd: &mut std::process::Command| {
        cmd.env("DESKLINE_ZENDESK__API_TOKEN", "a-token").env(
            "DESKLINE_CONNECTORS__ASSISTANT__SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
    };
    let cli = |args: &[&str]| {
        let mut cmd = deskline(cwd);
        with_exports(&mut cmd);
        run(cmd.args(args).args(["--config", config]))
    };

    let r = cli(&["jobs", "list"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("no jobs yet"), "{}", r.all());

    // Neither --answered nor --missed: both are named, as a usage error.
    let r = cli(&["test-call"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("--answered --agent EMAIL") && r.stderr.contains("--missed"),
        "{}",
        r.all()
    );

    // Without --source: the MyOperator source, not the first alphabetically (aircall).
    let r = cli(&["test-call", "--missed", "--from", "+919820000003"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("(source myoperator) → ticket"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("group   : Voice-Missed-Calls (group "),
        "the group by name: {}",
        r.all()
    );
    assert!(
        !r.stderr.contains("warning"),
        "the sandbox is no real account: {}",
        r.all()
    );

    let r = cli(&[
        "test-call",
        "--answered",
        "--agent",
        "priya.sharma@sandbox.test",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("assignee: Priya Sharma <priya.sharma@sandbox.test> (agent "),
        "the agent by name: {}",
        r.all()
    );

    let r = cli(&["test-call", "--missed", "--source", "aircall"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "source \"aircall\" is a aircall source, and test-call only builds MyOperator calls"
        ),
        "{}",
        r.all()
    );

    let r = cli(&["test-call", "--answered", "--agent", "nobody@example.com"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = cli(&["agents", "mismatches"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("EMAIL AS SENT") && r.stdout.contains("nobody@example.com"),
        "{}",
        r.all()
    );

    // On this configuration no connector serves the web channel: the hint says so.
    let r = run(deskline(cwd).args(["test-handoff", "--config", config]));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("no connector serves channel \"web\""),
        "{}",
        r.all()
    );
    assert!(!r.stdout.contains("through the connector"), "{}", r.all());
    // With the README's connector secret exported and no [connectors.assistant] in the file,
    // the connector is incomplete: said as such, and the handoff is still made.
    let r = cli(&["test-handoff"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("[connectors] has problems (`deskline check` lists them)"),
        "{}",
        r.all()
    );

    let r = cli(&["jobs", "list"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let header = r.stdout.lines().next().unwrap_or_default();
    for column in ["ID", "STATE", "KIND", "ATTEMPTS", "LAST ERROR"] {
        assert!(header.contains(column), "{}", r.all());
    }
    assert!(r.stdout.contains("call_ticket"), "{}", r.all());
    let r = cli(&["jobs", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json is JSON");
    let first = json["jobs"][0]["id"].as_i64().expect("a job id");

    let r = cli(&["jobs", "show", &first.to_string()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.starts_with(&format!(
            "job {first} (call_ticket on queue zendesk): completed"
        )),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("OUTCOME") && r.stdout.contains("succeeded"),
        "{}",
        r.all()
    );
    let r = cli(&["jobs", "show", &first.to_string(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json is JSON");
    assert_eq!(json["job"]["job"]["id"].as_i64(), Some(first));

    // A completed job cannot run again: one line with the service's reason.
    let r = cli(&["jobs", "retry", &first.to_string()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .starts_with("error: deskline answered 409 Conflict"),
        "{}",
        r.all()
    );

    let r = cli(&["agents", "sync"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.starts_with("synced "), "{}", r.all());

    // A token for another service: the refusal says where the token came from.
    let r = cli(&[
        "agents",
        "sync",
        "--url",
        &format!("http://{}", "127.0.0.1:1"),
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("cannot reach deskline at http://127.0.0.1:1 (--url): connection refused"),
        "{}",
        r.all()
    );
    let mut cmd = deskline(cwd);
    with_exports(&mut cmd);
    let r = run(cmd
        .env("DESKLINE_SERVER__ADMIN_TOKEN", "not-the-service-token")
        .args(["jobs", "list", "--config", config]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the admin token from server.admin_token is not this service's"),
        "{}",
        r.all()
    );

    assert_empty(cwd);
}

#[test]
fn without_the_service_s_data_directory_nothing_is_created_and_the_path_tried_is_named() {
    let dir = tempfile::tempdir().expect("an empty directory");
    let cwd = dir.path();
    for args in [
        &["jobs", "list"][..],
        &["agents", "mismatches"],
        &["agents", "sync"],
        &["test-call", "--missed"],
        &["test-handoff"],
    ] {
        let r = run(deskline(cwd).args(args));
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        let tried = cwd.join("deskline-data/generated-secrets.toml");
        let tried = std::path::absolute(&tried).expect("an absolute path");
        assert!(
            r.stderr.starts_with("error: cannot find the admin token")
                && r.stderr.contains(&tried.display().to_string())
                && r.stderr
                    .contains("from the directory `deskline serve` runs in")
                && r.stderr.contains("--config")
                && r.stderr.contains("DESKLINE_SERVER__ADMIN_TOKEN"),
            "{args:?}: {}",
            r.all()
        );
        assert_empty(cwd);
    }
}
