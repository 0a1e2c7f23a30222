//! Telling the webhooks apart, body-level errors, and one call id across a call's webhooks.

use super::*;

#[test]
fn each_shape_is_recognised_by_its_keys() {
    let cases: Vec<(Value, Webhook)> = vec![
        (
            json!({"event_id": "e", "event_type": "call.end"}),
            Webhook::V2,
        ),
        (json!({"event_id": "e"}), Webhook::V2),
        (json!({"event_type": "call.end"}), Webhook::V2),
        (json!({"uid": "d5.1.2", "call_state": 0}), Webhook::InCall),
        (json!({"uid": "d5.1.2"}), Webhook::InCall),
        (json!({"call_state": 1}), Webhook::InCall),
        (json!({"_ai": "a", "_dsp": []}), Webhook::Disposition),
        (json!({"_dsp": ["x"]}), Webhook::Disposition),
        (json!({"_ai": "a"}), Webhook::AfterCall),
        (json!({"_st": 1732362921}), Webhook::AfterCall),
        (json!({"_ai": "a", "_dsp": null}), Webhook::AfterCall),
        // Mixed bodies: the order of the rules decides.
        (
            json!({"event_id": "e", "uid": "u", "_ai": "a", "_dsp": []}),
            Webhook::V2,
        ),
        (
            json!({"uid": "u", "call_state": 0, "_ai": "a", "_dsp": []}),
            Webhook::InCall,
        ),
        // A null does not count as present.
        (json!({"event_id": null, "uid": "u"}), Webhook::InCall),
    ];
    for (body, expected) in cases {
        let Value::Object(map) = &body else {
            panic!("not an object");
        };
        assert_eq!(detect(map), Ok(expected), "{body}");
    }
}

#[test]
fn the_examples_give_the_events_they_describe() {
    let cases: [(&str, &[&str], &[&str]); 8] = [
        (AFTER_CALL_ANSWERED, &["ended"], &["6741c2a90dbe24a1"]),
        (AFTER_CALL_MISSED, &["ended"], &["6741c3f20dbe24b7"]),
        (
            IN_CALL_RINGING,
            &["started"],
            &["d5.1732362921.5512:started:"],
        ),
        (
            IN_CALL_ANSWERED,
            &["answered"],
            &["d5.1732362921.5512:answered:"],
        ),
        (
            DISPOSITION,
            &["ended", "disposition"],
            &["6741c2a90dbe24a1", "d5.1732362921.5512:disposition:"],
        ),
        (
            V2_ANSWERED,
            &["answered"],
            &["evt_01JDA7Q9X3M4K8R2T6V0W5Y1ZB"],
        ),
        (V2_SUMMARY, &["ended"], &["evt_01JDA7T4C8N2P6Q0S4U8W2Y6A0"]),
        (
            V2_DISPOSITION,
            &["disposition"],
            &["evt_01JDA7W1F5H9K3M7P1R5T9V3X7"],
        ),
    ];
    for (body, expected_kinds, key_prefixes) in cases {
        let got = events(body).expect("parses");
        assert_eq!(kinds(&got), expected_kinds, "{body}");
        for (e, prefix) in got.iter().zip(key_prefixes) {
            assert!(
                e.dedupe_key.starts_with(prefix),
                "{} vs {prefix}",
                e.dedupe_key
            );
        }
        // Parsing is pure: the same body gives the same events.
        assert_eq!(events(body), Ok(got));
    }
}

#[test]
fn the_v1_webhooks_of_one_call_share_its_call_id() {
    let ids: Vec<String> = [
        IN_CALL_RINGING,
        IN_CALL_ANSWERED,
        AFTER_CALL_ANSWERED,
        DISPOSITION,
    ]
    .iter()
    .flat_map(|body| events(body).expect("parses"))
    .map(|e| e.event.call_id().to_string())
    .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|id| id == "d5.1732362921.5512"), "{ids:?}");
    // ... while every delivery keeps its own dedupe key, except the Disposition's copy of
    // the call log, which is the After-Call's.
    let mut keys: Vec<String> = [
        IN_CALL_RINGING,
        IN_CALL_ANSWERED,
        AFTER_CALL_ANSWERED,
        DISPOSITION,
    ]
    .iter()
    .flat_map(|body| events(body).expect("parses"))
    .map(|e| e.dedupe_key)
    .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "{keys:?}");
}

#[test]
fn bodies_that_are_no_webhook_are_named_precisely() {
    let none = |found: &str| {
        SourceError::Shape(format!(
            "not a MyOperator webhook: expected event_id and event_type (v2), uid and \
             call_state (In-Call), or a call log with _ai (After-Call; with _dsp: \
             Disposition); {found}"
        ))
    };
    let cases: Vec<(&[u8], Option<&str>, SourceError)> = vec![
        (b"", Some("application/json"), SourceError::Empty),
        (b"  \n", None, SourceError::Empty),
        (
            b"{\"uid\": ",
            Some("application/json"),
            SourceError::MalformedJson("EOF while parsing a value at line 1 column 8".into()),
        ),
        (
            b"[1,2]",
            Some("application/json"),
            SourceError::Shape(
                "expected a MyOperator webhook as a JSON object, got an array".into(),
            ),
        ),
        (
            b"{\"myoperator\": \"[]\"}",
            None,
            SourceError::Shape(
                "expected a MyOperator webhook as a JSON object, got an array".into(),
            ),
        ),
        (b"{}", None, none("the object is empty")),
        (
            b"{\"caller_number\": \"+919876543210\", \"status\": \"answered\"}",
            Some("application/json; charset=utf-8"),
            none("found keys caller_number, status"),
        ),
        (
            b"{\"event_id\": null, \"call_state\": null, \"_dsp\": null, \"CallSid\": \"CA1\"}",
            None,
            none("found keys CallSid, _dsp, call_state, event_id"),
        ),
        (
            b"caller=1&status=answered",
            Some("application/x-www-form-urlencoded"),
            none("found keys caller, status"),
        ),
        (
            b"<xml/>",
            Some("text/xml"),
            SourceError::UnsupportedContentType("text/xml".into()),
        ),
    ];
    for (body, ct, expected) in cases {
        assert_eq!(
            parse_as(body, ct),
            Err(expected),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn the_found_keys_are_capped() {
    let body: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("k{i:02}"), json!(i))).collect();
    let Err(SourceError::Shape(message)) = detect(&body) else {
        panic!("expected a shape error");
    };
    assert!(
        message
            .ends_with("found keys k00, k01, k02, k03, k04, k05, k06, k07, k08, k09, k10, k11, …"),
        "{message}"
    );
}
