use serde_json::json;

use super::*;
use crate::plan::{answering_agent, AnsweringAgent};

const API_COMPLETED: &str =
    include_str!("../../../../../examples/exotel/status-callback-completed.json");
const API_NO_ANSWER: &str =
    include_str!("../../../../../examples/exotel/status-callback-no-answer.json");
const API_ANSWERED: &str =
    include_str!("../../../../../examples/exotel/status-callback-answered.json");
const INBOUND_FORM: &str =
    include_str!("../../../../../examples/exotel/status-callback-inbound.txt");
const PASSTHRU_COMPLETED: &str =
    include_str!("../../../../../examples/exotel/passthru-completed.txt");
const PASSTHRU_ATTEMPT: &str =
    include_str!("../../../../../examples/exotel/passthru-call-attempt.txt");
const PASSTHRU_INCOMPLETE: &str =
    include_str!("../../../../../examples/exotel/passthru-incomplete.txt");
const PASSTHRU_VOICEMAIL: &str =
    include_str!("../../../../../examples/exotel/passthru-voicemail.txt");

const CLICK_TO_CALL: &str = "b6cfaf7ecd2f4b8a9d3e1c0f5a7b2e91";
const UNANSWERED: &str = "0c4d9e2a7f1b4c8e9a6d3f2b1e0c5a77";
const RING_GROUP: &str = "5e8a1c3f9d2b4a6e8c0f7d1b3a5c9e24";
const FLOW: &str = "9a7c5e3b1d0f4e2a8c6b4d2f0e1a3c59";
const NOBODY: &str = "7f3e1d9c5b4a4c2e8f0a6b1d3c9e5a11";
const VOICEMAIL: &str = "2d4f6a8c0e1b4d3f5a7c9e0b2d4f6a83";

const URL: &str = "https://deskline.example.com/hooks/exotel";

fn india() -> PhoneParser {
    PhoneParser::new("IN").expect("region")
}

fn headers_for(body: &str) -> Vec<(String, String)> {
    let ct = if body.trim_start().starts_with(['{', '[']) {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    vec![("content-type".to_string(), ct.to_string())]
}

fn parse_at(
    body: &str,
    url: &str,
    settings: &ExotelSettings,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let headers = headers_for(body);
    let inbound = Inbound {
        body: body.trim_end().as_bytes(),
        headers: &headers,
        url,
    };
    parse(&inbound, &india(), settings)
}

fn parse_body(body: &str) -> Result<Vec<ParsedEvent>, SourceError> {
    parse_at(body, URL, &ExotelSettings::default())
}

fn one(body: &str) -> ParsedEvent {
    let mut events = parse_body(body).expect("parses");
    assert_eq!(events.len(), 1, "{body}");
    events.remove(0)
}

fn ended(body: &str) -> CallRecord {
    match one(body).event {
        CallEvent::Ended(r) => r,
        other => panic!("expected an end, got {other:?}"),
    }
}

/// A form sample with some parameters replaced (an empty value removes it) or added.
fn form_with(body: &str, changes: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.trim_end().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (k, v) in &pairs {
        match changes.iter().find(|(ck, _)| ck == k) {
            Some((_, "")) => {}
            Some((_, new)) => {
                s.append_pair(k, new);
            }
            None => {
                s.append_pair(k, v);
            }
        }
    }
    for (k, v) in changes {
        if !v.is_empty() && !pairs.iter().any(|(pk, _)| pk == k) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A JSON sample with fields replaced.
fn json_with(body: &str, changes: Value) -> String {
    let mut v: Value = serde_json::from_str(body).expect("sample");
    if let (Some(map), Some(changes)) = (v.as_object_mut(), changes.as_object()) {
        map.extend(changes.clone());
    }
    v.to_string()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn phone(p: &PartyNumber) -> Option<&str> {
    p.phone().map(|p| p.as_str())
}

#[test]
fn every_sample_maps_to_its_event() {
    let cases = [
        (API_COMPLETED, "ended", CLICK_TO_CALL, "completed"),
        (API_NO_ANSWER, "ended", UNANSWERED, "no-answer"),
        (API_ANSWERED, "answered", CLICK_TO_CALL, "answered"),
        (INBOUND_FORM, "ended", RING_GROUP, "completed"),
        (PASSTHRU_COMPLETED, "ended", FLOW, "completed"),
        (PASSTHRU_ATTEMPT, "started", FLOW, "call-attempt"),
        (PASSTHRU_INCOMPLETE, "ended", NOBODY, "incomplete"),
        (PASSTHRU_VOICEMAIL, "ended", VOICEMAIL, "voicemail"),
    ];
    for (body, kind, call_id, suffix) in cases {
        let event = one(body);
        assert_eq!(event.event.kind(), kind, "{call_id}");
        assert_eq!(event.event.call_id(), call_id);
        assert_eq!(event.dedupe_key, format!("{call_id}:{suffix}"));
    }
}

#[test]
fn a_click_to_call_is_outbound_with_the_agent_dialled_first() {
    let call = ended(API_COMPLETED);
    assert_eq!(call.provider, Provider::Exotel);
    assert_eq!(call.direction, Direction::Outbound);
    assert_eq!(phone(&call.customer), Some("+919876543210"));
    assert_eq!(call.line.as_ref().and_then(phone), Some("+918047112233"));
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(
        call.answered_by.as_ref().and_then(|a| a.phone.as_deref()),
        Some("+919810000011")
    );
    // Naive local times, read in Asia/Kolkata.
    assert_eq!(call.started_at, utc("2024-11-26T10:12:10Z"));
    assert_eq!(call.ended_at, Some(utc("2024-11-26T10:14:32Z")));
    assert_eq!(call.total_seconds, 142);
    assert_eq!(call.talk_seconds, Some(118));
    assert!(call.recording.expect("recording").url.ends_with(".mp3"));
    assert_eq!(call.legs.len(), 2);
    assert_eq!(
        call.legs[0].agents[0].phone.as_deref(),
        Some("+919810000011")
    );
    assert!(call.legs[1].agents.is_empty(), "the customer's leg");
}

#[test]
fn a_click_to_call_belongs_to_its_agent_whoever_answered_the_customers_leg() {
    let body = json_with(
        API_COMPLETED,
        json!({"Legs": [
            {"OnCallDuration": 141, "Status": "completed", "AnsweredBy": "09810000011"},
            {"OnCallDuration": 118, "Status": "completed", "AnsweredBy": "09876543210"}
        ]}),
    );
    let call = ended(&body);
    assert!(call.legs[1].agents.is_empty(), "the customer's leg");
    for policy in [AnsweringAgent::First, AnsweringAgent::Last] {
        assert_eq!(
            answering_agent(&call, policy).and_then(|a| a.phone.as_deref()),
            Some("+919810000011"),
            "{policy:?}"
        );
    }
}

#[test]
fn the_agents_own_leg_answering_is_not_an_answered_call() {
    let call = ended(API_NO_ANSWER);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
    assert_eq!(call.talk_seconds, Some(0));
    assert_eq!(call.recording, None, "null is no recording");
    // EndTime 1970-01-01 05:30:00 is unset: the callback's time stands in.
    assert_eq!(call.ended_at, Some(utc("2024-11-26T10:35:49Z")));
    assert!(call.legs[0].received && !call.legs[1].received);
}

#[test]
fn the_answered_callback_names_the_agent() {
    match one(API_ANSWERED).event {
        CallEvent::Answered(a) => {
            assert_eq!(a.at, utc("2024-11-26T10:12:33Z"));
            assert_eq!(a.agent.phone.as_deref(), Some("+919810000011"));
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn a_ring_group_answered_by_one_agent_is_answered_by_that_agent() {
    let call = ended(INBOUND_FORM);
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(phone(&call.customer), Some("+919876501234"));
    assert_eq!(call.line.as_ref().and_then(phone), Some("+918047112233"));
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(
        call.answered_by.as_ref().and_then(|a| a.phone.as_deref()),
        Some("+919810000011")
    );
    assert_eq!(call.legs.len(), 2);
    assert_eq!(call.legs[0].status, "no-answer");
    assert!(!call.legs[0].received);
    assert!(call.legs[1].received);
    assert_eq!(call.talk_seconds, Some(64));
}

#[test]
fn form_and_json_status_callbacks_read_alike() {
    let json = json!({
        "CallSid": RING_GROUP, "EventType": "terminal", "Status": "completed",
        "DateCreated": "2024-11-26 17:10:02", "DateUpdated": "2024-11-26 17:11:31",
        "To": "08047112233", "From": "09876501234", "PhoneNumberSid": "08047112233",
        "StartTime": "2024-11-26 17:10:02", "EndTime": "2024-11-26 17:11:28",
        "ConversationDuration": 64, "Direction": "inbound",
        "RecordingUrl": "https://recordings.exotel.com/exotelrecordings/acmesupport1/5e8a1c3f9d2b4a6e8c0f7d1b3a5c9e24.mp3",
        "CustomField": "",
        "Legs": [
            {"OnCallDuration": 0, "Status": "no-answer", "AnsweredBy": null},
            {"OnCallDuration": 64, "Status": "completed", "AnsweredBy": "09810000011"}
        ]
    })
    .to_string();
    let from_form = parse_body(INBOUND_FORM).expect("form");
    assert_eq!(parse_body(&json).expect("json"), from_form);
    // Lenient leg keys, and the list as a JSON string.
    let dotted = INBOUND_FORM.replace("%5B", ".").replace("%5D", "");
    assert_eq!(parse_body(&dotted).expect("dotted"), from_form);
    let legs_string = json_with(
        &json,
        json!({"Legs": "[{\"OnCallDuration\": 0, \"Status\": \"no-answer\"}, {\"OnCallDuration\": 64, \"Status\": \"completed\", \"AnsweredBy\": \"09810000011\"}]"}),
    );
    assert_eq!(parse_body(&legs_string).expect("legs string"), from_form);
}

#[test]
fn without_legs_the_status_decides() {
    let cases = [
        (
            json!({"Status": "completed", "ConversationDuration": 30}),
            Outcome::Answered,
        ),
        (
            json!({"Status": "completed", "ConversationDuration": 0}),
            Outcome::Missed,
        ),
        (json!({"Status": "busy"}), Outcome::Missed),
        (json!({"Status": "failed"}), Outcome::Missed),
    ];
    for (changes, expected) in cases {
        let mut body = json_with(API_COMPLETED, changes.clone());
        body = json_with(&body, json!({"Legs": null}));
        assert_eq!(ended(&body).outcome, expected, "{changes}");
    }
}

#[test]
fn the_passthru_after_a_connect_is_the_calls_end() {
    let call = ended(PASSTHRU_COMPLETED);
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(phone(&call.customer), Some("+919876543210"));
    assert_eq!(call.line.as_ref().and_then(phone), Some("+918047112233"));
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(
        call.answered_by.as_ref().and_then(|a| a.phone.as_deref()),
        Some("+919810000011")
    );
    assert_eq!(call.started_at, utc("2024-11-26T10:20:01Z"));
    assert_eq!(
        call.ended_at,
        Some(utc("2024-11-26T10:21:40Z")),
        "CurrentTime"
    );
    assert_eq!(call.total_seconds, 99);
    assert_eq!(call.talk_seconds, Some(73));
    assert!(call.recording.is_some());
    assert_eq!(call.legs.len(), 1);
    // Exotel's Passthru is a GET: the same parameters in the URL read the same.
    let url = format!("{URL}?{}&secret=s3cret", PASSTHRU_COMPLETED.trim_end());
    let get = parse_at("", &url, &ExotelSettings::default()).expect("query");
    assert_eq!(get, parse_body(PASSTHRU_COMPLETED).expect("body"));
}

#[test]
fn fallback_times_are_read_only_when_needed() {
    // A `Created` in an unexpected shape does not matter while `StartTime` is there.
    let body = form_with(PASSTHRU_COMPLETED, &[("Created", "26/11/2024")]);
    assert_eq!(ended(&body).started_at, utc("2024-11-26T10:20:01Z"));
    // Without `StartTime`, `Created` (RFC 2822 without a zone) stands in.
    let body = form_with(PASSTHRU_COMPLETED, &[("StartTime", "")]);
    assert_eq!(ended(&body).started_at, utc("2024-11-26T10:20:01Z"));
}

#[test]
fn a_call_still_in_the_flow_has_started() {
    match one(PASSTHRU_ATTEMPT).event {
        CallEvent::Started(s) => {
            assert_eq!(s.call_id, FLOW);
            assert_eq!(s.started_at, utc("2024-11-26T10:20:01Z"));
            assert_eq!(phone(&s.customer), Some("+919876543210"));
            assert!(s.ringing.is_empty());
        }
        other => panic!("expected a start, got {other:?}"),
    }
}

#[test]
fn voicemail_is_one_missed_call_with_the_voicemail() {
    let call = ended(PASSTHRU_VOICEMAIL);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
    assert!(call
        .recording
        .expect("voicemail")
        .url
        .ends_with("2d4f6a8c0e1b4d3f5a7c9e0b2d4f6a83.mp3"));
    assert_eq!(call.legs.len(), 1);
    assert_eq!(call.legs[0].status, "voicemail");
}

#[test]
fn an_incomplete_call_is_missed_and_names_the_agent_it_rang() {
    let call = ended(PASSTHRU_INCOMPLETE);
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
    assert_eq!(call.talk_seconds, Some(0));
    assert!(!call.legs[0].received);
    assert_eq!(
        call.legs[0].agents[0].phone.as_deref(),
        Some("+919810000012")
    );
}

#[test]
fn a_client_hangup_is_answered_only_after_talking() {
    for (duration, expected) in [("45", Outcome::Answered), ("0", Outcome::Missed)] {
        let body = form_with(
            PASSTHRU_COMPLETED,
            &[
                ("CallType", "client-hangup"),
                ("DialCallDuration", duration),
            ],
        );
        assert_eq!(ended(&body).outcome, expected, "{duration}");
    }
}

#[test]
fn the_connect_applets_call_status_maps_like_a_status() {
    let base = form_with(PASSTHRU_COMPLETED, &[("CallType", "")]);
    let cases = [
        ("ringing", "started"),
        ("in-progress", "answered"),
        ("completed", "ended"),
        ("no-answer", "ended"),
    ];
    for (status, kind) in cases {
        let body = form_with(&base, &[("CallStatus", status)]);
        let event = one(&body);
        assert_eq!(event.event.kind(), kind, "{status}");
        assert_eq!(event.dedupe_key, format!("{FLOW}:{status}"));
        match event.event {
            CallEvent::Started(s) => {
                assert_eq!(s.ringing[0].phone.as_deref(), Some("+919810000011"));
            }
            CallEvent::Answered(a) => {
                assert_eq!(a.agent.phone.as_deref(), Some("+919810000011"));
            }
            CallEvent::Ended(r) => {
                assert_eq!(r.outcome == Outcome::Answered, status == "completed");
            }
            CallEvent::Disposition(_) => panic!("no dispositions from Exotel"),
        }
    }
}

#[test]
fn times_are_read_in_the_configured_zone() {
    let singapore = ExotelSettings::with_time_zone("Asia/Singapore").expect("zone");
    let events = parse_at(API_COMPLETED, URL, &singapore).expect("parses");
    match &events[0].event {
        CallEvent::Ended(r) => assert_eq!(r.started_at, utc("2024-11-26T07:42:10Z")),
        other => panic!("expected an end, got {other:?}"),
    }
    assert_eq!(
        ExotelSettings::with_time_zone("Mars/Olympus"),
        Err(UnknownTimeZone("Mars/Olympus".into()))
    );
    assert_eq!(
        ExotelSettings::default().time_zone,
        chrono_tz::Asia::Kolkata
    );
    let kolkata = chrono_tz::Asia::Kolkata;
    let cases = [
        ("2024-11-26 15:42:10", Some("2024-11-26T10:12:10Z")),
        ("2024-11-26T15:42:10", Some("2024-11-26T10:12:10Z")),
        ("Tue, 26 Nov 2024 15:42:10", Some("2024-11-26T10:12:10Z")),
        ("2024-11-26T15:42:10+00:00", Some("2024-11-26T15:42:10Z")),
        // Epoch zero however rendered, and zero dates, are "unset".
        ("1970-01-01 05:30:00", None),
        ("0000-00-00 00:00:00", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            local_time("StartTime", raw, kolkata),
            Ok(expected.map(utc)),
            "{raw}"
        );
    }
    assert_eq!(
        local_time("EndTime", "1970-01-01 00:00:00", chrono_tz::UTC),
        Ok(None)
    );
}

#[test]
fn redeliveries_share_a_dedupe_key() {
    assert_eq!(one(API_COMPLETED), one(API_COMPLETED));
    assert_eq!(one(PASSTHRU_VOICEMAIL), one(PASSTHRU_VOICEMAIL));
    assert_ne!(one(API_COMPLETED).dedupe_key, one(API_ANSWERED).dedupe_key);
    assert_ne!(
        one(PASSTHRU_COMPLETED).dedupe_key,
        one(PASSTHRU_ATTEMPT).dedupe_key
    );
}

#[test]
fn bad_input_is_named_precisely() {
    let minimal = json!({
        "CallSid": UNANSWERED, "DateUpdated": "2024-11-26 16:05:49", "Status": "completed",
        "RecordingUrl": null
    })
    .to_string();
    let cases: Vec<(String, SourceError)> = vec![
        (" ".into(), SourceError::Empty),
        (
            "{\"CallSid\": ".into(),
            SourceError::MalformedJson("EOF while parsing a value at line 1 column 11".into()),
        ),
        (
            "[1]".into(),
            SourceError::Shape("expected the callback as a JSON object or a form".into()),
        ),
        (
            json_with(API_COMPLETED, json!({"CallSid": ""})),
            SourceError::MissingField("CallSid"),
        ),
        // The bare callback (no StatusCallbackEvents) has no numbers.
        (minimal, SourceError::MissingField("To")),
        (
            json_with(API_COMPLETED, json!({"Status": "exploded"})),
            invalid(
                "Status",
                "\"exploded\" is not one of completed, busy, no-answer, failed, canceled, \
                 in-progress, ringing, queued"
                    .into(),
            ),
        ),
        (
            json_with(API_COMPLETED, json!({"Direction": "sideways"})),
            invalid(
                "Direction",
                "\"sideways\" is not inbound, incoming, outbound-dial or outbound-api".into(),
            ),
        ),
        (
            json_with(API_COMPLETED, json!({"StartTime": "26/11/2024 15:42"})),
            invalid(
                "StartTime",
                "\"26/11/2024 15:42\" is not a time like \"2024-11-26 15:44:05\"".into(),
            ),
        ),
        (
            json_with(
                API_COMPLETED,
                json!({"StartTime": null, "DateCreated": null, "DateUpdated": null}),
            ),
            SourceError::MissingField("StartTime"),
        ),
        (
            json_with(API_COMPLETED, json!({"ConversationDuration": "long"})),
            invalid(
                "ConversationDuration",
                "\"long\" is not a number of seconds".into(),
            ),
        ),
        (
            json_with(API_COMPLETED, json!({"Legs": {"Status": "completed"}})),
            invalid("Legs", "expected a list of call legs".into()),
        ),
        (
            json_with(
                API_COMPLETED,
                json!({"Legs": [{"Status": "completed", "OnCallDuration": "x"}]}),
            ),
            invalid(
                "Legs.OnCallDuration",
                "\"x\" is not a number of seconds".into(),
            ),
        ),
        (
            form_with(PASSTHRU_COMPLETED, &[("CallType", "")]),
            SourceError::MissingField("CallType"),
        ),
        (
            form_with(PASSTHRU_COMPLETED, &[("CallType", "dropped")]),
            invalid(
                "CallType",
                "\"dropped\" is not one of call-attempt, completed, client-hangup, incomplete, \
                 voicemail"
                    .into(),
            ),
        ),
        (
            form_with(PASSTHRU_COMPLETED, &[("CallFrom", ""), ("From", "")]),
            SourceError::MissingField("CallFrom"),
        ),
        (
            form_with(PASSTHRU_COMPLETED, &[("DialCallDuration", "-3")]),
            invalid(
                "DialCallDuration",
                "\"-3\" is not a number of seconds".into(),
            ),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_body(&body), Err(expected), "{body}");
    }
    let xml = vec![("content-type".to_string(), "text/xml".to_string())];
    let inbound = Inbound {
        body: b"<Response/>",
        headers: &xml,
        url: URL,
    };
    assert_eq!(
        parse(&inbound, &india(), &ExotelSettings::default()),
        Err(SourceError::UnsupportedContentType("text/xml".into()))
    );
    // No body and no query.
    assert_eq!(
        parse_at("", &format!("{URL}?secret=x"), &ExotelSettings::default()),
        Err(SourceError::Empty)
    );
}

#[test]
fn a_secret_in_the_url_is_checked() {
    const WHAT: &str = "secret query parameter";
    let cases = [
        (format!("{URL}?secret=s3cr%2Bt"), "s3cr+t", Ok(())),
        (
            format!("{URL}?CallSid=x&secret=s3cr%2Bt#frag"),
            "s3cr+t",
            Ok(()),
        ),
        (
            format!("{URL}?secret=guess"),
            "s3cr+t",
            Err(VerifyError::Mismatch(WHAT)),
        ),
        (
            format!("{URL}?secret=s3cr%2Bt"),
            "",
            Err(VerifyError::Mismatch(WHAT)),
        ),
        (
            format!("{URL}?secret="),
            "s3cr+t",
            Err(VerifyError::Missing(WHAT)),
        ),
        (URL.to_string(), "s3cr+t", Err(VerifyError::Missing(WHAT))),
    ];
    for (url, secret, expected) in cases {
        let inbound = Inbound {
            body: PASSTHRU_COMPLETED.as_bytes(),
            headers: &[],
            url: &url,
        };
        assert_eq!(verify(&inbound, secret), expected, "{url}");
    }
}

/// Found by the `exotel` fuzz target: a `?` inside the fragment was read as the start of the
/// query, so a secret (and call fields) written after `#` counted.
#[test]
fn a_question_mark_in_the_fragment_starts_no_query() {
    let url = "https://deskline.example#com/hooks/so\u{fffd}\u{fffd}ce?secret=s1cret&CallSid=2d4f6a8c0e1b4d3f5a7c9e0b2d4f6a83&CallFrom=08970561234";
    let inbound = Inbound {
        body: b"",
        headers: &[],
        url,
    };
    assert_eq!(
        verify(&inbound, "s1cret"),
        Err(VerifyError::Missing("secret query parameter"))
    );
    assert_eq!(
        parse(&inbound, &india(), &ExotelSettings::default()),
        Err(SourceError::Empty)
    );
    let before = Inbound {
        url: "https://deskline.example/hooks/exotel?secret=s1cret#part?secret=other",
        ..inbound
    };
    assert_eq!(verify(&before, "s1cret"), Ok(()));
}
