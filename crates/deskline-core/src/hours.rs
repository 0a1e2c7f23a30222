//! Business hours, so that a missed call outside them can go to another group or get a tag.
//! Pure: the moment to judge is passed in.
//!
//! Configured per source:
//!
//! ```toml
//! [sources.myoperator.business_hours]
//! time_zone = "Asia/Kolkata"                # IANA name
//! holidays = [2025-01-26, "2025-08-15"]     # closed all day; TOML dates or "YYYY-MM-DD"
//! weekly = [
//!   { days = ["mon-fri"], from = "09:30", to = "18:00" },
//!   { days = ["sat"], from = "10:00", to = "14:00" },
//!   { days = ["fri"], from = "22:00", to = "02:00" },   # overnight: Fri 22:00 to Sat 02:00
//! ]
//!
//! [sources.myoperator.after_hours]
//! group = "Night Shift"                     # or a group id; absent keeps the usual group
//! tags = ["after_hours"]                    # the default
//! ```
//!
//! Rules:
//! * Days are `mon` … `sun` (or full names, any case), or ranges such as `mon-fri`; a range
//!   may wrap (`fri-mon` is Fri, Sat, Sun, Mon).
//! * Times are `HH:MM` on the local wall clock; `to = "24:00"` means the end of the day.
//!   Each range opens at `from` and closes at `to`: 18:00 itself is closed.
//!   (`to = "00:00"` after a `from` later in the day also means midnight.)
//! * `to` earlier than `from` is an overnight range that closes on the next day; `from` equal
//!   to `to` is refused (write `00:00`–`24:00` for a whole day).
//! * Ranges may overlap; their union is open.
//! * A holiday closes its whole local date, and also the after-midnight part of an overnight
//!   range that opens on the holiday (that night's shift does not run). An overnight range
//!   opening the day before a holiday is cut at midnight.
//! * Across DST changes the wall clock rules: 09:00 is 09:00 local on both sides, and in
//!   the hour repeated in autumn both instants are judged by the same local time.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{de, Deserialize, Deserializer, Serialize};

use crate::call::{CallRecord, Direction, Outcome};
use crate::plan::{tag_slug, GroupRef};

const DAY_SECONDS: u32 = 24 * 60 * 60;

/// The key toml (and figment, which reads TOML through it) uses to pass a bare TOML date or
/// time to serde.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// `[business_hours]`: weekly opening hours in a time zone, with holidays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone the hours are in, e.g. `Asia/Kolkata`.
    pub time_zone: String,
    /// Opening ranges; the union of all of them is open.
    pub weekly: Vec<OpeningRange>,
    /// Dates (in the time zone) closed all day.
    #[serde(default, deserialize_with = "de_dates")]
    pub holidays: Vec<NaiveDate>,
}

/// One entry of `weekly`: these days, from this time to that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningRange {
    /// `mon` … `sun` or ranges such as `mon-fri`.
    pub days: Vec<String>,
    /// Opening time, `HH:MM`.
    #[serde(deserialize_with = "de_text")]
    pub from: String,
    /// Closing time, `HH:MM` (`24:00` for midnight); earlier than `from` runs overnight.
    #[serde(deserialize_with = "de_text")]
    pub to: String,
}

/// Validated business hours, ready to answer [`ResolvedHours::is_open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedHours {
    time_zone: Tz,
    /// Per weekday from Monday: sorted, merged, half-open ranges of seconds since midnight.
    days: [Vec<(u32, u32)>; 7],
    /// Per weekday: the after-midnight parts of overnight ranges that opened the day before.
    carried: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl BusinessHours {
    /// Checks the settings; every problem is reported, naming its key (under
    /// `business_hours.`) and the fix.
    pub fn validate(&self) -> Result<ResolvedHours, Vec<String>> {
        let mut errors = Vec::new();
        let time_zone = match self.time_zone.trim().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                errors.push(bad_zone(&self.time_zone));
                None
            }
        };
        if self.weekly.is_empty() {
            errors.push(
                "business_hours.weekly is empty: list opening hours such as \
                 { days = [\"mon-fri\"], from = \"09:00\", to = \"18:00\" }"
                    .to_string(),
            );
        }
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        let mut carried: [Vec<(u32, u32)>; 7] = Default::default();
        for (i, range) in self.weekly.iter().enumerate() {
            let key = format!("business_hours.weekly[{i}]");
            let mut weekdays = Vec::new();
            if range.days.is_empty() {
                errors.push(format!(
                    "{key}.days is empty: list days such as [\"mon-fri\"] or [\"sat\", \"sun\"]"
                ));
            }
            for (j, text) in range.days.iter().enumerate() {
                match parse_days(text) {
                    Some(found) => weekdays.extend(found),
                    None => errors.push(format!(
                        "{key}.days[{j}]: {text:?} is not a day; use mon, tue, wed, thu, fri, \
                         sat, sun or a range such as \"mon-fri\""
                    )),
                }
            }
            let from = parse_time(&range.from, false);
            if from.is_none() {
                errors.push(format!(
                    "{key}.from: {:?} is not a time; write HH:MM from 00:00 to 23:59",
                    range.from
                ));
            }
            let to = parse_time(&range.to, true);
            if to.is_none() {
                errors.push(format!(
                    "{key}.to: {:?} is not a time; write HH:MM from 00:00 to 24:00",
                    range.to
                ));
            }
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            if from == to {
                errors.push(format!(
                    "{key}: from and to are both {:?}, which is open for no time; for a whole \
                     day write from = \"00:00\", to = \"24:00\"",
                    range.from
                ));
                continue;
            }
            for day in weekdays {
                let index = day.num_days_from_monday() as usize;
                if from < to {
                    days[index].push((from, to));
                } else {
                    // Overnight: the evening on this day, the morning on the next.
                    days[index].push((from, DAY_SECONDS));
                    if to > 0 {
                        carried[(index + 1) % 7].push((0, to));
                    }
                }
            }
        }
        match time_zone {
            Some(time_zone) if errors.is_empty() => Ok(ResolvedHours {
                time_zone,
                days: days.map(merge),
                carried: carried.map(merge),
                holidays: self.holidays.iter().copied().collect(),
            }),
            _ => Err(errors),
        }
    }
}

impl ResolvedHours {
    /// Whether `at` falls within business hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone);
        let date = local.date_naive();
        if self.holidays.contains(&date) {
            return false;
        }
        let day = local.weekday().num_days_from_monday() as usize;
        let second = local.num_seconds_from_midnight();
        let within = |ranges: &[(u32, u32)]| ranges.iter().any(|&(f, t)| f <= second && second < t);
        within(&self.days[day])
            || (within(&self.carried[day])
                && !date
                    .pred_opt()
                    .is_some_and(|eve| self.holidays.contains(&eve)))
    }

    /// The time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The hours as deskline understood them, e.g. `mon 09:00-18:00; …; sun closed`, for the
    /// start-up log and `config check`.
    pub fn describe(&self) -> String {
        let days: Vec<String> = WEEKDAYS
            .iter()
            .zip(self.days.iter().zip(&self.carried))
            .map(|(day, (own, carried))| {
                let name = day.to_string().to_lowercase();
                let ranges = merge(own.iter().chain(carried).copied().collect());
                if ranges.is_empty() {
                    return format!("{name} closed");
                }
                let ranges: Vec<String> = ranges
                    .iter()
                    .map(|&(from, to)| format!("{}-{}", clock(from), clock(to)))
                    .collect();
                format!("{name} {}", ranges.join(", "))
            })
            .collect();
        let mut text = format!("{}: {}", self.time_zone.name(), days.join("; "));
        if !self.holidays.is_empty() {
            let dates: Vec<String> = self.holidays.iter().map(|d| d.to_string()).collect();
            text.push_str(&format!("; holidays {}", dates.join(", ")));
        }
        text
    }
}

/// `[after_hours]`: what happens to a missed inbound call outside business hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AfterHours {
    /// The group the ticket goes to instead of the fallback group; `None` keeps it.
    pub group: Option<GroupRef>,
    /// Tags added to the ticket.
    pub tags: Vec<String>,
}

impl Default for AfterHours {
    fn default() -> Self {
        AfterHours {
            group: None,
            tags: vec!["after_hours".to_string()],
        }
    }
}

impl AfterHours {
    /// Problems with the settings, each naming the key and the fix.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        for (i, tag) in self.tags.iter().enumerate() {
            if tag_slug(tag).is_empty() {
                errors.push(format!(
                    "after_hours.tags[{i}]: {tag:?} has no letters or digits; remove it or \
                     write a tag such as \"after_hours\""
                ));
            }
        }
        if self.group.is_none() && self.tags.is_empty() {
            errors.push(
                "after_hours sets neither group nor tags, so it changes nothing; set group, \
                 tags, or remove the table"
                    .to_string(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Whether the rule applies: an inbound call nobody took that started outside `hours`.
    /// Outbound calls and answered calls keep their usual routing.
    pub fn applies_to(&self, call: &CallRecord, hours: &ResolvedHours) -> bool {
        call.direction == Direction::Inbound
            && call.outcome == Outcome::Missed
            && !hours.is_open(call.started_at)
    }

    /// The tags to add, tag-safe and without duplicates.
    pub fn tag_slugs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for tag in self.tags.iter().map(|t| tag_slug(t)) {
            if !tag.is_empty() && !out.contains(&tag) {
                out.push(tag);
            }
        }
        out
    }
}

fn bad_zone(zone: &str) -> String {
    let wanted = zone.trim().to_lowercase();
    let suggestion = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().to_lowercase() == wanted)
        .map(|tz| format!("did you mean {:?}?", tz.name()))
        .unwrap_or_else(|| "use a name such as \"Asia/Kolkata\" or \"Europe/Berlin\"".into());
    format!("business_hours.time_zone: {zone:?} is not an IANA time zone; {suggestion}")
}

/// `mon`, `Monday`, or a range `mon-fri` (which may wrap past Sunday).
fn parse_days(text: &str) -> Option<Vec<Weekday>> {
    let day = |s: &str| s.trim().parse::<Weekday>().ok();
    match text.split_once('-') {
        None => day(text).map(|d| vec![d]),
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            let mut out = vec![first];
            let mut d = first;
            while d != last {
                d = d.succ();
                out.push(d);
            }
            Some(out)
        }
    }
}

/// `HH:MM` (or `H:MM`, or `HH:MM:00` as a bare TOML time gives it) as seconds since midnight;
/// `24:00` only when `end` is set.
fn parse_time(text: &str, end: bool) -> Option<u32> {
    let text = text.trim();
    let (hours, rest) = text.split_once(':')?;
    let (minutes, seconds) = match rest.split_once(':') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (h, m) = (digits(hours, 1..=2)?, digits(minutes, 2..=2)?);
    if seconds.is_some_and(|s| s != "00") {
        return None;
    }
    let total = h * 3600 + m * 60;
    match (h, m) {
        (24, 0) if end => Some(total),
        (0..=23, 0..=59) => Some(total),
        _ => None,
    }
}

fn merge(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match out.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => out.push((from, to)),
        }
    }
    out
}

fn clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

/// A string, or a bare TOML date/time (which toml hands to serde as a one-entry map).
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> de::Visitor<'de> for Visit {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a TOML date or time")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let Some((key, value)) = map.next_entry::<String, String>()? else {
                    return Err(de::Error::invalid_length(0, &self));
                };
                if key != TOML_DATETIME_KEY {
                    return Err(de::Error::unknown_field(&key, &[]));
                }
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(2, &self));
                }
                Ok(Text(value))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

fn de_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Text::deserialize(deserializer).map(|t| t.0)
}

fn de_dates<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<NaiveDate>, D::Error> {
    Vec::<Text>::deserialize(deserializer)?
        .into_iter()
        .map(|Text(text)| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                de::Error::custom(format!(
                    "{text:?} is not a date; write YYYY-MM-DD, e.g. 2025-12-25"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
