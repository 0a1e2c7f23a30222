//! Credentials some providers put in the request body, taken out before the body is stored:
//! once a request is verified, its proof of origin has no further use, and a stored copy could
//! be replayed by anyone who reads the event (the admin API, a backup of the database).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// What a credential's value becomes in a stored body (a JSON string).
pub const REDACTED: &str = "\"[redacted]\"";

/// `body`, a JSON object, with the values of its top-level members named in `names` replaced
/// by [`REDACTED`] (every member of that name, should one be repeated), every other byte as
/// received. `None` when the body is not a JSON object.
pub fn json_members(body: &[u8], names: &[&str]) -> Option<Vec<u8>> {
    let members: Members<'_> = serde_json::from_slice(body).ok()?;
    let base = body.as_ptr() as usize;
    let mut spans = Vec::new();
    for (name, value) in &members.0 {
        if names.contains(&name.as_str()) {
            // A borrowed raw value is a slice of `body`, so its address gives its place.
            let text = value.get();
            let start = (text.as_ptr() as usize).checked_sub(base)?;
            let end = start + text.len();
            if end > body.len() {
                return None;
            }
            spans.push((start, end));
        }
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for (start, end) in spans {
        out.extend_from_slice(body.get(at..start)?);
        out.extend_from_slice(REDACTED.as_bytes());
        at = end;
    }
    out.extend_from_slice(body.get(at..)?);
    Some(out)
}

/// A JSON object's members in order, repeats included, values as their raw text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
            members.push(member);
        }
        Ok(Members(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(body: &str) -> Option<String> {
        json_members(body.as_bytes(), &["token"]).map(|b| String::from_utf8(b).expect("UTF-8"))
    }

    #[test]
    fn only_the_named_top_level_members_change() {
        let body = "{\n  \"event\": \"call.ended\",\n  \"token\" :\t\"s3cr\\\"et\",\n  \
                    \"data\": {\"token\": \"not ours\", \"id\": 1}\n}";
        assert_eq!(
            redact(body).as_deref(),
            Some(
                "{\n  \"event\": \"call.ended\",\n  \"token\" :\t\"[redacted]\",\n  \
                 \"data\": {\"token\": \"not ours\", \"id\": 1}\n}"
            )
        );
    }

    #[test]
    fn every_copy_of_a_repeated_member_and_any_value_type() {
        assert_eq!(
            redact(r#"{"token":"a","x":[1,{"token":2}],"token":{"k":"b"}}"#).as_deref(),
            Some(r#"{"token":"[redacted]","x":[1,{"token":2}],"token":"[redacted]"}"#)
        );
        assert_eq!(redact(r#"{"x":1}"#).as_deref(), Some(r#"{"x":1}"#));
    }

    #[test]
    fn a_body_that_is_no_json_object_is_none() {
        for body in ["", "[1]", "\"token\"", "{\"token\": ", "token=abc"] {
            assert_eq!(redact(body), None, "{body:?}");
        }
    }

    /// Met by the `redact` fuzz target: a number too large for an f64 is valid JSON syntax,
    /// which redaction reads without evaluating, so the token is still taken out.
    #[test]
    fn a_number_beyond_f64_range_is_still_json() {
        assert_eq!(
            redact(r#"{"timestamp": 17326E16033, "token": "t"}"#).as_deref(),
            Some(r#"{"timestamp": 17326E16033, "token": "[redacted]"}"#)
        );
    }
}
