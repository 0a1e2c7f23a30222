use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::call::{AgentRef, CallLeg, Provider, Recording};
use crate::directory::StaticDirectory;
use crate::phone::PhoneParser;

const MISSED_GROUP: u64 = 20003;

fn directory() -> StaticDirectory {
    StaticDirectory::new()
        .with_agent(30011, "Priya Sharma", "priya.sharma@sandbox.test")
        .with_agent(30022, "Vikram Rao", "Vikram.Rao@sandbox.test")
        .with_group(20001, "Support")
        .with_group(MISSED_GROUP, "Voice-Missed-Calls")
}

fn settings() -> CallPlanSettings {
    CallPlanSettings {
        fallback_group: GroupRef::Name("voice-missed-calls".into()),
        fields: CallFields {
            call_id: Some(10001),
            direction: Some(10002),
            duration: Some(10003),
            recording_url: Some(10004),
            caller_number: Some(10005),
        },
        templates: Templates::defaults(),
        time_zone: chrono_tz::Asia::Kolkata,
        talk_partner_edition: false,
        shared_requester: SharedRequester {
            email: "unknown-caller@deskline.invalid".into(),
            name: "Unknown caller".into(),
        },
        public_note: false,
        extra_tags: vec![],
        answering_agent: AnsweringAgent::default(),
        agent_numbers: BTreeMap::from([(
            "12".to_string(),
            "priya.sharma@sandbox.test".to_string(),
        )]),
        after_hours: None,
    }
}

fn call(outcome: Outcome, agent_email: Option<&str>, customer: &str) -> CallRecord {
    let phones = PhoneParser::new("IN").expect("region");
    let agent = agent_email.map(|e| AgentRef {
        email: Some(e.to_string()),
        name: Some("Agent Name".into()),
        ..AgentRef::default()
    });
    CallRecord {
        provider: Provider::MyOperator,
        call_id: "c-1".into(),
        direction: Direction::Inbound,
        customer: phones.parse(customer),
        line: None,
        started_at: Utc
            .with_ymd_and_hms(2024, 11, 23, 11, 55, 21)
            .single()
            .expect("time"),
        ended_at: None,
        total_seconds: 128,
        talk_seconds: Some(98),
        outcome,
        answered_by: if outcome == Outcome::Answered {
            agent
        } else {
            None
        },
        department: Some("Customer Care".into()),
        location: Some("MH, IN".into()),
        recording: (outcome == Outcome::Answered).then(|| Recording {
            url: "https://app.myoperator.co/audio/abc".into(),
            file_name: Some("abc.mp3".into()),
        }),
        legs: vec![CallLeg {
            started_at: None,
            ended_at: None,
            duration_seconds: Some(98),
            received: outcome == Outcome::Answered,
            status: "received".into(),
            agents: vec![],
        }],
    }
}

struct Case {
    name: &'static str,
    call: CallRecord,
    assignee: Option<u64>,
    group: Option<u64>,
    requester_shared: bool,
    tags_include: &'static [&'static str],
    unmatched: Option<&'static str>,
}

#[test]
fn assignment_requester_and_tags() {
    let cases = [
        Case {
            name: "answered by a known agent",
            call: call(
                Outcome::Answered,
                Some("priya.sharma@sandbox.test"),
                "+919876543210",
            ),
            assignee: Some(30011),
            group: None,
            requester_shared: false,
            tags_include: &[
                "deskline",
                "voice",
                "call_answered",
                "inbound",
                "department_customer_care",
            ],
            unmatched: None,
        },
        Case {
            name: "agent email differs only in case and spaces",
            call: call(
                Outcome::Answered,
                Some("  VIKRAM.rao@SANDBOX.test "),
                "9876543210",
            ),
            assignee: Some(30022),
            group: None,
            requester_shared: false,
            tags_include: &["call_answered"],
            unmatched: None,
        },
        Case {
            name: "answered by an agent Zendesk does not know",
            call: call(
                Outcome::Answered,
                Some("new.hire@sandbox.test"),
                "+919876543210",
            ),
            assignee: None,
            group: Some(MISSED_GROUP),
            requester_shared: false,
            tags_include: &["call_answered", "deskline_agent_unmatched"],
            unmatched: Some("new.hire@sandbox.test"),
        },
        Case {
            name: "answered without an agent email",
            call: call(Outcome::Answered, None, "+919876543210"),
            assignee: None,
            group: Some(MISSED_GROUP),
            requester_shared: false,
            tags_include: &["deskline_agent_unmatched"],
            unmatched: None,
        },
        Case {
            name: "missed call",
            call: call(Outcome::Missed, None, "+919876543210"),
            assignee: None,
            group: Some(MISSED_GROUP),
            requester_shared: false,
            tags_include: &["call_missed", "inbound"],
            unmatched: None,
        },
        Case {
            name: "withheld caller",
            call: call(Outcome::Missed, None, "anonymous"),
            assignee: None,
            group: Some(MISSED_GROUP),
            requester_shared: true,
            tags_include: &["call_missed", "caller_withheld"],
            unmatched: None,
        },
        Case {
            name: "unparseable number",
            call: call(Outcome::Answered, Some("priya.sharma@sandbox.test"), "#31#"),
            assignee: Some(30011),
            group: None,
            requester_shared: true,
            tags_include: &["caller_unrecognised"],
            unmatched: None,
        },
    ];
    for case in cases {
        let plan = plan_call("myoperator", &case.call, &settings(), &directory())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(plan.assignee_id, case.assignee, "{}", case.name);
        assert_eq!(plan.group_id, case.group, "{}", case.name);
        assert_eq!(
            matches!(plan.requester, RequesterPlan::Shared(_)),
            case.requester_shared,
            "{}",
            case.name
        );
        for tag in case.tags_include {
            assert!(
                plan.tags.iter().any(|t| t == tag),
                "{}: {tag} missing from {:?}",
                case.name,
                plan.tags
            );
        }
        assert_eq!(
            plan.unmatched_agent_email.as_deref(),
            case.unmatched,
            "{}",
            case.name
        );
        assert!(!plan.public_note, "{}: call notes are private", case.name);
        assert_eq!(plan.external_id, "myoperator:c-1");
    }
}

#[test]
fn fields_subject_and_note_carry_the_call() {
    let plan = plan_call(
        "myoperator",
        &call(
            Outcome::Answered,
            Some("priya.sharma@sandbox.test"),
            "+919876543210",
        ),
        &settings(),
        &directory(),
    )
    .expect("plan");
    assert_eq!(plan.subject, "Answered inbound call from +919876543210");
    assert_eq!(plan.custom_fields.get(&10001), Some(&json!("c-1")));
    assert_eq!(plan.custom_fields.get(&10002), Some(&json!("inbound")));
    assert_eq!(plan.custom_fields.get(&10003), Some(&json!(128)));
    assert_eq!(
        plan.custom_fields.get(&10004),
        Some(&json!("https://app.myoperator.co/audio/abc"))
    );
    assert_eq!(
        plan.custom_fields.get(&10005),
        Some(&json!("+919876543210"))
    );
    for line in [
        "From: +919876543210",
        "Started: 2024-11-23 17:25:21 IST (2024-11-23T11:55:21Z)",
        "Duration: 2m 08s (talk 1m 38s)",
        "Department: Customer Care",
        "Agent: Agent Name",
        "Recording: https://app.myoperator.co/audio/abc",
        "Provider call id: myoperator c-1",
    ] {
        assert!(
            plan.note.contains(line),
            "{line:?} missing from:\n{}",
            plan.note
        );
    }
    assert_eq!(plan.channel, TicketChannel::Tickets);
    assert_eq!(plan.voice, None);

    let missed = plan_call(
        "myoperator",
        &call(Outcome::Missed, None, "+919876543210"),
        &settings(),
        &directory(),
    )
    .expect("plan");
    assert_eq!(missed.subject, "Missed inbound call from +919876543210");
    assert!(
        !missed.custom_fields.contains_key(&10004),
        "no recording, no field"
    );
    assert!(!missed.note.contains("Agent:"));
}

#[test]
fn idempotency_keys_are_stable_and_distinct() {
    let a = call_idempotency_key("myoperator", "c-1");
    assert_eq!(a, call_idempotency_key("myoperator", "c-1"));
    assert_ne!(a, call_idempotency_key("myoperator", "c-2"));
    assert_ne!(a, call_idempotency_key("other-source", "c-1"));
    assert!(a.len() < 64 && a.starts_with("deskline-call-"));
    let long = call_idempotency_key("s", &"x".repeat(10_000));
    assert_eq!(long.len(), a.len());
}

#[test]
fn talk_partner_edition_picks_the_via_id() {
    let mut s = settings();
    s.talk_partner_edition = true;
    let answered = plan_call(
        "m",
        &call(
            Outcome::Answered,
            Some("priya.sharma@sandbox.test"),
            "+919876543210",
        ),
        &s,
        &directory(),
    )
    .expect("plan");
    assert_eq!(answered.channel, TicketChannel::Voice { via_id: 45 });
    let voice = answered.voice.expect("voice details");
    assert_eq!(voice.from.as_deref(), Some("+919876543210"));
    assert_eq!(voice.answered_by_id, Some(30011));
    assert_eq!(voice.call_duration, 128);

    let mut missed_with_voicemail = call(Outcome::Missed, None, "+919876543210");
    missed_with_voicemail.recording = Some(Recording {
        url: "https://vm".into(),
        file_name: None,
    });
    let vm = plan_call("m", &missed_with_voicemail, &s, &directory()).expect("plan");
    assert_eq!(vm.channel, TicketChannel::Voice { via_id: 44 });

    let mut outbound = call(
        Outcome::Answered,
        Some("priya.sharma@sandbox.test"),
        "+919876543210",
    );
    outbound.direction = Direction::Outbound;
    let out = plan_call("m", &outbound, &s, &directory()).expect("plan");
    assert_eq!(out.channel, TicketChannel::Voice { via_id: 46 });
    assert_eq!(
        out.voice.and_then(|v| v.to).as_deref(),
        Some("+919876543210")
    );
}

#[test]
fn an_unknown_fallback_group_is_a_plan_error_naming_it() {
    let mut s = settings();
    s.fallback_group = GroupRef::Name("Night Shift".into());
    let err = plan_call(
        "m",
        &call(Outcome::Missed, None, "+919876543210"),
        &s,
        &directory(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"Night Shift\""), "{err}");
    s.fallback_group = GroupRef::Id(999);
    assert!(plan_call(
        "m",
        &call(Outcome::Missed, None, "+919876543210"),
        &s,
        &directory()
    )
    .is_err());
    s.fallback_group = GroupRef::Id(MISSED_GROUP);
    assert!(plan_call(
        "m",
        &call(Outcome::Missed, None, "+919876543210"),
        &s,
        &directory()
    )
    .is_ok());
}

#[test]
fn tag_slugs() {
    assert_eq!(tag_slug("Customer Care"), "customer_care");
    assert_eq!(tag_slug("  Sales / EMEA "), "sales_emea");
    assert_eq!(tag_slug("---"), "");
}

fn leg(email: Option<&str>, phone: Option<&str>, ext: Option<&str>, received: bool) -> CallLeg {
    CallLeg {
        started_at: None,
        ended_at: None,
        duration_seconds: Some(30),
        received,
        status: if received { "received" } else { "missed" }.into(),
        agents: vec![AgentRef {
            email: email.map(str::to_string),
            name: None,
            extension: ext.map(str::to_string),
            phone: phone.map(str::to_string),
        }],
    }
}

/// A leg taken by `email` at `minute` past noon (`None`: the provider gave no time).
fn taken(email: &str, minute: Option<u32>, received: bool) -> CallLeg {
    CallLeg {
        started_at: minute.map(|m| {
            Utc.with_ymd_and_hms(2024, 11, 23, 12, m, 0)
                .single()
                .expect("time")
        }),
        ..leg(Some(email), None, None, received)
    }
}

#[test]
fn the_default_is_the_agent_who_took_the_call_last() {
    assert_eq!(AnsweringAgent::default(), AnsweringAgent::Last);
    #[derive(serde::Deserialize)]
    struct Source {
        #[serde(default)]
        answering_agent: AnsweringAgent,
    }
    let read = |text: &str| {
        toml::from_str::<Source>(text)
            .expect("toml")
            .answering_agent
    };
    assert_eq!(read(""), AnsweringAgent::Last);
    assert_eq!(read("answering_agent = \"first\""), AnsweringAgent::First);
    assert_eq!(read("answering_agent = \"last\""), AnsweringAgent::Last);
}

#[test]
fn transfers_go_to_the_first_or_last_answering_agent_by_time() {
    const PRIYA: &str = "priya.sharma@sandbox.test";
    const VIKRAM: &str = "vikram.rao@sandbox.test";
    const NOBODY: &str = "nobody@sandbox.test";
    let no_agent = CallLeg {
        agents: vec![],
        ..taken(NOBODY, Some(9), true)
    };
    // (case, legs, first, last): agent emails by policy.
    let cases: Vec<(&str, Vec<CallLeg>, &str, &str)> = vec![
        (
            "in order",
            vec![taken(PRIYA, Some(1), true), taken(VIKRAM, Some(3), true)],
            PRIYA,
            VIKRAM,
        ),
        (
            "listed out of order: the times decide",
            vec![taken(VIKRAM, Some(3), true), taken(PRIYA, Some(1), true)],
            PRIYA,
            VIKRAM,
        ),
        (
            "no times: the provider's order",
            vec![taken(PRIYA, None, true), taken(VIKRAM, None, true)],
            PRIYA,
            VIKRAM,
        ),
        (
            "one leg without a time (Aircall's transfer leg): the provider's order",
            vec![taken(PRIYA, Some(4), true), taken(VIKRAM, None, true)],
            PRIYA,
            VIKRAM,
        ),
        (
            "legs nobody took do not count, however late",
            vec![
                taken(NOBODY, Some(0), false),
                taken(PRIYA, Some(1), true),
                taken(VIKRAM, Some(2), true),
                taken(NOBODY, Some(8), false),
            ],
            PRIYA,
            VIKRAM,
        ),
        (
            "a received leg naming nobody does not count",
            vec![taken(PRIYA, Some(1), true), no_agent],
            PRIYA,
            PRIYA,
        ),
        (
            "started together: the provider's order",
            vec![taken(PRIYA, Some(1), true), taken(VIKRAM, Some(1), true)],
            PRIYA,
            VIKRAM,
        ),
        (
            "one agent",
            vec![taken(VIKRAM, Some(1), true)],
            VIKRAM,
            VIKRAM,
        ),
        (
            "no leg names an agent: the record's own",
            vec![taken(NOBODY, Some(1), false)],
            "agent@sandbox.test",
            "agent@sandbox.test",
        ),
    ];
    for (name, legs, first, last) in cases {
        let mut c = call(
            Outcome::Answered,
            Some("agent@sandbox.test"),
            "+919876543210",
        );
        c.legs = legs;
        for (policy, expected) in [(AnsweringAgent::First, first), (AnsweringAgent::Last, last)] {
            let got = answering_agent(&c, policy).and_then(AgentRef::email);
            assert_eq!(got, Some(expected), "{name}, {policy:?}");
        }
    }
}

#[test]
fn a_transferred_call_is_assigned_and_noted_under_the_policy() {
    let mut c = call(
        Outcome::Answered,
        Some("priya.sharma@sandbox.test"),
        "+919876543210",
    );
    c.legs = vec![
        taken("vikram.rao@sandbox.test", Some(3), true),
        taken("priya.sharma@sandbox.test", Some(1), true),
    ];
    let mut s = settings();
    for (policy, assignee, agent) in [
        (AnsweringAgent::Last, 30022, "vikram.rao@sandbox.test"),
        (AnsweringAgent::First, 30011, "priya.sharma@sandbox.test"),
    ] {
        s.answering_agent = policy;
        let plan = plan_call("m", &c, &s, &directory()).expect("plan");
        assert_eq!(plan.assignee_id, Some(assignee), "{policy:?}");
        assert!(
            plan.note.contains(&format!("Agent: {agent}")),
            "{policy:?}: the note names the assignee:\n{}",
            plan.note
        );
    }
}

#[test]
fn agents_known_by_number_or_extension() {
    let dir = directory().with_agent_phone(
        30015,
        "Emily Carter",
        "emily.carter@sandbox.test",
        "+14155550115",
    );
    let cases = [
        (
            leg(None, Some("+14155550115"), None, true),
            Some(30015),
            None,
        ),
        (leg(None, None, Some("12"), true), Some(30011), None),
        (leg(None, Some("12"), None, true), Some(30011), None),
        (
            leg(None, Some("+15550000000"), None, true),
            None,
            Some("+15550000000"),
        ),
        (
            leg(None, None, Some("99"), true),
            None,
            Some("extension 99"),
        ),
    ];
    for (l, assignee, unmatched) in cases {
        let mut c = call(Outcome::Answered, None, "+919876543210");
        c.answered_by = l.agents.first().cloned();
        c.legs = vec![l];
        let plan = plan_call("m", &c, &settings(), &dir).expect("plan");
        assert_eq!(plan.assignee_id, assignee, "{:?}", c.answered_by);
        assert_eq!(
            plan.unmatched_agent_email.as_deref(),
            unmatched,
            "{:?}",
            c.answered_by
        );
    }
}

#[test]
fn the_note_lists_every_leg_of_a_transferred_call() {
    let mut c = call(
        Outcome::Answered,
        Some("priya.sharma@sandbox.test"),
        "+919876543210",
    );
    c.legs = vec![
        leg(Some("arjun.mehta@sandbox.test"), None, None, false),
        leg(Some("priya.sharma@sandbox.test"), None, None, true),
    ];
    let plan = plan_call("m", &c, &settings(), &directory()).expect("plan");
    assert!(plan.note.contains("Legs:\n  1. arjun.mehta@sandbox.test: not answered, 30s\n  2. priya.sharma@sandbox.test: answered, 30s"), "{}", plan.note);
    let single = plan_call(
        "m",
        &call(Outcome::Missed, None, "+919876543210"),
        &settings(),
        &directory(),
    )
    .expect("plan");
    assert!(!single.note.contains("Legs:"), "one leg needs no list");
}

#[test]
fn missed_calls_outside_business_hours_get_the_after_hours_group_and_tags() {
    let hours: crate::hours::BusinessHours = toml::from_str(
        r#"
        time_zone = "Asia/Kolkata"
        weekly = [{ days = ["mon-fri"], from = "09:00", to = "18:00" }]
        "#,
    )
    .expect("hours");
    let rule = crate::hours::AfterHours {
        group: Some(GroupRef::Name("Support".into())),
        tags: vec!["after_hours".into()],
    };
    let mut s = settings();
    s.after_hours = Some((hours.validate().expect("valid"), rule));
    // 2024-11-23 is a Saturday: outside hours.
    let missed = plan_call(
        "m",
        &call(Outcome::Missed, None, "+919876543210"),
        &s,
        &directory(),
    )
    .expect("plan");
    assert_eq!(missed.group_id, Some(20001));
    assert!(missed.tags.contains(&"after_hours".to_string()));
    // Answered calls are not touched.
    let answered = plan_call(
        "m",
        &call(
            Outcome::Answered,
            Some("priya.sharma@sandbox.test"),
            "+919876543210",
        ),
        &s,
        &directory(),
    )
    .expect("plan");
    assert_eq!(answered.group_id, None);
    assert!(!answered.tags.contains(&"after_hours".to_string()));
    // A weekday at 11:55 IST is inside hours.
    let mut weekday = call(Outcome::Missed, None, "+919876543210");
    weekday.started_at = Utc
        .with_ymd_and_hms(2024, 11, 25, 6, 25, 0)
        .single()
        .expect("time");
    let inside = plan_call("m", &weekday, &s, &directory()).expect("plan");
    assert_eq!(inside.group_id, Some(MISSED_GROUP));
    assert!(!inside.tags.contains(&"after_hours".to_string()));
}
