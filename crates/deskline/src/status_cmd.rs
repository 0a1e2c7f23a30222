//! `deskline status`: whether the running service accepts calls and whether they become
//! tickets, with each problem's configuration key and fix (the admin API's `/admin/status`).

use serde_json::Value;

use crate::client::{Connection, Target};
use crate::jobs_cmd::Output;
use crate::table::{clip, print_json, print_table, table};

/// Prints the service's status (`--json`: the admin API's answer as it is).
pub async fn status(target: Target, output: Output) -> anyhow::Result<()> {
    let conn = Connection::open(&target, &[])?;
    let answer = conn.admin(reqwest::Method::GET, "/admin/status").await?;
    if output.json {
        print_json(&answer)?;
    } else {
        print_status(&answer)?;
    }
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_status(s: &Value) -> anyhow::Result<()> {
    let h = &s["helpdesk"];
    let mut t = table(&["part", "state", "detail"]);
    t.add_row(vec![
        "service".to_string(),
        text(&s["status"]),
        match s["status"].as_str() {
            Some("ready") => "accepting calls; they become tickets".to_string(),
            Some("degraded") => {
                "accepting and keeping calls; they wait for the problems below".to_string()
            }
            _ => "not accepting calls".to_string(),
        },
    ]);
    t.add_row(vec!["store".to_string(), text(&s["store"]), String::new()]);
    let checked = match h["checked_at"].as_str() {
        Some(at) => format!("checked {at}"),
        None => "first check running".to_string(),
    };
    t.add_row(vec!["zendesk".to_string(), text(&h["state"]), checked]);
    if !h["outage"].is_null() {
        t.add_row(vec![
            "outage".to_string(),
            format!("{} failures", text(&h["outage"]["failures"])),
            format!(
                "since {}, next try {}",
                text(&h["outage"]["since"]),
                text(&h["outage"]["next_probe"])
            ),
        ]);
    }
    for (name, key) in [("rate limit", "rate_limit_pause"), ("queue", "queue_pause")] {
        if !h[key].is_null() {
            t.add_row(vec![
                name.to_string(),
                format!("paused until {}", text(&h[key]["until"])),
                clip(&text(&h[key]["reason"]), 100),
            ]);
        }
    }
    let d = &s["directory"];
    if !d.is_null() {
        t.add_row(vec![
            "directory".to_string(),
            format!("{} agents", text(&d["agents"])),
            match d["last_synced_at"].as_str() {
                Some(at) => format!("synced {at}"),
                None => format!("never synced: {}", clip(&text(&d["last_error"]), 80)),
            },
        ]);
    }
    if let Some(jobs) = s["jobs"].as_object() {
        let counts: Vec<String> = jobs
            .iter()
            .filter(|(_, n)| n.as_u64() != Some(0))
            .map(|(state, n)| format!("{state} {n}"))
            .collect();
        t.add_row(vec![
            "jobs".to_string(),
            String::new(),
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            },
        ]);
    }
    print_table(&t)?;
    let problems = s["problems"].as_array().cloned().unwrap_or_default();
    if !problems.is_empty() {
        println!();
        let mut p = table(&["key", "problem", "fix"]);
        for problem in &problems {
            p.add_row(vec![
                text(&problem["key"]),
                text(&problem["problem"]),
                text(&problem["fix"]),
            ]);
        }
        print_table(&p)?;
    }
    Ok(())
}
