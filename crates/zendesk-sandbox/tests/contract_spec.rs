//! Contract test, the spec side: the covered operations resolve in Zendesk's OpenAPI file, the
//! `null` allow-list stays honest, and the validator rejects wrong bodies. The spec loading and
//! conversion are in `common/oas.rs`.

mod common;

use common::oas::{
    assert_valid, operation, property_count, response_schema, spec, validator, violations, COVERED,
    NULL_ALLOWED, PLACEHOLDER_ERRORS,
};
use serde_json::{json, Value};

const FIELD_CALL_ID: u64 = 10001;

#[test]
fn covered_operations_resolve_and_their_error_answers_are_accounted_for() {
    // The bare `=` scalar that strict YAML 1.1 loaders reject was read as a plain string.
    assert_eq!(
        spec().pointer("/components/schemas/TriggerConditionDiffObject/example/field/0/change"),
        Some(&json!("="))
    );
    for &(method, path, status) in COVERED {
        let doc = response_schema(method, path, status);
        assert!(
            property_count(&doc, &doc) >= 1,
            "{method} {path} {status}: an empty schema"
        );
        // The schema compiles.
        validator(&doc);
        // Every answer the spec documents for a covered operation is either validated here
        // or a known placeholder.
        for documented in operation(method, path)["responses"]
            .as_object()
            .expect("responses")
            .keys()
        {
            let code: u16 = documented.parse().expect("numeric status");
            assert!(
                COVERED.contains(&(method, path, code))
                    || PLACEHOLDER_ERRORS.contains(&(method, path, code)),
                "{method} {path} documents {code}, which this test neither checks nor lists"
            );
        }
    }
}

#[test]
fn null_allow_list_names_real_properties_the_spec_does_not_mark_nullable() {
    let schemas = &spec()["components"]["schemas"];
    for (component, property, why) in NULL_ALLOWED {
        let prop = &schemas[*component]["properties"][*property];
        assert!(
            prop.is_object(),
            "NULL_ALLOWED names {component}.{property}, which the spec does not declare"
        );
        assert_ne!(
            prop.get("nullable"),
            Some(&Value::Bool(true)),
            "{component}.{property} is nullable in the spec; drop it from NULL_ALLOWED ({why})"
        );
    }
}

#[tokio::test]
async fn the_validator_rejects_wrong_bodies() {
    let doc = response_schema("get", "/api/v2/tickets/{ticket_id}", 200);
    let sb = common::spawn().await;
    let id = sb
        .create_ticket(json!({"subject": "Contract", "comment": {"body": "hello"}}))
        .await;
    let good = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_valid(&doc, &good, "the unchanged ticket");
    // An allow-listed null passes.
    assert!(good["ticket"]["assignee_id"].is_null());

    let cases: &[(&str, Value, &str, &str)] = &[
        ("/ticket/status", json!("bogus"), "/ticket/status", "enum"),
        ("/ticket/id", json!("123"), "/ticket/id", "type"),
        (
            "/ticket/priority",
            json!("whenever"),
            "/ticket/priority",
            "enum",
        ),
        (
            "/ticket/created_at",
            json!("yesterday"),
            "/ticket/created_at",
            "format",
        ),
        ("/ticket/tags", json!("a,b"), "/ticket/tags", "type"),
        ("/ticket/tags", json!([1]), "/ticket/tags/0", "type"),
        // null where neither the spec nor NULL_ALLOWED accepts it
        ("/ticket/status", Value::Null, "/ticket/status", "type"),
        (
            "/ticket/requester_id",
            Value::Null,
            "/ticket/requester_id",
            "type",
        ),
        (
            "/ticket/custom_fields/0/id",
            json!("10001"),
            "/ticket/custom_fields/0/id",
            "type",
        ),
        (
            "/ticket/custom_fields/0/value",
            json!(7),
            "/ticket/custom_fields/0/value",
            "type",
        ),
    ];
    for (pointer, wrong, at, keyword) in cases {
        let mut bad = good.clone();
        if pointer.starts_with("/ticket/custom_fields") {
            bad["ticket"]["custom_fields"] = json!([{"id": FIELD_CALL_ID, "value": "x"}]);
        }
        *bad.pointer_mut(pointer).expect("pointer exists") = wrong.clone();
        let found = violations(&doc, &bad);
        assert!(
            found.iter().any(|v| v.at == *at && v.keyword == *keyword),
            "{pointer} = {wrong}: expected a `{keyword}` violation at {at}, got {found:?}"
        );
    }

    // A required property missing.
    let mut bad = good.clone();
    bad["ticket"]
        .as_object_mut()
        .expect("object")
        .remove("requester_id");
    let found = violations(&doc, &bad);
    assert!(found.iter().any(|v| v.keyword == "required"), "{found:?}");

    // Users: the anyOf of the admin and end-user views still rejects a wrong type, and the
    // spec's `format: datetime` typo is checked as date-time.
    let users = response_schema("get", "/api/v2/users", 200);
    let list = sb.get_json("/api/v2/users").await;
    assert_valid(&users, &list, "the user list");
    for (pointer, wrong) in [
        ("/users/0/id", json!("30001")),
        ("/users/0/name", Value::Null),
        ("/users/0/created_at", json!("last tuesday")),
        ("/users/0/verified", json!("yes")),
    ] {
        let mut bad = list.clone();
        *bad.pointer_mut(pointer).expect("pointer exists") = wrong.clone();
        assert!(
            !violations(&users, &bad).is_empty(),
            "{pointer} = {wrong} passed"
        );
    }
}
