//! Transferred calls end to end: the ticket goes to the agent who took the call last unless the
//! source says `answering_agent = "first"`, for providers that report a transfer in one record
//! (Aircall) and those that report each agent's answer on its own (Twilio). The sources are
//! read from TOML, so the default is the one a configuration file gets.

mod common;

use common::*;
use deskline_core::sources::twilio;
use deskline_server::config::SourceConfig;
use figment::providers::{Format, Toml};
use reqwest::StatusCode;
use serde_json::{json, Value};

const AC_TRANSFERRED: &str = include_str!("../../../examples/aircall/call-ended-transferred.json");
const TW_PARENT_COMPLETED: &str = include_str!("../../../examples/twilio/inbound-completed.txt");
const TW_CHILD_ANSWERED: &str = include_str!("../../../examples/twilio/agent-leg-answered.txt");
const TW_CHILD_COMPLETED: &str = include_str!("../../../examples/twilio/agent-leg-completed.txt");

/// The caller's leg in the Twilio examples.
const TW_PARENT: &str = "CA5d0f7a1c2b3e4d5f6a7b8c9d0e1f2a3b";
/// Where Twilio reaches deskline (`server.public_url`), which its signatures cover.
const PUBLIC_URL: &str = "https://deskline.example.test";
const EMILY_NUMBER: &str = "+14155550115";
const PRIYA_NUMBER: &str = "+919810000011";

/// A source as a configuration file gives it: `kind`, `secret` and `extra` lines.
fn source_from_toml(kind: &str, secret: &str, extra: &str) -> SourceConfig {
    let text = format!("kind = \"{kind}\"\nsecret = \"{secret}\"\n{extra}\n");
    figment::Figment::from(Toml::string(&text))
        .extract()
        .unwrap_or_else(|e| panic!("the source reads: {e}\n{text}"))
}

/// Both policies of one provider: the default under `default`, `"first"` under `first`.
fn sources(
    kind: &str,
    secret: &str,
    default: &'static str,
    first: &'static str,
) -> Vec<(&'static str, SourceConfig)> {
    vec![
        (default, source_from_toml(kind, secret, "")),
        (
            first,
            source_from_toml(kind, secret, "answering_agent = \"first\""),
        ),
    ]
}

/// The call note of a ticket.
async fn call_note(app: &TestApp, ticket: &Value) -> String {
    let id = ticket["id"].as_u64().expect("ticket id");
    let comments = app.comments(id).await;
    comments
        .iter()
        .map(comment_body)
        .find(|b| b.starts_with("Answered inbound call"))
        .unwrap_or_else(|| panic!("a call note in {comments:#?}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aircall_transfer_lands_on_the_last_agent_or_with_first_on_the_first() {
    const FIRST: &str = "aircall-first";
    let app =
        spawn_app_with_sources(sources("aircall", AIRCALL_TOKEN, AIRCALL, FIRST), |_| {}).await;
    // Emily takes the call and transfers it to Kavya.
    let emily = json!({"id": 1, "name": "Emily Carter", "email": "emily.carter@sandbox.test"});
    let kavya = json!({"id": 2, "name": "Kavya Nair", "email": "kavya.nair@sandbox.test"});
    let mut payload: Value = serde_json::from_str(AC_TRANSFERRED).expect("the example is JSON");
    payload["data"]["user"] = emily.clone();
    payload["data"]["transferred_by"] = emily;
    payload["data"]["transferred_to"] = kavya;
    // The same call through each source, with its own call id (the external id is the
    // provider's call id, shared by every source of that provider).
    let calls = [(AIRCALL, 812_345_733), (FIRST, 812_345_734)];
    for (source, id) in calls {
        payload["data"]["id"] = json!(id);
        let r = app
            .hook_to(source)
            .json(&payload)
            .send()
            .await
            .expect("POST");
        let (status, body) = answer(r).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{source}: {body}");
    }
    app.settle().await;

    let mut got: Vec<(Value, String)> = Vec::new();
    for (_, id) in calls {
        let t = app.only_ticket(&format!("aircall:{id}")).await;
        let note = call_note(&app, &t).await;
        assert!(
            note.contains("1. Emily Carter: answered") && note.contains("2. Kavya Nair: answered"),
            "both legs in call order:\n{note}"
        );
        let agent = note
            .lines()
            .find_map(|l| l.strip_prefix("Agent: "))
            .unwrap_or_default()
            .to_string();
        got.push((t["assignee_id"].clone(), agent));
    }
    assert_eq!(
        got,
        vec![
            (json!(KAVYA), "Kavya Nair".to_string()),
            (json!(EMILY), "Emily Carter".to_string()),
        ],
        "the default source's ticket goes to Kavya, the first source's to Emily"
    );
    app.stop().await;
}

/// Call `parent`: Emily's (`+14155550115`, 10:14:16) and then Priya's (`+919810000011`,
/// 10:15:00) agent legs, each answered and completed, delivered out of order, then the
/// caller's leg completed. `n` tells the agent legs of different calls apart.
fn twilio_transfer(parent: &str, n: char) -> Vec<String> {
    let leg = |example: &str, sid: &str, to: &str, changes: &[(&str, &str)]| {
        let mut all = vec![
            ("CallSid", sid),
            ("ParentCallSid", parent),
            ("To", to),
            ("Called", to),
        ];
        all.extend_from_slice(changes);
        form_with(example, &all)
    };
    let emily = format!("CA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4{n}");
    let priya = format!("CA0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5{n}");
    let (emily, priya) = (emily.as_str(), priya.as_str());
    vec![
        leg(
            TW_CHILD_ANSWERED,
            priya,
            PRIYA_NUMBER,
            &[("Timestamp", "Tue, 26 Nov 2024 10:15:00 +0000")],
        ),
        leg(TW_CHILD_ANSWERED, emily, EMILY_NUMBER, &[]),
        // Emily hangs up once Priya has the caller: 44 s after she answered.
        leg(
            TW_CHILD_COMPLETED,
            emily,
            EMILY_NUMBER,
            &[
                ("Timestamp", "Tue, 26 Nov 2024 10:15:00 +0000"),
                ("CallDuration", "44"),
            ],
        ),
        leg(
            TW_CHILD_COMPLETED,
            priya,
            PRIYA_NUMBER,
            &[("CallDuration", "44")],
        ),
        form_with(TW_PARENT_COMPLETED.trim_end(), &[("CallSid", parent)]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_transfer_lands_on_the_last_agent_to_answer_or_with_first_on_the_first() {
    const FIRST: &str = "twilio-first";
    let app = spawn_app_with_sources(sources("twilio", TWILIO_AUTH_TOKEN, TWILIO, FIRST), |c| {
        c.server.public_url = Some(format!("{PUBLIC_URL}/"))
    })
    .await;
    // The same call through each source, with its own call id (the external id is the
    // provider's call id, shared by every source of that provider).
    let calls = [
        (TWILIO, TW_PARENT, 'a'),
        (FIRST, "CA6e1a8b2d3c4f5e6a7b8c9d0e1f2a3b4c", 'b'),
    ];
    for (source, parent, n) in calls {
        let url = format!("{PUBLIC_URL}/hooks/{source}");
        for form in twilio_transfer(parent, n) {
            let signature = twilio::signature(TWILIO_AUTH_TOKEN, &url, form.as_bytes());
            let r = app
                .hook_to(source)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Twilio-Signature", signature)
                .body(form.clone())
                .send()
                .await
                .expect("POST");
            let (status, body) = answer(r).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{source}: {body}\n{form}");
        }
    }
    app.settle().await;

    for ((source, parent, _), assignee) in calls.into_iter().zip([PRIYA, EMILY]) {
        let t = app.only_ticket(&format!("twilio:{parent}")).await;
        assert_eq!(
            t["assignee_id"], assignee,
            "{source}: the default goes to Priya, who answered last; first to Emily"
        );
        let note = call_note(&app, &t).await;
        assert!(
            note.contains("Legs:") && note.contains(EMILY_NUMBER) && note.contains(PRIYA_NUMBER),
            "{source}: both answers are listed:\n{note}"
        );
    }
    app.stop().await;
}
