//! The v2 envelope.

use chrono::{DateTime, Utc};

use super::*;
use crate::call::{AgentRef, CallRecord};
use crate::event::{CallAnswer, CallStart, Disposition};

const SESSION: &str = "0f8e6a2c-5b1d-4c7e-9a3f-6741c2a95512";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// An envelope of `event_type` around `payload`.
fn envelope(event_type: &str, payload: Value) -> Value {
    json!({
        "event_id": "evt_test_1",
        "company_id": "5cd40f6554442586",
        "event_type": event_type,
        "event_sequence": 2,
        "event_version": 1,
        "timestamp": "2024-11-23T11:57:33Z",
        "channel": "call",
        "direction": "incoming",
        "session_id": SESSION,
        "system_identifier": "+918069451200",
        "customer_identifier": "+919876543210",
        "payload": payload
    })
}

fn ended(body: &Value) -> CallRecord {
    match only(body).event {
        CallEvent::Ended(r) => r,
        other => panic!("{body}: not ended: {other:?}"),
    }
}

fn started(body: &Value) -> CallStart {
    match only(body).event {
        CallEvent::Started(s) => s,
        other => panic!("{body}: not started: {other:?}"),
    }
}

fn answered(body: &Value) -> CallAnswer {
    match only(body).event {
        CallEvent::Answered(a) => a,
        other => panic!("{body}: not answered: {other:?}"),
    }
}

fn disposed(body: &Value) -> Disposition {
    match only(body).event {
        CallEvent::Disposition(d) => d,
        other => panic!("{body}: not a disposition: {other:?}"),
    }
}

fn priya() -> AgentRef {
    AgentRef {
        email: Some("priya.sharma@sandbox.test".into()),
        name: Some("Priya Sharma".into()),
        extension: Some("11".into()),
        phone: Some("+919810000011".into()),
    }
}

#[test]
fn the_answered_example() {
    let event = only(&example(V2_ANSWERED));
    assert_eq!(event.dedupe_key, "evt_01JDA7Q9X3M4K8R2T6V0W5Y1ZB");
    let CallEvent::Answered(a) = event.event else {
        panic!("not answered");
    };
    assert_eq!(a.call_id, SESSION);
    assert_eq!(a.at, utc("2024-11-23T11:55:51Z"));
    assert_eq!(a.agent, priya());
}

#[test]
fn the_summary_example_is_a_full_record() {
    let event = only(&example(V2_SUMMARY));
    assert_eq!(event.dedupe_key, "evt_01JDA7T4C8N2P6Q0S4U8W2Y6A0");
    let CallEvent::Ended(r) = event.event else {
        panic!("not ended");
    };
    assert_eq!(r.call_id, SESSION);
    assert_eq!(r.direction, Direction::Inbound);
    assert_eq!(
        r.customer.phone().map(|p| p.as_str()),
        Some("+919876543210")
    );
    assert_eq!(r.line, None, "system_identifier is null on call.summary");
    assert_eq!(r.started_at, utc("2024-11-23T11:55:21Z"));
    assert_eq!(r.ended_at, Some(utc("2024-11-23T11:57:29Z")));
    assert_eq!(r.total_seconds, 128);
    assert_eq!(r.talk_seconds, Some(98));
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.answered_by, Some(priya()));
    assert_eq!(r.department.as_deref(), Some("Support"));
    assert_eq!(r.location.as_deref(), Some("MH, IN"));
    let rec = r.recording.expect("recording");
    assert_eq!(
        rec.url,
        "https://app.myoperator.co/audio/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b"
    );
    assert_eq!(
        rec.file_name.as_deref(),
        Some("a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b.mp3")
    );
    assert!(r.legs.is_empty());
}

#[test]
fn the_disposition_example() {
    let event = only(&example(V2_DISPOSITION));
    assert_eq!(event.dedupe_key, "evt_01JDA7W1F5H9K3M7P1R5T9V3X7");
    let CallEvent::Disposition(d) = event.event else {
        panic!("not a disposition");
    };
    assert_eq!(d.call_id, SESSION);
    assert_eq!(d.dispositions, ["Billing query", "Resolved on call"]);
    assert!(d.comment.is_some_and(|c| c.starts_with("Charged twice")));
    assert_eq!(
        d.agent.and_then(|a| a.email),
        Some("priya.sharma@sandbox.test".into())
    );
    assert_eq!(d.at, utc("2024-11-23T11:58:25Z"));
}

#[test]
fn every_event_type_maps_to_its_event() {
    let start = json!({"start_time": "2024-11-23T11:55:21Z"});
    let cases: Vec<(&str, Value, &[&str])> = vec![
        ("call.initiated", json!({}), &["started"]),
        (
            "call.dial_begin",
            json!({"agent": {"email": "a@x.test"}}),
            &["started"],
        ),
        ("call.answered", json!({}), &["answered"]),
        ("call.end", start.clone(), &["ended"]),
        ("call.end", json!({"duration": 40}), &[]),
        ("call.end", json!({}), &[]),
        ("call.summary", json!({}), &["ended"]),
        (
            "disposition",
            json!({"disposition": "Interested"}),
            &["disposition"],
        ),
        ("call.disposition", json!({}), &["disposition"]),
        ("Call.Summary", start.clone(), &["ended"]),
        ("call.transfer", start.clone(), &[]),
        ("whatsapp.message", json!({}), &[]),
    ];
    for (event_type, payload, expected) in cases {
        let got = events_of(&envelope(event_type, payload.clone())).expect("parses");
        assert_eq!(kinds(&got), expected, "{event_type} {payload}");
        for e in &got {
            assert_eq!(e.dedupe_key, "evt_test_1");
            assert_eq!(e.event.call_id(), SESSION);
        }
    }
}

#[test]
fn only_the_call_channel_is_read() {
    for (channel, expected) in [
        (json!("call"), 1),
        (json!("CALL"), 1),
        (Value::Null, 1),
        (json!(""), 1),
        (json!("whatsapp"), 0),
        (json!("WhatsApp"), 0),
    ] {
        let body = with(
            &envelope("call.answered", json!({})),
            &json!({"channel": channel}),
        );
        assert_eq!(
            events_of(&body).expect("parses").len(),
            expected,
            "{channel}"
        );
    }
    // WhatsApp events need none of the call fields.
    let whatsapp = json!({"event_id": "evt_w", "event_type": "message.received",
        "channel": "whatsapp", "payload": {"text": "hi"}});
    assert_eq!(events_of(&whatsapp), Ok(vec![]));
}

#[test]
fn the_same_delivery_twice_has_the_same_key_and_events_of_one_call_one_id() {
    for text in [V2_ANSWERED, V2_SUMMARY, V2_DISPOSITION] {
        assert_eq!(events(text), events(text));
    }
    let ids: Vec<String> = [V2_ANSWERED, V2_SUMMARY, V2_DISPOSITION]
        .iter()
        .flat_map(|t| events(t).expect("parses"))
        .map(|e| e.event.call_id().to_string())
        .collect();
    assert!(ids.iter().all(|id| id == SESSION), "{ids:?}");
    let keys: Vec<String> = [V2_ANSWERED, V2_SUMMARY, V2_DISPOSITION]
        .iter()
        .flat_map(|t| events(t).expect("parses"))
        .map(|e| e.dedupe_key)
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0] != keys[1] && keys[1] != keys[2]);
}

#[test]
fn agent_names_accepted() {
    let email = |a: Option<AgentRef>| a.and_then(|a| a.email);
    let cases: Vec<(Value, Option<AgentRef>)> = vec![
        (
            json!({"agent": {"email": "a@x.test"}}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent": {"agent_email": "a@x.test"}}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent_email": "a@x.test"}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"user": {"email": "a@x.test", "name": "A"}}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                name: Some("A".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"user_email": "a@x.test", "user_name": "A"}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                name: Some("A".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"answered_by": {"user_email": "a@x.test"}}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent": "a@x.test"}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent": "9810000011"}),
            Some(AgentRef {
                phone: Some("+919810000011".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent": "Priya Sharma"}),
            Some(AgentRef {
                name: Some("Priya Sharma".into()),
                ..AgentRef::default()
            }),
        ),
        (
            json!({"agent": {"display_name": "A", "ext": "11", "mobile": "9810000011"}}),
            Some(AgentRef {
                name: Some("A".into()),
                extension: Some("11".into()),
                phone: Some("+919810000011".into()),
                ..AgentRef::default()
            }),
        ),
        // The flat fields complete the object.
        (
            json!({"agent": {"name": "A"}, "agent_email": "a@x.test", "agent_extension": "11", "agent_number": "+919810000011"}),
            Some(AgentRef {
                name: Some("A".into()),
                email: Some("a@x.test".into()),
                extension: Some("11".into()),
                phone: Some("+919810000011".into()),
            }),
        ),
        // The first object wins over later ones.
        (
            json!({"agent": {"email": "a@x.test"}, "user": {"email": "b@x.test"}}),
            Some(AgentRef {
                email: Some("a@x.test".into()),
                ..AgentRef::default()
            }),
        ),
        (json!({"agent": {"id": "5cd4"}}), None),
        (json!({"agent": null, "agent_email": ""}), None),
        (json!({}), None),
    ];
    for (payload, expected) in cases {
        let a = answered(&envelope("call.answered", payload.clone()));
        assert_eq!(a.agent, expected.clone().unwrap_or_default(), "{payload}");
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(email(r.answered_by), email(expected), "{payload}");
    }
}

#[test]
fn recording_duration_and_time_names_accepted() {
    let url = "https://app.myoperator.co/audio/a41f";
    for payload in [
        json!({"recording_url": url}),
        json!({"recording": {"url": url}}),
        json!({"recording": url}),
        json!({"recording_url": "", "recording": {"url": url}}),
    ] {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(
            r.recording.map(|r| r.url).as_deref(),
            Some(url),
            "{payload}"
        );
    }
    for (payload, name) in [
        (
            json!({"recording": {"url": url, "file_name": "a.mp3"}}),
            "a.mp3",
        ),
        (
            json!({"recording": {"url": url, "filename": "a.mp3"}}),
            "a.mp3",
        ),
        (
            json!({"recording_url": url, "recording_file": "a.mp3"}),
            "a.mp3",
        ),
        (json!({"recording_url": url, "file_name": "a.mp3"}), "a.mp3"),
    ] {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(
            r.recording.and_then(|r| r.file_name).as_deref(),
            Some(name),
            "{payload}"
        );
    }
    assert_eq!(
        ended(&envelope("call.summary", json!({"recording_url": ""}))).recording,
        None
    );

    for (payload, total) in [
        (json!({"duration": 128}), 128),
        (json!({"duration": "128"}), 128),
        (json!({"call_duration": "00:02:08"}), 128),
        (json!({"total_duration": 127.6}), 128),
        (json!({"duration": "2:08"}), 128),
    ] {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(r.total_seconds, total, "{payload}");
    }
    for (payload, start) in [
        (
            json!({"start_time": "2024-11-23T11:55:21Z"}),
            "2024-11-23T11:55:21Z",
        ),
        (
            json!({"start_time": "2024-11-23T17:25:21+05:30"}),
            "2024-11-23T11:55:21Z",
        ),
        (json!({"started_at": 1_732_362_921}), "2024-11-23T11:55:21Z"),
        (
            json!({"started_at": 1_732_362_921_000_u64}),
            "2024-11-23T11:55:21Z",
        ),
        (
            json!({"call_start_time": "2024-11-23 11:55:21"}),
            "2024-11-23T11:55:21Z",
        ),
        (
            json!({"call_start_time": "1732362921"}),
            "2024-11-23T11:55:21Z",
        ),
    ] {
        let s = started(&envelope("call.initiated", payload.clone()));
        assert_eq!(s.started_at, utc(start), "{payload}");
        let r = ended(&envelope("call.end", payload.clone()));
        assert_eq!(r.started_at, utc(start), "{payload}");
    }
    for (payload, at) in [
        (
            json!({"answered_at": "2024-11-23T11:55:51Z"}),
            "2024-11-23T11:55:51Z",
        ),
        (
            json!({"answer_time": 1_732_362_951}),
            "2024-11-23T11:55:51Z",
        ),
        (
            json!({"answered_time": "2024-11-23 11:55:51"}),
            "2024-11-23T11:55:51Z",
        ),
        (json!({}), "2024-11-23T11:57:33Z"),
    ] {
        let a = answered(&envelope("call.answered", payload.clone()));
        assert_eq!(a.at, utc(at), "{payload}");
    }
    let d = disposed(&envelope(
        "disposition",
        json!({"disposition_time": 1_732_363_105}),
    ));
    assert_eq!(d.at, utc("2024-11-23T11:58:25Z"));
    let d = disposed(&envelope(
        "disposition",
        json!({"created_at": "2024-11-23T11:58:26Z"}),
    ));
    assert_eq!(d.at, utc("2024-11-23T11:58:26Z"));
    let d = disposed(&envelope("disposition", json!({})));
    assert_eq!(d.at, utc("2024-11-23T11:57:33Z"), "the send time");
}

#[test]
fn department_and_location_names_accepted() {
    for payload in [
        json!({"department_name": "Support"}),
        json!({"department": {"name": "Support"}}),
        json!({"department": "Support"}),
    ] {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(r.department.as_deref(), Some("Support"), "{payload}");
    }
    for payload in [
        json!({"location": "MH, IN"}),
        json!({"caller_location": "MH, IN"}),
    ] {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(r.location.as_deref(), Some("MH, IN"), "{payload}");
    }
}

#[test]
fn the_outcome_comes_from_the_flag_the_status_or_the_agent() {
    let cases: Vec<(Value, Outcome)> = vec![
        (json!({"answered": true}), Outcome::Answered),
        (
            json!({"answered": false, "agent": {"email": "a@x.test"}}),
            Outcome::Missed,
        ),
        (json!({"answered": "yes"}), Outcome::Answered),
        (json!({"answered": 0}), Outcome::Missed),
        (json!({"is_answered": "false"}), Outcome::Missed),
        (
            json!({"answered": true, "status": "missed"}),
            Outcome::Answered,
        ),
        (json!({"status": "answered"}), Outcome::Answered),
        (json!({"status": "ANSWERED"}), Outcome::Answered),
        (json!({"status": "received"}), Outcome::Answered),
        (json!({"status": 1}), Outcome::Answered),
        (json!({"status": "2"}), Outcome::Missed),
        (
            json!({"status": "missed", "agent": {"email": "a@x.test"}}),
            Outcome::Missed,
        ),
        (json!({"call_status": "no-answer"}), Outcome::Missed),
        (json!({"status": "Not Answered"}), Outcome::Missed),
        (json!({"status": "busy"}), Outcome::Missed),
        (json!({"status": "voicemail"}), Outcome::Missed),
        // Unclear words and no status: the agent, else the talk time, decides.
        (
            json!({"status": "completed", "agent": {"email": "a@x.test"}}),
            Outcome::Answered,
        ),
        (json!({"status": "completed"}), Outcome::Missed),
        (json!({"agent_email": "a@x.test"}), Outcome::Answered),
        (json!({"talk_duration": 12}), Outcome::Answered),
        (json!({"talk_time": "00:00:00"}), Outcome::Missed),
        (json!({}), Outcome::Missed),
    ];
    for (payload, expected) in cases {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(r.outcome, expected, "{payload}");
        match expected {
            Outcome::Missed => {
                assert_eq!(r.answered_by, None, "{payload}");
                assert_eq!(r.talk_seconds, Some(0), "{payload}");
            }
            Outcome::Answered => {}
        }
    }
}

#[test]
fn missing_times_default_sensibly() {
    // (payload, start, end, total)
    let cases: Vec<(Value, &str, Option<&str>, u64)> = vec![
        (
            json!({"start_time": "2024-11-23T11:55:21Z", "end_time": "2024-11-23T11:57:29Z"}),
            "2024-11-23T11:55:21Z",
            Some("2024-11-23T11:57:29Z"),
            128,
        ),
        (
            json!({"start_time": "2024-11-23T11:55:21Z", "duration": 128}),
            "2024-11-23T11:55:21Z",
            Some("2024-11-23T11:57:29Z"),
            128,
        ),
        (
            json!({"end_time": "2024-11-23T11:57:29Z", "duration": 128}),
            "2024-11-23T11:55:21Z",
            Some("2024-11-23T11:57:29Z"),
            128,
        ),
        // No start or end: the send time less the duration; the end stays unknown.
        (json!({"duration": 128}), "2024-11-23T11:55:25Z", None, 128),
        (json!({}), "2024-11-23T11:57:33Z", None, 0),
        (
            json!({"start_time": "2024-11-23T11:55:21Z"}),
            "2024-11-23T11:55:21Z",
            None,
            0,
        ),
    ];
    for (payload, start, end, total) in cases {
        let r = ended(&envelope("call.summary", payload.clone()));
        assert_eq!(r.started_at, utc(start), "{payload}");
        assert_eq!(r.ended_at, end.map(utc), "{payload}");
        assert_eq!(r.total_seconds, total, "{payload}");
    }
}

#[test]
fn envelope_fields_give_direction_numbers_and_ringing() {
    let cases: Vec<(Value, Value, Direction)> = vec![
        (json!({}), json!({}), Direction::Inbound),
        (
            json!({"direction": "outgoing"}),
            json!({}),
            Direction::Outbound,
        ),
        (json!({"direction": ""}), json!({}), Direction::Inbound),
        (
            json!({"direction": ""}),
            json!({"direction": "outgoing"}),
            Direction::Outbound,
        ),
        (
            json!({"direction": null}),
            json!({"direction": "outbound"}),
            Direction::Outbound,
        ),
        (
            json!({"direction": "incoming"}),
            json!({"direction": "outgoing"}),
            Direction::Inbound,
        ),
    ];
    for (changes, payload, expected) in cases {
        let body = with(&envelope("call.initiated", payload.clone()), &changes);
        assert_eq!(started(&body).direction, expected, "{changes} {payload}");
    }
    let s = started(&envelope("call.initiated", json!({})));
    assert_eq!(
        s.customer.phone().map(|p| p.as_str()),
        Some("+919876543210")
    );
    assert_eq!(
        s.line
            .as_ref()
            .and_then(PartyNumber::phone)
            .map(|p| p.as_str()),
        Some("+918069451200")
    );
    let s = started(&with(
        &envelope("call.initiated", json!({})),
        &json!({"customer_identifier": null, "system_identifier": null}),
    ));
    assert_eq!(s.customer, PartyNumber::Withheld);
    assert_eq!(s.line, None);
    let s = started(&with(
        &envelope("call.initiated", json!({})),
        &json!({"customer_identifier": "9876543210"}),
    ));
    assert_eq!(
        s.customer.phone().map(|p| p.as_str()),
        Some("+919876543210")
    );

    let s = started(&envelope(
        "call.dial_begin",
        json!({"agents": [{"email": "a@x.test"}, "9810000012"], "agent": {"email": "b@x.test"}}),
    ));
    let ringing: Vec<String> = s.ringing.iter().map(AgentRef::label).collect();
    assert_eq!(ringing, ["a@x.test", "+919810000012", "b@x.test"]);
    assert_eq!(s.ringing[1].phone.as_deref(), Some("+919810000012"));
}

#[test]
fn disposition_and_comment_names_accepted() {
    let cases: Vec<(Value, Vec<&str>, Option<&str>)> = vec![
        (
            json!({"dispositions": ["A", "B"], "comment": "c"}),
            vec!["A", "B"],
            Some("c"),
        ),
        (
            json!({"dispositions": [{"name": "A"}, {"title": "B"}]}),
            vec!["A", "B"],
            None,
        ),
        (
            json!({"disposition": "A", "comments": ["c1", "c2"]}),
            vec!["A"],
            Some("c1\nc2"),
        ),
        (
            json!({"disposition": {"name": "A", "comment": "c"}}),
            vec!["A"],
            Some("c"),
        ),
        (
            json!({"disposition_name": "A", "notes": "c"}),
            vec!["A"],
            Some("c"),
        ),
        (
            json!({"disposition": "A", "note": "c"}),
            vec!["A"],
            Some("c"),
        ),
        (
            json!({"disposition": "A", "remarks": [{"text": "c"}]}),
            vec!["A"],
            Some("c"),
        ),
        (
            json!({"comments": [{"comment": "c", "name": "Priya"}]}),
            vec![],
            Some("c"),
        ),
        (json!({}), vec![], None),
    ];
    for (payload, names, comment) in cases {
        let d = disposed(&envelope("disposition", payload.clone()));
        assert_eq!(d.dispositions, names, "{payload}");
        assert_eq!(d.comment.as_deref(), comment, "{payload}");
    }
    // The commenter stands in for a missing agent.
    let d = disposed(&envelope(
        "call.disposition",
        json!({"comments": [{"comment": "c", "email": "a@x.test"}]}),
    ));
    assert_eq!(d.agent.and_then(|a| a.email).as_deref(), Some("a@x.test"));
}

#[test]
fn bad_input_names_the_field() {
    let base = envelope("call.summary", json!({}));
    let invalid = |field: &'static str, reason: &str| SourceError::InvalidField {
        field,
        reason: reason.to_string(),
    };
    let cases: Vec<(Value, SourceError)> = vec![
        (with(&base, &json!({"event_id": null})), SourceError::MissingField("event_id (v2 delivery id)")),
        (with(&base, &json!({"event_id": ""})), SourceError::MissingField("event_id (v2 delivery id)")),
        (with(&base, &json!({"event_type": null})), SourceError::MissingField("event_type (v2)")),
        (with(&base, &json!({"session_id": null})), SourceError::MissingField("session_id (v2 call id)")),
        (
            with(&base, &json!({"payload": "call ended"})),
            invalid("payload", "expected an object, got a string"),
        ),
        (
            with(&base, &json!({"timestamp": "last tuesday"})),
            invalid("timestamp", "\"last tuesday\" is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"),
        ),
        (
            with(&base, &json!({"timestamp": null})),
            SourceError::MissingField("timestamp (the v2 send time, used when the payload gives no time of its own)"),
        ),
        (
            with(&envelope("call.answered", json!({})), &json!({"timestamp": null})),
            SourceError::MissingField("timestamp (the v2 send time, used when the payload gives no time of its own)"),
        ),
        (
            with(&base, &json!({"direction": "sideways"})),
            invalid("direction", "\"sideways\" is not incoming or outgoing"),
        ),
        (
            with(
                &envelope("call.summary", json!({"direction": "up"})),
                &json!({"direction": ""}),
            ),
            invalid("payload.direction", "\"up\" is not incoming or outgoing"),
        ),
        (
            envelope("call.summary", json!({"start_time": "11:55"})),
            invalid("payload.start_time", "\"11:55\" is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"),
        ),
        (
            envelope("call.end", json!({"started_at": false})),
            invalid("payload.started_at", "expected a time, got a boolean"),
        ),
        (
            envelope("call.summary", json!({"duration": "two minutes"})),
            invalid("payload.duration", "\"two minutes\" is not a duration like 00:01:05"),
        ),
        (
            envelope("call.summary", json!({"call_duration": -4})),
            invalid("payload.call_duration", "-4 is not a number of seconds"),
        ),
        (
            envelope("call.summary", json!({"talk_duration": [1]})),
            invalid("payload.talk_duration", "expected seconds or a duration like 00:01:05, got an array"),
        ),
        (
            envelope("call.summary", json!({"answered": "maybe"})),
            invalid("payload.answered", "expected true or false, got \"maybe\""),
        ),
        (
            envelope("call.summary", json!({"is_answered": 3})),
            invalid("payload.is_answered", "expected true or false, got 3"),
        ),
        (
            envelope("call.answered", json!({"answered_at": "soon"})),
            invalid("payload.answered_at", "\"soon\" is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"),
        ),
        (
            envelope("disposition", json!({"dispositions": [true]})),
            invalid("payload.dispositions", "element 1 is a boolean, not a disposition name or object"),
        ),
        (
            envelope("disposition", json!({"comments": 4})),
            invalid("payload.comments", "expected a list of comments, got a number"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(events_of(&body), Err(expected), "{body}");
    }
}
