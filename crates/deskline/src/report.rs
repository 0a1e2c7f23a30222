//! How a failed command tells the person who ran it: one `error:` line with the causes that
//! add something, no backtrace (many Rust users keep RUST_BACKTRACE=1 set), and an exit code
//! that says whose move it is.

use std::process::ExitCode;

use deskline_server::config::ConfigError;

/// The command line or the configuration must change (clap also exits 2 for usage errors).
const EXIT_CONFIG: u8 = 2;
/// Anything else went wrong (a service unreachable, a request refused, problems found).
const EXIT_FAILURE: u8 = 1;

/// Options that do not make a command (clap's own usage errors exit 2 too).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// A usage error: the options given do not say what to do.
pub fn usage(message: &str) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.to_string()))
}

/// Prints `error` on stderr and gives the exit code for it.
pub fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", message(error));
    let theirs = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<ConfigError>().is_some() || e.downcast_ref::<UsageError>().is_some()
    };
    if error.chain().any(theirs) {
        ExitCode::from(EXIT_CONFIG)
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

/// The error and each cause that is not already part of the text before it, joined with `: `
/// (a multi-line message, such as a configuration report, is kept as it is).
pub fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        let part = part.trim_end();
        if part.is_empty() || text.contains(part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(if text.ends_with('\n') { "" } else { ": " });
        }
        text.push_str(part);
    }
    text
}

/// Why a request got no answer, in a few plain words: "connection refused", "no answer
/// within 30s", "failed to lookup address information: …".
pub fn network_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut innermost: &dyn std::error::Error = error;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    plain(&innermost.to_string())
}

/// An OS or library message as a phrase: without `(os error N)`, starting in lower case.
pub fn plain(text: &str) -> String {
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut chars = text.trim().chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let e = anyhow::anyhow!("connection refused")
            .context("cannot reach deskline at http://127.0.0.1:8080: connection refused");
        assert_eq!(
            message(&e),
            "cannot reach deskline at http://127.0.0.1:8080: connection refused"
        );
        let e = anyhow::anyhow!("permission denied").context("cannot read deskline.toml");
        assert_eq!(message(&e), "cannot read deskline.toml: permission denied");
    }

    #[test]
    fn os_messages_become_phrases() {
        assert_eq!(
            plain("Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(plain("Permission denied"), "permission denied");
    }
}
