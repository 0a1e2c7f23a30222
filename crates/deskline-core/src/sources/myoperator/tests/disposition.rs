//! The v1 Disposition webhook.

use super::*;
use crate::event::Disposition;

fn disposition_of(got: &[ParsedEvent]) -> Option<&Disposition> {
    got.iter().find_map(|e| match &e.event {
        CallEvent::Disposition(d) => Some(d),
        _ => None,
    })
}

/// A minimal disposition webhook: a call log with `_dsp` and `_cn` as given.
fn minimal(dsp: Value, cn: Value) -> Value {
    json!({
        "_ai": "6741c2a90dbe24a1", "_st": 1732362921, "_et": 1732363049, "_su": 1,
        "_cl": "+919876543210", "_pm": [{"ky": "ui", "vl": "d5.1732362921.5512"}],
        "_dsp": dsp, "_cn": cn
    })
}

#[test]
fn the_example_gives_the_call_then_its_disposition() {
    let got = events(DISPOSITION).expect("parses");
    assert_eq!(kinds(&got), ["ended", "disposition"]);
    // The call log it carries is the After-Call's, under the same key: a duplicate when the
    // After-Call came first, the call itself when that was lost.
    assert_eq!(got[0].dedupe_key, "6741c2a90dbe24a1");
    assert_eq!(got[0].event.call_id(), "d5.1732362921.5512");
    let after_call = events(AFTER_CALL_ANSWERED).expect("after-call");
    assert_eq!(got[0], after_call[0]);

    let d = disposition_of(&got).expect("disposition");
    assert_eq!(d.call_id, "d5.1732362921.5512");
    assert_eq!(d.dispositions, ["Billing query", "Resolved on call"]);
    assert!(d
        .comment
        .as_deref()
        .is_some_and(|c| c.starts_with("Charged twice") && !c.contains('\n')));
    let agent = d.agent.as_ref().expect("agent");
    assert_eq!(agent.email(), Some("priya.sharma@sandbox.test"));
    assert_eq!(agent.name.as_deref(), Some("Priya Sharma"));
    assert_eq!(agent.phone.as_deref(), Some("+919810000011"));
    assert_eq!(d.at.timestamp(), 1_732_363_105, "the comment's time");
    let key = &got[1].dedupe_key;
    let hash = key
        .strip_prefix("d5.1732362921.5512:disposition:")
        .expect("key shape");
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn disposition_elements_of_any_plausible_shape_are_named() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!(["Interested", "Callback"]),
            vec!["Interested", "Callback"],
        ),
        (json!([{"name": "Interested"}]), vec!["Interested"]),
        (json!([{"title": "Interested"}]), vec!["Interested"]),
        (json!([{"label": "Interested"}]), vec!["Interested"]),
        (json!([{"value": "Interested"}]), vec!["Interested"]),
        (json!([{"disposition": "Interested"}]), vec!["Interested"]),
        (
            json!([{"ky": "65a1f0c2b7e4d91a", "vl": "Interested"}]),
            vec!["Interested"],
        ),
        (
            json!([{"_id": "65a1f0c2b7e4d91a", "_na": "Interested"}]),
            vec!["Interested"],
        ),
        (
            json!([{"_id": "65a1f0c2b7e4d91a", "_nm": " Interested "}]),
            vec!["Interested"],
        ),
        // A preferred key wins over others; unknown keys fall back to a non-id string.
        (
            json!([{"value": "int-1", "name": "Interested"}]),
            vec!["Interested"],
        ),
        (
            json!([{"_id": "65a1", "category_id": "9", "wording": "Interested"}]),
            vec!["Interested"],
        ),
        (json!([{"_id": "65a1f0c2b7e4d91a"}]), vec![]),
        (json!([{}]), vec![]),
        // One value instead of a list; numbers; duplicates and nulls.
        (json!("Interested"), vec!["Interested"]),
        (json!({"name": "Interested"}), vec!["Interested"]),
        (
            json!([3, "Interested", null, "Interested", " "]),
            vec!["3", "Interested"],
        ),
        (json!([]), vec![]),
    ];
    for (dsp, expected) in cases {
        let got = events_of(&minimal(dsp.clone(), json!([]))).expect("parses");
        let names = disposition_of(&got)
            .map(|d| d.dispositions.clone())
            .unwrap_or_default();
        assert_eq!(names, expected, "{dsp}");
        // Nothing to say → only the call; something → the call and the disposition.
        let expected_kinds: &[&str] = if expected.is_empty() {
            &["ended"]
        } else {
            &["ended", "disposition"]
        };
        assert_eq!(kinds(&got), expected_kinds, "{dsp}");
    }
}

#[test]
fn comments_become_the_comment_and_name_the_agent() {
    let priya = json!({"_tx": "Refund raised.", "_ce": 1732363105, "_na": "Priya Sharma",
        "_em": "priya.sharma@sandbox.test"});
    let arjun = json!({"_tx": "Checked with billing: refund approved.", "_ce": 1732363300,
        "_na": "Arjun Mehta", "_em": "arjun.mehta@sandbox.test"});
    // (comments, expected comment, expected agent email, expected time)
    let cases: Vec<(Value, Option<&str>, Option<&str>, i64)> = vec![
        (
            json!([priya]),
            Some("Refund raised."),
            Some("priya.sharma@sandbox.test"),
            1_732_363_105,
        ),
        (
            json!([priya, arjun]),
            Some(
                "Priya Sharma: Refund raised.\nArjun Mehta: Checked with billing: refund approved.",
            ),
            Some("arjun.mehta@sandbox.test"),
            1_732_363_300,
        ),
        (
            json!([priya, {"_tx": "Second thought.", "_na": "Priya Sharma", "_em": "priya.sharma@sandbox.test"}]),
            Some("Refund raised.\nSecond thought."),
            Some("priya.sharma@sandbox.test"),
            1_732_363_105,
        ),
        (
            json!(["A plain comment"]),
            Some("A plain comment"),
            None,
            1_732_363_049,
        ),
        (json!("One string"), Some("One string"), None, 1_732_363_049),
        (json!([{"_tx": "  "}, null]), None, None, 1_732_363_049),
        (json!([]), None, None, 1_732_363_049),
        (Value::Null, None, None, 1_732_363_049),
    ];
    for (cn, comment, email, at) in cases {
        let got = events_of(&minimal(json!(["Interested"]), cn.clone())).expect("parses");
        let d = disposition_of(&got).expect("disposition");
        assert_eq!(d.comment.as_deref(), comment, "{cn}");
        assert_eq!(d.agent.as_ref().and_then(|a| a.email()), email, "{cn}");
        assert_eq!(d.at.timestamp(), at, "{cn}: else the end of the call");
    }
    // Comments alone, without a disposition, are still the agent's word.
    let got = events_of(&minimal(json!([]), json!([priya]))).expect("parses");
    assert_eq!(
        disposition_of(&got)
            .and_then(|d| d.comment.clone())
            .as_deref(),
        Some("Refund raised.")
    );
}

#[test]
fn without_comments_the_agent_is_the_one_who_took_the_call() {
    let mut log = example(DISPOSITION);
    log["_cn"] = json!([]);
    let got = events_of(&log).expect("parses");
    let d = disposition_of(&got).expect("disposition");
    assert_eq!(
        d.agent.as_ref().and_then(|a| a.email()),
        Some("Priya.Sharma@Sandbox.test")
    );
    assert_eq!(d.at.timestamp(), 1_732_363_049, "the call's end");
}

#[test]
fn a_resave_with_new_content_is_a_new_event_a_redelivery_is_not() {
    let key = |dsp: Value, cn: Value| {
        let got = events_of(&minimal(dsp, cn)).expect("parses");
        assert_eq!(got[0].dedupe_key, "6741c2a90dbe24a1");
        got.get(1).map(|e| e.dedupe_key.clone()).unwrap_or_default()
    };
    let base = key(json!(["Interested", "Callback"]), json!(["Call at 5"]));
    assert_eq!(
        key(json!(["Interested", "Callback"]), json!(["Call at 5"])),
        base
    );
    assert_eq!(
        key(json!(["Callback", "Interested"]), json!(["Call at 5"])),
        base,
        "order"
    );
    assert_eq!(
        key(
            json!([{"name": "Interested"}, "Callback"]),
            json!([{"_tx": "Call at 5"}])
        ),
        base,
        "same content, other shape"
    );
    assert_ne!(key(json!(["Interested"]), json!(["Call at 5"])), base);
    assert_ne!(
        key(json!(["Interested", "Callback"]), json!(["Call at 6"])),
        base
    );
    assert_ne!(
        key(
            json!(["Interested", "Callback"]),
            json!([{"_tx": "Call at 5", "_na": "Arjun"}])
        ),
        base,
        "another agent"
    );
    // A name and a comment with the same text are told apart.
    assert_ne!(key(json!(["x"]), json!([])), key(json!([]), json!(["x"])));
    // The whole example twice.
    assert_eq!(events(DISPOSITION), events(DISPOSITION));
}

#[test]
fn bad_input_names_the_field() {
    let cases: Vec<(Value, SourceError)> = vec![
        (
            minimal(json!(["ok", true]), json!([])),
            SourceError::InvalidField {
                field: "_dsp",
                reason: "element 2 is a boolean, not a disposition name or object".into(),
            },
        ),
        (
            minimal(json!([["nested"]]), json!([])),
            SourceError::InvalidField {
                field: "_dsp",
                reason: "element 1 is an array, not a disposition name or object".into(),
            },
        ),
        (
            minimal(json!(["ok"]), json!(5)),
            SourceError::InvalidField {
                field: "_cn",
                reason: "expected a list of comments, got a number".into(),
            },
        ),
        (
            minimal(json!(["ok"]), json!([false])),
            SourceError::InvalidField {
                field: "_cn",
                reason: "element 1 is a boolean, not a comment".into(),
            },
        ),
        (
            minimal(json!(["ok"]), json!([{"_tx": "hi", "_ce": "later"}])),
            SourceError::InvalidField {
                field: "_cn._ce",
                reason:
                    "\"later\" is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"
                        .into(),
            },
        ),
        (
            with(&minimal(json!(["ok"]), json!([])), &json!({"_ai": null})),
            SourceError::MissingField("_ai (call id)"),
        ),
        (
            with(&minimal(json!(["ok"]), json!([])), &json!({"_st": null})),
            SourceError::MissingField("_st (call start)"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(events_of(&body), Err(expected), "{body}");
    }
}
