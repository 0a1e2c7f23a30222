//! The gate: a recorded pause stops a request before it is sent; a 429 or a 503 with
//! `Retry-After` is handed to the gate before the error is returned; every request reports
//! whether Zendesk answered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deskline_zendesk::{Endpoint, GateFuture, Reach, RequestGate, ZendeskError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::{client_for, server, user_json};

/// Records what the client told it; answers `wait` with `paused`.
#[derive(Default)]
struct Recorder {
    paused: Mutex<Option<Duration>>,
    pauses: Mutex<Vec<(Duration, String)>>,
    reaches: Mutex<Vec<Reach>>,
    slots: Mutex<Vec<Endpoint>>,
}

impl RequestGate for Recorder {
    fn wait(&self) -> GateFuture<'_, Option<Duration>> {
        Box::pin(async move { *self.paused.lock().unwrap_or_else(|e| e.into_inner()) })
    }
    fn pause(&self, wait: Duration, reason: String) -> GateFuture<'_, ()> {
        Box::pin(async move {
            self.pauses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((wait, reason));
        })
    }
    fn reached(&self, reach: Reach) {
        self.reaches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reach);
    }
    fn take_slot(&self, endpoint: Endpoint) -> GateFuture<'_, ()> {
        Box::pin(async move {
            self.slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(endpoint);
        })
    }
}

fn me() -> serde_json::Value {
    serde_json::json!({ "user": user_json(30001, "admin", None) })
}

#[tokio::test]
async fn a_recorded_pause_stops_the_request_before_it_is_sent() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(me()))
        .expect(0)
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder::default());
    *gate.paused.lock().unwrap_or_else(|e| e.into_inner()) = Some(Duration::from_secs(7));
    let client = client.with_gate(gate.clone());
    let err = client.me().await.err();
    assert_eq!(
        err,
        Some(ZendeskError::Paused {
            left: Duration::from_secs(7)
        })
    );
    assert_eq!(
        err.and_then(|e| e.retry_after()),
        Some(Duration::from_secs(7)),
        "a job snoozes for what is left"
    );
    assert!(gate
        .reaches
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_empty());
    assert_eq!(
        *gate.slots.lock().unwrap_or_else(|e| e.into_inner()),
        [Endpoint::General],
        "the shared slot is taken before the pause is read, so a pause recorded meanwhile still stops the request"
    );
    server.verify().await;
}

#[tokio::test]
async fn rate_limits_are_recorded_and_answers_reported() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder::default());
    let client = client.with_gate(gate.clone());
    for _ in 0..3 {
        assert!(client.me().await.is_err());
    }
    let pauses = gate
        .pauses
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let waits: Vec<Duration> = pauses.iter().map(|(w, _)| *w).collect();
    assert_eq!(waits, [Duration::from_secs(1), Duration::from_secs(2)]);
    assert!(pauses[0].1.contains("rate limit"), "{pauses:?}");
    let reaches = gate
        .reaches
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(
        reaches,
        [
            Reach::Answered(429),
            Reach::Answered(503),
            Reach::Failed(502)
        ],
        "a 429 or a 503 with Retry-After proves Zendesk is up; a bare 5xx does not"
    );

    // No connection at all.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let gate = Arc::new(Recorder::default());
    let refused = client_for(&format!("http://{addr}")).with_gate(gate.clone());
    assert!(matches!(
        refused.me().await,
        Err(ZendeskError::Unreachable { .. })
    ));
    assert_eq!(
        *gate.reaches.lock().unwrap_or_else(|e| e.into_inner()),
        [Reach::NoAnswer]
    );
}
