//! `POST /hooks/{source}` end to end: redelivery is recognised, bad input is refused with a
//! clear error and changes nothing, and every envelope and credential MyOperator can send is
//! accepted.

mod common;

use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Status and JSON body of an answer.
async fn answer(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_call_delivered_three_times_makes_one_ticket() {
    let app = spawn_app().await;
    let payload = answered_call();
    let call = call_id(&payload);

    let (first, body) = answer(app.post_call(&payload).await).await;
    assert_eq!(first, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "accepted");
    let event_id = body["event_id"].clone();
    for _ in 0..2 {
        let (status, body) = answer(app.post_call(&payload).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "duplicate");
        assert_eq!(body["event_id"], event_id, "the first delivery's event");
    }
    app.wait_for_ticket(&call).await;
    // A redelivery after the ticket exists is still only a duplicate.
    let (status, body) = answer(app.post_call(&payload).await).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("duplicate"))
    );

    let jobs = app.jobs(None).await;
    assert_eq!(jobs.len(), 1, "one job: {jobs:?}");
    assert_eq!(jobs[0]["state"], "completed");
    assert_eq!(
        app.tickets_with_external_id(&format!("myoperator:{call}"))
            .await
            .len(),
        1
    );
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_concurrent_deliveries_of_one_call_make_one_ticket() {
    let app = spawn_app().await;
    let payload = with_call_id(missed_call(), "concurrent-delivery-1");

    let (a, b, c) = tokio::join!(
        app.post_call(&payload),
        app.post_call(&payload),
        app.post_call(&payload)
    );
    let mut statuses = Vec::new();
    let mut events = Vec::new();
    for r in [a, b, c] {
        let (status, body) = answer(r).await;
        assert!(status.is_success(), "{status} {body}");
        statuses.push(status.as_u16());
        events.push(body["event_id"].clone());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 202], "one stored, two duplicates");
    assert!(events.iter().all(|e| *e == events[0]), "{events:?}");

    app.wait_for_completed_jobs(1).await;
    assert_eq!(app.jobs(None).await.len(), 1, "one job");
    let tickets = app.sandbox_tickets().await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(
        tickets[0]["external_id"],
        "myoperator:concurrent-delivery-1"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_clear_error_and_nothing_is_stored() {
    let app = spawn_app().await;
    let good = answered_call();

    // Malformed JSON: 400 naming it.
    let r = app
        .hook()
        .header(SECRET_HEADER, SECRET)
        .header("content-type", "application/json")
        .body(r#"{"_ai": "6741c2a90dbe24a1", "_cl": "#)
        .send()
        .await
        .expect("post");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_payload");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed JSON"),
        "{body}"
    );

    // Wrong secret: 401, without echoing anything secret.
    let r = app
        .hook()
        .header(SECRET_HEADER, "not-the-secret-at-all-000")
        .json(&good)
        .send()
        .await
        .expect("post");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["message"], "the source secret is wrong");
    assert!(!body.to_string().contains(SECRET));

    // Wrong Basic password: 401 as well.
    let r = app
        .hook()
        .basic_auth("myoperator", Some("not-the-secret-at-all-000"))
        .json(&good)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Missing secret: 401 saying where it goes.
    let (status, body) = answer(app.hook().json(&good).send().await.expect("post")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(SECRET_HEADER),
        "{body}"
    );

    // Oversized body: 413 naming the limit.
    let mut big = good.clone();
    big["_padding"] = json!("x".repeat(MAX_BODY_BYTES));
    let r = app
        .hook()
        .header(SECRET_HEADER, SECRET)
        .json(&big)
        .send()
        .await
        .expect("post");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&MAX_BODY_BYTES.to_string()),
        "{body}"
    );

    // Unknown source: 404 naming it.
    let r = app
        .http
        .post(format!("{}/hooks/exotel", app.url))
        .header(SECRET_HEADER, SECRET)
        .json(&good)
        .send()
        .await
        .expect("post");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("exotel"),
        "{body}"
    );

    // A form that is no MyOperator webhook: 400 naming what was expected and what came.
    let r = app
        .hook()
        .header(SECRET_HEADER, SECRET)
        .form(&[("call", good.to_string())])
        .send()
        .await
        .expect("post");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a MyOperator webhook"),
        "{body}"
    );

    // A call log without `_ai`: 400 naming `_ai`.
    let mut no_id = good.clone();
    no_id.as_object_mut().expect("object").remove("_ai");
    let (status, body) = answer(app.post_call(&no_id).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("_ai"),
        "{body}"
    );

    app.assert_nothing_stored().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_envelope_and_basic_auth_are_accepted() {
    let app = spawn_app().await;

    // The secret as the HTTP Basic password, a bare JSON object.
    let basic = with_call_id(missed_call(), "basic-auth-1");
    let r = app
        .hook()
        .basic_auth("myoperator", Some(SECRET))
        .json(&basic)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // The same, with the header built by hand (any user name).
    let manual = with_call_id(missed_call(), "basic-auth-2");
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(":{SECRET}"));
    let r = app
        .hook()
        .header("authorization", format!("Basic {credentials}"))
        .json(&manual)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // The form field `myoperator=<json>`.
    let form = with_call_id(missed_call(), "form-envelope-3");
    let r = app
        .hook()
        .header(SECRET_HEADER, SECRET)
        .form(&[("myoperator", form.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // `{"myoperator": {...}}`.
    let wrapped = with_call_id(missed_call(), "json-envelope-4");
    let r = app.post_call(&json!({ "myoperator": wrapped })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    app.wait_for_completed_jobs(4).await;
    for call in [
        "basic-auth-1",
        "basic-auth-2",
        "form-envelope-3",
        "json-envelope-4",
    ] {
        let tickets = app
            .tickets_with_external_id(&format!("myoperator:{call}"))
            .await;
        assert_eq!(tickets.len(), 1, "{call}");
        assert_eq!(tickets[0]["group_id"], VOICE_MISSED_CALLS, "{call}");
    }
    assert_eq!(app.sandbox_tickets().await.len(), 4);
    app.stop().await;
}
