#![allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type.

use super::*;
use crate::config::{Config, SourceConfig};

fn remote() -> Config {
    let mut c = Config::default();
    c.zendesk.subdomain = Some("acme".into());
    c.zendesk.email = Some("bot@acme.com".into());
    c.zendesk.api_token = Some("tok".into());
    c.sources.insert(
        "myoperator".into(),
        SourceConfig::myoperator(Some("0123456789abcdef0123".into())),
    );
    c
}

fn keys(err: &ConfigError) -> Vec<&str> {
    err.problems.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn a_complete_remote_configuration_resolves() {
    let r = validate(remote()).expect("valid");
    assert_eq!(
        r.zendesk,
        ZendeskTarget::Remote {
            base_url: "https://acme.zendesk.com".into(),
            email: "bot@acme.com".into(),
            api_token: "tok".into()
        }
    );
    assert_eq!(r.requests_per_minute, 700);
    assert_eq!(r.sources.len(), 1);
}

#[test]
fn the_embedded_defaults_resolve_to_the_sandbox() {
    let r = validate(Config::embedded()).expect("valid");
    assert_eq!(r.zendesk, ZendeskTarget::Sandbox);
    let names: Vec<(&str, SourceKind)> = r
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("assistant", SourceKind::Handoff),
            ("myoperator", SourceKind::Myoperator)
        ]
    );
    assert!(
        r.sources.iter().all(|s| s.secret.is_none()),
        "generated at start"
    );
}

#[test]
fn a_subdomain_given_as_a_url_names_the_fix() {
    for given in [
        "https://acme.zendesk.com",
        "acme.zendesk.com",
        "acme.zendesk.com/",
    ] {
        let mut c = remote();
        c.zendesk.subdomain = Some(given.into());
        let err = validate(c).unwrap_err();
        assert_eq!(keys(&err), ["zendesk.subdomain"], "{given}");
        assert!(
            err.to_string().contains("zendesk.subdomain = \"acme\""),
            "{err}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut c = remote();
    c.zendesk.subdomain = None;
    c.zendesk.api_token = None;
    c.zendesk.plan = "gold".into();
    let mut s = SourceConfig::myoperator(Some("short".into()));
    s.default_region = "India".into();
    s.time_zone = "Mars/Olympus".into();
    s.subject_template = Some("Call from {{ custmer }}".into());
    c.sources.insert("myoperator".into(), s);
    let err = validate(c).unwrap_err();
    assert_eq!(
        keys(&err),
        [
            "zendesk.subdomain",
            "zendesk.api_token",
            "zendesk.plan",
            "sources.myoperator.secret",
            "sources.myoperator.default_region",
            "sources.myoperator.time_zone",
            "sources.myoperator.subject_template",
        ]
    );
    let text = err.to_string();
    assert!(text.contains("DESKLINE_ZENDESK__API_TOKEN"), "{text}");
    assert!(text.contains("Asia/Kolkata"), "{text}");
}

#[test]
fn a_missing_secret_outside_sandbox_mode_says_which_variable_to_set() {
    let mut c = remote();
    c.sources
        .insert("myop".into(), SourceConfig::myoperator(None));
    let err = validate(c).unwrap_err();
    assert!(
        err.to_string().contains("DESKLINE_SOURCES__MYOP__SECRET"),
        "{err}"
    );
}

#[test]
fn file_then_environment_overrides() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "deskline.toml",
            r#"
            [zendesk]
            subdomain = "acme"
            email = "bot@acme.com"
            [sources.myoperator]
            kind = "myoperator"
            secret = "from-the-file-0123456789"
            fields = { call_id = 10001 }
            "#,
        )?;
        jail.set_env("DESKLINE_ZENDESK__API_TOKEN", "from-env");
        jail.set_env(
            "DESKLINE_SOURCES__MYOPERATOR__SECRET",
            "from-the-environment-0123",
        );
        let c = Config::load(Some(std::path::Path::new("deskline.toml"))).expect("loads");
        assert_eq!(c.zendesk.api_token.as_deref(), Some("from-env"));
        assert_eq!(
            c.sources["myoperator"].secret.as_deref(),
            Some("from-the-environment-0123")
        );
        assert_eq!(c.sources["myoperator"].fields.call_id, Some(10001));
        assert!(
            !c.zendesk.sandbox,
            "a configuration file means a real account"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_and_wrong_types_are_named() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[zendesk]\nsubdomian = \"acme\"\n")?;
        let err = Config::load(Some(std::path::Path::new("bad.toml"))).unwrap_err();
        assert!(err.to_string().contains("subdomian"), "{err}");
        jail.create_file("bad2.toml", "[worker]\nconcurrency = \"many\"\n")?;
        let err = Config::load(Some(std::path::Path::new("bad2.toml"))).unwrap_err();
        assert!(err.to_string().contains("worker.concurrency"), "{err}");
        let err = Config::load(Some(std::path::Path::new("missing.toml"))).unwrap_err();
        assert!(err.to_string().contains("missing.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn the_example_configuration_is_valid() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deskline.toml");
    let text = std::fs::read_to_string(&example).expect("examples/deskline.toml");
    figment::Jail::expect_with(|jail| {
        jail.create_file("deskline.toml", &text)?;
        jail.set_env("DESKLINE_ZENDESK__API_TOKEN", "token-from-env");
        jail.set_env(
            "DESKLINE_SOURCES__MYOPERATOR__SECRET",
            "a-long-random-secret-value",
        );
        jail.set_env(
            "DESKLINE_SOURCES__ASSISTANT__SECRET",
            "another-long-random-secret",
        );
        jail.set_env(
            "DESKLINE_CONNECTORS__ASSISTANT__SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
        let c = Config::load(Some(std::path::Path::new("deskline.toml"))).expect("loads");
        let r = validate(c).expect("valid");
        assert_eq!(r.requests_per_minute, 400);
        let myoperator = r.sources.iter().find(|s| s.name == "myoperator");
        assert_eq!(
            myoperator.map(|s| s.plan.fields.configured().len()),
            Some(5)
        );
        let assistant = r.sources.iter().find(|s| s.name == "assistant");
        assert_eq!(assistant.map(|s| s.kind), Some(SourceKind::Handoff));
        assert_eq!(
            r.connectors
                .for_channel("whatsapp")
                .map(|c| c.name.as_str()),
            Some("assistant")
        );
        Ok(())
    });
}

#[test]
fn the_command_line_variables_are_not_configuration() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("DESKLINE_LOG", "debug");
        jail.set_env("DESKLINE_CONFIG", "deskline.toml");
        jail.set_env(
            "DESKLINE_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        );
        let c = Config::load(None)
            .expect("DESKLINE_LOG, DESKLINE_CONFIG and DESKLINE_TEST_POSTGRES_URL are ignored");
        assert!(c.zendesk.sandbox);
        Ok(())
    });
}

#[test]
fn threading_and_opening_tickets_on_ring_do_not_mix() {
    let mut c = remote();
    let mut s = SourceConfig::myoperator(Some("0123456789abcdef0123".into()));
    s.open_ticket_on_ring = true;
    s.threading = deskline_core::threading::ThreadingPolicy::PerCaller { window_minutes: 30 };
    c.sources.insert("myoperator".into(), s);
    let err = validate(c).unwrap_err();
    assert_eq!(keys(&err), ["sources.myoperator.threading"]);
    assert!(err.to_string().contains("open_ticket_on_ring"), "{err}");
}

#[test]
fn handoff_settings_belong_to_handoff_sources() {
    let mut c = remote();
    let mut call = SourceConfig::myoperator(Some("0123456789abcdef0123".into()));
    call.handoff = Some(crate::config::HandoffConfig::default());
    c.sources.insert("myoperator".into(), call);
    let mut ai = SourceConfig::myoperator(Some("0123456789abcdef0123".into()));
    ai.kind = SourceKind::Handoff;
    ai.handoff = Some(crate::config::HandoffConfig {
        assignee: Some("not an agent".into()),
        ..crate::config::HandoffConfig::default()
    });
    c.sources.insert("ai".into(), ai);
    let err = validate(c).unwrap_err();
    assert_eq!(
        keys(&err),
        ["sources.ai.handoff.assignee", "sources.myoperator.handoff"]
    );
}

#[test]
fn ticket_updates_follow_the_plan_unless_set() {
    let r = validate(remote()).expect("valid");
    assert_eq!(r.ticket_updates_per_minute, 100);
    let mut c = remote();
    c.zendesk.plan = "high-volume".into();
    assert_eq!(validate(c).expect("valid").ticket_updates_per_minute, 300);
    let mut c = remote();
    c.zendesk.ticket_updates_per_minute = Some(40);
    assert_eq!(validate(c).expect("valid").ticket_updates_per_minute, 40);
    let mut c = remote();
    c.zendesk.ticket_updates_per_minute = Some(0);
    assert_eq!(
        keys(&validate(c).unwrap_err()),
        ["zendesk.ticket_updates_per_minute"]
    );
}

#[test]
fn a_dry_run_needs_no_account_and_no_secrets() {
    let mut c = Config::default();
    c.sources
        .insert("calls".into(), SourceConfig::myoperator(None));
    let (r, problems) = resolve(c.clone(), Purpose::DryRun);
    assert_eq!(problems, []);
    assert_eq!(r.sources.len(), 1);
    let (_, problems) = resolve(c, Purpose::Serve);
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "zendesk.subdomain",
            "zendesk.email",
            "zendesk.api_token",
            "sources.calls.secret"
        ]
    );
}

#[test]
fn leases_and_retention_out_of_range_name_their_key_and_fix() {
    let mut c = remote();
    c.worker.lease = std::time::Duration::from_millis(500);
    c.worker.rescue_after = Some("5m".into());
    c.retention.period = std::time::Duration::from_secs(10);
    c.retention.interval = std::time::Duration::ZERO;
    c.retention.batch = 0;
    let err = validate(c).expect_err("invalid");
    assert_eq!(
        keys(&err),
        [
            "worker.rescue_after",
            "worker.lease",
            "retention.period",
            "retention.interval",
            "retention.batch"
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("worker.rescue_after: is no longer used")
            && text.contains("set worker.lease"),
        "{text}"
    );
    assert!(
        text.contains("worker.lease: 500ms is out of range. Fix: use between 1s and 1h"),
        "{text}"
    );

    let mut c = remote();
    c.worker.lease = std::time::Duration::from_secs(2);
    c.retention.period = std::time::Duration::from_secs(7 * 24 * 3600);
    let r = validate(c).expect("a short lease and a week of retention are fine");
    assert_eq!(r.config.worker.lease, std::time::Duration::from_secs(2));
}

#[test]
fn lease_and_retention_are_read_from_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "deskline.toml",
            r#"
            [worker]
            lease = "30s"
            [retention]
            period = "7days"
            batch = 200
            "#,
        )?;
        let config =
            Config::load(Some(std::path::Path::new("deskline.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(config.worker.lease, std::time::Duration::from_secs(30));
        assert_eq!(
            config.retention.period,
            std::time::Duration::from_secs(7 * 24 * 3600)
        );
        assert_eq!(config.retention.batch, 200);
        assert_eq!(
            config.retention.interval,
            std::time::Duration::from_secs(600)
        );
        Ok(())
    });
}

#[test]
fn outage_settings_that_would_spin_or_never_open_are_refused() {
    let mut c = remote();
    c.zendesk.outage_after_failures = 0;
    c.zendesk.outage_first_probe = std::time::Duration::ZERO;
    c.zendesk.recheck_interval = std::time::Duration::from_millis(10);
    let err = validate(c).expect_err("refused");
    let found = keys(&err);
    for key in [
        "zendesk.outage_after_failures",
        "zendesk.outage_first_probe",
        "zendesk.recheck_interval",
    ] {
        assert!(found.contains(&key), "{key} in {found:?}");
    }
    let mut c = remote();
    c.zendesk.outage_first_probe = std::time::Duration::from_secs(60);
    c.zendesk.outage_max_probe = std::time::Duration::from_secs(10);
    let err = validate(c).expect_err("refused");
    assert_eq!(keys(&err), ["zendesk.outage_max_probe"]);
}
