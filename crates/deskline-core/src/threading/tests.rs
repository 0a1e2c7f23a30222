use chrono::{TimeZone, Utc};

use super::*;
use crate::call::{Direction, Provider};
use crate::phone::PhoneParser;

const TICKET: u64 = 4711;

fn at(minute: i64, second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
        + Duration::seconds(second)
}

fn call(outcome: Outcome, customer: &str, started_at: DateTime<Utc>) -> CallRecord {
    CallRecord {
        provider: Provider::MyOperator,
        call_id: "c-2".into(),
        direction: Direction::Inbound,
        customer: PhoneParser::new("IN").expect("region").parse(customer),
        line: None,
        started_at,
        ended_at: None,
        total_seconds: 40,
        talk_seconds: None,
        outcome,
        answered_by: None,
        department: None,
        location: None,
        recording: None,
        legs: vec![],
    }
}

fn recent(status: &str, last_call_at: DateTime<Utc>, last_call_missed: bool) -> RecentTicket {
    RecentTicket {
        ticket_id: TICKET,
        last_call_at,
        status: status.into(),
        last_call_missed,
    }
}

const KNOWN: &str = "+919876543210";
const PER_CALLER: ThreadingPolicy = ThreadingPolicy::PerCaller { window_minutes: 30 };
const ROLLUP: ThreadingPolicy = ThreadingPolicy::MissedRollup { window_minutes: 10 };
const APPEND: ThreadDecision = ThreadDecision::Append { ticket_id: TICKET };
const CREATE: ThreadDecision = ThreadDecision::Create;

struct Case {
    name: &'static str,
    policy: ThreadingPolicy,
    outcome: Outcome,
    customer: &'static str,
    /// This call starts at minute 0 plus these seconds.
    call_second: i64,
    /// The recent ticket: status, the minute its last call started, whether that was missed.
    recent: Option<(&'static str, i64, bool)>,
    expected: ThreadDecision,
}

fn case(
    name: &'static str,
    policy: ThreadingPolicy,
    outcome: Outcome,
    recent: Option<(&'static str, i64, bool)>,
    expected: ThreadDecision,
) -> Case {
    Case {
        name,
        policy,
        outcome,
        customer: KNOWN,
        call_second: 0,
        recent,
        expected,
    }
}

#[test]
fn every_branch() {
    use Outcome::{Answered, Missed};
    let cases = [
        // per_call never threads.
        case(
            "per_call, no recent",
            ThreadingPolicy::PerCall,
            Missed,
            None,
            CREATE,
        ),
        case(
            "per_call, fresh open ticket",
            ThreadingPolicy::PerCall,
            Missed,
            Some(("open", -1, true)),
            CREATE,
        ),
        // per_caller.
        case("per_caller, no recent", PER_CALLER, Answered, None, CREATE),
        case(
            "per_caller, open 5 min ago",
            PER_CALLER,
            Answered,
            Some(("open", -5, false)),
            APPEND,
        ),
        case(
            "per_caller, new",
            PER_CALLER,
            Missed,
            Some(("new", -5, true)),
            APPEND,
        ),
        case(
            "per_caller, pending",
            PER_CALLER,
            Answered,
            Some(("pending", -5, false)),
            APPEND,
        ),
        case(
            "per_caller, on hold",
            PER_CALLER,
            Answered,
            Some(("hold", -5, false)),
            APPEND,
        ),
        case(
            "per_caller, status case and spaces",
            PER_CALLER,
            Answered,
            Some((" Open ", -5, false)),
            APPEND,
        ),
        case(
            "per_caller, solved",
            PER_CALLER,
            Answered,
            Some(("solved", -5, false)),
            CREATE,
        ),
        case(
            "per_caller, closed",
            PER_CALLER,
            Answered,
            Some(("closed", -5, false)),
            CREATE,
        ),
        case(
            "per_caller, deleted",
            PER_CALLER,
            Answered,
            Some(("deleted", -5, false)),
            CREATE,
        ),
        case(
            "per_caller, unknown status",
            PER_CALLER,
            Answered,
            Some(("archived", -5, false)),
            CREATE,
        ),
        case(
            "per_caller, empty status",
            PER_CALLER,
            Answered,
            Some(("", -5, false)),
            CREATE,
        ),
        case(
            "per_caller, exactly the window",
            PER_CALLER,
            Answered,
            Some(("open", -30, false)),
            APPEND,
        ),
        case(
            "per_caller, one minute past",
            PER_CALLER,
            Answered,
            Some(("open", -31, false)),
            CREATE,
        ),
        case(
            "per_caller, answered after missed",
            PER_CALLER,
            Answered,
            Some(("open", -2, true)),
            APPEND,
        ),
        case(
            "per_caller, processed late: the ticket's last call is newer",
            PER_CALLER,
            Answered,
            Some(("open", 20, false)),
            APPEND,
        ),
        case(
            "per_caller, processed late beyond the window",
            PER_CALLER,
            Answered,
            Some(("open", 31, false)),
            CREATE,
        ),
        // missed_rollup.
        case("rollup, no recent", ROLLUP, Missed, None, CREATE),
        case(
            "rollup, missed after missed",
            ROLLUP,
            Missed,
            Some(("new", -3, true)),
            APPEND,
        ),
        case(
            "rollup, exactly the window",
            ROLLUP,
            Missed,
            Some(("open", -10, true)),
            APPEND,
        ),
        case(
            "rollup, one minute past",
            ROLLUP,
            Missed,
            Some(("open", -11, true)),
            CREATE,
        ),
        case(
            "rollup, answered call",
            ROLLUP,
            Answered,
            Some(("open", -3, true)),
            CREATE,
        ),
        case(
            "rollup, last call was answered",
            ROLLUP,
            Missed,
            Some(("open", -3, false)),
            CREATE,
        ),
        case(
            "rollup, solved",
            ROLLUP,
            Missed,
            Some(("solved", -3, true)),
            CREATE,
        ),
        case(
            "rollup, closed",
            ROLLUP,
            Missed,
            Some(("closed", -3, true)),
            CREATE,
        ),
        // Withheld and unparseable numbers share one requester: never threaded.
        Case {
            customer: "anonymous",
            ..case(
                "per_caller, withheld",
                PER_CALLER,
                Answered,
                Some(("open", -1, false)),
                CREATE,
            )
        },
        Case {
            customer: "abc",
            ..case(
                "per_caller, unparseable",
                PER_CALLER,
                Answered,
                Some(("open", -1, false)),
                CREATE,
            )
        },
        Case {
            customer: "",
            ..case(
                "rollup, withheld",
                ROLLUP,
                Missed,
                Some(("open", -1, true)),
                CREATE,
            )
        },
        // Second-level edges of the window.
        Case {
            call_second: 1,
            ..case(
                "per_caller, window plus one second",
                PER_CALLER,
                Answered,
                Some(("open", -30, false)),
                CREATE,
            )
        },
        Case {
            call_second: -1,
            ..case(
                "per_caller, window less one second",
                PER_CALLER,
                Answered,
                Some(("open", -30, false)),
                APPEND,
            )
        },
        Case {
            call_second: 1,
            ..case(
                "rollup, window plus one second",
                ROLLUP,
                Missed,
                Some(("open", -10, true)),
                CREATE,
            )
        },
    ];
    for c in cases {
        let call = call(c.outcome, c.customer, at(0, c.call_second));
        let recent = c
            .recent
            .map(|(status, minute, missed)| recent(status, at(minute, 0), missed));
        assert_eq!(
            decide(&c.policy, &call, recent.as_ref()),
            c.expected,
            "{}",
            c.name
        );
        if c.expected == APPEND {
            assert!(c.policy.may_append(&call), "{}: may_append", c.name);
        }
    }
}

#[test]
fn may_append_lets_the_server_skip_the_lookup() {
    let missed = call(Outcome::Missed, KNOWN, at(0, 0));
    let answered = call(Outcome::Answered, KNOWN, at(0, 0));
    let withheld = call(Outcome::Missed, "private", at(0, 0));
    assert!(!ThreadingPolicy::PerCall.may_append(&missed));
    assert!(PER_CALLER.may_append(&answered));
    assert!(PER_CALLER.may_append(&missed));
    assert!(!PER_CALLER.may_append(&withheld));
    assert!(ROLLUP.may_append(&missed));
    assert!(!ROLLUP.may_append(&answered));
    assert!(!ROLLUP.may_append(&withheld));
}

#[test]
fn window_and_validation() {
    assert_eq!(ThreadingPolicy::PerCall.window(), None);
    assert_eq!(PER_CALLER.window(), Some(Duration::minutes(30)));
    assert_eq!(ROLLUP.window(), Some(Duration::minutes(10)));
    assert!(ThreadingPolicy::PerCall.validate().is_ok());
    assert!(PER_CALLER.validate().is_ok());
    for zero in [
        ThreadingPolicy::PerCaller { window_minutes: 0 },
        ThreadingPolicy::MissedRollup { window_minutes: 0 },
    ] {
        let errors = zero.validate().unwrap_err();
        assert!(errors[0].contains("window_minutes"), "{errors:?}");
    }
}

#[test]
fn reads_from_toml() {
    #[derive(Debug, Deserialize)]
    struct Source {
        #[serde(default)]
        threading: ThreadingPolicy,
    }
    let parse = |text: &str| toml::from_str::<Source>(text).map(|s| s.threading);
    assert_eq!(parse("").expect("default"), ThreadingPolicy::PerCall);
    assert_eq!(
        parse("[threading]\nmode = \"per_call\"").expect("per_call"),
        ThreadingPolicy::PerCall
    );
    assert_eq!(
        parse("[threading]\nmode = \"per_caller\"\nwindow_minutes = 30").expect("per_caller"),
        PER_CALLER
    );
    assert_eq!(
        parse("threading = { mode = \"missed_rollup\", window_minutes = 10 }").expect("rollup"),
        ROLLUP
    );
    for (bad, mention) in [
        (
            "[threading]\nmode = \"per_caller\"",
            "mode = \"per_caller\" needs window_minutes",
        ),
        (
            "[threading]\nmode = \"missed_rollup\"",
            "mode = \"missed_rollup\" needs window_minutes",
        ),
        ("[threading]\nmode = \"per_ticket\"", "per_ticket"),
        (
            "[threading]\nmode = \"per_caller\"\nwindow_minutes = 5\nwindow = 3",
            "window",
        ),
        (
            "[threading]\nmode = \"per_call\"\nwindow_minutes = 5",
            "window_minutes does nothing with mode = \"per_call\"",
        ),
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(err.contains(mention), "{bad:?}: {err}");
    }
    // Settings round-trip through their own serialisation (figment's defaults layer).
    for policy in [ThreadingPolicy::PerCall, PER_CALLER, ROLLUP] {
        let text = toml::to_string(&policy).expect("to toml");
        assert_eq!(
            toml::from_str::<ThreadingPolicy>(&text).expect("back"),
            policy
        );
    }
}

#[test]
fn decisions_serialise_for_sources_try() {
    assert_eq!(
        serde_json::to_value(APPEND).expect("json"),
        serde_json::json!({"kind": "append", "ticket_id": TICKET})
    );
    assert_eq!(
        serde_json::to_value(CREATE).expect("json"),
        serde_json::json!({"kind": "create"})
    );
}
