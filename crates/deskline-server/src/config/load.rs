//! Reading the configuration: embedded defaults or a file, then the `DESKLINE_*` environment.
//!
//! serde's `deny_unknown_fields` stops at the first unknown key, which would hide every other
//! problem. So the merged values are read as a plain tree first, and extracted again and again:
//! each failure is recorded in plain words (with the nearest known key for a misspelt one) and
//! the key at fault is taken out of the tree, until the rest extracts. An unknown key is still
//! an error; it just no longer hides the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Source};

use super::{resolve, Config, ConfigError, Problem, Purpose, Resolved};

/// Which part of the configuration a command reads.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Everything: what `deskline serve` and `deskline check` read.
    All,
    /// Only these keys (`server`, `sources.ringly`, …); the rest is neither read nor checked and
    /// keeps its defaults. Commands that talk to a running service need no more than where it
    /// is and how to authenticate, so a problem elsewhere does not stop them.
    Only(&'a [&'a str]),
}

/// A configuration as read, before it is validated.
#[derive(Debug)]
pub struct Loaded {
    /// The values, without the unknown keys.
    pub config: Config,
    /// Keys that are not part of the configuration (each an error for the service).
    pub unknown_keys: Vec<Problem>,
}

/// More rounds than any configuration has keys; each round takes one key out of the tree.
const MAX_ROUNDS: usize = 1000;

/// The embedded defaults (no file) or `file`, with the `DESKLINE_*` environment on top.
pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
    let base = match file {
        None => Figment::from(Serialized::defaults(Config::embedded())),
        Some(path) => {
            if !path.is_file() {
                return Err(ConfigError::single(
                    "--config",
                    format!("{} does not exist or is not a file", path.display()),
                    "give the path of a TOML file (see examples/deskline.toml)",
                ));
            }
            // `file_exact`: the file named, not one of the same name in a parent directory.
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::file_exact(path))
        }
    };
    // DESKLINE_LOG and DESKLINE_CONFIG belong to the command line, and
    // DESKLINE_TEST_POSTGRES_URL to the test suite (scripts/test exports it), not the
    // configuration.
    let env = Env::prefixed("DESKLINE_")
        .ignore(&["LOG", "CONFIG", "TEST_POSTGRES_URL"])
        .split("__");
    Ok(base.merge(env))
}

/// Reads the configuration, or the part of it `scope` names, reporting every unknown key and
/// every value of the wrong type at once.
pub fn read(file: Option<&Path>, scope: Scope<'_>) -> Result<Loaded, ConfigError> {
    let figment = figment(file)?;
    let mut tree: Dict = figment.extract().map_err(|e| unreadable(e, file))?;
    if let Scope::Only(keys) = scope {
        tree = keep_only(&tree, keys);
    }
    let mut unknown_keys = Vec::new();
    let mut others = Vec::new();
    let mut removed = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let error = match Figment::from(Serialized::defaults(&tree)).extract::<Config>() {
            Ok(mut config) if others.is_empty() => {
                resolve_relative_paths(&mut config, &figment);
                return Ok(Loaded {
                    config,
                    unknown_keys,
                });
            }
            Ok(_) => break,
            Err(e) => e,
        };
        let Some(error) = error.into_iter().next() else {
            break;
        };
        match describe(&error, &figment, &removed) {
            Some(p) if matches!(error.kind, Kind::UnknownField(..)) => unknown_keys.push(p),
            Some(p) => others.push(p),
            // A required key reported missing because an earlier round took its bad value out.
            None => {}
        }
        match remove(&mut tree, &error.path) {
            Some(key) => {
                removed.insert(key);
            }
            None => {
                if unknown_keys.is_empty() && others.is_empty() {
                    others.push(Problem {
                        key: "(configuration)".to_string(),
                        problem: plain_kind(&error.kind),
                        fix: "see docs/configuration.md".to_string(),
                    });
                }
                break;
            }
        }
    }
    unknown_keys.append(&mut others);
    Err(ConfigError {
        problems: unknown_keys,
    })
}

/// Reads the configuration (or the part `scope` names) and checks it for `purpose`, with the
/// unknown keys and every other problem reported together.
pub fn load_resolved(
    file: Option<&Path>,
    scope: Scope<'_>,
    purpose: Purpose,
) -> Result<Resolved, ConfigError> {
    let loaded = read(file, scope)?;
    let (resolved, mut problems) = resolve(loaded.config, purpose);
    let mut all = loaded.unknown_keys;
    all.append(&mut problems);
    if all.is_empty() {
        Ok(resolved)
    } else {
        Err(ConfigError { problems: all })
    }
}

/// The names under `[sources]`, however broken the rest is (for messages naming them).
pub fn source_names(file: Option<&Path>) -> Vec<String> {
    figment(file)
        .ok()
        .and_then(|f| f.extract_inner::<Dict>("sources").ok())
        .map(|d| d.into_keys().collect())
        .unwrap_or_default()
}

/// A file that cannot be read or is not TOML.
fn unreadable(error: figment::Error, file: Option<&Path>) -> ConfigError {
    let key = file.map_or_else(|| "(environment)".to_string(), |p| p.display().to_string());
    ConfigError::single(
        &key,
        format!("cannot be read: {}", plain_kind(&error.kind).trim_end()),
        "write it as TOML (see examples/deskline.toml)",
    )
}

/// The tree with only `keys` (dotted paths) kept.
fn keep_only(tree: &Dict, keys: &[&str]) -> Dict {
    let mut kept = Dict::new();
    for key in keys {
        let parts: Vec<&str> = key.split('.').collect();
        let Some(value) = find(tree, &parts) else {
            continue;
        };
        insert_at(&mut kept, &parts, value.clone());
    }
    kept
}

fn insert_at(node: &mut Dict, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            node.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = node
                .entry((*first).to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, dict) = entry {
                insert_at(dict, rest, value);
            }
        }
    }
}

fn find<'a>(tree: &'a Dict, parts: &[&str]) -> Option<&'a Value> {
    let (first, rest) = parts.split_first()?;
    let value = tree.get(*first)?;
    match (rest.is_empty(), value) {
        (true, v) => Some(v),
        (false, Value::Dict(_, d)) => find(d, rest),
        (false, _) => None,
    }
}

/// Takes the value at `path` (or at the longest part of it that exists) out of the tree; the
/// dotted key removed, or `None` when nothing could be.
fn remove(tree: &mut Dict, path: &[String]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let inner = match tree.get_mut(first) {
        Some(Value::Dict(_, d)) if !rest.is_empty() => remove(d, rest),
        Some(_) => None,
        None => return None,
    };
    match inner {
        Some(key) => Some(format!("{first}.{key}")),
        None => tree.remove(first).map(|_| first.clone()),
    }
}

/// A relative `storage.sqlite_path` given in a file is relative to that file's directory, so
/// the same file means the same database from any working directory (from the environment or
/// the embedded defaults it stays relative to the working directory).
fn resolve_relative_paths(config: &mut Config, figment: &Figment) {
    let path = &config.storage.sqlite_path;
    if !path.is_relative() {
        return;
    }
    if let Some(Source::File(file)) = figment
        .find_metadata("storage.sqlite_path")
        .and_then(|m| m.source.as_ref())
    {
        if let Some(dir) = file.parent() {
            config.storage.sqlite_path = dir.join(path);
        }
    }
}

/// Where a key was set, for messages.
enum Origin {
    File(PathBuf),
    Environment,
    Defaults,
}

fn origin(figment: &Figment, key: &str) -> Origin {
    match figment.find_metadata(key) {
        Some(m) => match &m.source {
            Some(Source::File(p)) => Origin::File(p.clone()),
            _ if m.name.contains("environment") => Origin::Environment,
            _ => Origin::Defaults,
        },
        None => Origin::Defaults,
    }
}

/// The environment variable that sets `key`.
fn variable(key: &str) -> String {
    format!("DESKLINE_{}", key.to_ascii_uppercase().replace('.', "__"))
}

/// A figment error as a problem in plain words; `None` for a missing key whose (bad) value an
/// earlier round removed, already reported.
fn describe(
    error: &figment::Error,
    figment: &Figment,
    removed: &BTreeSet<String>,
) -> Option<Problem> {
    let path = error.path.join(".");
    let place = |key: &str| match origin(figment, key) {
        Origin::File(p) => format!(" (in {})", p.display()),
        Origin::Environment => format!(" (from {})", variable(key)),
        Origin::Defaults => String::new(),
    };
    let docs = "see docs/configuration.md for the keys and their types".to_string();
    let (key, problem, fix) = match &error.kind {
        Kind::UnknownField(name, expected) => {
            let parent = path
                .strip_suffix(name.as_str())
                .unwrap_or("")
                .trim_end_matches('.');
            let full = |k: &str| {
                if parent.is_empty() {
                    k.to_string()
                } else {
                    format!("{parent}.{k}")
                }
            };
            let fix = match nearest(name, expected) {
                Some(k) => match origin(figment, &path) {
                    Origin::Environment => {
                        format!("did you mean `{}` ({})?", full(k), variable(&full(k)))
                    }
                    _ => format!("did you mean `{}`?", full(k)),
                },
                None if parent.is_empty() => {
                    format!("remove it; the sections are {}", expected.join(", "))
                }
                None => format!("remove it; [{parent}] takes {}", expected.join(", ")),
            };
            (
                path.clone(),
                format!("is not a known key{}", place(&path)),
                fix,
            )
        }
        Kind::UnknownVariant(given, expected) => {
            let fix = match nearest(given, expected) {
                Some(k) => format!("did you mean `{k}`?"),
                None => format!("use one of {}", expected.join(", ")),
            };
            (
                path.clone(),
                format!(
                    "`{given}` is not one of {}{}",
                    expected.join(", "),
                    place(&path)
                ),
                fix,
            )
        }
        Kind::MissingField(name) => {
            let key = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            if removed.contains(&key) {
                return None;
            }
            let within = if path.is_empty() {
                String::new()
            } else {
                format!(" [{path}]{}", place(&path))
            };
            (
                key,
                format!("is missing{within}"),
                "add it (docs/configuration.md lists the keys)".to_string(),
            )
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            let found = if is_secret(&path) {
                String::new()
            } else {
                format!(", not {}", actual_text(actual))
            };
            (
                path.clone(),
                format!("must be {}{found}{}", expected_text(expected), place(&path)),
                docs,
            )
        }
        other => (
            path.clone(),
            format!("{}{}", plain_kind(other), place(&path)),
            docs,
        ),
    };
    let key = if key.is_empty() {
        "(configuration)".to_string()
    } else {
        key
    };
    Some(Problem { key, problem, fix })
}

/// The known name closest to a misspelt one, if close enough to be a likely typo.
fn nearest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&given, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Keys whose values must never be shown, even in an error.
fn is_secret(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    ["secret", "token", "key", "password"]
        .iter()
        .any(|s| last.contains(s))
}

fn actual_text(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("\"{s}\""),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Bool(b) => b.to_string(),
        Actual::Seq => "a list".to_string(),
        Actual::Map => "a table".to_string(),
        other => other.to_string(),
    }
}

/// serde's names for what it expected, as a person would say them.
fn expected_text(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" => "text in quotes".into(),
        other => other.replace('`', ""),
    }
}

/// Any other figment error, without its backticks.
fn plain_kind(kind: &Kind) -> String {
    kind.to_string().replace('`', "")
}

#[cfg(test)]
mod tests;
