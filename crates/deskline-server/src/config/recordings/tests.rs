#![allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type.

use deskline_core::recording::RecordingLinkMode;

use crate::config::{validate, Config, ConfigError, SourceConfig, SourceKind};

const API_TOKEN: &str = "myop-api-token-secret-42";

/// A valid remote configuration with one MyOperator source and a public URL.
fn remote() -> Config {
    let mut c = Config::default();
    c.zendesk.subdomain = Some("acme".into());
    c.zendesk.email = Some("bot@acme.com".into());
    c.zendesk.api_token = Some("tok".into());
    c.server.public_url = Some("https://deskline.acme.com/".into());
    c.sources.insert(
        "myoperator".into(),
        SourceConfig::myoperator(Some("0123456789abcdef0123".into())),
    );
    c
}

fn with_recordings(
    c: &mut Config,
    source: &str,
    change: impl FnOnce(&mut super::RecordingsConfig),
) {
    let s = c.sources.get_mut(source).expect("the source");
    change(&mut s.recordings);
}

fn problems(err: &ConfigError) -> Vec<(&str, &str, &str)> {
    err.problems
        .iter()
        .map(|p| (p.key.as_str(), p.problem.as_str(), p.fix.as_str()))
        .collect()
}

#[test]
fn provider_links_are_the_default() {
    let r = validate(remote()).expect("valid");
    let rec = &r.sources[0].recordings;
    assert_eq!(rec.settings.link, RecordingLinkMode::Provider);
    assert!(!rec.deskline_links());
    assert!(rec.pull.is_none());
    let mut c = remote();
    c.server.public_url = None;
    validate(c).expect("provider links need no public URL");
}

#[test]
fn deskline_links_with_an_api_token_fetch_from_the_default_api() {
    let mut c = remote();
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline;
        r.link_lifetime_days = Some(365);
        r.api_token = Some(format!(" {API_TOKEN} "));
    });
    let debug_config = format!("{c:?}");
    let r = validate(c).expect("valid");
    let rec = &r.sources[0].recordings;
    assert!(rec.deskline_links());
    assert_eq!(rec.settings.link_lifetime_days, Some(365));
    let pull = rec.pull.as_ref().expect("the pull API");
    assert_eq!(pull.api_url, "https://developers.myoperator.co");
    assert_eq!(pull.api_token.expose(), API_TOKEN, "trimmed");
    for debug in [debug_config, format!("{rec:?}")] {
        assert!(!debug.contains(API_TOKEN), "the token is redacted: {debug}");
    }
}

#[test]
fn deskline_links_without_an_api_token_are_allowed() {
    // deskline's link then redirects to the link MyOperator sent.
    let mut c = remote();
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline
    });
    let r = validate(c).expect("valid");
    assert!(r.sources[0].recordings.deskline_links());
    assert!(r.sources[0].recordings.pull.is_none());
}

#[test]
fn deskline_links_need_a_public_url() {
    let mut c = remote();
    c.server.public_url = None;
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline
    });
    let err = validate(c).unwrap_err();
    let p = problems(&err);
    assert_eq!(p.len(), 1, "{err}");
    assert_eq!(p[0].0, "server.public_url");
    assert!(
        p[0].1.contains("sources.myoperator.recordings.link"),
        "{err}"
    );
    assert!(p[0].2.contains("link = \"provider\""), "{err}");

    let mut c = remote();
    c.server.public_url = Some("deskline.acme.com".into());
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline
    });
    let err = validate(c).unwrap_err();
    assert_eq!(problems(&err)[0].0, "server.public_url", "{err}");
    assert!(err.to_string().contains("not an http(s) URL"), "{err}");
}

#[test]
fn a_lifetime_of_zero_or_past_the_limit_is_refused() {
    for (days, words) in [(0, "every link would be expired"), (36_501, "above 36500")] {
        let mut c = remote();
        with_recordings(&mut c, "myoperator", |r| {
            r.link = RecordingLinkMode::Deskline;
            r.link_lifetime_days = Some(days);
        });
        let err = validate(c).unwrap_err();
        let p = problems(&err);
        assert_eq!(p.len(), 1, "{err}");
        assert_eq!(p[0].0, "sources.myoperator.recordings.link_lifetime_days");
        assert!(p[0].1.contains(words), "{err}");
        assert!(p[0].2.contains("remove the key"), "{err}");
    }
}

#[test]
fn api_keys_only_apply_to_myoperator_with_deskline_links() {
    let mut c = remote();
    c.sources.insert(
        "twilio".into(),
        SourceConfig {
            kind: SourceKind::Twilio,
            ..SourceConfig::myoperator(Some("0123456789abcdef0123".into()))
        },
    );
    with_recordings(&mut c, "twilio", |r| {
        r.link = RecordingLinkMode::Deskline;
        r.api_token = Some(API_TOKEN.into());
    });
    with_recordings(&mut c, "myoperator", |r| {
        r.api_token = Some(API_TOKEN.into());
    });
    let err = validate(c).unwrap_err();
    let p = problems(&err);
    assert_eq!(
        p.iter().map(|p| p.0).collect::<Vec<_>>(),
        [
            "sources.myoperator.recordings.api_token",
            "sources.twilio.recordings.api_token",
        ],
        "{err}"
    );
    assert!(p[0].2.contains("link = \"deskline\""), "{err}");
    assert!(p[1].1.contains("kind = \"myoperator\""), "{err}");
    assert!(!err.to_string().contains(API_TOKEN), "never echoed: {err}");
}

#[test]
fn an_empty_token_a_bad_api_url_or_an_api_url_alone_are_refused() {
    let mut c = remote();
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline;
        r.api_token = Some("  ".into());
        r.api_url = Some("developers.myoperator.co".into());
    });
    let err = validate(c).unwrap_err();
    let p = problems(&err);
    assert_eq!(
        p.iter().map(|p| p.0).collect::<Vec<_>>(),
        [
            "sources.myoperator.recordings.api_url",
            "sources.myoperator.recordings.api_token",
        ],
        "{err}"
    );
    assert!(
        p[1].2
            .contains("DESKLINE_SOURCES__MYOPERATOR__RECORDINGS__API_TOKEN"),
        "{err}"
    );

    let mut c = remote();
    with_recordings(&mut c, "myoperator", |r| {
        r.link = RecordingLinkMode::Deskline;
        r.api_url = Some("https://myoperator.test".into());
    });
    let err = validate(c).unwrap_err();
    assert_eq!(
        problems(&err)[0].0,
        "sources.myoperator.recordings.api_url",
        "{err}"
    );
    assert!(err.to_string().contains("api_token is not"), "{err}");
}

#[test]
fn a_short_link_key_is_refused() {
    let mut c = remote();
    c.server.recording_link_key = Some("too-short".into());
    let err = validate(c).unwrap_err();
    let p = problems(&err);
    assert_eq!(p.len(), 1, "{err}");
    assert_eq!(p[0].0, "server.recording_link_key");
    assert!(p[0].1.contains("at least 32"), "{err}");
    assert!(p[0].2.contains("openssl rand"), "{err}");

    let mut c = remote();
    c.server.recording_link_key = Some("k".repeat(32));
    validate(c).expect("32 bytes are enough");
}

#[test]
fn the_table_reads_from_the_file_and_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "deskline.toml",
            r#"
            [server]
            public_url = "https://deskline.acme.com"
            [zendesk]
            subdomain = "acme"
            email = "bot@acme.com"
            api_token = "tok"
            [sources.myoperator]
            kind = "myoperator"
            secret = "from-the-file-0123456789"
            [sources.myoperator.recordings]
            link = "deskline"
            link_lifetime_days = 730
            api_url = "https://myoperator.test/"
            "#,
        )?;
        jail.set_env(
            "DESKLINE_SOURCES__MYOPERATOR__RECORDINGS__API_TOKEN",
            API_TOKEN,
        );
        let c = Config::load(Some(std::path::Path::new("deskline.toml"))).expect("loads");
        let r = validate(c).expect("valid");
        let rec = &r.sources[0].recordings;
        assert_eq!(rec.settings.link_lifetime_days, Some(730));
        let pull = rec.pull.as_ref().expect("the pull API");
        assert_eq!(pull.api_url, "https://myoperator.test");
        assert_eq!(pull.api_token.expose(), API_TOKEN);

        jail.create_file(
            "bad.toml",
            "[sources.myoperator]\nkind = \"myoperator\"\n[sources.myoperator.recordings]\nlink = \"ours\"\nlifetime = 3\n",
        )?;
        let err = Config::load(Some(std::path::Path::new("bad.toml"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sources.myoperator.recordings"), "{text}");
        Ok(())
    });
}
