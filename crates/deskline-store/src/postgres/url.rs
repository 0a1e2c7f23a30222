//! PostgreSQL connection URLs as deskline shows them: never with their password.

/// `url` with any password replaced by `***`, in the user-info part
/// (`postgres://user:secret@host/db`) and in a `password=` query parameter, so the URL can be
/// logged, printed and put in error messages.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let (path, query) = tail.split_at(q + 1);
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// Checks that `url` can be connected with (host, port, options), without connecting; the error
/// never repeats the URL, which may hold a password.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    use std::str::FromStr;
    sqlx::postgres::PgConnectOptions::from_str(url.trim())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// True when `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_wherever_a_url_carries_them() {
        let cases = [
            (
                "postgres://deskline:s3cr3t@db.internal:5432/deskline",
                "postgres://deskline:***@db.internal:5432/deskline",
            ),
            (
                "postgresql://u:p%40ss@h/db?sslmode=require&password=other",
                "postgresql://u:***@h/db?sslmode=require&password=***",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h", "postgres://h"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn unreadable_urls_are_reported_without_their_password() {
        assert!(check_postgres_url("postgres://u:p@db.internal:5432/deskline").is_ok());
        let err = check_postgres_url("postgres://u:hunter2@db.internal:notaport/deskline")
            .expect_err("a port that is not a number");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn both_schemes_are_recognised() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url(" PostgreSQL://h/db"));
        assert!(!is_postgres_url("sqlite://x.db"));
        assert!(!is_postgres_url("deskline-data/deskline.db"));
    }
}
