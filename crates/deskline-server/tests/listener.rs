//! The listener against slow and hostile clients, over real sockets: a request with a wrong
//! secret is refused before its body is sent; connections stalled in their headers or body,
//! or idle, are cut by the timeouts while real webhooks keep being acknowledged; a full
//! listener makes new connections wait, not fail.

mod common;

use std::time::Duration;

use common::*;
use deskline_server::config::{Config, SourceKind};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short timeouts, so the tests wait seconds rather than the defaults' minutes.
fn short_timeouts(config: &mut Config) {
    config.server.header_read_timeout = Duration::from_millis(500);
    config.server.body_read_timeout = Duration::from_secs(1);
    config.server.idle_timeout = Duration::from_secs(1);
}

fn with_providers(config: &mut Config) {
    config.sources.insert(
        AIRCALL.into(),
        source_config(SourceKind::Aircall, AIRCALL_TOKEN),
    );
    config.sources.insert(
        TWILIO.into(),
        source_config(SourceKind::Twilio, TWILIO_AUTH_TOKEN),
    );
    config.sources.insert(
        EXOTEL.into(),
        source_config(SourceKind::Exotel, EXOTEL_SECRET),
    );
    config.zendesk.webhook_secret = Some("e2e-zendesk-webhook-secret".into());
}

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.service.addr;
    TcpStream::connect(addr).await.expect("connect to deskline")
}

/// Reads what the server sends until it closes the connection; fails the test if it keeps the
/// connection open past [`DEADLINE`].
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_all)
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// A request head for `path` on `app` with `extra` header lines, announcing `length` bytes.
fn head(path: &str, length: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\n{extra}\r\n"
    )
}

/// The status code of a raw HTTP/1.1 answer.
fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("(no answer)")
}

#[tokio::test]
async fn a_wrong_secret_is_refused_before_the_body_is_sent() {
    let app = spawn_app_with(sandbox_config(), with_providers).await;
    // 100 MB announced, none sent: each answer can only come from the headers and URL.
    let huge = 100_000_000;
    let cases = [
        (
            "/hooks/myoperator".to_string(),
            format!("{SECRET_HEADER}: wrong-secret\r\n"),
            "the source secret is wrong",
        ),
        (
            "/hooks/myoperator".to_string(),
            String::new(),
            "missing credentials",
        ),
        (
            "/hooks/myoperator".to_string(),
            "authorization: Basic bXlvcGVyYXRvcjp3cm9uZw==\r\n".to_string(),
            "the source secret is wrong",
        ),
        (
            format!("/hooks/{EXOTEL}?secret=wrong"),
            String::new(),
            "missing credentials",
        ),
        (
            format!("/hooks/{TWILIO}"),
            String::new(),
            "missing X-Twilio-Signature header",
        ),
        (
            "/zendesk/webhook".to_string(),
            String::new(),
            "missing x-zendesk-webhook-signature",
        ),
    ];
    for (path, extra, says) in cases {
        let mut stream = connect(&app).await;
        stream
            .write_all(head(&path, huge, &extra).as_bytes())
            .await
            .expect("send the head");
        let answer = until_closed(&mut stream).await;
        assert_eq!(status_of(&answer), "401", "{path}: {answer}");
        assert!(answer.contains(says), "{path}: {answer}");
    }
    // The right secret with the same announcement is told the limit, still without the body.
    let mut stream = connect(&app).await;
    let extra = format!("{SECRET_HEADER}: {SECRET}\r\n");
    stream
        .write_all(head("/hooks/myoperator", huge, &extra).as_bytes())
        .await
        .expect("send the head");
    let answer = until_closed(&mut stream).await;
    assert_eq!(status_of(&answer), "413", "{answer}");
    assert!(answer.contains(&MAX_BODY_BYTES.to_string()), "{answer}");
    // Nothing was stored.
    let (status, jobs) = app.admin_get("/admin/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["jobs"], json!([]), "{jobs}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_signed_inside_has_the_tighter_limit() {
    let app = spawn_app_with(sandbox_config(), |c| {
        with_providers(c);
        c.server.max_body_bytes = 8192;
        c.server.signed_max_body_bytes = 2048;
    })
    .await;
    for path in [format!("/hooks/{AIRCALL}"), format!("/hooks/{TWILIO}")] {
        let mut stream = connect(&app).await;
        stream
            .write_all(head(&path, 4000, "x-twilio-signature: abc\r\n").as_bytes())
            .await
            .expect("send the head");
        let answer = until_closed(&mut stream).await;
        assert_eq!(status_of(&answer), "413", "{path}: {answer}");
        assert!(answer.contains("2048"), "{path}: {answer}");
    }
    // A source authenticated by its header keeps the larger limit.
    let padded = json!({"_padding": "x".repeat(3000), "unused": true});
    let r = app.post_call(&padded).await;
    assert_ne!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_at_the_body_timeout() {
    let app = spawn_app_with(sandbox_config(), short_timeouts).await;
    let mut stream = connect(&app).await;
    let extra = format!("{SECRET_HEADER}: {SECRET}\r\n");
    stream
        .write_all(head("/hooks/myoperator", 1000, &extra).as_bytes())
        .await
        .expect("send the head");
    stream
        .write_all(&[b' '; 500])
        .await
        .expect("send half the body");
    let answer = until_closed(&mut stream).await;
    assert_eq!(status_of(&answer), "408", "{answer}");
    assert!(answer.contains("server.body_read_timeout"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn slow_and_stalled_connections_are_cut_while_webhooks_are_acknowledged() {
    let app = spawn_app_with(sandbox_config(), |c| {
        with_providers(c);
        short_timeouts(c);
    })
    .await;
    let mut stalled = Vec::new();
    for i in 0..50 {
        let mut stream = connect(&app).await;
        let aircall = format!("/hooks/{AIRCALL}");
        match i % 5 {
            // Connected, silent.
            0 => {}
            // Half a request line.
            1 => stream.write_all(b"POST /hooks/myo").await.expect("send"),
            // All headers but the blank line that ends them.
            2 => {
                let h = head(&aircall, 4000, "");
                stream
                    .write_all(h.trim_end().as_bytes())
                    .await
                    .expect("send")
            }
            // Headers, then a body stopped just short of its (tighter) limit.
            _ => {
                stream
                    .write_all(head(&aircall, 4000, "").as_bytes())
                    .await
                    .expect("send");
                stream.write_all(&[b' '; 3900]).await.expect("send");
            }
        }
        stalled.push((i % 5, stream));
    }
    // Meanwhile, real webhooks are acknowledged.
    for n in 0..10 {
        let call = with_call_id(answered_call(), &format!("slowloris-{n}"));
        app.deliver(&call).await;
    }
    // And every stalled connection is cut: those stalled in the body with a 408.
    let mut cut_in_body = 0;
    for (kind, mut stream) in stalled {
        let answer = until_closed(&mut stream).await;
        if kind >= 3 {
            assert_eq!(status_of(&answer), "408", "{answer}");
            cut_in_body += 1;
        } else {
            assert!(answer.is_empty(), "nothing is answered to a head: {answer}");
        }
    }
    assert_eq!(cut_in_body, 20);
    // The service still answers after the burst.
    let call = with_call_id(answered_call(), "after-the-burst");
    app.deliver(&call).await;
    app.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let app = spawn_app_with(sandbox_config(), short_timeouts).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send");
    let answer = until_closed(&mut stream).await;
    assert_eq!(status_of(&answer), "200", "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_full_listener_makes_new_connections_wait_not_fail() {
    let app = spawn_app_with(sandbox_config(), |c| {
        c.server.max_connections = 2;
        // Long enough that only making room can free the slots in time.
        c.server.idle_timeout = Duration::from_secs(600);
        c.server.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    // Two kept-alive clients fill the listener, then go idle.
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await
            .expect("send");
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.expect("an answer");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
        idle.push(stream);
    }
    // A webhook on a new connection waits for a slot, and gets one when an idle connection is
    // closed to make room.
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client");
    let r = client
        .post(app.hook_url(SOURCE))
        .header(SECRET_HEADER, SECRET)
        .json(&with_call_id(answered_call(), "waited-for-a-slot"))
        .send()
        .await
        .expect("the webhook is answered");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    app.stop().await;
}
