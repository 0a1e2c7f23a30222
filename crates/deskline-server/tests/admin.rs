//! The admin API's own rules, over real HTTP: the bearer token in any letter case (RFC 7235
//! schemes are case-insensitive), and precise 404s for sources that do not exist.

mod common;

use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

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
