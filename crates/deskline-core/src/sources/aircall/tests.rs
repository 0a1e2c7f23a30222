use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::plan::{answering_agent, AnsweringAgent};

const CREATED: &str = include_str!("../../../../../examples/aircall/call-created.json");
const ANSWERED: &str = include_str!("../../../../../examples/aircall/call-answered.json");
const HUNGUP: &str = include_str!("../../../../../examples/aircall/call-hungup.json");
const ENDED: &str = include_str!("../../../../../examples/aircall/call-ended-answered.json");
const MISSED: &str = include_str!("../../../../../examples/aircall/call-ended-missed.json");
const VOICEMAIL: &str = include_str!("../../../../../examples/aircall/call-ended-voicemail.json");
const TRANSFERRED: &str =
    include_str!("../../../../../examples/aircall/call-ended-transferred.json");
const OUTBOUND: &str =
    include_str!("../../../../../examples/aircall/call-ended-outbound-unanswered.json");
const TAGGED: &str = include_str!("../../../../../examples/aircall/call-tagged.json");
const COMMENTED: &str = include_str!("../../../../../examples/aircall/call-commented.json");

const TOKEN: &str = "5f0c2e7a9b4d4c1e8a6f3b2d1c0e9f87";

/// Request headers, lower-case names.
type Headers = [(String, String)];

fn us() -> PhoneParser {
    PhoneParser::new("US").expect("region")
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".to_string(), "application/json".to_string())]
}

fn inbound<'a>(body: &'a str, headers: &'a [(String, String)]) -> Inbound<'a> {
    Inbound {
        body: body.as_bytes(),
        headers,
        url: "https://deskline.example.com/hooks/aircall",
    }
}

fn parse_json(body: &str) -> Result<Vec<ParsedEvent>, SourceError> {
    parse(&inbound(body, &json_headers()), &us())
}

fn one(body: &str) -> ParsedEvent {
    let mut events = parse_json(body).expect("parses");
    assert_eq!(events.len(), 1, "{body}");
    events.remove(0)
}

fn ended(body: &str) -> CallRecord {
    match one(body).event {
        CallEvent::Ended(r) => r,
        other => panic!("expected an end, got {other:?}"),
    }
}

/// A sample with `data` fields replaced.
fn with_data(body: &str, changes: Value) -> String {
    let mut v: Value = serde_json::from_str(body).expect("sample");
    if let (Some(data), Some(changes)) = (
        v.get_mut("data").and_then(Value::as_object_mut),
        changes.as_object(),
    ) {
        data.extend(changes.clone());
    }
    v.to_string()
}

fn phone(p: &PartyNumber) -> Option<&str> {
    p.phone().map(|p| p.as_str())
}

#[test]
fn every_event_maps_to_its_kind() {
    // (sample, kind or none, call id, dedupe key)
    let cases = [
        (
            CREATED,
            Some("started"),
            "812345678",
            "812345678:call.created",
        ),
        (
            ANSWERED,
            Some("answered"),
            "812345678",
            "812345678:call.answered",
        ),
        (HUNGUP, None, "", ""),
        (ENDED, Some("ended"), "812345678", "812345678:call.ended"),
        (MISSED, Some("ended"), "812345690", "812345690:call.ended"),
        (
            VOICEMAIL,
            Some("ended"),
            "812345702",
            "812345702:call.ended",
        ),
        (
            TRANSFERRED,
            Some("ended"),
            "812345733",
            "812345733:call.ended",
        ),
        (OUTBOUND, Some("ended"), "812345750", "812345750:call.ended"),
        (
            TAGGED,
            Some("disposition"),
            "812345678",
            "812345678:call.tagged:1732616206",
        ),
        (
            COMMENTED,
            Some("disposition"),
            "812345678",
            "812345678:call.commented:1732616210",
        ),
    ];
    for (body, kind, call_id, key) in cases {
        let events = parse_json(body).expect("parses");
        match kind {
            None => assert!(events.is_empty(), "{events:?}"),
            Some(kind) => {
                assert_eq!(events.len(), 1);
                assert_eq!(events[0].event.kind(), kind, "{key}");
                assert_eq!(events[0].event.call_id(), call_id, "{key}");
                assert_eq!(events[0].dedupe_key, key);
            }
        }
    }
}

#[test]
fn created_and_answered_carry_the_numbers_and_the_agent() {
    match one(CREATED).event {
        CallEvent::Started(s) => {
            assert_eq!(s.provider, Provider::Aircall);
            assert_eq!(s.direction, Direction::Inbound);
            assert_eq!(phone(&s.customer), Some("+14155550123"));
            assert_eq!(s.line.as_ref().and_then(phone), Some("+14155550100"));
            assert_eq!(s.started_at.timestamp(), 1_732_616_021);
        }
        other => panic!("expected a start, got {other:?}"),
    }
    match one(ANSWERED).event {
        CallEvent::Answered(a) => {
            assert_eq!(a.at.timestamp(), 1_732_616_033);
            assert_eq!(a.agent.email(), Some("camille.martin@acme.test"));
            assert_eq!(a.agent.name.as_deref(), Some("Camille Martin"));
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn the_ended_call_is_answered_by_the_user() {
    let call = ended(ENDED);
    assert_eq!(call.call_id, "812345678");
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(
        call.answered_by.as_ref().and_then(AgentRef::email),
        Some("camille.martin@acme.test")
    );
    assert_eq!(phone(&call.customer), Some("+14155550123"));
    assert_eq!(call.line.as_ref().and_then(phone), Some("+14155550100"));
    assert_eq!(call.started_at.timestamp(), 1_732_616_021);
    assert_eq!(call.ended_at.map(|t| t.timestamp()), Some(1_732_616_140));
    assert_eq!(call.total_seconds, 119);
    assert_eq!(call.talk_seconds, Some(107));
    assert_eq!(call.department.as_deref(), Some("Support"));
    assert_eq!(call.location.as_deref(), Some("US"));
    let rec = call.recording.expect("recording");
    assert!(rec.url.contains("/recording.mp3?"), "{}", rec.url);
    assert_eq!(call.legs.len(), 1);
    assert!(call.legs[0].received);
    assert_eq!(call.legs[0].duration_seconds, Some(107));
}

#[test]
fn a_missed_ring_group_call_is_one_missed_call() {
    // The Support team rang on every agent; nobody answered.
    let call = ended(MISSED);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
    assert_eq!(call.talk_seconds, Some(0));
    assert_eq!(call.recording, None);
    assert_eq!(call.legs.len(), 1);
    assert_eq!(call.legs[0].status, "agents_did_not_answer");
    assert!(!call.legs[0].received);
}

#[test]
fn a_simultaneous_ring_answered_by_one_agent_is_answered() {
    // Aircall reports the call once, with the agent who picked up; the colleagues it also
    // rang on do not turn it into missed calls.
    let body = with_data(ENDED, json!({"missed_call_reason": null}));
    assert_eq!(ended(&body).outcome, Outcome::Answered);
    // And per-agent events are not calls of their own.
    let ringing = ENDED.replace("\"call.ended\"", "\"call.ringing_on_agent\"");
    assert_eq!(parse_json(&ringing), Ok(Vec::new()));
}

#[test]
fn voicemail_is_one_missed_call_with_the_voicemail() {
    let call = ended(VOICEMAIL);
    assert_eq!(call.outcome, Outcome::Missed);
    let rec = call.recording.expect("voicemail");
    assert!(rec.url.contains("/voicemail.mp3?"), "{}", rec.url);
    assert_eq!(call.legs[0].status, "voicemail");
    // Even when Aircall marks the voicemail box as having answered.
    let body = with_data(VOICEMAIL, json!({"answered_at": 1732640410}));
    let call = ended(&body);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
}

#[test]
fn a_transfer_lists_both_agents_in_call_order() {
    let call = ended(TRANSFERRED);
    assert_eq!(call.outcome, Outcome::Answered);
    let names: Vec<_> = call
        .legs
        .iter()
        .map(|l| (l.status.as_str(), l.received, l.agents[0].label()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("answered", true, "Camille Martin".to_string()),
            ("transferred", true, "Jordan Lee".to_string()),
        ]
    );
    assert_eq!(
        call.answered_by.as_ref().and_then(AgentRef::email),
        Some("camille.martin@acme.test")
    );
    // The transfer leg has no start time of its own, so the order of the legs is what tells
    // the planner who took the call last.
    for (policy, email) in [
        (AnsweringAgent::First, "camille.martin@acme.test"),
        (AnsweringAgent::Last, "jordan.lee@acme.test"),
    ] {
        let agent = answering_agent(&call, policy).and_then(AgentRef::email);
        assert_eq!(agent, Some(email), "{policy:?}");
    }
    assert_eq!(call.talk_seconds, Some(312));
}

#[test]
fn an_unanswered_outbound_call_is_missed_with_the_caller_on_its_leg() {
    let call = ended(OUTBOUND);
    assert_eq!(call.direction, Direction::Outbound);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.to().and_then(phone), Some("+14155550123"));
    assert_eq!(call.department, None);
    assert_eq!(call.legs[0].agents[0].email(), Some("jordan.lee@acme.test"));
}

#[test]
fn tags_and_comments_are_dispositions() {
    let expected = |at: i64| Disposition {
        provider: Provider::Aircall,
        call_id: "812345678".into(),
        at: Utc.timestamp_opt(at, 0).single().expect("time"),
        dispositions: vec!["Billing".into(), "Refund requested".into()],
        comment: Some("Customer wants a refund for the November invoice.".into()),
        agent: data_agent(),
    };
    for (body, at) in [(TAGGED, 1_732_616_206), (COMMENTED, 1_732_616_210)] {
        match one(body).event {
            CallEvent::Disposition(d) => assert_eq!(d, expected(at)),
            other => panic!("expected a disposition, got {other:?}"),
        }
    }
}

fn data_agent() -> Option<AgentRef> {
    Some(AgentRef {
        email: Some("camille.martin@acme.test".into()),
        name: Some("Camille Martin".into()),
        extension: None,
        phone: None,
    })
}

#[test]
fn redeliveries_share_a_dedupe_key() {
    assert_eq!(one(ENDED), one(ENDED));
    assert_ne!(
        one(ENDED).dedupe_key,
        one(HUNGUP.replace("call.hungup", "call.answered").as_str()).dedupe_key
    );
    // A later tagging of the same call is new.
    let later = TAGGED.replace("1732616206,\n  \"token\"", "1732616300,\n  \"token\"");
    assert_ne!(one(TAGGED).dedupe_key, one(&later).dedupe_key);
}

#[test]
fn other_resources_and_events_are_ignored() {
    let cases = [
        json!({"resource": "user", "event": "user.opened", "token": TOKEN, "data": {"id": 1}}),
        json!({"resource": "contact", "event": "contact.created", "data": {"id": 1}}),
        json!({"event": "call.hungup", "data": {"id": 1}}),
        json!({"event": "call.voicemail_left", "data": {"id": 1}}),
    ];
    for body in cases {
        assert_eq!(parse_json(&body.to_string()), Ok(Vec::new()), "{body}");
    }
}

#[test]
fn bad_input_is_named_precisely() {
    let form = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    let cases: Vec<(String, &Headers, SourceError)> = vec![
        ("".into(), &[], SourceError::Empty),
        (
            "{\"event\": ".into(),
            &[],
            SourceError::MalformedJson("EOF while parsing a value at line 1 column 10".into()),
        ),
        (
            "[]".into(),
            &[],
            SourceError::Shape("expected the webhook as a JSON object, got an array".into()),
        ),
        (
            "event=call.ended".into(),
            &form,
            SourceError::Shape("Aircall sends JSON; this is a form body".into()),
        ),
        (
            json!({"data": {}}).to_string(),
            &[],
            SourceError::MissingField("event"),
        ),
        (
            json!({"event": "call.ended"}).to_string(),
            &[],
            SourceError::MissingField("data"),
        ),
        (
            json!({"event": "call.ended", "data": [1]}).to_string(),
            &[],
            invalid("data", "expected the call object, got an array".into()),
        ),
        (
            with_data(ENDED, json!({"id": null})),
            &[],
            SourceError::MissingField("data.id"),
        ),
        (
            with_data(ENDED, json!({"direction": null})),
            &[],
            SourceError::MissingField("data.direction"),
        ),
        (
            with_data(ENDED, json!({"direction": "sideways"})),
            &[],
            invalid(
                "data.direction",
                "\"sideways\" is not inbound or outbound".into(),
            ),
        ),
        (
            with_data(ENDED, json!({"started_at": null})),
            &[],
            SourceError::MissingField("data.started_at"),
        ),
        (
            with_data(ENDED, json!({"ended_at": "soon"})),
            &[],
            invalid("data.ended_at", "\"soon\" is not epoch seconds".into()),
        ),
        // Out of range even as milliseconds: quoted as sent, not divided by 1000.
        (
            with_data(ENDED, json!({"ended_at": 99_999_999_999_999_999_i64})),
            &[],
            invalid("data.ended_at", "99999999999999999 is out of range".into()),
        ),
        (
            with_data(ENDED, json!({"started_at": "18446744073709551615"})),
            &[],
            invalid(
                "data.started_at",
                "\"18446744073709551615\" is not epoch seconds".into(),
            ),
        ),
        (
            with_data(ENDED, json!({"started_at": u64::MAX})),
            &[],
            invalid(
                "data.started_at",
                "18446744073709551615 is out of range".into(),
            ),
        ),
        (
            with_data(ENDED, json!({"answered_at": {"at": 1}})),
            &[],
            invalid(
                "data.answered_at",
                "expected epoch seconds, got an object".into(),
            ),
        ),
        (
            with_data(ENDED, json!({"duration": "long"})),
            &[],
            invalid(
                "data.duration",
                "\"long\" is not a number of seconds".into(),
            ),
        ),
        (
            with_data(TAGGED, json!({"tags": "Billing"})),
            &[],
            invalid("data.tags", "expected a list, got a string".into()),
        ),
    ];
    for (body, headers, expected) in cases {
        assert_eq!(
            parse(&inbound(&body, headers), &us()),
            Err(expected),
            "{body}"
        );
    }
}

#[test]
fn the_token_in_the_body_is_checked() {
    let no_token = json!({"event": "call.ended", "data": {"id": 1}}).to_string();
    let cases = [
        (ENDED, TOKEN, Ok(())),
        (CREATED, TOKEN, Ok(())),
        (
            ENDED,
            "a-different-token",
            Err(VerifyError::Mismatch("token")),
        ),
        (ENDED, "", Err(VerifyError::Mismatch("token"))),
        (no_token.as_str(), TOKEN, Err(VerifyError::Missing("token"))),
        ("not json", TOKEN, Err(VerifyError::Missing("token"))),
        ("{\"token\": 42}", TOKEN, Err(VerifyError::Missing("token"))),
    ];
    for (body, secret, expected) in cases {
        let headers = json_headers();
        assert_eq!(
            verify(&inbound(body, &headers), secret),
            expected,
            "{secret:?}"
        );
    }
}
