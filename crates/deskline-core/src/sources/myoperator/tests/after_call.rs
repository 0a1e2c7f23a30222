//! The v1 After-Call webhook.

use super::*;

const ANSWERED: &str = AFTER_CALL_ANSWERED;
const MISSED: &str = AFTER_CALL_MISSED;

fn parse_json(body: &str) -> Result<CallRecord, SourceError> {
    parse_after_call(body.as_bytes(), Some("application/json"), &india())
}

#[test]
fn answered_call_is_assigned_to_the_leg_that_received_it() {
    let call = parse_json(ANSWERED).expect("parses");
    assert_eq!(call.call_id, "6741c2a90dbe24a1");
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(
        call.customer.phone().map(|p| p.as_str()),
        Some("+919876543210")
    );
    assert_eq!(call.outcome, Outcome::Answered);
    let agent = call.answered_by.as_ref().expect("agent");
    assert_eq!(agent.email(), Some("Priya.Sharma@Sandbox.test"));
    assert_eq!(agent.name.as_deref(), Some("Priya Sharma"));
    assert_eq!(call.total_seconds, 128);
    assert_eq!(call.talk_seconds, Some(98));
    assert_eq!(call.started_at.timestamp(), 1_732_362_921);
    assert_eq!(call.ended_at.map(|t| t.timestamp()), Some(1_732_363_049));
    assert_eq!(call.department.as_deref(), Some("Support"));
    assert_eq!(call.location.as_deref(), Some("MH, IN"));
    let rec = call.recording.as_ref().expect("recording");
    assert!(rec.url.starts_with("https://app.myoperator.co/audio/"));
    assert_eq!(
        rec.file_name.as_deref(),
        Some("a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b.mp3")
    );
    assert_eq!(call.legs.len(), 2);
    assert!(!call.legs[0].received && call.legs[1].received);
}

#[test]
fn missed_call_has_no_agent_and_no_recording() {
    let call = parse_json(MISSED).expect("parses");
    assert_eq!(call.outcome, Outcome::Missed);
    assert_eq!(call.answered_by, None);
    assert_eq!(call.recording, None);
    assert_eq!(call.talk_seconds, Some(0));
    assert_eq!(call.legs[0].agents.len(), 2);
}

#[test]
fn the_three_envelopes_give_the_same_record() {
    let bare = parse_json(ANSWERED).expect("bare");
    let log: Value = serde_json::from_str(ANSWERED).expect("json");
    let wrapped = json!({ "myoperator": log }).to_string();
    assert_eq!(parse_json(&wrapped).expect("wrapped"), bare);
    let wrapped_string = json!({ "myoperator": ANSWERED }).to_string();
    assert_eq!(parse_json(&wrapped_string).expect("wrapped string"), bare);
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("myoperator", ANSWERED)
        .finish();
    let from_form = parse_after_call(
        form.as_bytes(),
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        &india(),
    )
    .expect("form");
    assert_eq!(from_form, bare);
    // No content type at all is read as JSON.
    assert_eq!(
        parse_after_call(ANSWERED.as_bytes(), None, &india()).expect("no content type"),
        bare
    );
}

#[test]
fn a_simultaneous_ring_answered_by_one_agent_is_answered() {
    let body = json!({
        "_ai": "ring-all", "_st": 1732362921, "_dr": "00:00:40", "_ev": 1, "_su": 2,
        "_cl": "+919876543210",
        "_ld": [
            {"_ac": "missed", "_ds": "NOANSWER", "_rr": [{"_em": "a@x.test"}], "_dr": "00:00:10"},
            {"_ac": "received", "_ds": "ANSWER", "_rr": [{"_em": "b@x.test"}], "_dr": "00:00:30"},
            {"_ac": "missed", "_ds": "NOANSWER", "_rr": [{"_em": "c@x.test"}], "_dr": "00:00:10"}
        ]
    });
    let call = parse_json(&body.to_string()).expect("parses");
    assert_eq!(call.outcome, Outcome::Answered, "the leg log wins over _su");
    assert_eq!(
        call.answered_by.and_then(|a| a.email),
        Some("b@x.test".into())
    );
}

#[test]
fn without_a_leg_log_the_call_status_decides() {
    for (su, expected) in [(json!(1), Outcome::Answered), (json!("2"), Outcome::Missed)] {
        let body = json!({"_ai": "x", "_st": 1732362921, "_su": su, "_cl": "+919876543210"});
        assert_eq!(
            parse_json(&body.to_string()).expect("parses").outcome,
            expected
        );
    }
}

#[test]
fn numbers_are_normalised_and_withheld_callers_recognised() {
    let cases = [
        (json!({"_cl": "+919876543210"}), "+919876543210"),
        (json!({"_cr": "9876543210"}), "+919876543210"),
        (json!({"_cr": "2025550100", "_cy": "1"}), "+12025550100"),
        (json!({"_cr": "09876543210", "_cy": "91"}), "+919876543210"),
        (json!({"_cl": "", "_cr": ""}), "withheld"),
        (json!({"_cl": "anonymous"}), "withheld"),
        (json!({}), "withheld"),
        (json!({"_cl": "#31#"}), "unparseable"),
    ];
    for (numbers, expected) in cases {
        let mut body = json!({"_ai": "n", "_st": 1732362921, "_su": 2});
        if let (Some(b), Some(n)) = (body.as_object_mut(), numbers.as_object()) {
            b.extend(n.clone());
        }
        let call = parse_json(&body.to_string()).expect("parses");
        let got = match &call.customer {
            PartyNumber::Known { phone } => phone.to_string(),
            PartyNumber::Withheld => "withheld".to_string(),
            PartyNumber::Unparseable { .. } => "unparseable".to_string(),
        };
        assert_eq!(got, expected, "{numbers}");
    }
}

#[test]
fn outgoing_calls_are_outbound() {
    let body = json!({"_ai": "o", "_st": 1732362921, "_ev": 2, "_su": 1, "_cl": "+919876543210"});
    let call = parse_json(&body.to_string()).expect("parses");
    assert_eq!(call.direction, Direction::Outbound);
    assert_eq!(
        call.to().and_then(PartyNumber::phone).map(|p| p.as_str()),
        Some("+919876543210")
    );
}

#[test]
fn bad_input_is_named_precisely() {
    let cases: [(&[u8], Option<&str>, SourceError); 11] = [
        (b"", Some("application/json"), SourceError::Empty),
        (
            b"{\"_ai\": ",
            Some("application/json"),
            SourceError::MalformedJson("EOF while parsing a value at line 1 column 8".into()),
        ),
        (
            b"[1,2]",
            Some("application/json"),
            SourceError::Shape("expected the call log as a JSON object, got an array".into()),
        ),
        (
            b"{\"myoperator\": 5}",
            None,
            SourceError::Shape("expected the call log as a JSON object, got a number".into()),
        ),
        (
            b"{\"_st\": 1732362921}",
            None,
            SourceError::MissingField("_ai (call id)"),
        ),
        (
            b"{\"_ai\": \"a\"}",
            None,
            SourceError::MissingField("_st (call start)"),
        ),
        (
            b"{\"_ai\": \"a\", \"_st\": \"yesterday\"}",
            None,
            SourceError::InvalidField {
                field: "_st",
                reason: "\"yesterday\" is not a whole number".into(),
            },
        ),
        (
            b"{\"_ai\": \"a\", \"_st\": 1732362921, \"_ev\": 7}",
            None,
            SourceError::InvalidField {
                field: "_ev",
                reason: "7 is not 1 (incoming) or 2 (outgoing)".into(),
            },
        ),
        (
            b"{\"_ai\": \"a\", \"_st\": 1732362921, \"_dr\": \"2 minutes\"}",
            None,
            SourceError::InvalidField {
                field: "_dr",
                reason: "\"2 minutes\" is not a duration like 00:01:05".into(),
            },
        ),
        (
            b"caller=1",
            Some("application/x-www-form-urlencoded"),
            SourceError::Shape("the form has no myoperator field holding the call log".into()),
        ),
        (
            b"<xml/>",
            Some("text/xml"),
            SourceError::UnsupportedContentType("text/xml".into()),
        ),
    ];
    for (body, ct, expected) in cases {
        let got = parse_after_call(body, ct, &india());
        assert_eq!(got, Err(expected), "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn a_transfer_goes_by_the_leg_times_whatever_the_order_of_ld() {
    use crate::plan::{answering_agent, AnsweringAgent};
    let agent = |name: &str, email: &str| json!([{"_na": name, "_em": email}]);
    let mut log: Value = serde_json::from_str(ANSWERED).expect("sample");
    // Priya took the call at 11:55:51 and passed it to Arjun at 11:57:00; the log lists
    // Arjun's leg first.
    log["_ld"] = json!([
        {"_ac": "received", "_st": 1_732_363_020, "_et": 1_732_363_049, "_dr": "00:00:29",
         "_rr": agent("Arjun Mehta", "arjun.mehta@sandbox.test")},
        {"_ac": "received", "_st": 1_732_362_951, "_et": 1_732_363_020, "_dr": "00:01:09",
         "_rr": agent("Priya Sharma", "priya.sharma@sandbox.test")},
    ]);
    let call = parse_json(&log.to_string()).expect("parses");
    for (policy, email) in [
        (AnsweringAgent::First, "priya.sharma@sandbox.test"),
        (AnsweringAgent::Last, "arjun.mehta@sandbox.test"),
    ] {
        let got = answering_agent(&call, policy).and_then(AgentRef::email);
        assert_eq!(got, Some(email), "{policy:?}");
    }
}

#[test]
fn time_errors_quote_the_value_as_sent() {
    let out_of_range = |field: &'static str, sent: &str| SourceError::InvalidField {
        field,
        reason: format!("{sent} is out of range"),
    };
    let cases = [
        // Read as milliseconds, still past chrono's last year: the message once said
        // 99999999999999, the value divided by 1000.
        (
            r#"{"_ai": "a", "_st": 99999999999999999}"#,
            out_of_range("_st", "99999999999999999"),
        ),
        (
            r#"{"_ai": "a", "_st": "99999999999999999"}"#,
            out_of_range("_st", "\"99999999999999999\""),
        ),
        // Above i64: once read as a float and clamped to 9223372036854775.
        (
            r#"{"_ai": "a", "_st": 18446744073709551615}"#,
            out_of_range("_st", "18446744073709551615"),
        ),
        // A float is quoted as JSON prints it back (same value, canonical notation), not as
        // the i64 it was clamped to.
        (r#"{"_ai": "a", "_st": 1e30}"#, out_of_range("_st", "1e+30")),
        (
            r#"{"_ai": "a", "_ms": 99999999999999999}"#,
            out_of_range("_ms", "99999999999999999"),
        ),
        (
            r#"{"_ai": "a", "_st": 1732362921, "_et": 99999999999999999}"#,
            out_of_range("_et", "99999999999999999"),
        ),
        (
            r#"{"_ai": "a", "_st": 1732362921, "_ld": [{"_st": 99999999999999999}]}"#,
            out_of_range("_ld._st", "99999999999999999"),
        ),
        (
            r#"{"_ai": "a", "_st": -5}"#,
            SourceError::InvalidField {
                field: "_st",
                reason: "-5 is not a time".into(),
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_json(body), Err(expected), "{body}");
    }
}

#[test]
fn durations_accept_the_provider_formats() {
    assert_eq!(duration("_dr", "00:01:05"), Ok(65));
    assert_eq!(duration("_dr", "01:05"), Ok(65));
    assert_eq!(duration("_dr", "65"), Ok(65));
    assert!(duration("_dr", "00:61:00").is_err());
    assert!(duration("_dr", "").is_err());
}

#[test]
fn parse_keys_the_record_on_the_unique_call_id_and_dedupes_on_ai() {
    let got = events(ANSWERED).expect("parses");
    assert_eq!(kinds(&got), ["ended"]);
    assert_eq!(
        got[0].dedupe_key, "6741c2a90dbe24a1",
        "the key existing data uses"
    );
    let CallEvent::Ended(record) = &got[0].event else {
        panic!("not ended: {got:?}");
    };
    assert_eq!(record.call_id, "d5.1732362921.5512", "_pm[ky=ui].vl");
    // Apart from the call id it is the record the older entry point gives.
    let mut legacy = parse_json(ANSWERED).expect("parses");
    assert_eq!(legacy.call_id, "6741c2a90dbe24a1");
    legacy.call_id = record.call_id.clone();
    assert_eq!(&legacy, record);
}

#[test]
fn the_correlation_id_is_pm_ui_else_ai() {
    let cases = [
        (
            json!([{"ky": "ui", "vl": "d5.1.2"}, {"ky": "is", "vl": "0"}]),
            "d5.1.2",
        ),
        (
            json!([{"ky": "is", "vl": "0"}, {"ky": "ui", "vl": " d5.3.4 "}]),
            "d5.3.4",
        ),
        (json!({"ui": "d5.5.6"}), "d5.5.6"),
        (json!([{"ky": "ui", "vl": ""}]), "the-ai"),
        (json!([{"ky": "is", "vl": "0"}]), "the-ai"),
        (json!([]), "the-ai"),
        (json!("ui"), "the-ai"),
        (Value::Null, "the-ai"),
    ];
    for (pm, expected) in cases {
        let body = json!({"_ai": "the-ai", "_st": 1732362921, "_su": 2, "_pm": pm});
        let event = only(&body);
        assert_eq!(event.event.call_id(), expected, "{pm}");
        assert_eq!(event.dedupe_key, "the-ai", "{pm}");
        if let Some(log) = body.as_object() {
            assert_eq!(correlation_id(log).as_deref(), Some(expected), "{pm}");
        }
    }
}

#[test]
fn a_redelivery_in_any_envelope_gives_the_same_event() {
    let first = events(ANSWERED).expect("bare");
    let wrapped = json!({ "myoperator": example(ANSWERED) }).to_string();
    let as_string = json!({ "myoperator": ANSWERED }).to_string();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("myoperator", ANSWERED)
        .finish();
    for again in [
        events(ANSWERED).expect("again"),
        events(&wrapped).expect("wrapped"),
        events(&as_string).expect("wrapped string"),
        parse_as(form.as_bytes(), Some("application/x-www-form-urlencoded")).expect("form"),
        parse_as(ANSWERED.as_bytes(), None).expect("no content type"),
    ] {
        assert_eq!(again, first);
    }
}

#[test]
fn the_missed_example_is_one_missed_call() {
    let got = events(MISSED).expect("parses");
    assert_eq!(got[0].dedupe_key, "6741c3f20dbe24b7");
    assert_eq!(got[0].event.call_id(), "d5.1732363250.5519");
    let CallEvent::Ended(record) = &got[0].event else {
        panic!("not ended");
    };
    assert_eq!(record.outcome, Outcome::Missed);
}
