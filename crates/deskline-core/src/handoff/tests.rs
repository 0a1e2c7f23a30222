use serde_json::json;

use super::*;

const WEB: &str = include_str!("../../../../examples/handoff/web-chat-handoff.json");
const WHATSAPP: &str = include_str!("../../../../examples/handoff/whatsapp-phone-only.json");
const RESOLVED: &str = include_str!("../../../../examples/handoff/resolved.json");

fn india() -> PhoneParser {
    PhoneParser::new("IN").expect("region")
}

fn parse_with(body: &str, content_type: Option<&str>) -> Result<Handoff, SourceError> {
    let headers: Vec<(String, String)> = content_type
        .map(|ct| vec![("content-type".to_string(), ct.to_string())])
        .unwrap_or_default();
    parse(
        &Inbound {
            body: body.as_bytes(),
            headers: &headers,
            url: "https://deskline.example.com/hooks/widget",
        },
        &india(),
    )
}

fn parse_json(body: &str) -> Result<Handoff, SourceError> {
    parse_with(body, Some("application/json"))
}

fn known(e164: &str) -> PartyNumber {
    match india().parse(e164) {
        p @ PartyNumber::Known { .. } => p,
        other => panic!("{e164} did not parse: {other:?}"),
    }
}

fn at(s: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc),
    )
}

/// A minimal valid handoff, with `patch` merged over it (a `null` removes a key).
fn with(patch: Value) -> String {
    let mut base = json!({
        "sessionId": "s1",
        "contact": {"email": "a@example.com"},
        "channel": "web",
    });
    if let (Value::Object(b), Value::Object(p)) = (&mut base, patch) {
        for (k, v) in p {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    base.to_string()
}

#[test]
fn web_chat_handoff() {
    let h = parse_json(WEB).expect("parses");
    assert_eq!(h.session_id, "conv_7f3a9c1e-52b4-4d0e-9a61-0c8e2b4d6f10");
    assert_eq!(
        h.contact,
        Contact {
            name: Some("Priya Raman".into()),
            email: Some("priya.raman@example.com".into()),
            phone: known("+919876543210"),
            external_id: Some("cust_40192".into()),
        }
    );
    assert_eq!(h.channel, "web");
    assert!(h.summary.starts_with("Customer was charged twice"));
    let roles: Vec<Role> = h.transcript.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Customer, Role::Ai, Role::Customer, Role::Ai]);
    assert_eq!(h.transcript[0].at, at("2025-03-04T09:15:02Z"));
    assert!(h.transcript[3].text.starts_with("I can see two charges"));
    assert_eq!(h.language.as_deref(), Some("en"));
    assert_eq!(h.sentiment.as_deref(), Some("angry"));
    assert_eq!(h.mode, HandoffMode::HandedOff);
    assert_eq!(
        h.session_link.as_deref(),
        Some("https://chat.example.com/inbox/conv_7f3a9c1e-52b4-4d0e-9a61-0c8e2b4d6f10")
    );
    assert_eq!(
        h.ticket_fields,
        BTreeMap::from([
            (360012345678, json!("order_88412")),
            (360098765432, json!(true)),
        ])
    );
    assert_eq!(h.tags, ["billing", "double_charge", "refund"]);
    let rest: Map<String, Value> =
        serde_json::from_value(json!({"plan": "pro", "orderId": 88412})).expect("map");
    assert_eq!(h.custom_data, rest);
    // Round-trips through serde (the queue stores it as JSON).
    let back: Handoff = serde_json::from_str(&serde_json::to_string(&h).expect("ser")).expect("de");
    assert_eq!(back, h);
}

#[test]
fn whatsapp_phone_only_snake_case() {
    let h = parse_json(WHATSAPP).expect("parses");
    assert_eq!(h.session_id, "551234");
    assert_eq!(h.contact.phone, known("+919876543210"));
    assert_eq!(h.contact.email, None);
    assert_eq!(h.contact.external_id, None);
    assert_eq!(h.channel, "whatsapp");
    assert_eq!(h.sentiment.as_deref(), Some("neutral"));
    assert_eq!(h.mode, HandoffMode::HandedOff);
    // No times: the order sent is kept.
    let texts: Vec<&str> = h.transcript.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "my new sim hasnt arrived",
            "Let me check your order.",
            "The courier has not moved it since 26 Feb. Connecting you to our team."
        ]
    );
    assert!(h.transcript.iter().all(|m| m.at.is_none()));
    assert_eq!(h.tags, ["sim_delivery"]);
    assert!(h.ticket_fields.is_empty() && h.custom_data.is_empty());
}

#[test]
fn resolved_by_the_ai() {
    let h = parse_json(RESOLVED).expect("parses");
    assert_eq!(h.mode, HandoffMode::Resolved);
    assert_eq!(h.contact.phone, PartyNumber::Withheld);
    assert_eq!(h.channel, "email");
    // Epoch seconds and milliseconds both read.
    assert_eq!(h.transcript[0].at, at("2025-03-04T09:20:00Z"));
    assert_eq!(h.transcript[2].at, at("2025-03-04T09:26:00Z"));
    assert_eq!(h.session_link, None);
    assert!(h.tags.is_empty());
}

#[test]
fn accepted_variants() {
    type Case = (&'static str, Value, fn(&Handoff) -> bool);
    let cases: &[Case] = &[
        ("no content type is JSON", json!({}), |h| {
            h.session_id == "s1"
        }),
        ("OpenCX summery spelling", json!({"summery": " Hi "}), |h| {
            h.summary == "Hi"
        }),
        ("no summary", json!({}), |h| h.summary.is_empty()),
        ("mode handoff", json!({"mode": "Handed-Off"}), |h| {
            h.mode == HandoffMode::HandedOff
        }),
        ("channel slugged", json!({"channel": " Web Widget "}), |h| {
            h.channel == "web_widget"
        }),
        (
            "external id only, as an integer",
            json!({"contact": {"external_id": 42}}),
            |h| h.contact.external_id.as_deref() == Some("42"),
        ),
        (
            "tags as an array",
            json!({"customData": {"dataCapture.systemField.tags": ["VIP", "vip", " "]}}),
            |h| h.tags == ["vip"],
        ),
        (
            "null fields are absent",
            json!({"language": Value::Null, "customData": Value::Null}),
            |h| h.language.is_none(),
        ),
        (
            "equal times keep the order sent",
            json!({"transcript": [
                {"role": "user", "text": "b", "at": "2025-01-01T00:00:01Z"},
                {"role": "user", "text": "c", "at": "2025-01-01T00:00:01Z"},
                {"role": "user", "text": "a", "at": "2025-01-01T00:00:00Z"}]}),
            |h| {
                h.transcript
                    .iter()
                    .map(|m| m.text.as_str())
                    .collect::<String>()
                    == "abc"
            },
        ),
        (
            "some times missing: order sent",
            json!({"transcript": [
                {"role": "user", "text": "b", "at": "2025-01-01T00:00:01Z"},
                {"role": "agent", "text": "a"}]}),
            |h| h.transcript[0].text == "b" && h.transcript[1].role == Role::Agent,
        ),
        (
            "unknown withheld phone with an email",
            json!({"contact": {"email": "a@b.c", "phone": "anonymous"}}),
            |h| h.contact.phone == PartyNumber::Withheld,
        ),
    ];
    for (name, patch, check) in cases {
        let ct = (*name != "no content type is JSON").then_some("application/json");
        let h = parse_with(&with(patch.clone()), ct).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(check(&h), "{name}: {h:?}");
    }
}

#[test]
fn errors() {
    fn invalid(field: &'static str) -> impl Fn(&SourceError) -> bool {
        move |e| matches!(e, SourceError::InvalidField { field: f, .. } if *f == field)
    }
    fn shape(needle: &'static str) -> impl Fn(&SourceError) -> bool {
        move |e| matches!(e, SourceError::Shape(m) if m.contains(needle))
    }
    type Check = Box<dyn Fn(&SourceError) -> bool>;
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "empty body",
            " \n".into(),
            Box::new(|e| *e == SourceError::Empty),
        ),
        (
            "not JSON",
            "{".into(),
            Box::new(|e| matches!(e, SourceError::MalformedJson(_))),
        ),
        (
            "not an object",
            "[]".into(),
            Box::new(shape("JSON object, got an array")),
        ),
        (
            "no session id",
            with(json!({"sessionId": Value::Null})),
            Box::new(|e| *e == SourceError::MissingField("sessionId")),
        ),
        (
            "blank session id",
            with(json!({"sessionId": "  "})),
            Box::new(|e| *e == SourceError::MissingField("sessionId")),
        ),
        (
            "session id an object",
            with(json!({"sessionId": {}})),
            Box::new(invalid("sessionId")),
        ),
        (
            "both spellings",
            with(json!({"session_id": "s2"})),
            Box::new(|e| e.to_string().contains("both as sessionId and session_id")),
        ),
        (
            "no contact",
            with(json!({"contact": Value::Null})),
            Box::new(|e| *e == SourceError::MissingField("contact")),
        ),
        (
            "contact a string",
            with(json!({"contact": "bob"})),
            Box::new(invalid("contact")),
        ),
        (
            "contact with nothing to match",
            with(json!({"contact": {"name": "Bob", "phone": "not a number"}})),
            Box::new(invalid("contact")),
        ),
        (
            "bad email",
            with(json!({"contact": {"email": "bob at example"}})),
            Box::new(invalid("contact.email")),
        ),
        (
            "email a number",
            with(json!({"contact": {"email": 7}})),
            Box::new(invalid("contact.email")),
        ),
        (
            "phone a bool",
            with(json!({"contact": {"phone": true}})),
            Box::new(invalid("contact.phone")),
        ),
        (
            "no channel",
            with(json!({"channel": Value::Null})),
            Box::new(|e| *e == SourceError::MissingField("channel")),
        ),
        (
            "channel punctuation",
            with(json!({"channel": "--"})),
            Box::new(invalid("channel")),
        ),
        (
            "summary a list",
            with(json!({"summary": []})),
            Box::new(invalid("summary")),
        ),
        (
            "unknown mode",
            with(json!({"mode": "escalated"})),
            Box::new(invalid("mode")),
        ),
        (
            "link not http",
            with(json!({"sessionLink": "javascript:alert(1)"})),
            Box::new(invalid("sessionLink")),
        ),
        (
            "transcript an object",
            with(json!({"transcript": {}})),
            Box::new(invalid("transcript")),
        ),
        (
            "message a string",
            with(json!({"transcript": ["hi"]})),
            Box::new(shape("transcript[0] is invalid")),
        ),
        (
            "message without role",
            with(json!({"transcript": [{"role": "user", "text": "a"}, {"text": "b"}]})),
            Box::new(shape("transcript[1].role is invalid: is missing")),
        ),
        (
            "unknown role",
            with(json!({"transcript": [{"role": "robot", "text": "a"}]})),
            Box::new(shape("transcript[0].role is invalid: \"robot\"")),
        ),
        (
            "message without text",
            with(json!({"transcript": [{"role": "user"}]})),
            Box::new(shape("transcript[0].text is invalid")),
        ),
        (
            "bad time",
            with(json!({"transcript": [{"role": "user", "text": "a", "at": "yesterday"}]})),
            Box::new(shape("transcript[0].at is invalid")),
        ),
        (
            "fractional epoch",
            with(json!({"transcript": [{"role": "user", "text": "a", "at": 1.5}]})),
            Box::new(shape("transcript[0].at is invalid")),
        ),
        (
            "customData a list",
            with(json!({"customData": []})),
            Box::new(invalid("customData")),
        ),
        (
            "field id not a number",
            with(json!({"customData": {"dataCapture.ticketField.priority": "high"}})),
            Box::new(shape("\"dataCapture.ticketField.priority\" is invalid")),
        ),
        (
            "field id empty",
            with(json!({"customData": {"dataCapture.ticketField.": 1}})),
            Box::new(shape("is not a ticket field id")),
        ),
        (
            "field id zero",
            with(json!({"customData": {"dataCapture.ticketField.0": 1}})),
            Box::new(shape("is not a ticket field id")),
        ),
        (
            "field id signed",
            with(json!({"customData": {"dataCapture.ticketField.+12": 1}})),
            Box::new(shape("is not a ticket field id")),
        ),
        (
            "tags a number",
            with(json!({"customData": {"dataCapture.systemField.tags": 3}})),
            Box::new(shape("dataCapture.systemField.tags")),
        ),
        (
            "tags list with a number",
            with(json!({"customData": {"dataCapture.systemField.tags": ["a", 1]}})),
            Box::new(shape("array holding a number")),
        ),
    ];
    for (name, body, check) in &cases {
        match parse_json(body) {
            Ok(h) => panic!("{name}: parsed {h:?}"),
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
        }
    }
    let form = parse_with("a=b", Some("application/x-www-form-urlencoded"));
    assert!(matches!(form, Err(SourceError::Shape(m)) if m.contains("form body")));
    let xml = parse_with("<a/>", Some("text/xml"));
    assert!(matches!(xml, Err(SourceError::UnsupportedContentType(_))));
}

#[test]
fn dedupe_rule() {
    let first = parse_json(WEB).expect("parses");
    let key = dedupe_key(&first);
    assert!(key.starts_with("handoff:conv_7f3a9c1e-52b4-4d0e-9a61-0c8e2b4d6f10:"));
    // The same handoff re-sent.
    assert_eq!(dedupe_key(&parse_json(WEB).expect("parses")), key);
    // A re-send whose summary or customData changed is still the same handoff.
    let mut same = first.clone();
    same.summary = "edited".into();
    same.tags.clear();
    assert_eq!(dedupe_key(&same), key);
    // The conversation went on: a later handoff of the same session.
    let mut later = first.clone();
    later.transcript.push(TranscriptMessage {
        role: Role::Customer,
        text: "still waiting".into(),
        at: at("2025-03-05T10:00:00Z"),
    });
    assert_ne!(dedupe_key(&later), key);
    // Same length, different last message.
    let mut other_last = first.clone();
    if let Some(m) = other_last.transcript.last_mut() {
        m.text.push('!');
    }
    assert_ne!(dedupe_key(&other_last), key);
    // The AI's resolved event for the same transcript.
    let mut resolved = first.clone();
    resolved.mode = HandoffMode::Resolved;
    assert_ne!(dedupe_key(&resolved), key);
    // Another session.
    let mut other = first;
    other.session_id = "conv_other".into();
    assert_ne!(dedupe_key(&other), key);
}
