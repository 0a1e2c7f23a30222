//! Contract test: the sandbox's response bodies, fetched over real HTTP, are validated against
//! the response schemas of Zendesk's official OpenAPI 3.0.3 file
//! (`../shared/zendesk-oas/openapi-src.yaml` beside the work tree; `ZENDESK_OAS` overrides the
//! path). See that folder's SOURCE.md for the spec's known bugs.
//!
//! How it works:
//! - The YAML is parsed once per test binary (`spec()`, a `OnceLock`).
//! - For an operation (method + path template + status) the response schema is looked up under
//!   `paths`, following `$ref`s into `components/responses` and `components/schemas`, and turned
//!   into a JSON Schema 2020-12 document: every reachable component becomes a `$defs` entry,
//!   `nullable: true` becomes a `null` type (and a `null` enum member), the spec's misspelt
//!   `format: datetime` becomes `date-time`, and OpenAPI-only keywords (`example`,
//!   `discriminator`, ...) are dropped. `readOnly`/`writeOnly` stay as annotations.
//! - Validation uses the `jsonschema` crate with format checking on (`date-time`, `email`).
//! - Where the live API sends `null` although the spec omits `nullable`, the property is named
//!   in `NULL_ALLOWED`; every other mismatch fails. `custom_fields[].value` is widened in one
//!   documented place (`CUSTOM_FIELD_VALUE`).
//! - The spec has no `additionalProperties: false`, so extra keys pass: the tests also check that
//!   each body is not vacuous (the lists are non-empty, the schemas have properties), and one
//!   test proves that wrong bodies are rejected.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use reqwest::Method;
use serde_json::{json, Map, Value};
use zendesk_sandbox::SandboxConfig;

/// (component schema, property, why): `null` is accepted for these although the spec does not
/// mark them `nullable`. Zendesk's live API sends `null` for an unset value of each, and the
/// sandbox does the same. Any other `null` against a non-nullable property fails.
const NULL_ALLOWED: &[(&str, &str, &str)] = &[
    // A ticket's optional links and attributes are null until set.
    ("TicketObject", "assignee_id", "unassigned ticket"),
    ("TicketObject", "group_id", "ticket in no group"),
    (
        "TicketObject",
        "organization_id",
        "requester in no organization",
    ),
    ("TicketObject", "external_id", "no external id given"),
    ("TicketObject", "priority", "no priority set"),
    ("TicketObject", "type", "no ticket type set"),
    (
        "TicketObject",
        "subject",
        "created without a subject (e.g. voice tickets)",
    ),
    ("TicketObject", "raw_subject", "mirrors subject"),
    (
        "TicketObject",
        "recipient",
        "not created through an email address",
    ),
    (
        "TicketObject",
        "forum_topic_id",
        "web portal topics are deprecated",
    ),
    ("TicketObject", "problem_id", "not an incident of a problem"),
    ("TicketObject", "satisfaction_rating", "no rating requested"),
    // Users as an admin sees them.
    (
        "UserForAdmin",
        "email",
        "users known only by phone (callers) have no email",
    ),
    ("UserForAdmin", "last_login_at", "never signed in"),
    (
        "UserForAdmin",
        "default_group_id",
        "end-users belong to no group",
    ),
    // Ticket field definitions.
    (
        "TicketFieldObject",
        "agent_description",
        "no agent-only description set",
    ),
];

/// `TicketObject.custom_fields[].value` is typed `string` in the spec. The live API sends a
/// string for text, numeric, date and drop-down fields, a boolean for checkbox fields and
/// `null` for a field without a value (and an array for multi-select fields, which the
/// sandbox does not store). The contract widens that one property to string, boolean or null;
/// everything else about custom fields is checked as the spec says.
const CUSTOM_FIELD_VALUE: &str = "/properties/custom_fields/items/properties/value";

/// The (method, path template, status) whose response bodies this file validates.
const COVERED: &[(&str, &str, u16)] = &[
    ("post", "/api/v2/tickets", 201),
    ("get", "/api/v2/tickets", 200),
    ("get", "/api/v2/tickets/{ticket_id}", 200),
    ("get", "/api/v2/tickets/{ticket_id}/comments", 200),
    ("post", "/api/v2/channels/voice/tickets", 201),
    ("get", "/api/v2/users", 200),
    ("get", "/api/v2/users/{user_id}", 200),
    ("get", "/api/v2/users/me", 200),
    ("get", "/api/v2/users/search", 200),
    ("post", "/api/v2/users/create_or_update", 200),
    ("post", "/api/v2/users/create_or_update", 201),
    ("get", "/api/v2/groups", 200),
    ("get", "/api/v2/groups/{group_id}", 200),
    ("get", "/api/v2/group_memberships", 200),
    ("get", "/api/v2/ticket_fields", 200),
    ("post", "/api/v2/ticket_fields", 201),
    ("get", "/api/v2/ticket_fields/{ticket_field_id}", 200),
    ("get", "/api/v2/organizations", 200),
    ("get", "/api/v2/organizations/{organization_id}", 200),
];

/// Error answers that the spec declares for a covered operation with a placeholder schema
/// (`type: string`, example `""`) instead of the JSON object Zendesk sends. They are not
/// validated against that schema; `error_bodies_follow_the_spec` checks that the placeholder is
/// still what the spec says and that the sandbox sends Zendesk's error object instead.
const PLACEHOLDER_ERRORS: &[(&str, &str, u16)] = &[
    ("post", "/api/v2/channels/voice/tickets", 404),
    ("post", "/api/v2/channels/voice/tickets", 422),
];

// ---------------------------------------------------------------------------------------------
// Loading and resolving the spec
// ---------------------------------------------------------------------------------------------

fn spec_path() -> PathBuf {
    match std::env::var_os("ZENDESK_OAS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/zendesk-oas/openapi-src.yaml"),
    }
}

/// The OpenAPI document as JSON, parsed once per test binary.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the Zendesk OpenAPI file {}: {e} (shared/ must sit beside the \
                 work tree, or set ZENDESK_OAS)",
                path.display()
            )
        });
        let started = Instant::now();
        // serde_norway (libyaml) reads the bare `=` of one trigger example as the string "=".
        let spec: Value = serde_norway::from_str(&text).expect("the OpenAPI file parses as YAML");
        eprintln!(
            "parsed {} ({} bytes) in {:?}",
            path.display(),
            text.len(),
            started.elapsed()
        );
        assert_eq!(spec["openapi"], "3.0.3");
        spec
    })
}

/// What a local `$ref` (`#/components/...`) points at.
fn resolve_ref(reference: &str) -> &'static Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are expected, got {reference}"));
    spec()
        .pointer(pointer)
        .unwrap_or_else(|| panic!("dangling $ref {reference}"))
}

/// The operation object for a method and path template.
fn operation(method: &str, path: &str) -> &'static Map<String, Value> {
    spec()["paths"][path][method]
        .as_object()
        .unwrap_or_else(|| panic!("the spec has no {method} {path}"))
}

/// The response object of an operation for a status, `$ref`s into components/responses followed.
fn response(method: &str, path: &str, status: u16) -> &'static Value {
    let mut r = operation(method, path)["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("the spec declares no {status} for {method} {path}"));
    while let Some(reference) = r.get("$ref").and_then(Value::as_str) {
        r = resolve_ref(reference);
    }
    r
}

/// The OpenAPI schema of an operation's JSON response for a status.
fn response_oas_schema(method: &str, path: &str, status: u16) -> &'static Value {
    let schema = &response(method, path, status)["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} has no application/json schema"
    );
    schema
}

/// Whether `null` is allowed for a property of a component though the spec omits `nullable`.
fn null_allowed(component: &str, property: &str) -> bool {
    NULL_ALLOWED
        .iter()
        .any(|(c, p, _)| *c == component && *p == property)
}

/// Lets a converted schema also accept `null`.
fn make_nullable(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    match obj.get("type").cloned() {
        Some(Value::String(t)) => {
            obj.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(options)) = obj.get_mut("enum") {
                if !options.contains(&Value::Null) {
                    options.push(Value::Null);
                }
            }
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            obj.insert("type".into(), Value::Array(types));
        }
        _ => *schema = json!({"anyOf": [{"type": "null"}, schema.clone()]}),
    }
}

/// Turns OpenAPI 3.0 schemas into one JSON Schema 2020-12 document.
#[derive(Default)]
struct Converter {
    defs: Map<String, Value>,
    pending: Vec<String>,
}

impl Converter {
    /// A JSON Schema document for an OpenAPI schema, with every component it reaches in `$defs`.
    fn document(root: &Value) -> Value {
        let mut c = Converter::default();
        let mut doc = c.schema(root, None);
        while let Some(name) = c.pending.pop() {
            if c.defs.contains_key(&name) {
                continue;
            }
            // A placeholder first, so a component that refers to itself is not converted twice.
            c.defs.insert(name.clone(), Value::Null);
            let source = &spec()["components"]["schemas"][name.as_str()];
            assert!(source.is_object(), "no component schema {name}");
            let mut def = c.schema(source, Some(&name));
            if name == "TicketObject" {
                let value = def
                    .pointer_mut(CUSTOM_FIELD_VALUE)
                    .expect("TicketObject has custom_fields[].value");
                assert_eq!(
                    value["type"], "string",
                    "the spec changed custom_fields[].value; revisit CUSTOM_FIELD_VALUE"
                );
                value["type"] = json!(["string", "boolean", "null"]);
            }
            c.defs.insert(name, def);
        }
        let obj = doc.as_object_mut().expect("a schema object");
        obj.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        obj.insert("$defs".into(), Value::Object(c.defs));
        doc
    }

    /// Converts one schema; `component` names it when it is a component's top level, so the
    /// `NULL_ALLOWED` entries of its properties apply.
    fn schema(&mut self, node: &Value, component: Option<&str>) -> Value {
        let Some(obj) = node.as_object() else {
            return node.clone();
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            // OpenAPI 3.0 ignores a $ref's siblings; so does this conversion.
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected schema $ref {reference}"));
            self.pending.push(name.to_string());
            return json!({"$ref": format!("#/$defs/{name}")});
        }
        let mut out = Map::new();
        for (key, value) in obj {
            let converted = match key.as_str() {
                "nullable" | "example" | "discriminator" | "xml" | "externalDocs" => continue,
                "properties" => {
                    let mut props = Map::new();
                    for (name, prop) in value.as_object().expect("properties is an object") {
                        let mut p = self.schema(prop, None);
                        if component.is_some_and(|c| null_allowed(c, name)) {
                            make_nullable(&mut p);
                        }
                        props.insert(name.clone(), p);
                    }
                    Value::Object(props)
                }
                "items" | "not" | "additionalProperties" => self.schema(value, None),
                "allOf" | "anyOf" | "oneOf" => Value::Array(
                    value
                        .as_array()
                        .expect("a list of schemas")
                        .iter()
                        .map(|s| self.schema(s, None))
                        .collect(),
                ),
                // A typo in the spec (UserForAdmin/UserForEndUser timestamps).
                "format" if value == "datetime" => json!("date-time"),
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        let mut out = Value::Object(out);
        if obj.get("nullable") == Some(&Value::Bool(true)) {
            make_nullable(&mut out);
        }
        out
    }
}

/// The JSON Schema of an operation's response.
fn response_schema(method: &str, path: &str, status: u16) -> Value {
    Converter::document(response_oas_schema(method, path, status))
}

/// The JSON Schema of one component (`#/components/schemas/NAME`).
fn component_schema(name: &str) -> Value {
    Converter::document(&json!({"$ref": format!("#/components/schemas/{name}")}))
}

fn validator(doc: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(doc)
        .unwrap_or_else(|e| panic!("the converted schema compiles: {e}"))
}

/// One failed check: where in the body, which keyword, and the validator's message.
#[derive(Debug)]
struct Violation {
    at: String,
    keyword: String,
    message: String,
}

fn collect(e: &ValidationError<'_>, prefix: &str, out: &mut Vec<Violation>) {
    out.push(Violation {
        at: e.instance_path().to_string(),
        keyword: e.kind().keyword().to_string(),
        message: format!("{prefix}{e}"),
    });
    // anyOf/oneOf say only "not valid under any"; list why each branch failed.
    if let ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } =
        e.kind()
    {
        for (i, branch) in context.iter().enumerate() {
            for sub in branch {
                collect(sub, &format!("{prefix}  [branch {i}] "), out);
            }
        }
    }
}

/// Everything wrong with `body` against a JSON Schema document.
fn violations(doc: &Value, body: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    for e in validator(doc).iter_errors(body) {
        collect(&e, "", &mut out);
    }
    out
}

fn assert_valid(doc: &Value, body: &Value, what: &str) {
    let found = violations(doc, body);
    assert!(
        found.is_empty(),
        "{what} does not match the OpenAPI schema:\n{}\nbody: {body:#}",
        found
            .iter()
            .map(|v| format!("  {} [{}]: {}", v.at, v.keyword, v.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The component a JSON Schema points at, following `$ref`s within the document.
fn deref<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = r.strip_prefix('#').expect("local ref");
        schema = doc.pointer(pointer).expect("ref resolves in the document");
    }
    schema
}

/// Number of properties a schema declares, counting those of every `anyOf`/`allOf` branch.
fn property_count(doc: &Value, schema: &Value) -> usize {
    let schema = deref(doc, schema);
    let own = schema["properties"].as_object().map_or(0, Map::len);
    let branches: usize = ["anyOf", "allOf", "oneOf"]
        .iter()
        .filter_map(|k| schema[k].as_array())
        .flatten()
        .map(|b| property_count(doc, b))
        .sum();
    own + branches
}

/// Validates a response body of a covered operation, after checking that the schema is not
/// trivial: the body's top-level `key` is a declared property whose record schema (or item
/// schema, for a list) has properties of its own.
fn check(method: &str, path: &str, status: u16, key: &str, body: &Value) {
    assert!(
        COVERED.contains(&(method, path, status)),
        "add ({method}, {path}, {status}) to COVERED"
    );
    let doc = response_schema(method, path, status);
    let root = deref(&doc, &doc);
    let declared = &root["properties"][key];
    assert!(
        declared.is_object(),
        "the {method} {path} {status} schema does not declare `{key}`"
    );
    let declared = deref(&doc, declared);
    let record = if declared["type"] == "array" {
        &declared["items"]
    } else {
        declared
    };
    let n = property_count(&doc, record);
    assert!(
        n >= 5,
        "the {method} {path} {status} schema of `{key}` has only {n} properties"
    );
    match &body[key] {
        Value::Array(items) => assert!(!items.is_empty(), "{method} {path}: `{key}` is empty"),
        Value::Object(_) => {}
        other => panic!("{method} {path}: `{key}` is {other}"),
    }
    assert_valid(&doc, body, &format!("{method} {path} {status}"));
}

/// The body of a response with the expected status.
async fn body_of(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(got, status, "{body}");
    body
}

const PRIYA_ID: u64 = 30011;
const FIELD_CALL_ID: u64 = 10001;
const FIELD_DIRECTION: u64 = 10002;
const FIELD_DURATION: u64 = 10003;

// ---------------------------------------------------------------------------------------------
// The spec side: coverage and the allow-list stay honest
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The sandbox side: real requests, real bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ticket_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    // A checkbox field, so a boolean custom field value is exercised too.
    let r = sb
        .post(
            "/api/v2/ticket_fields",
            &json!({"ticket_field": {"type": "checkbox", "title": "Callback requested"}}),
        )
        .await;
    let field = body_of(r, 201).await;
    check("post", "/api/v2/ticket_fields", 201, "ticket_field", &field);
    let checkbox = field["ticket_field"]["id"].as_u64().expect("field id");

    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {
                "subject": "Inbound call from +919876500001",
                "comment": {"body": "Call log\nDuration: 42 s", "public": false},
                "requester": {"name": "New Caller", "phone": "+919876500001"},
                "assignee_email": "priya.sharma@sandbox.test",
                "external_id": "myoperator:contract-1",
                "tags": ["deskline", "voice"],
                "priority": "normal",
                "type": "question",
                "custom_fields": [
                    {"id": FIELD_CALL_ID, "value": "contract-1"},
                    {"id": FIELD_DIRECTION, "value": "inbound"},
                    {"id": FIELD_DURATION, "value": 42},
                    {"id": checkbox, "value": true}
                ]
            }}),
        )
        .await;
    let created = body_of(r, 201).await;
    check("post", "/api/v2/tickets", 201, "ticket", &created);
    let t = &created["ticket"];
    assert_eq!(t["assignee_id"], PRIYA_ID);
    let values: Vec<&Value> = t["custom_fields"]
        .as_array()
        .expect("custom_fields")
        .iter()
        .map(|f| &f["value"])
        .collect();
    assert!(values.contains(&&json!(true)), "{values:?}");
    assert!(values.contains(&&json!("42")), "{values:?}");

    // A minimal ticket: most optional properties are null, a custom field is cleared.
    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {"comment": {"body": "no subject"},
                "custom_fields": [{"id": FIELD_CALL_ID, "value": null}]}}),
        )
        .await;
    let minimal = body_of(r, 201).await;
    check("post", "/api/v2/tickets", 201, "ticket", &minimal);
    let m = &minimal["ticket"];
    for key in ["assignee_id", "group_id", "priority", "type", "subject"] {
        assert!(m[key].is_null(), "{key}: {}", m[key]);
    }

    for ticket in [t, m] {
        let id = ticket["id"].as_u64().expect("ticket id");
        let shown = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
        check("get", "/api/v2/tickets/{ticket_id}", 200, "ticket", &shown);
        let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
        check(
            "get",
            "/api/v2/tickets/{ticket_id}/comments",
            200,
            "comments",
            &comments,
        );
    }
    let list = sb.get_json("/api/v2/tickets").await;
    check("get", "/api/v2/tickets", 200, "tickets", &list);
}

#[tokio::test]
async fn voice_ticket_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    let answered = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": PRIYA_ID, "ticket": {
                "via_id": 45, "priority": "normal",
                "voice_comment": {"from": "+919876543210", "to": "+911140000000",
                    "recording_url": "https://rec.example/1.mp3",
                    "started_at": "2026-11-23T10:00:00Z", "call_duration": 40,
                    "answered_by_id": PRIYA_ID, "location": "Delhi"}}}),
        )
        .await;
    let answered = body_of(answered, 201).await;
    check(
        "post",
        "/api/v2/channels/voice/tickets",
        201,
        "ticket",
        &answered,
    );
    // A voicemail from an unknown number: a new end-user with no email is the requester.
    let voicemail = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"ticket": {"via_id": 44, "voice_comment": {"from": "+14155559999",
                "to": "+14155550000", "recording_url": "https://rec.example/vm.mp3"}}}),
        )
        .await;
    let voicemail = body_of(voicemail, 201).await;
    check(
        "post",
        "/api/v2/channels/voice/tickets",
        201,
        "ticket",
        &voicemail,
    );
    for body in [&answered, &voicemail] {
        let id = body["ticket"]["id"].as_u64().expect("ticket id");
        let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
        assert_eq!(comments["comments"][0]["type"], "VoiceComment");
        check(
            "get",
            "/api/v2/tickets/{ticket_id}/comments",
            200,
            "comments",
            &comments,
        );
    }
    let caller = voicemail["ticket"]["requester_id"]
        .as_u64()
        .expect("requester");
    let user = sb.get_json(&format!("/api/v2/users/{caller}")).await;
    assert!(user["user"]["email"].is_null());
    check("get", "/api/v2/users/{user_id}", 200, "user", &user);
}

#[tokio::test]
async fn user_bodies_match_the_spec() {
    spec();
    // create_or_update is limited to one call a second; this test makes three.
    let sb = common::spawn_with(SandboxConfig {
        create_or_update_per_second: 100,
        search_index_delay: std::time::Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    // The sandbox renders users as an admin sees them: besides the spec's anyOf of the admin
    // and end-user views, each user must match the admin view itself.
    let admin_view = component_schema("UserForAdmin");

    let list = sb.get_json("/api/v2/users").await;
    check("get", "/api/v2/users", 200, "users", &list);
    let users = list["users"].as_array().expect("users");
    let roles: Vec<&str> = users.iter().filter_map(|u| u["role"].as_str()).collect();
    for role in ["admin", "agent", "end-user"] {
        assert!(roles.contains(&role), "the seed has an {role}");
    }
    for u in users {
        assert_valid(&admin_view, u, &format!("user {}", u["id"]));
        let id = u["id"].as_u64().expect("user id");
        let shown = sb.get_json(&format!("/api/v2/users/{id}")).await;
        check("get", "/api/v2/users/{user_id}", 200, "user", &shown);
    }

    let me = sb.get_json("/api/v2/users/me").await;
    check("get", "/api/v2/users/me", 200, "user", &me);

    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane Caller", "email": "jane@example.com",
                "phone": "+15551234567", "external_id": "crm-8812",
                "user_fields": {"tier": "gold"}}}),
        )
        .await;
    let created = body_of(r, 201).await;
    check(
        "post",
        "/api/v2/users/create_or_update",
        201,
        "user",
        &created,
    );
    assert_valid(&admin_view, &created["user"], "the created user");
    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane C.", "email": "JANE@example.com"}}),
        )
        .await;
    let updated = body_of(r, 200).await;
    check(
        "post",
        "/api/v2/users/create_or_update",
        200,
        "user",
        &updated,
    );
    // A phone-only user: no email.
    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Phone Only", "phone": "+15550001111"}}),
        )
        .await;
    let phone_only = body_of(r, 201).await;
    assert!(phone_only["user"]["email"].is_null());
    check(
        "post",
        "/api/v2/users/create_or_update",
        201,
        "user",
        &phone_only,
    );

    let found = sb.get_json("/api/v2/users/search?query=Jane").await;
    check("get", "/api/v2/users/search", 200, "users", &found);
}

#[tokio::test]
async fn directory_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    let groups = sb.get_json("/api/v2/groups").await;
    check("get", "/api/v2/groups", 200, "groups", &groups);
    let id = groups["groups"][0]["id"].as_u64().expect("group id");
    let group = sb.get_json(&format!("/api/v2/groups/{id}")).await;
    check("get", "/api/v2/groups/{group_id}", 200, "group", &group);

    let memberships = sb.get_json("/api/v2/group_memberships").await;
    check(
        "get",
        "/api/v2/group_memberships",
        200,
        "group_memberships",
        &memberships,
    );

    let fields = sb.get_json("/api/v2/ticket_fields").await;
    check(
        "get",
        "/api/v2/ticket_fields",
        200,
        "ticket_fields",
        &fields,
    );
    let list = fields["ticket_fields"].as_array().expect("fields");
    assert!(
        list.iter().any(|f| f["custom_field_options"].is_array()),
        "a drop-down field with options is checked too"
    );
    for f in list {
        let id = f["id"].as_u64().expect("field id");
        let shown = sb.get_json(&format!("/api/v2/ticket_fields/{id}")).await;
        check(
            "get",
            "/api/v2/ticket_fields/{ticket_field_id}",
            200,
            "ticket_field",
            &shown,
        );
    }

    let orgs = sb.get_json("/api/v2/organizations").await;
    check("get", "/api/v2/organizations", 200, "organizations", &orgs);
    let id = orgs["organizations"][0]["id"].as_u64().expect("org id");
    let org = sb.get_json(&format!("/api/v2/organizations/{id}")).await;
    check(
        "get",
        "/api/v2/organizations/{organization_id}",
        200,
        "organization",
        &org,
    );
}

/// The spec gives no schema for the classic `{"error", "description"}` answers of the covered
/// operations: only the voice endpoint declares 404/422, as a `type: string` placeholder, and the
/// 404 body appears as prose in an operation's description. This checks what can be checked.
#[tokio::test]
async fn error_bodies_follow_the_spec() {
    // The 404 body Zendesk documents (ShowUserComplianceDeletionStatuses' description).
    let description = operation(
        "get",
        "/api/v2/users/{user_id}/compliance_deletion_statuses",
    )["description"]
        .as_str()
        .expect("description");
    let start = description.find("Status: 404").expect("a documented 404");
    let rest = &description[start..];
    let open = rest.find('{').expect("a JSON body");
    let close = rest.find('}').expect("a JSON body");
    let documented_404: Value =
        serde_json::from_str(&rest[open..=close]).expect("the documented 404 body is JSON");
    assert_eq!(documented_404["error"], "RecordNotFound");

    // The voice endpoint's declared error schemas are still the placeholders listed.
    for &(method, path, status) in PLACEHOLDER_ERRORS {
        let schema = response_oas_schema(method, path, status);
        assert_eq!(schema["type"], "string", "{method} {path} {status}");
        assert!(schema.get("properties").is_none());
    }

    let sb = common::spawn().await;
    for path in [
        "/api/v2/tickets/999999",
        "/api/v2/users/999999",
        "/api/v2/tickets/999999/comments",
        "/api/v2/groups/999999",
        "/api/v2/ticket_fields/999999",
    ] {
        let r = sb.admin(Method::GET, path).send().await.expect("request");
        let body = body_of(r, 404).await;
        assert_eq!(body, documented_404, "GET {path}");
    }
    // The voice endpoint's 422 (invalid display_to_agent) is Zendesk's error object, not the
    // spec's bare string.
    let r = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": 50001,
                "ticket": {"via_id": 45, "voice_comment": {"from": "+1"}}}),
        )
        .await;
    let body = body_of(r, 422).await;
    assert!(
        body["error"].is_string() && body["description"].is_string(),
        "{body}"
    );
}
