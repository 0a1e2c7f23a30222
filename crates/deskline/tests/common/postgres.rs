//! A fresh PostgreSQL database per test, and a `deskline sandbox` process, for the tests that
//! run deskline on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use sqlx::Connection;

use super::{deskline, Running};

/// Put into the URL when the server's URL has no password (trust authentication ignores it),
/// so a test can check it is never printed.
pub const STAND_IN_PASSWORD: &str = "never-printed-pw";

/// The server's URL: `DESKLINE_TEST_POSTGRES_URL`, or the default local one.
pub fn admin_url() -> String {
    std::env::var("DESKLINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `url` for database `name`, with a password: the server's own, or [`STAND_IN_PASSWORD`].
/// Returns the URL and the password to look for in the output.
pub fn database_url(url: &str, name: &str) -> (String, String) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(start);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |q| &tail[q..]);
    let (authority, password) = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((_, pw)) => (authority.to_string(), pw.to_string()),
            None => (
                format!("{user}:{STAND_IN_PASSWORD}@{host}"),
                STAND_IN_PASSWORD.to_string(),
            ),
        },
        None => (authority.to_string(), String::new()),
    };
    (format!("{head}{authority}/{name}{query}"), password)
}

/// A fresh database, dropped (with any connection left to it) on drop.
pub struct Database {
    /// The database's name.
    pub name: String,
}

impl Database {
    /// Creates a database with a name no other test uses.
    pub async fn create() -> Database {
        let name = format!(
            "deskline_serve_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut admin = connect_admin().await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        Database { name }
    }
}

/// A connection to the server's own database, to create and drop test databases.
pub async fn connect_admin() -> sqlx::PgConnection {
    let url = admin_url();
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "no PostgreSQL answers at DESKLINE_TEST_POSTGRES_URL (or the default \
             postgres://postgres@127.0.0.1:5432/postgres): {e}. Run ./scripts/test, which finds \
             or starts one"
        )
    })
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = connect_admin().await;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            });
        })
        .join();
    }
}

/// Starts `deskline sandbox` on a free port; returns it and its base URL.
pub fn start_sandbox(dir: &Path, extra: &[&str]) -> (Running, String) {
    let mut child = deskline(dir)
        .arg("sandbox")
        .args(extra)
        .args(["--port", "0", "--index-delay", "0", "--state"])
        .arg(dir.join("sandbox.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskline sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        if let Some(u) = line.strip_prefix("Zendesk sandbox listening on ") {
            url = Some(u.trim().to_string());
        }
        if line.trim_start().starts_with("try") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (running, url.expect("the sandbox prints its URL"))
}
