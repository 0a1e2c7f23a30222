//! Contract test support: reading Zendesk's official OpenAPI 3.0.3 file (kept in the repository
//! as `testdata/zendesk-oas/openapi-src.yaml` and checked against its recorded SHA-256;
//! `ZENDESK_OAS` overrides the path) and validating the sandbox's response bodies, fetched over
//! real HTTP, against its response schemas. That folder's README.md lists the spec's known bugs.
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

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// (component schema, property, why): `null` is accepted for these although the spec does not
/// mark them `nullable`. Zendesk's live API sends `null` for an unset value of each, and the
/// sandbox does the same. Any other `null` against a non-nullable property fails.
pub const NULL_ALLOWED: &[(&str, &str, &str)] = &[
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
pub const CUSTOM_FIELD_VALUE: &str = "/properties/custom_fields/items/properties/value";

/// The (method, path template, status) whose response bodies this file validates.
pub const COVERED: &[(&str, &str, u16)] = &[
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
pub const PLACEHOLDER_ERRORS: &[(&str, &str, u16)] = &[
    ("post", "/api/v2/channels/voice/tickets", 404),
    ("post", "/api/v2/channels/voice/tickets", 422),
];

/// Where the OpenAPI file is read from: the repository's copy (testdata/zendesk-oas), held to
/// its recorded checksum, or `ZENDESK_OAS`'s, which is not.
fn spec_path() -> (PathBuf, bool) {
    match std::env::var_os("ZENDESK_OAS") {
        Some(p) => (PathBuf::from(p), false),
        // `cargo test` sets the variable at run time too: a binary reused from another
        // checkout of the same sources (a shared target directory) reads this one's file.
        None => (
            std::env::var_os("CARGO_MANIFEST_DIR")
                .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
                .join("../../testdata/zendesk-oas/openapi-src.yaml"),
            true,
        ),
    }
}

/// The SHA-256 the repository records for its copy (testdata/zendesk-oas/SHA256SUMS).
fn recorded_sha256(spec: &Path) -> String {
    let sums = spec.with_file_name("SHA256SUMS");
    let text = std::fs::read_to_string(&sums)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", sums.display()));
    text.lines()
        .find_map(|l| l.strip_suffix("  openapi-src.yaml"))
        .unwrap_or_else(|| panic!("{} names no openapi-src.yaml", sums.display()))
        .to_string()
}

/// The OpenAPI document as JSON, parsed once per test binary.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let (path, pinned) = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the Zendesk OpenAPI file {}: {e} (it is kept in \
                 testdata/zendesk-oas; ZENDESK_OAS overrides the path)",
                path.display()
            )
        });
        if pinned {
            let digest: String = Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                digest,
                recorded_sha256(&path),
                "{} is not the file Zendesk published (see testdata/zendesk-oas/README.md)",
                path.display()
            );
        }
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
pub fn resolve_ref(reference: &str) -> &'static Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are expected, got {reference}"));
    spec()
        .pointer(pointer)
        .unwrap_or_else(|| panic!("dangling $ref {reference}"))
}

/// The operation object for a method and path template.
pub fn operation(method: &str, path: &str) -> &'static Map<String, Value> {
    spec()["paths"][path][method]
        .as_object()
        .unwrap_or_else(|| panic!("the spec has no {method} {path}"))
}

/// The response object of an operation for a status, `$ref`s into components/responses followed.
pub fn response(method: &str, path: &str, status: u16) -> &'static Value {
    let mut r = operation(method, path)["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("the spec declares no {status} for {method} {path}"));
    while let Some(reference) = r.get("$ref").and_then(Value::as_str) {
        r = resolve_ref(reference);
    }
    r
}

/// The OpenAPI schema of an operation's JSON response for a status.
pub fn response_oas_schema(method: &str, path: &str, status: u16) -> &'static Value {
    let schema = &response(method, path, status)["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} has no application/json schema"
    );
    schema
}

/// Whether `null` is allowed for a property of a component though the spec omits `nullable`.
pub fn null_allowed(component: &str, property: &str) -> bool {
    NULL_ALLOWED
        .iter()
        .any(|(c, p, _)| *c == component && *p == property)
}

/// Lets a converted schema also accept `null`.
pub fn make_nullable(schema: &mut Value) {
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
pub struct Converter {
    defs: Map<String, Value>,
    pending: Vec<String>,
}

impl Converter {
    /// A JSON Schema document for an OpenAPI schema, with every component it reaches in `$defs`.
    pub fn document(root: &Value) -> Value {
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
pub fn response_schema(method: &str, path: &str, status: u16) -> Value {
    Converter::document(response_oas_schema(method, path, status))
}

/// The JSON Schema of one component (`#/components/schemas/NAME`).
pub fn component_schema(name: &str) -> Value {
    Converter::document(&json!({"$ref": format!("#/components/schemas/{name}")}))
}

/// A validator for a converted document: JSON Schema 2020-12, formats checked.
pub fn validator(doc: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(doc)
        .unwrap_or_else(|e| panic!("the converted schema compiles: {e}"))
}

/// One failed check: where in the body, which keyword, and the validator's message.
#[derive(Debug)]
pub struct Violation {
    pub at: String,
    pub keyword: String,
    pub message: String,
}

/// Adds a validation error, and the errors of each branch of an `anyOf`/`oneOf`, to `out`.
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
pub fn violations(doc: &Value, body: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    for e in validator(doc).iter_errors(body) {
        collect(&e, "", &mut out);
    }
    out
}

/// Fails, listing every violation, unless `body` matches the document.
pub fn assert_valid(doc: &Value, body: &Value, what: &str) {
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
pub fn deref<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = r.strip_prefix('#').expect("local ref");
        schema = doc.pointer(pointer).expect("ref resolves in the document");
    }
    schema
}

/// Number of properties a schema declares, counting those of every `anyOf`/`allOf` branch.
pub fn property_count(doc: &Value, schema: &Value) -> usize {
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
pub fn check(method: &str, path: &str, status: u16, key: &str, body: &Value) {
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
pub async fn body_of(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(got, status, "{body}");
    body
}
