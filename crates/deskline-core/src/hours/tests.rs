use chrono::{Duration, TimeZone};

use super::*;
use crate::call::Provider;
use crate::phone::PhoneParser;

fn range(days: &[&str], from: &str, to: &str) -> OpeningRange {
    OpeningRange {
        days: days.iter().map(|d| d.to_string()).collect(),
        from: from.into(),
        to: to.into(),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("time")
}

/// An office in Berlin: weekdays 09:00-18:00, Saturday mornings, a Friday night shift and
/// a late Saturday, closed at Christmas and on Good Friday 2025 (18 April).
fn berlin() -> ResolvedHours {
    BusinessHours {
        time_zone: "Europe/Berlin".into(),
        weekly: vec![
            range(&["mon-fri"], "09:00", "18:00"),
            range(&["sat"], "10:00", "14:00"),
            range(&["fri"], "22:00", "02:00"),
            range(&["sat"], "20:00", "24:00"),
            // 2:30-3:30 local on Sundays: inside the hour DST skips or repeats.
            range(&["sun"], "02:30", "03:30"),
        ],
        holidays: vec![date(2025, 12, 25), date(2025, 4, 18)],
    }
    .validate()
    .expect("valid")
}

#[test]
fn is_open_across_dst_midnight_and_holidays() {
    let hours = berlin();
    let cases = [
        // Before the spring change (CET, UTC+1): Friday 28 March 2025.
        ("fri 08:59:59 CET", utc(2025, 3, 28, 7, 59, 59), false),
        ("fri 09:00 CET", utc(2025, 3, 28, 8, 0, 0), true),
        ("fri 17:59:59 CET", utc(2025, 3, 28, 16, 59, 59), true),
        ("fri 18:00 CET", utc(2025, 3, 28, 17, 0, 0), false),
        // Sunday 30 March 2025, last Sunday of March: 02:00 CET jumps to 03:00 CEST.
        ("sun 01:59:59 CET", utc(2025, 3, 30, 0, 59, 59), false),
        (
            "sun 03:00 CEST, just after the jump",
            utc(2025, 3, 30, 1, 0, 0),
            true,
        ),
        ("sun 03:29:59 CEST", utc(2025, 3, 30, 1, 29, 59), true),
        ("sun 03:30 CEST", utc(2025, 3, 30, 1, 30, 0), false),
        // After the change (CEST, UTC+2): Monday 31 March 2025.
        ("mon 08:59:59 CEST", utc(2025, 3, 31, 6, 59, 59), false),
        ("mon 09:00 CEST", utc(2025, 3, 31, 7, 0, 0), true),
        (
            "mon 09:00 CET would be this, but it is 10:00 CEST",
            utc(2025, 3, 31, 8, 0, 0),
            true,
        ),
        ("mon 17:59:59 CEST", utc(2025, 3, 31, 15, 59, 59), true),
        ("mon 18:00 CEST", utc(2025, 3, 31, 16, 0, 0), false),
        // Sunday 26 October 2025: 03:00 CEST falls back to 02:00 CET; 02:xx happens twice.
        ("sun 02:29:59 CEST", utc(2025, 10, 26, 0, 29, 59), false),
        ("sun 02:30 CEST", utc(2025, 10, 26, 0, 30, 0), true),
        ("sun 02:59:59 CEST", utc(2025, 10, 26, 0, 59, 59), true),
        (
            "sun 02:00 CET, the repeated hour",
            utc(2025, 10, 26, 1, 0, 0),
            false,
        ),
        (
            "sun 02:30 CET, the repeated hour",
            utc(2025, 10, 26, 1, 30, 0),
            true,
        ),
        ("sun 03:29:59 CET", utc(2025, 10, 26, 2, 29, 59), true),
        ("sun 03:30 CET", utc(2025, 10, 26, 2, 30, 0), false),
        // The Friday night shift (overnight range), in summer time (UTC+2).
        ("fri 21:59:59", utc(2025, 6, 6, 19, 59, 59), false),
        ("fri 22:00", utc(2025, 6, 6, 20, 0, 0), true),
        ("fri 23:59:59", utc(2025, 6, 6, 21, 59, 59), true),
        ("sat 00:00, after midnight", utc(2025, 6, 6, 22, 0, 0), true),
        ("sat 01:59:59", utc(2025, 6, 6, 23, 59, 59), true),
        ("sat 02:00", utc(2025, 6, 7, 0, 0, 0), false),
        ("sat 09:59:59", utc(2025, 6, 7, 7, 59, 59), false),
        ("sat 10:00", utc(2025, 6, 7, 8, 0, 0), true),
        // to = 24:00 closes at midnight.
        ("sat 19:59:59", utc(2025, 6, 7, 17, 59, 59), false),
        ("sat 20:00", utc(2025, 6, 7, 18, 0, 0), true),
        ("sat 23:59:59", utc(2025, 6, 7, 21, 59, 59), true),
        ("sun 00:00", utc(2025, 6, 7, 22, 0, 0), false),
        // Midnight at a UTC date boundary: Monday 00:30 local is Sunday 22:30 UTC.
        (
            "mon 00:30 local, sun in UTC",
            utc(2025, 6, 8, 22, 30, 0),
            false,
        ),
        // Friday 18:30 UTC in winter is 19:30 local: closed, though UTC says 18:30.
        ("fri 19:30 CET", utc(2025, 1, 10, 18, 30, 0), false),
        // Holidays close the whole date.
        (
            "wed 24 Dec 10:00, the day before",
            utc(2025, 12, 24, 9, 0, 0),
            true,
        ),
        ("thu 25 Dec 00:00", utc(2025, 12, 24, 23, 0, 0), false),
        ("thu 25 Dec 10:00", utc(2025, 12, 25, 9, 0, 0), false),
        ("thu 25 Dec 23:59:59", utc(2025, 12, 25, 22, 59, 59), false),
        (
            "fri 26 Dec 09:00, the day after",
            utc(2025, 12, 26, 8, 0, 0),
            true,
        ),
        // Good Friday: its day and its night shift, into Saturday morning, are closed.
        ("good friday 10:00", utc(2025, 4, 18, 8, 0, 0), false),
        ("good friday 23:00", utc(2025, 4, 18, 21, 0, 0), false),
        (
            "sat after good friday 01:00",
            utc(2025, 4, 18, 23, 0, 0),
            false,
        ),
        (
            "sat after good friday 10:00",
            utc(2025, 4, 19, 8, 0, 0),
            true,
        ),
    ];
    for (name, at, open) in cases {
        assert_eq!(hours.is_open(at), open, "{name} ({at})");
    }
}

#[test]
fn an_overnight_range_into_a_holiday_stops_at_midnight() {
    let hours = BusinessHours {
        time_zone: "Asia/Kolkata".into(),
        weekly: vec![range(&["wed"], "20:00", "06:00")],
        holidays: vec![date(2025, 12, 25)],
    }
    .validate()
    .expect("valid");
    // Wednesday 24 December 2025, IST = UTC+5:30.
    let ist = |d: u32, h: u32, m: u32| {
        chrono_tz::Asia::Kolkata
            .with_ymd_and_hms(2025, 12, d, h, m, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    };
    assert!(hours.is_open(ist(24, 23, 59)));
    assert!(!hours.is_open(ist(25, 0, 0)));
    assert!(!hours.is_open(ist(25, 5, 0)));
    // The week before, no holiday: the night runs to 06:00.
    assert!(hours.is_open(ist(18, 5, 59)));
    assert!(!hours.is_open(ist(18, 6, 0)));
}

#[test]
fn day_names_ranges_and_times() {
    let cases: [(&[&str], &str, &str, &str); 7] = [
        (
            &["mon-fri"],
            "9:00",
            "17:30",
            "mon 09:00-17:30; tue 09:00-17:30; wed 09:00-17:30; thu 09:00-17:30; \
             fri 09:00-17:30; sat closed; sun closed",
        ),
        (
            &["Saturday", "SUN"],
            "00:00",
            "24:00",
            "mon closed; tue closed; wed closed; thu closed; fri closed; sat 00:00-24:00; \
             sun 00:00-24:00",
        ),
        (
            &["fri-mon"],
            "10:00",
            "11:00",
            "mon 10:00-11:00; tue closed; wed closed; thu closed; fri 10:00-11:00; \
             sat 10:00-11:00; sun 10:00-11:00",
        ),
        (
            &["sun"],
            "22:00",
            "00:00",
            "mon closed; tue closed; wed closed; thu closed; fri closed; sat closed; \
             sun 22:00-24:00",
        ),
        (
            &["sun"],
            "22:00",
            "06:00",
            "mon 00:00-06:00; tue closed; wed closed; thu closed; fri closed; sat closed; \
             sun 22:00-24:00",
        ),
        (
            &[" tue - wed ", "tue"],
            "08:00:00",
            "12:00",
            "mon closed; tue 08:00-12:00; wed 08:00-12:00; thu closed; fri closed; \
             sat closed; sun closed",
        ),
        (
            &["mon"],
            "23:00",
            "01:00",
            "mon 23:00-24:00; tue 00:00-01:00; wed closed; thu closed; fri closed; \
             sat closed; sun closed",
        ),
    ];
    for (days, from, to, expected) in cases {
        let hours = BusinessHours {
            time_zone: "UTC".into(),
            weekly: vec![range(days, from, to)],
            holidays: vec![],
        }
        .validate()
        .unwrap_or_else(|e| panic!("{days:?} {from}-{to}: {e:?}"));
        assert_eq!(hours.describe(), format!("UTC: {expected}"), "{days:?}");
    }
}

#[test]
fn overlapping_ranges_merge() {
    let hours = BusinessHours {
        time_zone: "Europe/Berlin".into(),
        weekly: vec![
            range(&["mon-fri"], "09:00", "13:00"),
            range(&["mon"], "12:00", "18:00"),
            range(&["sun"], "20:00", "09:30"),
        ],
        holidays: vec![date(2025, 5, 1)],
    }
    .validate()
    .expect("valid");
    assert_eq!(
        hours.describe(),
        "Europe/Berlin: mon 00:00-18:00; tue 09:00-13:00; wed 09:00-13:00; \
         thu 09:00-13:00; fri 09:00-13:00; sat closed; sun 20:00-24:00; holidays 2025-05-01"
    );
    assert_eq!(hours.time_zone(), chrono_tz::Europe::Berlin);
}

#[test]
fn every_problem_is_named_with_its_fix() {
    let cases: [(BusinessHours, &[&str]); 9] = [
        (
            BusinessHours {
                time_zone: "Europe/Berln".into(),
                weekly: vec![range(&["mon"], "09:00", "18:00")],
                holidays: vec![],
            },
            &["business_hours.time_zone: \"Europe/Berln\" is not an IANA time zone; use a name such as"],
        ),
        (
            BusinessHours {
                time_zone: "asia/kolkata".into(),
                weekly: vec![range(&["mon"], "09:00", "18:00")],
                holidays: vec![],
            },
            &["business_hours.time_zone: \"asia/kolkata\" is not an IANA time zone; did you mean \"Asia/Kolkata\"?"],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![],
                holidays: vec![],
            },
            &["business_hours.weekly is empty: list opening hours such as"],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![range(&[], "09:00", "18:00")],
                holidays: vec![],
            },
            &["business_hours.weekly[0].days is empty"],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![
                    range(&["mon"], "09:00", "18:00"),
                    range(&["mon", "tues", "mon-xyz", "-fri"], "09:00", "18:00"),
                ],
                holidays: vec![],
            },
            &[
                "business_hours.weekly[1].days[1]: \"tues\" is not a day; use mon, tue",
                "business_hours.weekly[1].days[2]: \"mon-xyz\" is not a day",
                "business_hours.weekly[1].days[3]: \"-fri\" is not a day",
            ],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![range(&["mon"], "25:00", "9am")],
                holidays: vec![],
            },
            &[
                "business_hours.weekly[0].from: \"25:00\" is not a time; write HH:MM from 00:00 to 23:59",
                "business_hours.weekly[0].to: \"9am\" is not a time; write HH:MM from 00:00 to 24:00",
            ],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![range(&["mon"], "24:00", "09:60")],
                holidays: vec![],
            },
            &["business_hours.weekly[0].from: \"24:00\"", "business_hours.weekly[0].to: \"09:60\""],
        ),
        (
            BusinessHours {
                time_zone: "UTC".into(),
                weekly: vec![range(&["mon"], "09:00:30", "9:5")],
                holidays: vec![],
            },
            &["business_hours.weekly[0].from: \"09:00:30\"", "business_hours.weekly[0].to: \"9:5\""],
        ),
        (
            BusinessHours {
                time_zone: "Nowhere".into(),
                weekly: vec![range(&["mon"], "09:00", "09:00")],
                holidays: vec![],
            },
            &[
                "business_hours.time_zone: \"Nowhere\"",
                "business_hours.weekly[0]: from and to are both \"09:00\", which is open for no time; for a \
                 whole day write from = \"00:00\", to = \"24:00\"",
            ],
        ),
    ];
    for (hours, expected) in cases {
        let errors = hours.validate().expect_err("invalid");
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, wanted) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(wanted),
                "{error:?} should start with {wanted:?}"
            );
        }
    }
}

#[test]
fn reads_from_toml() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Source {
        business_hours: BusinessHours,
        #[serde(default)]
        after_hours: AfterHours,
    }
    let text = r#"
        [business_hours]
        time_zone = "Asia/Kolkata"
        holidays = [2025-01-26, "2025-08-15"]
        weekly = [
          { days = ["mon-fri"], from = "09:30", to = "18:00" },
          { days = ["sat"], from = 10:00:00, to = "14:00" },
        ]

        [after_hours]
        group = "Night Shift"
        tags = ["after_hours", "Callback Needed"]
    "#;
    let source: Source = toml::from_str(text).expect("parse");
    assert_eq!(
        source.business_hours.holidays,
        [date(2025, 1, 26), date(2025, 8, 15)]
    );
    assert_eq!(source.business_hours.weekly[1].from, "10:00:00");
    let hours = source.business_hours.validate().expect("valid");
    assert_eq!(
        hours.describe(),
        "Asia/Kolkata: mon 09:30-18:00; tue 09:30-18:00; wed 09:30-18:00; thu 09:30-18:00; \
         fri 09:30-18:00; sat 10:00-14:00; sun closed; holidays 2025-01-26, 2025-08-15"
    );
    assert_eq!(
        source.after_hours.group,
        Some(GroupRef::Name("Night Shift".into()))
    );
    assert_eq!(
        source.after_hours.tag_slugs(),
        ["after_hours", "callback_needed"]
    );

    // Settings round-trip through their own serialisation (figment's defaults layer).
    let again: BusinessHours =
        toml::from_str(&toml::to_string(&source.business_hours).expect("to toml")).expect("back");
    assert_eq!(again, source.business_hours);

    let minimal: Source = toml::from_str(
        "[business_hours]\ntime_zone = \"UTC\"\nweekly = [{ days = [\"mon\"], from = \"09:00\", to = \"17:00\" }]\n\
         [after_hours]\ngroup = 20005",
    )
    .expect("minimal");
    assert!(minimal.business_hours.holidays.is_empty());
    assert_eq!(minimal.after_hours.group, Some(GroupRef::Id(20005)));
    assert_eq!(minimal.after_hours.tags, ["after_hours"]);

    for (bad, mention) in [
        ("[business_hours]\ntime_zone = \"UTC\"\nweekly = []\nholiday = []", "holiday"),
        (
            "[business_hours]\ntime_zone = \"UTC\"\nweekly = [{ days = [\"mon\"], from = \"09:00\", until = \"17:00\" }]",
            "until",
        ),
        (
            "[business_hours]\ntime_zone = \"UTC\"\nweekly = []\nholidays = [\"2025-13-01\"]",
            "\"2025-13-01\" is not a date; write YYYY-MM-DD",
        ),
        (
            "[business_hours]\ntime_zone = \"UTC\"\nweekly = []\nholidays = [2025-01-26T10:00:00]",
            "is not a date",
        ),
        (
            "[business_hours]\ntime_zone = \"UTC\"\nweekly = []\n[after_hours]\ngroups = 1",
            "groups",
        ),
    ] {
        let err = toml::from_str::<Source>(bad).expect_err(bad).to_string();
        assert!(err.contains(mention), "{bad:?}: {err}");
    }
}

fn call(direction: Direction, outcome: Outcome, started_at: DateTime<Utc>) -> CallRecord {
    CallRecord {
        provider: Provider::MyOperator,
        call_id: "c-9".into(),
        direction,
        customer: PhoneParser::new("IN")
            .expect("region")
            .parse("+919876543210"),
        line: None,
        started_at,
        ended_at: None,
        total_seconds: 20,
        talk_seconds: None,
        outcome,
        answered_by: None,
        department: None,
        location: None,
        recording: None,
        legs: vec![],
    }
}

#[test]
fn after_hours_applies_to_missed_inbound_calls_outside_hours() {
    let hours = berlin();
    let rule = AfterHours::default();
    let open = utc(2025, 6, 4, 10, 0, 0);
    let closed = open + Duration::hours(10);
    let cases = [
        (Direction::Inbound, Outcome::Missed, closed, true),
        (Direction::Inbound, Outcome::Missed, open, false),
        (Direction::Inbound, Outcome::Answered, closed, false),
        (Direction::Outbound, Outcome::Missed, closed, false),
        (Direction::Outbound, Outcome::Answered, closed, false),
    ];
    for (direction, outcome, at, expected) in cases {
        let c = call(direction, outcome, at);
        assert_eq!(
            rule.applies_to(&c, &hours),
            expected,
            "{direction:?} {outcome:?} {at}"
        );
    }
}

#[test]
fn after_hours_validation() {
    assert!(AfterHours::default().validate().is_ok());
    let group_only = AfterHours {
        group: Some(GroupRef::Id(7)),
        tags: vec![],
    };
    assert!(group_only.validate().is_ok());
    let nothing = AfterHours {
        group: None,
        tags: vec![],
    };
    assert!(nothing.validate().unwrap_err()[0].starts_with("after_hours sets neither"));
    let junk = AfterHours {
        group: None,
        tags: vec!["ok".into(), " -- ".into()],
    };
    let errors = junk.validate().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("after_hours.tags[1]: \" -- \" has no letters"));
    let dupes = AfterHours {
        group: None,
        tags: vec!["After Hours".into(), "after_hours".into()],
    };
    assert_eq!(dupes.tag_slugs(), ["after_hours"]);
}
