//! The v1 In-Call webhook.

use chrono::TimeZone;
use chrono::Utc;

use super::*;
use crate::call::AgentRef;

fn ringing() -> Value {
    example(IN_CALL_RINGING)
}

fn phone(p: &str) -> AgentRef {
    AgentRef {
        phone: Some(p.to_string()),
        ..AgentRef::default()
    }
}

#[test]
fn the_examples_give_started_then_answered() {
    let start = only(&ringing());
    let CallEvent::Started(s) = &start.event else {
        panic!("not started: {start:?}");
    };
    assert_eq!(s.call_id, "d5.1732362921.5512");
    assert_eq!(s.direction, Direction::Inbound);
    assert_eq!(
        s.customer.phone().map(|p| p.as_str()),
        Some("+919876543210")
    );
    assert_eq!(s.line, None);
    assert_eq!(
        s.started_at.timestamp(),
        1_732_362_921,
        "the epoch inside uid"
    );
    assert_eq!(s.ringing, [phone("+919810000012"), phone("+919810000011")]);

    let answer = only(&example(IN_CALL_ANSWERED));
    let CallEvent::Answered(a) = &answer.event else {
        panic!("not answered: {answer:?}");
    };
    assert_eq!(a.call_id, "d5.1732362921.5512");
    assert_eq!(
        a.agent,
        phone("+919810000011"),
        "the number; mapping is elsewhere"
    );
    assert_eq!(a.at.timestamp(), 1_732_362_921);

    assert!(start.dedupe_key.starts_with("d5.1732362921.5512:started:"));
    assert!(answer
        .dedupe_key
        .starts_with("d5.1732362921.5512:answered:"));
}

#[test]
fn the_customisable_payload_is_read_leniently() {
    let t = |s: i64| Utc.timestamp_opt(s, 0).single().expect("time");
    // (changes to the ringing example, expected ringing agents, expected customer, start)
    let cases: Vec<(Value, Vec<AgentRef>, &str, i64)> = vec![
        (
            json!({}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        // Unknown fields are ignored; documented ones may be left out.
        (
            json!({"public_ivr_id": null, "event": "start", "caller_name": "Rahul", "extra": {"a": 1}}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"users": null}),
            vec![],
            "+919876543210",
            1_732_362_921,
        ),
        (json!({"users": []}), vec![], "+919876543210", 1_732_362_921),
        // Numbers without a country code, as numbers, as one comma-separated string, repeated.
        (
            json!({"users": "9810000011, 9810000012,9810000011"}),
            vec![phone("+919810000011"), phone("+919810000012")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"users": [9_810_000_011_u64]}),
            vec![phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"users": "+919810000011"}),
            vec![phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        // Extensions stay as sent; objects and emails are understood.
        (
            json!({"users": ["11"]}),
            vec![phone("11")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"users": [{"number": "9810000011", "name": "Priya Sharma"}]}),
            vec![AgentRef {
                name: Some("Priya Sharma".into()),
                ..phone("+919810000011")
            }],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"users": ["priya.sharma@sandbox.test"]}),
            vec![AgentRef {
                email: Some("priya.sharma@sandbox.test".into()),
                ..AgentRef::default()
            }],
            "+919876543210",
            1_732_362_921,
        ),
        // The caller as MyOperator might send it, or withheld.
        (
            json!({"clid": "9876543210"}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"clid": null}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "withheld",
            1_732_362_921,
        ),
        (
            json!({"clid": "anonymous"}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "withheld",
            1_732_362_921,
        ),
        // A time field, when the payload was customised to carry one, wins over uid.
        (
            json!({"timestamp": 1_732_362_925}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_925,
        ),
        (
            json!({"event_time": "1732362926000"}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_926,
        ),
        (
            json!({"time": "2024-11-23T17:25:27+05:30"}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_927,
        ),
        (
            json!({"timestamp": ""}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_921,
        ),
        (
            json!({"uid": "d5.1732362999.1", "call_state": "0"}),
            vec![phone("+919810000012"), phone("+919810000011")],
            "+919876543210",
            1_732_362_999,
        ),
    ];
    for (changes, ringing_on, customer, start) in cases {
        let body = with(&ringing(), &changes);
        let event = only(&body);
        let CallEvent::Started(s) = event.event else {
            panic!("{changes}: not started");
        };
        assert_eq!(s.ringing, ringing_on, "{changes}");
        let got = s
            .customer
            .phone()
            .map_or("withheld".to_string(), |p| p.to_string());
        assert_eq!(got, customer, "{changes}");
        assert_eq!(s.started_at, t(start), "{changes}");
    }
}

#[test]
fn direction_is_inbound_unless_the_payload_says_otherwise() {
    for (d, expected) in [
        (Value::Null, Direction::Inbound),
        (json!(""), Direction::Inbound),
        (json!("incoming"), Direction::Inbound),
        (json!("outgoing"), Direction::Outbound),
        (json!(2), Direction::Outbound),
    ] {
        let event = only(&with(&ringing(), &json!({ "direction": d })));
        let CallEvent::Started(s) = event.event else {
            panic!("not started");
        };
        assert_eq!(s.direction, expected, "{d}");
    }
}

#[test]
fn an_answered_event_without_users_is_still_answered() {
    let event = only(&with(&example(IN_CALL_ANSWERED), &json!({"users": null})));
    let CallEvent::Answered(a) = event.event else {
        panic!("not answered");
    };
    assert_eq!(a.agent, AgentRef::default());
}

#[test]
fn legacy_form_posts_are_read_as_fields() {
    let form = "uid=d5.1732362921.5512&clid=%2B919876543210&call_state=0&event=1\
                &users%5B%5D=%2B919810000012&users%5B%5D=%2B919810000011&public_ivr_id=6612b0e4c1d9a7f3";
    let got = parse_as(form.as_bytes(), Some("application/x-www-form-urlencoded")).expect("form");
    assert_eq!(got, events(IN_CALL_RINGING).expect("json"));
    // A repeated key without brackets is a list too.
    let repeated = "uid=d5.1732362921.5512&call_state=1&users=9810000011&users=9810000012";
    let got = parse_as(
        repeated.as_bytes(),
        Some("application/x-www-form-urlencoded"),
    )
    .expect("form");
    let CallEvent::Answered(a) = &got[0].event else {
        panic!("not answered");
    };
    assert_eq!(a.agent, phone("+919810000011"));
}

#[test]
fn dedupe_keys_repeat_for_redeliveries_only() {
    let key = |changes: Value| only(&with(&ringing(), &changes)).dedupe_key;
    let base = key(json!({}));
    // The same event again, in another order or with fields that say nothing new.
    assert_eq!(key(json!({})), base);
    assert_eq!(
        key(json!({"users": ["+919810000011", "+919810000012"]})),
        base
    );
    assert_eq!(key(json!({"users": ["9810000012", "9810000011"]})), base);
    assert_eq!(
        key(json!({"event": 2})),
        base,
        "an update ringing the same agents"
    );
    assert_eq!(key(json!({"public_ivr_id": "other"})), base);
    // Ringing other agents, answering, another call: new events.
    assert_ne!(key(json!({"users": ["+919810000013"]})), base);
    assert_ne!(key(json!({"call_state": 1})), base);
    assert_ne!(key(json!({"uid": "d5.1732362921.5513"})), base);
    let answered_by = |who: &str| {
        only(&with(
            &example(IN_CALL_ANSWERED),
            &json!({ "users": [who] }),
        ))
        .dedupe_key
    };
    assert_eq!(answered_by("+919810000011"), answered_by("+919810000011"));
    assert_ne!(
        answered_by("+919810000011"),
        answered_by("+919810000012"),
        "a transfer"
    );
}

#[test]
fn bad_input_names_the_field() {
    let cases: Vec<(Value, SourceError)> = vec![
        (json!({"uid": null}), SourceError::MissingField("uid (In-Call call id)")),
        (json!({"uid": "  "}), SourceError::MissingField("uid (In-Call call id)")),
        (
            json!({"call_state": null}),
            SourceError::MissingField("call_state (In-Call: 0 ringing, 1 answered)"),
        ),
        (
            json!({"call_state": 3}),
            SourceError::InvalidField {
                field: "call_state",
                reason: "3 is not 0 (ringing) or 1 (answered)".into(),
            },
        ),
        (
            json!({"call_state": "ringing"}),
            SourceError::InvalidField {
                field: "call_state",
                reason: "\"ringing\" is not a whole number".into(),
            },
        ),
        (
            json!({"uid": "c-88412"}),
            SourceError::MissingField(
                "timestamp (the In-Call time: add a timestamp field, or send a uid like d5.<epoch>.<n>)",
            ),
        ),
        (
            json!({"timestamp": "soon"}),
            SourceError::InvalidField {
                field: "timestamp",
                reason: "\"soon\" is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"
                    .into(),
            },
        ),
        (
            json!({"timestamp": true}),
            SourceError::InvalidField {
                field: "timestamp",
                reason: "expected a time, got a boolean".into(),
            },
        ),
        (
            json!({"direction": "sideways"}),
            SourceError::InvalidField {
                field: "direction",
                reason: "\"sideways\" is not incoming or outgoing".into(),
            },
        ),
    ];
    for (changes, expected) in cases {
        let body = with(&ringing(), &changes);
        assert_eq!(events_of(&body), Err(expected), "{changes}");
    }
}
