//! Lists are followed to their end, and never somewhere they should not go.

use deskline_zendesk::ZendeskError;
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::{server, user_json};

#[tokio::test]
async fn list_staff_follows_links_next_across_three_pages() {
    let (server, client) = server().await;
    let client = client.with_page_size(2);
    let base = server.uri();
    let link = |after: &str| {
        format!(
            "{base}/api/v2/users.json?role%5B%5D=agent&role%5B%5D=admin&page%5Bsize%5D=2&page%5Bafter%5D={after}"
        )
    };
    let pages = [
        (None, vec![30001, 30011], Some("c2")),
        (Some("c2"), vec![30012, 30013], Some("c4")),
        (Some("c4"), vec![30014], None),
    ];
    for (after, ids, next) in pages {
        let users: Vec<_> = ids
            .iter()
            .map(|id| user_json(*id, if *id == 30001 { "admin" } else { "agent" }, None))
            .collect();
        let body = json!({
            "users": users,
            "meta": {"has_more": next.is_some(), "after_cursor": next, "before_cursor": "x"},
            "links": {"next": next.map(link), "prev": link("x")},
        });
        let mock = Mock::given(method("GET"))
            .and(query_param("role[]", "agent"))
            .and(query_param("role[]", "admin"))
            .and(query_param("page[size]", "2"));
        let mock = match after {
            None => mock
                .and(path("/api/v2/users"))
                .and(query_param_is_missing("page[after]")),
            Some(a) => mock
                .and(path("/api/v2/users.json"))
                .and(query_param("page[after]", a)),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let staff = client.list_staff().await;
    let ids: Vec<u64> = staff.unwrap_or_default().iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![30001, 30011, 30012, 30013, 30014]);
}

#[tokio::test]
async fn offset_pages_follow_next_page() {
    let (server, client) = server().await;
    let next = format!(
        "{}/api/v2/users/search.json?query=jane&page=2",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v2/users/search"))
        .and(query_param("query", "jane"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [user_json(1, "end-user", None)], "next_page": next, "count": 2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/search.json"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [user_json(2, "end-user", None)], "next_page": null, "count": 2})))
        .expect(1)
        .mount(&server)
        .await;
    let ids: Vec<u64> = client
        .search_users("jane")
        .await
        .unwrap_or_default()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, vec![1, 2]);
}

#[tokio::test]
async fn a_cursor_without_a_link_is_followed_by_page_after() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/groups"))
        .and(query_param_is_missing("page[after]"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "groups": [{"id": 1, "name": "A"}],
            "meta": {"has_more": true, "after_cursor": "c1"}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/groups"))
        .and(query_param("page[after]", "c1"))
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "groups": [{"id": 2, "name": "B"}], "meta": {"has_more": false}})))
        .expect(1)
        .mount(&server)
        .await;
    let groups = client.list_groups().await.unwrap_or_default();
    assert_eq!(groups.iter().map(|g| g.id).collect::<Vec<_>>(), vec![1, 2]);
}

#[tokio::test]
async fn a_link_to_another_host_is_not_followed() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "groups": [{"id": 1, "name": "A"}],
            "meta": {"has_more": true},
            "links": {"next": "https://attacker.example/api/v2/groups?page[after]=x"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.list_groups().await.err();
    assert!(
        matches!(&err, Some(ZendeskError::Decode { reason }) if reason.contains("attacker.example")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_looping_cursor_stops_at_the_page_cap() {
    let (server, client) = server().await;
    let client = client.with_max_pages(3);
    let same = format!("{}/api/v2/ticket_fields?page[size]=100", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v2/ticket_fields"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ticket_fields": [], "meta": {"has_more": true}, "links": {"next": same}})))
        .expect(3)
        .mount(&server)
        .await;
    let err = client.list_ticket_fields().await.err();
    assert_eq!(
        err,
        Some(ZendeskError::PageLimit {
            operation: "GET /api/v2/ticket_fields".into(),
            pages: 3
        })
    );
}

#[tokio::test]
async fn rate_limit_headers_reach_the_snapshot() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Rate-Limit", "700")
                .insert_header("X-Rate-Limit-Remaining", "650")
                .insert_header("ratelimit-reset", "41")
                .set_body_json(json!({"user": user_json(30001, "admin", None)})),
        )
        .mount(&server)
        .await;
    assert!(client.me().await.is_ok());
    let s = client.budget().snapshot();
    assert_eq!(
        (s.limit, s.remaining, s.reset),
        (
            Some(700),
            Some(650),
            Some(std::time::Duration::from_secs(41))
        )
    );
    assert_eq!(s.reserve_pauses, 0);
}
