//! The admin API and `/metrics`, over real HTTP: the bearer token in any letter case (RFC 7235
//! schemes are case-insensitive), precise 404s for sources that do not exist, and every ticket
//! deskline creates counted in `deskline_tickets_created_total`.

mod common;

use base64::Engine;
use common::*;
use deskline_server::config::SourceKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Sources only the metrics test uses: the recorder is shared by every test of this binary,
/// so their counters are this test's alone.
const METERED_CALLS: &str = "metered-calls";
const METERED_AI: &str = "metered-ai";
const METERED_SECRET: &str = "e2e-metered-secret-0123456789";
/// A ringing call's In-Call uid (MyOperator's `d5.<epoch>.<n>`).
const RING_UID: &str = "d5.1732362921.9901";
const IN_CALL_RINGING: &str = include_str!("../../../examples/myoperator/in-call-ringing.json");

#[tokio::test]
async fn the_authorization_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        for path in ["/admin/queue", "/metrics"] {
            let r = app
                .http
                .get(format!("{}{path}", app.url))
                .header("authorization", format!("{scheme} {ADMIN_TOKEN}"))
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status(), StatusCode::OK, "{scheme} on {path}");
        }
    }
    // Several spaces after the scheme are allowed too; a wrong token or scheme still is not.
    for (value, ok) in [
        (format!("Bearer   {ADMIN_TOKEN}"), true),
        (format!("BEARER {ADMIN_TOKEN}x"), false),
        (format!("Token {ADMIN_TOKEN}"), false),
        (format!("Bearer{ADMIN_TOKEN}"), false),
        ("BEARER".to_string(), false),
    ] {
        let r = app
            .http
            .get(format!("{}/admin/queue", app.url))
            .header("authorization", &value)
            .send()
            .await
            .expect("GET");
        let expected = if ok {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(r.status(), expected, "{value:?}");
    }

    // A source's secret as the HTTP Basic password, the scheme in any case.
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("myoperator:{SECRET}"));
    for (i, scheme) in ["BASIC", "basic"].into_iter().enumerate() {
        let r = app
            .hook()
            .header("authorization", format!("{scheme} {credentials}"))
            .json(&with_call_id(missed_call(), &format!("basic-case-{i}")))
            .send()
            .await
            .expect("POST");
        let (status, body): (StatusCode, Value) = answer(r).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{scheme}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn admin_routes_taking_a_source_answer_404_naming_a_source_that_does_not_exist() {
    let app = spawn_app().await;
    for path in [
        "/admin/calls/no-such-source/call-1",
        "/admin/conversations/no-such-source/session-1",
    ] {
        let (status, body) = app.admin_get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], "unknown_source", "{path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("\"no-such-source\""), "{path}: {body}");
    }

    // A configured source: a call without a ticket yet is no error; an unknown session is.
    let (status, body) = app
        .admin_get(&format!("/admin/calls/{SOURCE}/call-1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ticket_id"], Value::Null);
    let (status, body) = app
        .admin_get(&format!("/admin/conversations/{SOURCE}/session-1"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "unknown_conversation", "{body}");
    app.stop().await;
}

/// The value of `deskline_tickets_created_total` for these labels in a Prometheus scrape.
fn tickets_created(scrape: &str, source: &str, origin: &str) -> Option<u64> {
    scrape
        .lines()
        .filter(|l| l.starts_with("deskline_tickets_created_total{"))
        .find(|l| {
            l.contains(&format!("source=\"{source}\""))
                && l.contains(&format!("origin=\"{origin}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn every_ticket_deskline_creates_is_counted_with_what_made_it() {
    let mut calls = source_config(SourceKind::Myoperator, METERED_SECRET);
    calls.open_ticket_on_ring = true;
    let ai = source_config(SourceKind::Handoff, METERED_SECRET);
    let app = spawn_app_with_sources(vec![(METERED_CALLS, calls), (METERED_AI, ai)], |_| {}).await;
    let post = |source: &'static str, body: Value| {
        let request = app
            .hook_to(source)
            .header(SECRET_HEADER, METERED_SECRET)
            .json(&body);
        async move {
            let (status, body) = answer(request.send().await.expect("POST")).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{source}: {body}");
        }
    };

    // A call whose ticket opens while it rings (completed, not created, when it ends)...
    let mut ringing: Value = serde_json::from_str(IN_CALL_RINGING).expect("JSON");
    ringing["uid"] = json!(RING_UID);
    post(METERED_CALLS, ringing).await;
    app.wait_for_ticket_of(METERED_CALLS, RING_UID).await;
    post(METERED_CALLS, with_call_id(answered_call(), RING_UID)).await;
    // ...a call whose ticket is made when it ends, and a handoff.
    post(
        METERED_CALLS,
        with_call_id(missed_call(), "metered-missed-2"),
    )
    .await;
    post(
        METERED_AI,
        json!({"sessionId": "metered-handoff-1", "contact": {"email": "tom@example.com"},
            "channel": "web", "summary": "Wants a refund."}),
    )
    .await;
    app.settle().await;
    assert_eq!(app.sandbox_tickets().await.len(), 3);

    let r = app
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), StatusCode::OK);
    let scrape = r.text().await.expect("text");
    assert_eq!(
        tickets_created(&scrape, METERED_CALLS, "call"),
        Some(2),
        "{scrape}"
    );
    assert_eq!(
        tickets_created(&scrape, METERED_AI, "handoff"),
        Some(1),
        "{scrape}"
    );
    app.stop().await;
}
