//! Where a configured service is: the URL it answers at, its data directory, and the Zendesk
//! account it writes to, as the commands that talk to it describe them.

use std::path::{Path, PathBuf};

use deskline_server::config::Config;

/// The data directory: where the SQLite file and the generated secrets live.
pub fn data_dir(config: &Config) -> PathBuf {
    config
        .storage
        .sqlite_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The base URL the service answers at: `server.public_url`, else `server.listen` (a
/// wildcard address is reached on loopback).
pub fn service_url(config: &Config) -> String {
    match &config.server.public_url {
        Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
        _ => {
            let mut addr = config.server.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
            }
            format!("http://{addr}")
        }
    }
}

/// The key the service URL came from, for messages.
pub fn service_url_key(config: &Config) -> &'static str {
    match &config.server.public_url {
        Some(u) if !u.trim().is_empty() => "server.public_url",
        _ => "server.listen",
    }
}

/// A path as the user should read it: absolute, so that "which directory?" has one answer.
pub fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The Zendesk account the configuration writes to, when it is a real one: its address and
/// the key that set it (`None` for the built-in sandbox).
pub fn real_account(config: &Config) -> Option<(String, &'static str)> {
    let z = &config.zendesk;
    if z.sandbox {
        return None;
    }
    match (&z.url, &z.subdomain) {
        (Some(url), _) => Some((url.trim().to_string(), "zendesk.url")),
        (None, Some(sub)) => Some((
            format!("https://{}.zendesk.com", sub.trim()),
            "zendesk.subdomain",
        )),
        (None, None) => Some(("(not configured)".to_string(), "zendesk.subdomain")),
    }
}
