//! Checks the `[server]` keys that guard the listener against slow and hostile clients: its
//! timeouts, its connection cap and the body limit of requests signed inside their body.

use std::time::Duration;

use super::ServerConfig;

/// The most connections a cap may allow; far above what one process serves usefully, and
/// small enough to stay within a semaphore's range on every platform.
const MAX_CONNECTIONS_CEILING: usize = 1_000_000;

/// Adds a problem for each listener setting that cannot work.
pub(super) fn check(server: &ServerConfig, add: &mut dyn FnMut(&str, String, String)) {
    let timeouts = [
        (
            "server.header_read_timeout",
            server.header_read_timeout,
            "10s",
        ),
        ("server.body_read_timeout", server.body_read_timeout, "30s"),
        ("server.idle_timeout", server.idle_timeout, "75s"),
    ];
    for (key, value, default) in timeouts {
        if value.is_zero() {
            add(
                key,
                "is 0, which would close every connection before its request".into(),
                format!("use a positive duration such as \"{default}\" (the default)"),
            );
        } else if value < Duration::from_millis(100) {
            add(
                key,
                format!("{value:?} is too short for a request to cross a network"),
                format!("use at least \"100ms\" (default \"{default}\")"),
            );
        }
    }
    if server.signed_max_body_bytes < 1024 {
        add(
            "server.signed_max_body_bytes",
            format!(
                "{} is too small for a call event",
                server.signed_max_body_bytes
            ),
            "use at least 1024 (default 65536)".into(),
        );
    }
    match server.max_connections {
        0 => add(
            "server.max_connections",
            "is 0, so no request could be served".into(),
            "use at least 1 (default 512)".into(),
        ),
        n if n > MAX_CONNECTIONS_CEILING => add(
            "server.max_connections",
            format!("{n} is more than one process can hold open"),
            format!("use at most {MAX_CONNECTIONS_CEILING} (default 512)"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(server: &ServerConfig) -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        check(server, &mut |k, p, f| found.push((k.to_string(), p, f)));
        found
    }

    #[test]
    fn the_defaults_pass() {
        assert_eq!(problems(&ServerConfig::default()), []);
    }

    #[test]
    fn each_unusable_setting_names_its_key_and_fix() {
        let server = ServerConfig {
            header_read_timeout: Duration::ZERO,
            body_read_timeout: Duration::from_millis(5),
            idle_timeout: Duration::ZERO,
            signed_max_body_bytes: 10,
            max_connections: 0,
            ..ServerConfig::default()
        };
        let found = problems(&server);
        let keys: Vec<&str> = found.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.header_read_timeout",
                "server.body_read_timeout",
                "server.idle_timeout",
                "server.signed_max_body_bytes",
                "server.max_connections",
            ]
        );
        assert!(found[0].2.contains("\"10s\""), "{found:?}");
        assert!(found[1].2.contains("100ms"), "{found:?}");
        let huge = ServerConfig {
            max_connections: MAX_CONNECTIONS_CEILING + 1,
            ..ServerConfig::default()
        };
        assert!(problems(&huge)[0].2.contains("at most"));
    }
}
