//! Tables for people: a header row and aligned columns without borders, easy to read and to
//! grep (every command that prints one also has `--json` for scripts).

use chrono::{DateTime, Utc};
use comfy_table::{presets, Table};

/// An empty table with these column headers.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.iter().map(|h| h.to_ascii_uppercase()));
    t
}

/// A time as people read it in a table: UTC, to the second.
pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Prints `value` as indented JSON, for `--json`.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    emit(&serde_json::to_string_pretty(value)?)
}

/// Prints `table`.
pub fn print_table(table: &Table) -> anyhow::Result<()> {
    emit(&table.to_string())
}

/// Writes a line to stdout; a reader that has had enough (`| head`) ends the output quietly
/// instead of with a panic.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
