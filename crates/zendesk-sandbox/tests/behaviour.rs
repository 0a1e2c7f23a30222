//! Cross-cutting behaviour over real HTTP: authentication, rate limits, fault injection, the
//! request log, sandbox controls and saved state.

mod common;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use zendesk_sandbox::{FaultSettings, Plan, SandboxConfig};

#[tokio::test]
async fn authentication_as_zendesk_accepts_it() {
    let sb = common::spawn().await;
    let url = format!("{}/api/v2/users/me", sb.base);
    let status = |r: reqwest::RequestBuilder| async move {
        r.send().await.expect("request").status().as_u16()
    };

    assert_eq!(
        status(
            sb.http
                .get(&url)
                .basic_auth("admin@sandbox.test/token", Some("sandbox-token"))
        )
        .await,
        200
    );
    assert_eq!(
        status(sb.http.get(&url).bearer_auth("sandbox-token")).await,
        200
    );
    assert_eq!(
        status(
            sb.http
                .get(&url)
                .basic_auth("priya.sharma@sandbox.test/token", Some("sandbox-token"))
        )
        .await,
        200
    );
    assert_eq!(
        status(
            sb.http
                .get(&url)
                .basic_auth("priya.sharma@sandbox.test", Some("agent-password"))
        )
        .await,
        200
    );

    let unauthorised = [
        sb.http.get(&url),
        sb.http
            .get(&url)
            .basic_auth("admin@sandbox.test/token", Some("wrong")),
        sb.http
            .get(&url)
            .basic_auth("nobody@sandbox.test/token", Some("sandbox-token")),
        sb.http
            .get(&url)
            .basic_auth("admin@sandbox.test", Some("sandbox-token")),
        sb.http
            .get(&url)
            .basic_auth("priya.sharma@sandbox.test", Some("wrong-password")),
        sb.http.get(&url).bearer_auth("wrong"),
        sb.http
            .get(&url)
            .header("authorization", "Basic !!!notbase64"),
        sb.http.get(&url).header("authorization", "Digest abc"),
    ];
    for request in unauthorised {
        let r = request.send().await.expect("request");
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body, json!({"error": "Couldn't authenticate you"}));
    }

    // An end-user's email with a valid token is authenticated but not allowed.
    let r = sb
        .http
        .get(&url)
        .basic_auth("anita@acme-logistics.example/token", Some("sandbox-token"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "Forbidden");
}

#[tokio::test]
async fn every_api_answer_carries_rate_limit_headers_and_429_has_retry_after() {
    let sb = common::spawn_with(SandboxConfig {
        rate_limit_per_minute: Some(3),
        rate_window: Duration::from_secs(2),
        ..SandboxConfig::default()
    })
    .await;
    for remaining in [2, 1, 0] {
        let r = sb
            .admin(Method::GET, "/api/v2/users/me")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit"], "3");
        assert_eq!(
            r.headers()["x-rate-limit-remaining"],
            remaining.to_string().as_str()
        );
    }
    // Errors count and carry the headers too; here the budget is already spent.
    let r = sb
        .admin(Method::GET, "/api/v2/tickets/1")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "the budget is back after Retry-After");

    let log = sb.requests(0).await;
    let refused: Vec<&Value> = log.iter().filter(|e| e["status"] == 429).collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["retry_after"], retry);
}

#[tokio::test]
async fn plans_set_the_budget_and_sandbox_limits_change_it() {
    let sb = common::spawn_with(SandboxConfig {
        plan: Plan::Team,
        ..SandboxConfig::default()
    })
    .await;
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-rate-limit"], "200");
    let r = sb
        .put("/sandbox/limits", &json!({"rate_limit_per_minute": 700}))
        .await;
    assert_eq!(r.status(), 200);
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-rate-limit"], "700");
    let r = sb
        .put("/sandbox/limits", &json!({"rate_limit_per_minute": 0}))
        .await;
    assert_eq!(r.status(), 400);
    let r = sb.put("/sandbox/limits", &json!({"per_minute": 5})).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn ticket_updates_are_limited_per_ticket() {
    let sb = common::spawn_with(SandboxConfig {
        ticket_updates_per_ticket: 2,
        ..SandboxConfig::default()
    })
    .await;
    let a = sb.create_ticket(json!({"comment": {"body": "a"}})).await;
    let b = sb.create_ticket(json!({"comment": {"body": "b"}})).await;
    let update = json!({"ticket": {"comment": {"body": "note", "public": false}}});
    for _ in 0..2 {
        assert_eq!(
            sb.put(&format!("/api/v2/tickets/{a}"), &update)
                .await
                .status(),
            200
        );
    }
    let r = sb.put(&format!("/api/v2/tickets/{a}"), &update).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.expect("json");
    assert!(body["description"]
        .as_str()
        .is_some_and(|d| d.contains("ticket updates")));
    assert_eq!(
        sb.put(&format!("/api/v2/tickets/{b}"), &update)
            .await
            .status(),
        200,
        "other tickets are not affected"
    );
    let comments = sb.get_json(&format!("/api/v2/tickets/{a}/comments")).await;
    assert_eq!(
        comments["comments"].as_array().map(Vec::len),
        Some(3),
        "the refused update changed nothing"
    );
}

#[tokio::test]
async fn server_errors_dropped_connections_and_latency_are_injected_at_run_time() {
    let sb = common::spawn().await;
    let sb = &sb;
    let set = |faults: Value| async move { sb.put("/sandbox/faults", &faults).await };

    assert_eq!(
        set(json!({"error_rate": 1.0, "error_statuses": [502]}))
            .await
            .status(),
        200
    );
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 502);

    assert_eq!(set(json!({"drop_rate": 1.0})).await.status(), 200);
    let err = sb
        .admin(Method::POST, "/api/v2/tickets")
        .json(&json!({"ticket": {"comment": {"body": "x"}}}))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_status(), "no HTTP answer at all: {err}");
    assert_eq!(sb.handle.ticket_count(), 0);

    assert_eq!(set(json!({"latency_ms": 50})).await.status(), 200);
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let shown = sb.get_json("/sandbox/faults").await;
    assert_eq!(shown["faults"]["latency_ms"], 50);
    assert_eq!(shown["faults"]["error_rate"], 0.0);

    let cleared = sb
        .admin(Method::DELETE, "/sandbox/faults")
        .send()
        .await
        .expect("request");
    assert_eq!(cleared.status(), 200);
    let shown = sb.get_json("/sandbox/faults").await;
    assert_eq!(shown["faults"]["latency_ms"], 0);

    for bad in [
        json!({"error_rate": 2}),
        json!({"drop_rate": -0.1}),
        json!({"error_rate": 0.5, "error_statuses": [404]}),
        json!({"lag": 5}),
    ] {
        let r = set(bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
    }

    let log = sb.requests(0).await;
    let faults: Vec<(&str, u64)> = log
        .iter()
        .map(|e| {
            (
                e["fault"].as_str().unwrap_or("-"),
                e["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        faults,
        [("server_error", 502), ("dropped", 0), ("latency", 200)]
    );
}

#[tokio::test]
async fn a_429_storm_refuses_everything_then_ends() {
    let sb = common::spawn().await;
    let r = sb
        .put("/sandbox/faults", &json!({"rate_limit_storm_seconds": 2}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(body["faults"]["storm_remaining_seconds"]
        .as_u64()
        .is_some_and(|s| (1..=2).contains(&s)));
    let r = sb
        .admin(Method::POST, "/api/v2/tickets")
        .json(&json!({"ticket": {"comment": {"body": "x"}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry));
    assert_eq!(sb.handle.ticket_count(), 0);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let r = sb
        .admin(Method::POST, "/api/v2/tickets")
        .json(&json!({"ticket": {"comment": {"body": "x"}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201, "the storm is over");
}

#[tokio::test]
async fn faults_from_the_start_apply_to_the_api_only() {
    let sb = common::spawn_with(SandboxConfig {
        faults: FaultSettings {
            error_rate: 1.0,
            ..FaultSettings::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let r = sb
        .admin(Method::GET, "/api/v2/users/me")
        .send()
        .await
        .expect("request");
    assert!([500, 502, 503].contains(&r.status().as_u16()));
    // The controls themselves are never faulted, so a test can always switch faults off.
    let r = sb
        .admin(Method::GET, "/sandbox/faults")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn request_log_records_each_api_request_and_can_be_read_incrementally() {
    let sb = common::spawn().await;
    let id = sb.create_ticket(json!({"comment": {"body": "x"}})).await;
    let _ = sb.get_json(&format!("/api/v2/tickets/{id}.json")).await;
    let log = sb.requests(0).await;
    let lines: Vec<(String, String, u64)> = log
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or("").to_string(),
                e["path"].as_str().unwrap_or("").to_string(),
                e["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("POST".to_string(), "/api/v2/tickets".to_string(), 201),
            ("GET".to_string(), format!("/api/v2/tickets/{id}.json"), 200),
        ]
    );
    assert!(log[0]["at"].is_string() && log[0]["duration_ms"].is_u64());
    let last = log[1]["seq"].as_u64().expect("seq");
    assert!(sb.requests(last).await.is_empty());
    let cleared = sb
        .admin(Method::DELETE, "/sandbox/requests")
        .send()
        .await
        .expect("request");
    assert_eq!(cleared.status(), 200);
    assert!(sb.requests(0).await.is_empty());
    let r = sb
        .admin(Method::GET, "/sandbox/requests?since=x")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn sandbox_controls_need_the_admin() {
    let sb = common::spawn().await;
    let r = sb
        .http
        .get(format!("{}/sandbox/requests", sb.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let r = sb
        .as_agent_api("priya.sharma@sandbox.test", Method::PUT, "/sandbox/faults")
        .json(&json!({"error_rate": 1.0}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    let r = sb
        .http
        .get(format!("{}/sandbox/health", sb.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let info = sb.get_json("/sandbox/info").await;
    assert_eq!(info["plan"], "enterprise");
    assert_eq!(info["rate_limit_per_window"], 700);
    assert!(
        !info.to_string().contains(common::TOKEN),
        "the API token is never echoed"
    );
}

#[tokio::test]
async fn state_file_keeps_tickets_across_restarts() {
    let dir = std::env::temp_dir().join(format!("sandbox-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let config = SandboxConfig {
        state_file: Some(file.clone()),
        ..SandboxConfig::default()
    };
    let sb = common::spawn_with(config.clone()).await;
    let first = sb
        .create_ticket(json!({"comment": {"body": "keep me"}, "requester": {"name": "P", "email": "p@example.com"}}))
        .await;
    sb.handle.shutdown().await;

    let sb = common::spawn_with(config.clone()).await;
    let t = sb.get_json(&format!("/api/v2/tickets/{first}")).await;
    assert_eq!(t["ticket"]["description"], "keep me");
    let second = sb.create_ticket(json!({"comment": {"body": "next"}})).await;
    assert_eq!(second, first + 1, "ids continue after a restart");
    let found = sb
        .get_json("/api/v2/users/search?query=p@example.com")
        .await;
    assert_eq!(
        found["count"].as_u64(),
        Some(found["users"].as_array().map_or(0, |u| u.len() as u64))
    );
    sb.handle.shutdown().await;

    std::fs::write(&file, "not json").expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = zendesk_sandbox::start(config, listener)
        .await
        .err()
        .expect("a corrupt state file is refused");
    assert!(err.to_string().contains("state.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
