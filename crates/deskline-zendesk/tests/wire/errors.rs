//! How each kind of answer (or no answer) is classified for the job queue.

use std::time::Duration;

use deskline_zendesk::{NewComment, NewTicket, ZendeskError};
use serde_json::json;
use tokio::io::AsyncReadExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::{client_for, server, TOKEN};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test]
async fn status_classification_table() {
    let (server, client) = server().await;
    let rate_headers = |t: ResponseTemplate| {
        t.insert_header("x-rate-limit", "700")
            .insert_header("x-rate-limit-remaining", "0")
    };
    // (ticket id = case number, answer, expected error, permanent?, retry_after)
    let cases: Vec<(u64, ResponseTemplate, ZendeskError, bool, Option<Duration>)> = vec![
        (
            1,
            ResponseTemplate::new(401).set_body_json(json!({"error": "Couldn't authenticate you"})),
            ZendeskError::Unauthorized,
            true,
            None,
        ),
        (
            2,
            ResponseTemplate::new(403).set_body_json(
                json!({"error": "Forbidden", "description": "You do not have access to this page"}),
            ),
            ZendeskError::Forbidden {
                operation: "GET /api/v2/tickets/2".into(),
                description: "You do not have access to this page".into(),
            },
            true,
            None,
        ),
        (
            3,
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "RecordNotFound", "description": "Not found"})),
            ZendeskError::NotFound {
                operation: "GET /api/v2/tickets/3".into(),
            },
            true,
            None,
        ),
        (
            4,
            ResponseTemplate::new(422).set_body_json(json!({"error": "RecordInvalid",
                "description": "Record validation errors", "details": {
                    "assignee": [{"description": "Assignee: Lucas Moreau is not a member of the group Voice-Missed-Calls", "error": "InvalidValue"}],
                    "status": [{"description": "Status: closed prevents ticket update", "error": "InvalidValue"}]}})),
            ZendeskError::Invalid {
                details: "assignee: Assignee: Lucas Moreau is not a member of the group \
                          Voice-Missed-Calls; status: Status: closed prevents ticket update"
                    .into(),
            },
            true,
            None,
        ),
        (
            5,
            ResponseTemplate::new(400).set_body_json(json!({"error": "IdempotentRequestError",
                "description": "Request parameters don't match the given idempotency key"})),
            ZendeskError::IdempotencyMismatch,
            true,
            None,
        ),
        (
            6,
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "InvalidRequest", "description": "page[size] must be 1 to 100"}),
            ),
            ZendeskError::BadRequest {
                description: "InvalidRequest: page[size] must be 1 to 100 (GET /api/v2/tickets/6)"
                    .into(),
            },
            true,
            None,
        ),
        (
            7,
            ResponseTemplate::new(409).set_body_string("Conflict"),
            ZendeskError::Conflict {
                operation: "GET /api/v2/tickets/7".into(),
            },
            false,
            None,
        ),
        (
            8,
            rate_headers(ResponseTemplate::new(429).insert_header("retry-after", "7"))
                .set_body_string("Too Many Requests"),
            ZendeskError::RateLimited {
                retry_after: secs(7),
            },
            false,
            Some(secs(7)),
        ),
        (
            9,
            ResponseTemplate::new(429).set_body_string("Too Many Requests"),
            ZendeskError::RateLimited {
                retry_after: secs(10),
            },
            false,
            Some(secs(10)),
        ),
        (
            10,
            ResponseTemplate::new(429).insert_header("retry-after", "whenever"),
            ZendeskError::RateLimited {
                retry_after: secs(10),
            },
            false,
            Some(secs(10)),
        ),
        (
            11,
            ResponseTemplate::new(500).set_body_string("Internal Server Error"),
            ZendeskError::Transient {
                reason: "HTTP 500 from GET /api/v2/tickets/11".into(),
            },
            false,
            None,
        ),
        (
            12,
            ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
            ZendeskError::Transient {
                reason: "HTTP 502 from GET /api/v2/tickets/12".into(),
            },
            false,
            None,
        ),
        (
            13,
            ResponseTemplate::new(503)
                .insert_header("retry-after", "30")
                .set_body_string("Maintenance"),
            ZendeskError::Unavailable {
                retry_after: secs(30),
            },
            false,
            Some(secs(30)),
        ),
        (
            14,
            ResponseTemplate::new(503).set_body_string("Service Unavailable"),
            ZendeskError::Transient {
                reason: "HTTP 503 from GET /api/v2/tickets/14".into(),
            },
            false,
            None,
        ),
        (
            15,
            ResponseTemplate::new(504),
            ZendeskError::Transient {
                reason: "HTTP 504 from GET /api/v2/tickets/15".into(),
            },
            false,
            None,
        ),
        (
            16,
            ResponseTemplate::new(302).insert_header("location", "https://elsewhere.test/"),
            ZendeskError::BadRequest {
                description: "GET /api/v2/tickets/16 was redirected (302); check \
                              zendesk.base_url (https://, the account's own host)"
                    .into(),
            },
            true,
            None,
        ),
        (
            17,
            ResponseTemplate::new(422).set_body_json(json!({"error": "RecordInvalid",
                "description": "Insufficient Resource Error"})),
            ZendeskError::Invalid {
                details: "Insufficient Resource Error".into(),
            },
            true,
            None,
        ),
    ];
    for (id, template, _, _, _) in &cases {
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/tickets/{id}")))
            .respond_with(template.clone())
            .expect(1)
            .mount(&server)
            .await;
    }
    for (id, _, want, permanent, retry_after) in cases {
        let err = match client.show_ticket(id).await {
            Ok(t) => panic!("case {id}: expected an error, got ticket {}", t.id),
            Err(e) => e,
        };
        assert_eq!(err, want, "case {id}");
        assert_eq!(err.is_permanent(), permanent, "case {id}: permanent");
        assert_eq!(err.retry_after(), retry_after, "case {id}: retry_after");
        let message = err.to_string();
        assert!(!message.contains(TOKEN), "case {id}: {message}");
        assert!(!message.contains("<html>"), "case {id}: {message}");
    }
    // The client never retried or slept on its own: one request per case.
    // (`expect(1)` on each mock is verified when the server drops.)
    let snapshot = client.budget().snapshot();
    assert_eq!(snapshot.rate_limited, 3);
    assert_eq!(snapshot.limit, Some(700));
}

#[tokio::test]
async fn unauthorized_says_how_to_rotate_the_token() {
    let message = ZendeskError::Unauthorized.to_string();
    for needle in [
        "API token",
        "Admin Center → Apps and integrations → APIs → Zendesk API",
        "restart",
    ] {
        assert!(message.contains(needle), "{message}");
    }
}

#[tokio::test]
async fn idempotency_mismatch_on_create() {
    let (server, client) = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/tickets"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "IdempotentRequestError",
            "description": "Request parameters don't match the given idempotency key"})))
        .expect(1)
        .mount(&server)
        .await;
    let ticket = NewTicket {
        comment: Some(NewComment::private_text("x")),
        ..Default::default()
    };
    let err = client.create_ticket(&ticket, "call:1").await.err();
    assert_eq!(err, Some(ZendeskError::IdempotencyMismatch));
}

#[tokio::test]
async fn garbage_in_a_2xx_is_a_decode_error() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let err = client.me().await.err();
    assert!(matches!(&err, Some(ZendeskError::Decode { .. })), "{err:?}");
    assert!(err.is_some_and(|e| !e.is_permanent() && e.retry_after().is_none()));
}

#[tokio::test]
async fn timeout_is_transient() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = client.me().await.err();
    assert!(
        matches!(&err, Some(ZendeskError::Transient { reason }) if reason.contains("timed out")),
        "{err:?}"
    );
}

#[tokio::test]
async fn refused_connections_are_unreachable_and_dropped_ones_transient() {
    // Refused: a port nothing listens on any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let addr = listener.as_ref().ok().and_then(|l| l.local_addr().ok());
    let Some(addr) = addr else {
        panic!("cannot bind a loopback port");
    };
    drop(listener);
    let err = client_for(&format!("http://{addr}")).me().await.err();
    assert!(
        matches!(&err, Some(ZendeskError::Unreachable { .. })),
        "refused: {err:?}"
    );
    assert!(err
        .as_ref()
        .is_some_and(|e| e.is_outage() && !e.is_permanent()));

    // Dropped: the server reads the request, then closes without answering.
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let addr = listener.local_addr().ok();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                drop(socket);
            }
        }
    });
    let base = format!("http://{}", addr.map(|a| a.to_string()).unwrap_or_default());
    let err = client_for(&base).me().await.err();
    assert!(
        matches!(&err, Some(ZendeskError::Transient { reason }) if !reason.contains(TOKEN)),
        "dropped: {err:?}"
    );
    assert!(err.is_some_and(|e| !e.is_permanent()));
    server.abort();
}
