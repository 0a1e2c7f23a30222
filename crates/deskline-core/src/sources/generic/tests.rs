use serde_json::json;

use super::selector::Selector;
use super::*;
use crate::phone::Phone;

const RINGLY: &str = include_str!("../../../../../examples/generic/ringly-call-ended.json");
const RINGLY_TOML: &str = include_str!("../../../../../examples/generic/ringly.toml");

fn gb() -> PhoneParser {
    PhoneParser::new("GB").expect("region")
}

fn headers(content_type: &str) -> Vec<(String, String)> {
    vec![("content-type".to_string(), content_type.to_string())]
}

fn inbound<'a>(body: &'a str, headers: &'a [(String, String)]) -> Inbound<'a> {
    Inbound {
        body: body.as_bytes(),
        headers,
        url: "https://deskline.example.com/hooks/ringly",
    }
}

/// `[sources.NAME.mapping]` out of a configuration file, as the server reads it.
fn mapping_in(config: &str, source: &str) -> GenericMapping {
    let doc: toml::Table = toml::from_str(config).expect("TOML");
    doc.get("sources")
        .and_then(|s| s.get(source))
        .and_then(|s| s.get("mapping"))
        .cloned()
        .expect("a mapping table")
        .try_into()
        .expect("a mapping")
}

/// A mapping written as the body of `[sources.NAME.mapping]`.
fn mapping(body: &str) -> GenericMapping {
    toml::from_str(body).expect("mapping")
}

fn ringly() -> GenericMapping {
    mapping_in(RINGLY_TOML, "ringly")
}

fn parse_with(
    body: &str,
    content_type: &str,
    m: &GenericMapping,
) -> Result<Vec<ParsedEvent>, SourceError> {
    parse(&inbound(body, &headers(content_type)), &gb(), m)
}

fn one(body: &str, content_type: &str, m: &GenericMapping) -> ParsedEvent {
    let mut events = parse_with(body, content_type, m).expect("parses");
    assert_eq!(events.len(), 1, "{body}");
    events.remove(0)
}

fn ended(body: &str, m: &GenericMapping) -> CallRecord {
    match one(body, "application/json", m).event {
        CallEvent::Ended(r) => r,
        other => panic!("expected an end, got {other:?}"),
    }
}

fn error(body: &str, m: &GenericMapping) -> String {
    match parse_with(body, "application/json", m) {
        Err(e) => e.to_string(),
        Ok(events) => panic!("expected an error, got {events:?}"),
    }
}

fn known(s: &str) -> PartyNumber {
    match gb().parse(s) {
        k @ PartyNumber::Known { .. } => k,
        other => panic!("{s} is {other:?}"),
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
}

/// The Ringly sample with changes at dotted paths (`call.legs`); `null` removes.
fn ringly_with(changes: &[(&str, Value)]) -> String {
    let mut v: Value = serde_json::from_str(RINGLY).expect("sample");
    for (path, new) in changes {
        let mut keys: Vec<&str> = path.split('.').collect();
        let last = keys.pop().expect("a key");
        let mut target = &mut v;
        for k in keys {
            target = target.get_mut(k).expect("path");
        }
        let map = target.as_object_mut().expect("object");
        if new.is_null() {
            map.remove(last);
        } else {
            map.insert(last.to_string(), new.clone());
        }
    }
    v.to_string()
}

#[test]
fn selectors_read_what_they_say() {
    let doc = json!({
        "call": {"id": "c1", "n": 7, "flag": false, "none": null, "empty": "", "dotted.key": "d"},
        "data": {
            "items": [{"x": "first"}, {"x": "second"}, {"x": "last"}],
            "legs": [
                {"status": "missed", "agent": {"email": "a@x.test"}, "seq": 1},
                {"status": "ANSWERED ", "agent": {"email": "b@x.test", "role": "owner"}, "seq": 2.0},
                {"status": "answered", "agent": {"email": "c@x.test"}, "seq": 3}
            ],
            "single": {"status": "answered", "who": "solo"},
            "tags": ["vip", "callback"],
        },
        "weird key": {"a]b": 1},
    });
    let cases: &[(&str, Option<Value>)] = &[
        ("call.id", Some(json!("c1"))),
        ("$.call.id", Some(json!("c1"))),
        ("  call.n ", Some(json!(7))),
        ("call.flag", Some(json!(false))),
        ("call.none", None),
        ("call.empty", Some(json!(""))),
        ("call.missing", None),
        ("call.none.deeper", None),
        ("call.empty.deeper", None),
        ("call[\"dotted.key\"]", Some(json!("d"))),
        ("[\"weird key\"][\"a]b\"]", Some(json!(1))),
        ("data.items[0].x", Some(json!("first"))),
        ("data.items[2].x", Some(json!("last"))),
        ("data.items[-1].x", Some(json!("last"))),
        ("data.items[-3].x", Some(json!("first"))),
        ("data.items[3].x", None),
        ("data.items[-4].x", None),
        ("data.tags[1]", Some(json!("callback"))),
        // The first element that matches, ignoring case and spaces.
        (
            "data.legs[?status=answered].agent.email",
            Some(json!("b@x.test")),
        ),
        (
            "data.legs[?status = \"answered\"].agent.email",
            Some(json!("b@x.test")),
        ),
        (
            "data.legs[?status==answered].agent.email",
            Some(json!("b@x.test")),
        ),
        (
            "data.legs[?status!=missed].agent.email",
            Some(json!("b@x.test")),
        ),
        ("data.legs[?agent.role=owner].seq", Some(json!(2.0))),
        (
            "data.legs[?agent.role!=owner].agent.email",
            Some(json!("a@x.test")),
        ),
        // Numbers compare by value.
        ("data.legs[?seq=2].agent.email", Some(json!("b@x.test"))),
        ("data.legs[?seq=3.0].agent.email", Some(json!("c@x.test"))),
        ("data.legs[?status=voicemail].agent.email", None),
        // A single object is a list of one.
        ("data.single[?status=answered].who", Some(json!("solo"))),
        ("data.single[0].who", Some(json!("solo"))),
        ("data.single[-1].who", Some(json!("solo"))),
        ("data.single[1].who", None),
        ("data.single[?status=missed].who", None),
        ("$", Some(doc.clone())),
    ];
    for (text, expected) in cases {
        let selector = Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let found = selector
            .select(&doc)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(found, expected.as_ref(), "{text}");
    }
    // A scalar where an object or a list is needed is a mismatch naming the step.
    let mismatches = [
        ("call.id.deeper", "`call.id` is a string, not an object"),
        ("call.n[0]", "`call.n` is a number, not a list"),
        ("call.flag[?x=1]", "`call.flag` is a boolean, not a list"),
        ("data.tags.first", "`data.tags` is a list, not an object"),
    ];
    for (text, message) in mismatches {
        let selector = Selector::parse(text).expect(text);
        let err = selector.select(&doc).expect_err(text);
        assert_eq!(err.to_string(), message, "{text}");
    }
    let root = Selector::parse("x").expect("x");
    assert_eq!(
        root.select(&json!("text"))
            .expect_err("scalar root")
            .to_string(),
        "`the payload` is a string, not an object"
    );
}

#[test]
fn bad_selectors_say_where_and_what() {
    let cases = [
        ("", "the selector is empty (at character 1)"),
        (".call", "a selector cannot start with `.` (at character 1)"),
        ("call.", "expected a key after `.` (at character 6)"),
        ("call..id", "expected a key, found `.`; quote keys with special characters as [\"…\"] (at character 6)"),
        ("call.[0]", "`.` must be followed by a key; write `a[0]` or `a[\"k\"]`, not `a.[0]` (at character 6)"),
        ("data.legs[?status=answered.agent", "unclosed `[`; close it with `]` (at character 10)"),
        ("legs[0", "unclosed `[`; close it with `]` (at character 5)"),
        ("legs[]", "empty `[]`; write an index ([0]), a quoted key ([\"k\"]) or a filter ([?k=v]) (at character 6)"),
        ("legs[*].x", "wildcards are not supported: a mapping reads one value; use an index ([0]) or a filter ([?status=answered]) (at character 6)"),
        ("legs[x]", "expected an index ([0]), a quoted key ([\"k\"]) or a filter ([?k=v]) after `[`, found `x` (at character 6)"),
        ("legs[-]", "\"-\" is not an index; write [0], [1], … or [-1] (at character 6)"),
        ("legs[0]x", "unexpected `x`; separate keys with `.`, and quote keys with special characters as [\"…\"] (at character 8)"),
        ("legs[?(@.status=='answered')]", "this is JSONPath filter syntax; write [?status=answered] (no @, parentheses or quotes around the field) (at character 7)"),
        ("legs[?status]", "expected `=` or `!=` in the filter, found `]` (at character 13)"),
        ("legs[?status=]", "the filter has no value; write [?field=value], or [?field=\"\"] for an empty one (at character 14)"),
        ("legs[?status='x']", "quote filter values with \"…\", not '…' (at character 14)"),
        ("legs[?a[?b=c]=d]", "a filter cannot contain another filter (at character 9)"),
        ("legs[?=x]", "a filter needs a field: [?status=answered] (at character 7)"),
        ("[\"open", "unclosed `\"` (at character 2)"),
        ("call id", "unexpected ` `; separate keys with `.`, and quote keys with special characters as [\"…\"] (at character 5)"),
        ("$.", "nothing follows `$.` (at character 3)"),
    ];
    for (text, message) in cases {
        let err = Selector::parse(text).expect_err(text);
        assert_eq!(err.to_string(), message, "{text:?}");
    }
}

#[test]
fn forms_nest_like_json() {
    let cases = [
        ("a=1&b=two", json!({"a": "1", "b": "two"})),
        (
            "call%5Bagent%5D%5Bemail%5D=p%40x.test",
            json!({"call": {"agent": {"email": "p@x.test"}}}),
        ),
        (
            "call.agent.email=p%40x.test&call.id=9",
            json!({"call": {"agent": {"email": "p@x.test"}, "id": "9"}}),
        ),
        (
            "legs[1][status]=answered&legs[0][status]=missed",
            json!({"legs": [{"status": "missed"}, {"status": "answered"}]}),
        ),
        ("tags[]=a&tags[]=b", json!({"tags": ["a", "b"]})),
        ("a=1&a=2", json!({"a": "1"})),
        // Clashes and malformed keys stay as written.
        ("a=1&a[b]=2", json!({"a": "1", "a[b]": "2"})),
        ("a[b=1", json!({"a[b": "1"})),
        ("a..b=1", json!({"a..b": "1"})),
        // Leading zeros are keys, not indexes.
        ("x[01]=1", json!({"x": {"01": "1"}})),
        // A JSON value is read as JSON.
        (
            "data=%7B%22call%22%3A%7B%22id%22%3A5%7D%7D&n=%7Bnot+json",
            json!({"data": {"call": {"id": 5}}, "n": "{not json"}),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(form::to_json(body.as_bytes()), expected, "{body}");
    }
}

fn ringly_record() -> CallRecord {
    let priya = AgentRef {
        email: Some("Priya.Sharma@acme.test".to_string()),
        name: Some("Priya Sharma".to_string()),
        extension: Some("204".to_string()),
        phone: Some("+447400123456".to_string()),
    };
    CallRecord {
        provider: Provider::Generic,
        call_id: "rng_c_7Hq2LkP9".to_string(),
        direction: Direction::Inbound,
        customer: known("+442079460958"),
        line: Some(known("+442079460000")),
        started_at: at("2024-11-23T11:54:05Z"),
        ended_at: Some(at("2024-11-23T11:56:27Z")),
        total_seconds: 142,
        talk_seconds: Some(98),
        outcome: Outcome::Answered,
        answered_by: Some(priya.clone()),
        department: Some("Support".to_string()),
        location: Some("London, GB".to_string()),
        recording: Some(Recording {
            url: "https://media.ringly.example/rec/rng_c_7Hq2LkP9.mp3?sig=a1b2c3".to_string(),
            file_name: None,
        }),
        legs: vec![CallLeg {
            started_at: Some(at("2024-11-23T11:54:05Z")),
            ended_at: Some(at("2024-11-23T11:56:27Z")),
            duration_seconds: Some(142),
            received: true,
            status: "answered".to_string(),
            agents: vec![priya],
        }],
    }
}

/// The issue's "done means": a payload deskline has never seen, mapped by configuration alone.
#[test]
fn an_unknown_provider_is_mapped_by_configuration_alone() {
    let m = ringly();
    assert_eq!(m.validate(), Ok(()));
    let event = one(RINGLY, "application/json", &m);
    assert_eq!(event.dedupe_key, "evt_01JD8ZQ4K7M2W9X3");
    assert_eq!(event.event, CallEvent::Ended(ringly_record()));
    // The phones as the planner sees them.
    let CallEvent::Ended(record) = event.event else {
        panic!("an end");
    };
    let phone = |p: Option<&PartyNumber>| {
        p.and_then(PartyNumber::phone)
            .map(|p| p.as_str().to_string())
    };
    assert_eq!(phone(record.from()).as_deref(), Some("+442079460958"));
    assert_eq!(phone(record.to()).as_deref(), Some("+442079460000"));
}

#[test]
fn answered_test_decides_missed_or_answered() {
    let m = ringly();
    let missed = ringly_with(&[(
        "call.legs",
        json!([
            {"seq": 1, "status": "no-answer", "talk_s": 0, "agent": {"email": "sam.lee@acme.test"}},
            {"seq": 2, "status": "no-answer", "talk_s": 0, "agent": {"email": "priya.sharma@acme.test"}}
        ]),
    )]);
    let r = ended(&missed, &m);
    assert_eq!(r.outcome, Outcome::Missed);
    assert_eq!(r.answered_by, None);
    // The filter found no answered leg: the talk time is absent, so a missed call's 0.
    assert_eq!(r.talk_seconds, Some(0));
    assert_eq!(r.legs.len(), 1);
    assert!(!r.legs[0].received);
    assert_eq!(r.legs[0].status, "missed");
    assert!(r.legs[0].agents.is_empty());

    // No legs at all, and the recording and queue absent: fields absent, still a call.
    let bare = ringly_with(&[
        ("call.legs", json!([])),
        ("call.media", Value::Null),
        ("call.queue", Value::Null),
    ]);
    let r = ended(&bare, &m);
    assert_eq!(r.outcome, Outcome::Missed);
    assert_eq!(r.recording, None);
    assert_eq!(r.department, None);

    // equals and greater_than tests.
    let cases = [
        (
            "{ path = \"call.legs[-1].status\", equals = [\"answered\", \"completed\"] }",
            Outcome::Answered,
        ),
        (
            "{ path = \"call.legs[0].status\", equals = [\"answered\", \"completed\"] }",
            Outcome::Missed,
        ),
        (
            "{ path = \"call.legs[-1].status\", equals = \"ANSWERED\" }",
            Outcome::Answered,
        ),
        (
            "{ path = \"call.legs[1].talk_s\", greater_than = 0 }",
            Outcome::Answered,
        ),
        (
            "{ path = \"call.legs[0].talk_s\", greater_than = 0 }",
            Outcome::Missed,
        ),
        (
            "{ path = \"call.timing.billable\", greater_than = 120 }",
            Outcome::Answered,
        ),
        (
            "{ path = \"call.timing.billable\", greater_than = 200 }",
            Outcome::Missed,
        ),
        (
            "{ path = \"call.legs[1].seq\", equals = [2] }",
            Outcome::Answered,
        ),
        (
            "{ path = \"call.nothing\", equals = [\"x\"] }",
            Outcome::Missed,
        ),
        (
            "{ path = \"call.nothing\", greater_than = 0 }",
            Outcome::Missed,
        ),
        (
            "{ path = \"call.media.transcript\", not_empty = true }",
            Outcome::Missed,
        ),
    ];
    for (test, outcome) in cases {
        let m = mapping(&format!(
            "call_id = \"call.uuid\"\nstarted_at = {{ path = \"call.timing.created_ms\", format = \"epoch_millis\" }}\nanswered = {test}"
        ));
        assert_eq!(m.validate(), Ok(()), "{test}");
        assert_eq!(ended(RINGLY, &m).outcome, outcome, "{test}");
    }
}

#[test]
fn without_an_answered_test_talk_time_or_an_agent_decides() {
    let base = "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\n";
    let cases = [
        ("talk_seconds = \"call.legs[1].talk_s\"", Outcome::Answered),
        ("talk_seconds = \"call.legs[0].talk_s\"", Outcome::Missed),
        // Talk time absent: an agent means answered.
        (
            "talk_seconds = \"call.nothing\"\nagent_email = \"call.legs[1].agent.email\"",
            Outcome::Answered,
        ),
        ("agent_email = \"call.nothing\"", Outcome::Missed),
    ];
    for (extra, outcome) in cases {
        let m = mapping(&format!("{base}{extra}"));
        assert_eq!(ended(RINGLY, &m).outcome, outcome, "{extra}");
    }
}

#[test]
fn only_when_ignores_other_events() {
    let m = ringly();
    let ringing = ringly_with(&[
        ("type", json!("call.ringing")),
        ("call.legs", json!("pending")),
    ]);
    assert_eq!(parse_with(&ringing, "application/json", &m), Ok(Vec::new()));
    // Not even a call: nothing the mapping reads is looked at.
    let other = r#"{"type": "account.updated", "account": {"id": 1}}"#;
    assert_eq!(parse_with(other, "application/json", &m), Ok(Vec::new()));
    // Every test must hold.
    let both = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\n\
         only_when = [{ path = \"type\", equals = [\"call.ended\", \"call.completed\"] }, { path = \"call.uuid\", not_empty = true }]",
    );
    assert_eq!(both.validate(), Ok(()));
    assert_eq!(
        parse_with(RINGLY, "application/json", &both).map(|e| e.len()),
        Ok(1)
    );
    let no_id = ringly_with(&[("call.uuid", json!(""))]);
    assert_eq!(
        parse_with(&no_id, "application/json", &both),
        Ok(Vec::new())
    );
}

#[test]
fn outbound_calls_swap_customer_and_line() {
    let m = ringly();
    let outbound = ringly_with(&[
        ("call.flow", json!("out")),
        ("call.caller.number", json!("+44 20 7946 0000")),
        ("call.dialled.number", json!("07400 654321")),
    ]);
    let r = ended(&outbound, &m);
    assert_eq!(r.direction, Direction::Outbound);
    assert_eq!(r.customer, known("+447400654321"));
    assert_eq!(r.line, Some(known("+442079460000")));

    // Words outside the lists are an error naming both lists.
    let odd = ringly_with(&[("call.flow", json!("internal"))]);
    assert_eq!(
        error(&odd, &m),
        "mapping.direction: `call.flow` is \"internal\", which is neither inbound (in) nor outbound (out); list it in direction.inbound or direction.outbound"
    );
    // Default words, a default for an absent direction, and a mapping with no path.
    let defaults = "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\n";
    let cases = [
        (
            "direction = \"call.flow\"",
            ("Outgoing", Direction::Outbound),
        ),
        (
            "direction = \"call.flow\"",
            ("INCOMING", Direction::Inbound),
        ),
        ("direction = \"call.flow\"", ("", Direction::Inbound)),
        (
            "direction = { path = \"call.flow\", default = \"outbound\" }",
            ("", Direction::Outbound),
        ),
        (
            "direction = { default = \"outbound\" }",
            ("in", Direction::Outbound),
        ),
        (
            "direction = { path = \"call.flow\", inbound = [\"1\"], outbound = [\"2\"] }",
            ("2", Direction::Outbound),
        ),
    ];
    for (config, (flow, expected)) in cases {
        let m = mapping(&format!("{defaults}{config}"));
        let body = ringly_with(&[("call.flow", json!(flow))]);
        assert_eq!(ended(&body, &m).direction, expected, "{config} {flow:?}");
    }
    // Without `from`, an inbound call's customer is withheld.
    let m = mapping(defaults);
    assert_eq!(ended(RINGLY, &m).customer, PartyNumber::Withheld);
}

#[test]
fn times_in_every_format() {
    // (format line, value, expected)
    let cases: &[(&str, Value, Option<&str>)] = &[
        (
            "format = \"rfc3339\"",
            json!("2024-11-23T17:24:05+05:30"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"rfc3339\"",
            json!("2024-11-23 11:54:05Z"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"epoch_seconds\"",
            json!(1732362845),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"epoch_seconds\"",
            json!("1732362845"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"epoch_seconds\"",
            json!(1732362845.4),
            Some("2024-11-23T11:54:05.400Z"),
        ),
        (
            "format = \"epoch_millis\"",
            json!(1732362845000_u64),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"epoch_millis\"",
            json!("1732362845000"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"EPOCH_MILLIS\"",
            json!(1732362845000_u64),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"%d/%m/%Y %H:%M:%S\", time_zone = \"Asia/Kolkata\"",
            json!("23/11/2024 17:24:05"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"%d/%m/%Y %H:%M:%S\"",
            json!("23/11/2024 11:54:05"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"%Y-%m-%d %H:%M:%S %z\"",
            json!("2024-11-23 12:54:05 +0100"),
            Some("2024-11-23T11:54:05Z"),
        ),
        (
            "format = \"%Y%m%d%H%M%S\"",
            json!(20241123115405_u64),
            Some("2024-11-23T11:54:05Z"),
        ),
        // Clocks going back: the earlier instant; forward: an hour later.
        (
            "format = \"%Y-%m-%d %H:%M:%S\", time_zone = \"Europe/London\"",
            json!("2024-10-27 01:30:00"),
            Some("2024-10-27T00:30:00Z"),
        ),
        (
            "format = \"%Y-%m-%d %H:%M:%S\", time_zone = \"Europe/London\"",
            json!("2024-03-31 01:30:00"),
            Some("2024-03-31T01:30:00Z"),
        ),
        // "No time yet", as providers write it.
        (
            "format = \"%Y-%m-%d %H:%M:%S\", time_zone = \"Asia/Kolkata\"",
            json!("0000-00-00 00:00:00"),
            None,
        ),
        ("format = \"epoch_seconds\"", json!(0), None),
        ("format = \"rfc3339\"", json!(""), None),
        ("format = \"rfc3339\"", Value::Null, None),
    ];
    for (format, value, expected) in cases {
        let m = mapping(&format!(
            "call_id = \"call.uuid\"\nended_at = {{ path = \"call.t\", {format} }}\nstarted_at = {{ path = \"call.t\", {format} }}"
        ));
        assert_eq!(m.validate(), Ok(()), "{format}");
        let body = ringly_with(&[("call.t", value.clone())]);
        match expected {
            Some(t) => assert_eq!(ended(&body, &m).started_at, at(t), "{format} {value}"),
            None => assert_eq!(
                error(&body, &m),
                "mapping.started_at: `call.t` is absent or empty in this payload",
                "{format} {value}"
            ),
        }
    }
}

#[test]
fn durations_and_derived_times() {
    let cases: &[(Value, u64)] = &[
        (json!(125), 125),
        (json!(125.6), 126),
        (json!("125"), 125),
        (json!(" 125 "), 125),
        (json!("2:05"), 125),
        (json!("00:02:05"), 125),
        (json!("1:00:00"), 3600),
    ];
    let m = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\nduration_seconds = \"call.d\"",
    );
    for (value, seconds) in cases {
        let body = ringly_with(&[("call.d", value.clone())]);
        let r = ended(&body, &m);
        assert_eq!(r.total_seconds, *seconds, "{value}");
        // Without ended_at, the end is start + duration.
        assert_eq!(
            r.ended_at,
            Some(
                at("2024-11-23T11:54:05Z")
                    + Duration::seconds(i64::try_from(*seconds).expect("small"))
            ),
            "{value}"
        );
    }
    // Without a duration, end − start; without a start, end − duration.
    let m = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\nended_at = { path = \"call.timing.ended_ms\", format = \"epoch_millis\" }",
    );
    assert_eq!(ended(RINGLY, &m).total_seconds, 142);
    let m = mapping(
        "call_id = \"call.uuid\"\nended_at = { path = \"call.timing.ended_ms\", format = \"epoch_millis\" }\nduration_seconds = \"call.timing.billable\"",
    );
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(ended(RINGLY, &m).started_at, at("2024-11-23T11:54:05Z"));
}

#[test]
fn wrong_types_name_the_key_and_the_selector() {
    let m = ringly();
    let cases = [
        (
            ringly_with(&[("call.uuid", json!({"v": 1}))]),
            "mapping.call_id: `call.uuid` is an object; expected text or a number",
        ),
        (
            ringly_with(&[("call.uuid", Value::Null)]),
            "mapping.call_id: `call.uuid` is absent or empty in this payload, and every call needs an id",
        ),
        (
            ringly_with(&[("call.timing", json!({"created_ms": "yesterday"}))]),
            "mapping.started_at: `call.timing.created_ms` is \"yesterday\", which is not a time in format epoch_millis: expected a number or a numeric string",
        ),
        (
            ringly_with(&[("call.timing", json!({"created_ms": 1732362845000_u64, "billable": "two minutes"}))]),
            "mapping.duration_seconds: `call.timing.billable` is \"two minutes\"; expected seconds as a number, a numeric string or H:MM:SS",
        ),
        (
            ringly_with(&[("call.timing", json!({"created_ms": 1732362845000_u64, "billable": -3}))]),
            "mapping.duration_seconds: `call.timing.billable` is -3, a negative number of seconds",
        ),
        (
            ringly_with(&[("call.caller", json!("020 7946 0958"))]),
            "mapping.from: `call.caller.number` does not fit this payload: `call.caller` is a string, not an object",
        ),
        (
            ringly_with(&[("call.queue", json!({"name": ["Support", "Sales"]}))]),
            "mapping.department: `call.queue.name` is a list; expected text or a number",
        ),
        (
            ringly_with(&[("call.legs", json!(12))]),
            "mapping.talk_seconds: `call.legs[?status=answered].talk_s` does not fit this payload: `call.legs` is a number, not a list",
        ),
        (
            ringly_with(&[("call.flow", json!(true))]),
            "mapping.direction: `call.flow` is a boolean; expected text or a number",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(error(&body, &m), message);
    }
    // Test values too.
    let m = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\nanswered = { path = \"call.legs\", equals = [\"answered\"] }",
    );
    assert_eq!(
        error(RINGLY, &m),
        "mapping.answered: `call.legs` is a list; equals compares a single value (point the path at one field, or use not_empty = true)"
    );
    let m = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"epoch_millis\" }\nanswered = { path = \"call.flow\", greater_than = 0 }",
    );
    assert_eq!(
        error(RINGLY, &m),
        "mapping.answered: `call.flow` is \"IN\"; greater_than needs a number, a numeric string or H:MM:SS"
    );
    let m = mapping(
        "call_id = \"call.uuid\"\nstarted_at = { path = \"call.timing.created_ms\", format = \"rfc3339\" }",
    );
    assert_eq!(
        error(RINGLY, &m),
        "mapping.started_at: `call.timing.created_ms` is 1732362845000, which is not a time in format rfc3339: expected text such as 2024-11-23T11:55:21Z (for numbers, use format = \"epoch_seconds\" or \"epoch_millis\")"
    );
}

#[test]
fn validation_names_the_key_and_the_fix() {
    let m = mapping(
        r#"
from = "call.caller[0"
to = "call..to"
direction = { path = "call.flow", inbound = ["in", "both"], outbound = ["out", "BOTH"] }
answered = { path = "call.status", equals = ["answered"], not_empty = true }
started_at = { path = "call.start", format = "epoch" }
ended_at = { path = "call.end", format = "%Y-%m-%d %Q", time_zone = "Asia/Calcuta" }
duration_seconds = "legs[*].duration"
only_when = [{ path = "type" }, { path = "kind[?x=1]", greater_than = 1 }]
"#,
    );
    let problems = m.validate().expect_err("invalid");
    let expected = [
        "mapping.from: \"call.caller[0\" is not a valid selector: unclosed `[`; close it with `]` (at character 12). Fix: selectors are dotted keys with [N] indexes and [?field=value] filters, e.g. data.legs[?status=answered].agent.email (docs/providers/generic.md)",
        "mapping.to: \"call..to\" is not a valid selector: expected a key, found `.`; quote keys with special characters as [\"…\"] (at character 6). Fix: selectors are dotted keys with [N] indexes and [?field=value] filters, e.g. data.legs[?status=answered].agent.email (docs/providers/generic.md)",
        "mapping.duration_seconds: \"legs[*].duration\" is not a valid selector: wildcards are not supported: a mapping reads one value; use an index ([0]) or a filter ([?status=answered]) (at character 6). Fix: selectors are dotted keys with [N] indexes and [?field=value] filters, e.g. data.legs[?status=answered].agent.email (docs/providers/generic.md)",
        "mapping.call_id: is missing. Fix: set call_id to the selector of the provider's call id, e.g. call_id = \"data.call.id\"",
        "mapping.direction: \"both\" is listed as both inbound and outbound. Fix: keep it in one of direction.inbound and direction.outbound",
        "mapping.answered: has more than one test. Fix: use exactly one of equals = [\"…\"], not_empty = true or greater_than = 0, e.g. answered = { path = \"call.status\", equals = [\"answered\"] }",
        "mapping.started_at.format: \"epoch\" is not a time format. Fix: use rfc3339, epoch_seconds, epoch_millis, or a strftime pattern such as \"%Y-%m-%d %H:%M:%S\"",
        "mapping.ended_at.time_zone: \"Asia/Calcuta\" is not an IANA time zone. Fix: use a name such as \"Asia/Kolkata\", \"Europe/London\" or \"UTC\"",
        "mapping.ended_at.format: \"%Y-%m-%d %Q\" has an unknown % specifier. Fix: use chrono's strftime specifiers (%Y %m %d %H %M %S %z …; %% for a literal %)",
        "mapping.only_when[0]: has no test. Fix: use exactly one of equals = [\"…\"], not_empty = true or greater_than = 0, e.g. only_when[0] = { path = \"call.status\", equals = [\"answered\"] }",
    ];
    assert_eq!(problems, expected);

    let m = mapping(
        r#"
call_id = "id"
started_at = { path = "t", format = "epoch_seconds", time_zone = "UTC" }
ended_at = { path = "e", format = "%Y-%m-%dT%H:%M:%S%z", time_zone = "UTC" }
"#,
    );
    assert_eq!(
        m.validate().expect_err("invalid"),
        [
            "mapping.started_at.time_zone: only applies to strftime patterns, and the format is \"epoch_seconds\". Fix: remove time_zone (RFC 3339 times carry their offset; epoch times are UTC)",
            "mapping.ended_at.time_zone: is set, but the format reads the offset from the value itself. Fix: remove time_zone, or remove the offset (%z) from the format",
        ]
    );

    let m = mapping("call_id = \"id\"\nended_at = \"t\"");
    assert_eq!(
        m.validate().expect_err("invalid"),
        ["mapping.started_at: is missing, and the start cannot be worked out without both ended_at and duration_seconds. Fix: set started_at = { path = \"…\", format = \"…\" } (or map both ended_at and duration_seconds)"]
    );

    // parse() reports the first problem of a mapping that skipped validation.
    let m = mapping("started_at = \"t\"");
    assert_eq!(
        error(RINGLY, &m),
        "mapping.call_id: is missing. Fix: set call_id to the selector of the provider's call id, e.g. call_id = \"data.call.id\""
    );
}

#[test]
fn the_mapping_table_is_strict_and_round_trips() {
    let err = toml::from_str::<GenericMapping>("call_id = \"id\"\ncaller = \"from\"")
        .expect_err("unknown key");
    assert!(err.to_string().contains("unknown field `caller`"), "{err}");
    let err = toml::from_str::<GenericMapping>(
        "call_id = \"id\"\nstarted_at = { path = \"t\", fromat = \"epoch_seconds\" }",
    )
    .expect_err("unknown key");
    assert!(err.to_string().contains("unknown field `fromat`"), "{err}");
    let err = toml::from_str::<GenericMapping>("call_id = \"id\"\ndirection = 1")
        .expect_err("wrong type");
    assert!(
        err.to_string()
            .contains("a selector, or a table with path, inbound, outbound and default"),
        "{err}"
    );
    // Shorthands read as their tables.
    let short = mapping("call_id = \"id\"\nstarted_at = \"t\"\ndirection = \"d\"");
    assert_eq!(
        short.started_at,
        Some(TimeMapping {
            path: "t".to_string(),
            format: "rfc3339".to_string(),
            time_zone: None
        })
    );
    assert_eq!(short.direction.and_then(|d| d.path), Some("d".to_string()));
    // Serialised (as the server's configuration layers do) and read back, it is the same.
    let m = ringly();
    let text = toml::to_string(&m).expect("serialises");
    assert_eq!(
        toml::from_str::<GenericMapping>(&text).expect("reads back"),
        m
    );
    let m = mapping(
        "call_id = \"id\"\nstarted_at = \"t\"\nanswered = { path = \"s\", equals = [\"a\", 1, 2.5, true] }",
    );
    let text = toml::to_string(&m).expect("serialises");
    assert_eq!(
        toml::from_str::<GenericMapping>(&text).expect("reads back"),
        m
    );
}

#[test]
fn form_bodies_map_with_the_same_mapping() {
    // The Ringly sample, form-encoded the PHP way.
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("id", "evt_01JD8ZQ4K7M2W9X3"),
        ("type", "call.ended"),
        ("call[uuid]", "rng_c_7Hq2LkP9"),
        ("call[flow]", "IN"),
        ("call[caller][number]", "020 7946 0958"),
        ("call[dialled][number]", "+44 20 7946 0000"),
        ("call[timing][created_ms]", "1732362845000"),
        ("call[timing][ended_ms]", "1732362987000"),
        ("call[timing][billable]", "00:02:22"),
        ("call[queue][name]", "Support"),
        ("call[geo]", "London, GB"),
        (
            "call[media][recording]",
            "https://media.ringly.example/rec/rng_c_7Hq2LkP9.mp3?sig=a1b2c3",
        ),
        ("call[legs][0][status]", "no-answer"),
        ("call[legs][0][talk_s]", "0"),
        ("call[legs][0][agent][email]", "sam.lee@acme.test"),
        ("call[legs][1][status]", "answered"),
        ("call[legs][1][talk_s]", "98"),
        ("call[legs][1][agent][email]", "Priya.Sharma@acme.test"),
        ("call[legs][1][agent][name]", "Priya Sharma"),
        ("call[legs][1][agent][ext]", "204"),
        ("call[legs][1][agent][mobile]", "07400 123456"),
    ] {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let event = one(
        &body,
        "application/x-www-form-urlencoded; charset=utf-8",
        &ringly(),
    );
    assert_eq!(event.dedupe_key, "evt_01JD8ZQ4K7M2W9X3");
    assert_eq!(event.event, CallEvent::Ended(ringly_record()));

    // A flat PHP-era provider: local times, a status word, no event id.
    let m = mapping(
        r#"
call_id = "CallUUID"
from = "CallerNumber"
to = "DID"
direction = { path = "Type", inbound = ["incoming"], outbound = ["dialout"] }
answered = { path = "Status", equals = ["ANSWER"] }
agent_number = "AgentNumber"
started_at = { path = "StartTime", format = "%Y-%m-%d %H:%M:%S", time_zone = "Asia/Kolkata" }
duration_seconds = "Duration"
talk_seconds = "BillSec"
"#,
    );
    assert_eq!(m.validate(), Ok(()));
    let body = "CallUUID=a7f3-19&CallerNumber=09711636496&DID=%2B918049270000&Type=incoming&Status=NOANSWER&AgentNumber=&StartTime=2024-11-23+17%3A25%3A21&Duration=34&BillSec=0";
    let india = PhoneParser::new("IN").expect("region");
    let headers = headers("application/x-www-form-urlencoded");
    let events = parse(&inbound(body, &headers), &india, &m).expect("parses");
    let [ParsedEvent {
        dedupe_key,
        event: CallEvent::Ended(r),
    }] = &events[..]
    else {
        panic!("one end: {events:?}");
    };
    assert_eq!(dedupe_key, "a7f3-19");
    assert_eq!(r.outcome, Outcome::Missed);
    assert_eq!(r.customer.phone().map(Phone::as_str), Some("+919711636496"));
    assert_eq!(
        r.line
            .as_ref()
            .and_then(PartyNumber::phone)
            .map(Phone::as_str),
        Some("+918049270000")
    );
    assert_eq!(r.started_at, at("2024-11-23T11:55:21Z"));
    assert_eq!(r.ended_at, Some(at("2024-11-23T11:55:55Z")));
    assert_eq!((r.total_seconds, r.talk_seconds), (34, Some(0)));
    assert_eq!(r.answered_by, None);
}

#[test]
fn bodies_that_are_not_payloads() {
    let m = ringly();
    assert_eq!(
        parse_with("  ", "application/json", &m),
        Err(SourceError::Empty)
    );
    assert!(matches!(
        parse_with("{\"call\":", "application/json", &m),
        Err(SourceError::MalformedJson(_))
    ));
    assert_eq!(
        parse_with("<call/>", "text/xml", &m),
        Err(SourceError::UnsupportedContentType("text/xml".to_string()))
    );
    // A payload that is a list: selectors start with an index.
    let m = mapping(
        "call_id = \"[0].call.uuid\"\nstarted_at = { path = \"[0].call.timing.created_ms\", format = \"epoch_millis\" }",
    );
    assert_eq!(ended(&format!("[{RINGLY}]"), &m).call_id, "rng_c_7Hq2LkP9");
}
