//! Users, organizations, groups, memberships and ticket fields over real HTTP.

mod common;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

fn emails(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn agents_are_listed_by_cursor_pages_following_links_next() {
    let sb = common::spawn().await;
    let mut url = format!(
        "{}/api/v2/users?role%5B%5D=agent&role%5B%5D=admin&page%5Bsize%5D=5",
        sb.base
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 10, "pagination does not end");
        let r = sb
            .http
            .get(&url)
            .basic_auth(format!("{}/token", common::ADMIN), Some(common::TOKEN))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.expect("json");
        seen.extend(emails(&page));
        if page["meta"]["has_more"] != true {
            assert_eq!(page["links"]["next"], Value::Null);
            break;
        }
        assert!(page["meta"]["after_cursor"].is_string());
        url = page["links"]["next"]
            .as_str()
            .expect("links.next")
            .to_string();
    }
    assert_eq!(pages, 3, "13 staff users in pages of 5");
    assert_eq!(seen.len(), 13);
    assert!(seen.contains(&"admin@sandbox.test".to_string()));
    assert!(
        !seen.iter().any(|e| e.ends_with(".example")),
        "no end-users"
    );

    let only_admins = sb.get_json("/api/v2/users?role=admin").await;
    assert_eq!(emails(&only_admins), ["admin@sandbox.test"]);
    let r = sb
        .admin(Method::GET, "/api/v2/users?role=boss")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let r = sb
        .admin(Method::GET, "/api/v2/users?page%5Bsize%5D=1000")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn show_user_me_and_organizations_with_fields() {
    let sb = common::spawn().await;
    let me = sb.get_json("/api/v2/users/me").await;
    assert_eq!(me["user"]["role"], "admin");
    let anita = sb.get_json("/api/v2/users/50001").await;
    assert_eq!(anita["user"]["user_fields"]["plan"], "enterprise");
    assert_eq!(anita["user"]["external_id"], "crm-1001");
    let org = sb
        .get_json(&format!(
            "/api/v2/organizations/{}",
            anita["user"]["organization_id"]
        ))
        .await;
    assert_eq!(org["organization"]["organization_fields"]["tier"], "gold");
    let orgs = sb.get_json("/api/v2/organizations").await;
    assert_eq!(orgs["organizations"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn search_finds_by_email_and_phone_only_after_the_index_delay() {
    let sb = common::spawn_with(SandboxConfig {
        search_index_delay: Duration::from_millis(700),
        ..SandboxConfig::default()
    })
    .await;
    for q in [
        "anita@acme-logistics.example",
        "email:ANITA@acme-logistics.example",
        "%2B919876543210",
        "phone:%2B919876543210",
    ] {
        let found = sb
            .get_json(&format!("/api/v2/users/search?query={q}"))
            .await;
        assert_eq!(found["count"], 1, "query {q}");
        assert_eq!(found["users"][0]["id"], 50001);
    }
    let by_external = sb
        .get_json("/api/v2/users/search?external_id=CRM-1002")
        .await;
    assert_eq!(by_external["users"][0]["id"], 50002);

    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Fresh Caller", "phone": "+15551230000"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let hidden = sb
        .get_json("/api/v2/users/search?query=%2B15551230000")
        .await;
    assert_eq!(hidden["count"], 0, "not indexed yet");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let visible = sb
        .get_json("/api/v2/users/search?query=%2B15551230000")
        .await;
    assert_eq!(visible["count"], 1, "indexed after the delay");

    let r = sb
        .admin(Method::GET, "/api/v2/users/search")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn create_or_update_matches_by_email_or_external_id() {
    let sb = common::spawn().await;
    let created = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane Caller", "email": "jane@example.com", "phone": "+15551234567",
                "external_id": "crm-8812", "user_fields": {"tier": "gold"}, "skip_verify_email": true}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let created: Value = created.json().await.expect("json");
    let id = created["user"]["id"].as_u64().expect("id");
    assert!(location.ends_with(&format!("/api/v2/users/{id}.json")));
    assert_eq!(created["user"]["role"], "end-user");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let updated = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane C.", "email": "JANE@example.com", "user_fields": {"city": "Pune"}}}),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.expect("json");
    assert_eq!(updated["user"]["id"], id);
    assert_eq!(updated["user"]["name"], "Jane C.");
    assert_eq!(
        updated["user"]["user_fields"],
        json!({"tier": "gold", "city": "Pune"})
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let by_external = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane", "external_id": "CRM-8812"}}),
        )
        .await;
    assert_eq!(by_external.status(), 200);
    let by_external: Value = by_external.json().await.expect("json");
    assert_eq!(by_external["user"]["id"], id);
    assert_eq!(
        by_external["user"]["external_id"], "CRM-8812",
        "the case sent wins"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let bad = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"email": "not-an-email", "role": "boss"}}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.expect("json");
    assert!(
        bad["details"]["email"].is_array() && bad["details"]["role"].is_array(),
        "{bad}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let nameless = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"email": "x@example.com"}}),
        )
        .await;
    assert_eq!(nameless.status(), 422);
}

#[tokio::test]
async fn create_or_update_is_limited_to_one_per_second() {
    let sb = common::spawn().await;
    let first = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "A", "email": "a@example.com"}}),
        )
        .await;
    assert_eq!(first.status(), 201);
    let second = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "B", "email": "b@example.com"}}),
        )
        .await;
    assert_eq!(second.status(), 429);
    let retry: u64 = second.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert_eq!(retry, 1);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let third = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "B", "email": "b@example.com"}}),
        )
        .await;
    assert_eq!(third.status(), 201);
}

#[tokio::test]
async fn groups_memberships_and_ticket_fields() {
    let sb = common::spawn().await;
    let groups = sb.get_json("/api/v2/groups").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, ["Support", "Sales", "Voice-Missed-Calls"]);
    let missed = sb.get_json("/api/v2/groups/20003/memberships").await;
    let members: Vec<u64> = missed["group_memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .filter_map(|m| m["user_id"].as_u64())
        .collect();
    assert_eq!(members, [30011, 30014, 30020]);
    let all = sb
        .get_json("/api/v2/group_memberships?page%5Bsize%5D=100")
        .await;
    assert_eq!(all["group_memberships"].as_array().map(Vec::len), Some(14));
    let priya = sb.get_json("/api/v2/users/30011/group_memberships").await;
    assert_eq!(priya["group_memberships"].as_array().map(Vec::len), Some(2));

    let fields = sb.get_json("/api/v2/ticket_fields").await;
    assert_eq!(fields["ticket_fields"].as_array().map(Vec::len), Some(5));
    let direction = sb.get_json("/api/v2/ticket_fields/10002").await;
    assert_eq!(direction["ticket_field"]["type"], "tagger");
    assert_eq!(
        direction["ticket_field"]["custom_field_options"][1]["value"],
        "outbound"
    );

    let r = sb
        .post(
            "/api/v2/ticket_fields",
            &json!({"ticket_field": {"type": "text", "title": "Department"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    let new_id = created["ticket_field"]["id"].as_u64().expect("id");
    let id = sb
        .create_ticket(
            json!({"comment": {"body": "x"}, "custom_fields": [{"id": new_id, "value": "Sales"}]}),
        )
        .await;
    let t = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert!(t["ticket"]["custom_fields"]
        .as_array()
        .is_some_and(|f| f.contains(&json!({"id": new_id, "value": "Sales"}))));

    let bad = sb
        .post(
            "/api/v2/ticket_fields",
            &json!({"ticket_field": {"type": "hologram", "title": ""}}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.expect("json");
    assert!(bad["details"]["type"].is_array() && bad["details"]["title"].is_array());

    // Creating fields is for admins only.
    let r = sb
        .as_agent_api(
            "priya.sharma@sandbox.test",
            Method::POST,
            "/api/v2/ticket_fields",
        )
        .json(&json!({"ticket_field": {"type": "text", "title": "X"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
}
