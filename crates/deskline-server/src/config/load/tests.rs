#![allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type.

use std::path::Path;

use super::*;
use crate::config::SourceKind;

fn problems(err: &ConfigError) -> Vec<(&str, &str, &str)> {
    err.problems
        .iter()
        .map(|p| (p.key.as_str(), p.problem.as_str(), p.fix.as_str()))
        .collect()
}

#[test]
fn every_unknown_key_is_reported_with_the_other_problems() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "bad.toml",
            "[worker]\nconcurency = 3\n[zendesk]\nsubdomian = \"acme\"\nemail = \"bot@acme.com\"\n\
             [sources.myoperator]\nkind = \"myoperator\"\n",
        )?;
        let loaded = read(Some(Path::new("bad.toml")), Scope::All).expect("readable");
        let keys: Vec<&str> = loaded.unknown_keys.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["worker.concurency", "zendesk.subdomian"]);
        let err =
            load_resolved(Some(Path::new("bad.toml")), Scope::All, Purpose::Serve).unwrap_err();
        let got = problems(&err);
        assert_eq!(
            got[0],
            (
                "worker.concurency",
                "is not a known key (in bad.toml)",
                "did you mean `worker.concurrency`?"
            )
        );
        assert_eq!(got[1].2, "did you mean `zendesk.subdomain`?");
        let rest: Vec<&str> = got[2..].iter().map(|p| p.0).collect();
        assert_eq!(
            rest,
            [
                "zendesk.subdomain",
                "zendesk.api_token",
                "sources.myoperator.secret"
            ],
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("the configuration has 5 problems:"),
            "{text}"
        );
        assert!(!text.contains("`one of"), "no garbled backticks: {text}");
        assert!(
            text.contains(
                "  - worker.concurency: is not a known key (in bad.toml). Fix: did you mean `worker.concurrency`?\n"
            ),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_variable_names_itself_and_the_right_one() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("DESKLINE_ZENDESK__API_TOKN", "t0k");
        jail.set_env("DESKLINE_ZENDESK__PLAN", "team");
        let err = Config::load(None).unwrap_err();
        assert_eq!(
            problems(&err),
            [(
                "zendesk.api_tokn",
                "is not a known key (from DESKLINE_ZENDESK__API_TOKN)",
                "did you mean `zendesk.api_token` (DESKLINE_ZENDESK__API_TOKEN)?"
            )]
        );
        assert!(!err.to_string().contains("t0k"));
        Ok(())
    });
}

#[test]
fn a_key_far_from_any_known_one_lists_the_known_ones() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[database]\nurl = \"x\"\n")?;
        let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
        assert_eq!(err.problems[0].key, "database");
        assert!(
            err.problems[0]
                .fix
                .starts_with("remove it; the sections are server, storage, zendesk"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn wrong_types_and_unknown_keys_come_together() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "bad.toml",
            "[worker]\nconcurrency = \"many\"\nmax_atempts = 3\n[server]\nadmin_token = 123456789012345678\n\
             [sources.calls]\nkind = \"myoprator\"\n",
        )?;
        let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
        let got = problems(&err);
        let keys: Vec<&str> = got.iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            [
                "worker.max_atempts",
                "server.admin_token",
                "sources.calls.kind",
                "worker.concurrency"
            ],
            "a bad value reported once, not again as missing: {err}"
        );
        assert_eq!(got[1].1, "must be text in quotes (in bad.toml)");
        assert!(
            !err.to_string().contains("123456789012345678"),
            "a secret is never shown: {err}"
        );
        assert_eq!(got[2].2, "did you mean `myoperator`?");
        assert_eq!(
            got[3].1,
            "must be a whole number (0 or more), not \"many\" (in bad.toml)"
        );
        Ok(())
    });
}

#[test]
fn a_file_that_is_not_toml_says_so() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[worker\nconcurrency = 3\n")?;
        let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
        assert_eq!(err.problems[0].key, "bad.toml");
        assert!(
            err.problems[0].problem.starts_with("cannot be read: "),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn a_relative_database_path_in_a_file_is_relative_to_the_file() {
    figment::Jail::expect_with(|jail| {
        std::fs::create_dir(jail.directory().join("conf")).map_err(|e| e.to_string())?;
        jail.create_file(
            "conf/deskline.toml",
            "[storage]\nsqlite_path = \"data/deskline.db\"\n",
        )?;
        let c = read(Some(Path::new("conf/deskline.toml")), Scope::All)
            .expect("reads")
            .config;
        assert!(
            c.storage.sqlite_path.ends_with("conf/data/deskline.db"),
            "{}",
            c.storage.sqlite_path.display()
        );
        jail.set_env("DESKLINE_STORAGE__SQLITE_PATH", "elsewhere/d.db");
        let c = read(Some(Path::new("conf/deskline.toml")), Scope::All)
            .expect("reads")
            .config;
        assert_eq!(c.storage.sqlite_path, Path::new("elsewhere/d.db"));
        Ok(())
    });
}

#[test]
fn a_scope_reads_only_its_keys() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "deskline.toml",
            "[server]\nlisten = \"127.0.0.1:9001\"\n[zendesk]\nbogus = 1\n\
             [sources.calls]\nkind = \"twilio\"\n[sources.broken]\nkind = \"nope\"\n",
        )?;
        jail.set_env("DESKLINE_CONNECTORS__ASSISTANT__SECRET", "whsec_x");
        let file = Some(Path::new("deskline.toml"));
        let c = read(file, Scope::Only(&["server", "storage"]))
            .expect("the broken parts are not read")
            .config;
        assert_eq!(c.server.listen.port(), 9001);
        assert!(c.sources.is_empty() && c.connectors.is_empty());
        let c = read(file, Scope::Only(&["sources.calls"]))
            .expect("one source")
            .config;
        assert_eq!(c.sources["calls"].kind, SourceKind::Twilio);
        assert_eq!(source_names(file), ["broken", "calls"]);
        Ok(())
    });
}
