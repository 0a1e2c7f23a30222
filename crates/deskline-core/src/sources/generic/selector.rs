//! Selectors: where one value sits in a provider's payload.
//!
//! ```text
//! selector := [ "$" [ "." ] ] first { "." key | bracket }
//! first    := key | bracket
//! key      := one or more characters other than  . [ ] " = ! and white space
//! bracket  := "[" index "]"                  element N of a list; -1 is the last
//!           | "[" quoted "]"                 a key with any characters: ["call.id"]
//!           | "[?" path op value "]"         the first element whose path op value
//! index    := [ "-" ] digits
//! path     := keys and brackets as above, without filters: status, agent.role, tags[0]
//! op       := "=" | "!="
//! value    := quoted | text up to "]" (trimmed)
//! quoted   := '"' { character | '\"' | '\\' } '"'
//! ```
//!
//! Examples: `call.id`, `data.items[0].x`, `legs[-1].agent.email`,
//! `data.legs[?status=answered].agent.email`, `["call.id"]`, `[0].call` (a payload that is a
//! list).
//!
//! Reading rules, chosen for payloads as providers really send them:
//! - a missing key, an index past the end, a filter nothing matches, or `null`, `""`, `[]` or
//!   `{}` on the way give *absent*, never an error;
//! - any other scalar where an object or a list is needed is a [`Mismatch`] (the mapping
//!   points at the wrong place, or the provider changed its payload);
//! - a single object where a list is expected is read as a list of one (XML-to-JSON bridges
//!   and PHP encoders drop the list when it has one element): `[0]`, `[-1]` and filters apply
//!   to it;
//! - filters compare as text, ignoring case and surrounding spaces; numbers also compare by
//!   value (`1` = `1.0`), booleans as `true` / `false`; `!=` also matches an element without
//!   the field.
//!
//! Why hand-written rather than a JSONPath crate (`serde_json_path`, `jsonpath-rust`): a
//! mapping needs exactly one value per field, while JSONPath returns node lists and its filter
//! language (`$.legs[?@.status == 'answered']`, RFC 9535) is more to learn and to get wrong
//! for someone editing a TOML file; mapping errors must name the character where a selector
//! goes wrong and the step where a payload stops matching it, which a general engine does not
//! report; and the rules above (absent on nulls, object as a list of one, loose comparison)
//! are what makes one mapping survive a provider's inconsistencies. The whole thing is a few
//! hundred lines with no dependency, and stays within the workspace's rust-version.

use std::fmt;

use crate::sources::json_kind;
use serde_json::Value;

/// A parsed selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// `.key` or `["key"]`.
    Key(String),
    /// `[n]`; negative counts from the end.
    Index(i64),
    /// `[?path=value]` or `[?path!=value]`.
    Filter(Filter),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Filter {
    path: Vec<Step>,
    negate: bool,
    value: String,
}

/// Why a selector does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based character position of the problem.
    pub at: usize,
    /// What is wrong, and how to write it instead.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at)
    }
}

/// A payload whose shape does not fit the selector: a scalar where an object or a list is
/// needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The part of the selector that was read (`data.legs`).
    pub at: String,
    /// What the next step needed (`an object`).
    pub needed: &'static str,
    /// What was there (`a string`).
    pub found: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.at.is_empty() {
            "the payload"
        } else {
            &self.at
        };
        write!(f, "`{at}` is {}, not {}", self.found, self.needed)
    }
}

impl Selector {
    /// Parses a selector.
    pub fn parse(text: &str) -> Result<Selector, SyntaxError> {
        let trimmed = text.trim();
        let offset = text.len() - text.trim_start().len();
        let chars: Vec<char> = trimmed.chars().collect();
        if chars.is_empty() {
            return Err(SyntaxError {
                at: 1,
                message: "the selector is empty".to_string(),
            });
        }
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
            offset: text[..offset].chars().count(),
        };
        // A JSONPath habit: `$.call.id` means `call.id`; `$` alone is the whole payload.
        if parser.peek() == Some('$') && matches!(parser.peek_at(1), None | Some('.' | '[')) {
            parser.pos += 1;
            if parser.peek() == Some('.') {
                parser.pos += 1;
                if parser.peek().is_none() {
                    return Err(parser.error("nothing follows `$.`"));
                }
            }
        }
        let steps = if parser.peek().is_none() {
            Vec::new()
        } else {
            parser.steps(true)?
        };
        Ok(Selector {
            text: trimmed.to_string(),
            steps,
        })
    }

    /// The selector as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the selector points at: `None` when absent (see the module's reading rules).
    pub fn select<'v>(&self, root: &'v Value) -> Result<Option<&'v Value>, Mismatch> {
        walk(root, &self.steps)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    /// Characters trimmed off the front, for positions in the original text.
    offset: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            at: self.offset + self.pos + 1,
            message: message.into(),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Steps until the end (a selector) or until `=`, `!` or white space (a filter's path).
    fn steps(&mut self, top: bool) -> Result<Vec<Step>, SyntaxError> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some('=' | '!') if !top => break,
                Some(c) if c.is_whitespace() && !top => break,
                Some(']') if !top => break,
                Some('.') => {
                    if steps.is_empty() {
                        return Err(self.error("a selector cannot start with `.`"));
                    }
                    self.pos += 1;
                    match self.peek() {
                        Some('[') => {
                            return Err(self.error(
                                "`.` must be followed by a key; write `a[0]` or `a[\"k\"]`, not `a.[0]`",
                            ))
                        }
                        _ => steps.push(Step::Key(self.key()?)),
                    }
                }
                Some('[') => steps.push(self.bracket(top)?),
                Some(_) if steps.is_empty() => steps.push(Step::Key(self.key()?)),
                Some(c) => {
                    return Err(self.error(format!(
                        "unexpected `{c}`; separate keys with `.`, and quote keys with special characters as [\"…\"]"
                    )))
                }
            }
        }
        if steps.is_empty() {
            return Err(self.error("expected a key"));
        }
        Ok(steps)
    }

    fn key(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '[' | ']' | '"' | '=' | '!') || c.is_whitespace() {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(match self.peek() {
                None => self.error("expected a key after `.`"),
                Some(c) => self.error(format!(
                    "expected a key, found `{c}`; quote keys with special characters as [\"…\"]"
                )),
            });
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn quoted(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.error("unclosed `\"`"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    match self.peek_at(1) {
                        Some(c @ ('"' | '\\')) => out.push(c),
                        _ => {
                            self.pos += 1;
                            return Err(self.error("only `\\\"` and `\\\\` may follow `\\`"));
                        }
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn close(&mut self, open: usize) -> Result<(), SyntaxError> {
        self.skip_spaces();
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(())
            }
            None => {
                self.pos = open;
                Err(self.error("unclosed `[`; close it with `]`"))
            }
            Some(c) => Err(self.error(format!("expected `]`, found `{c}`"))),
        }
    }

    fn bracket(&mut self, allow_filter: bool) -> Result<Step, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_spaces();
        let step = match self.peek() {
            None => {
                self.pos = open;
                return Err(self.error("unclosed `[`; close it with `]`"));
            }
            Some('"') => Step::Key(self.quoted()?),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                let index = digits.parse::<i64>().map_err(|_| {
                    self.pos = start;
                    self.error(format!("{digits:?} is not an index; write [0], [1], … or [-1]"))
                })?;
                Step::Index(index)
            }
            Some('?') if allow_filter => {
                self.pos += 1;
                Step::Filter(self.filter()?)
            }
            Some('?') => {
                return Err(self.error("a filter cannot contain another filter"));
            }
            Some('*') => {
                return Err(self.error(
                    "wildcards are not supported: a mapping reads one value; use an index ([0]) or a filter ([?status=answered])",
                ))
            }
            Some(']') => {
                return Err(
                    self.error("empty `[]`; write an index ([0]), a quoted key ([\"k\"]) or a filter ([?k=v])")
                )
            }
            Some(c) => {
                return Err(self.error(format!(
                    "expected an index ([0]), a quoted key ([\"k\"]) or a filter ([?k=v]) after `[`, found `{c}`"
                )))
            }
        };
        self.close(open)?;
        Ok(step)
    }

    fn filter(&mut self) -> Result<Filter, SyntaxError> {
        self.skip_spaces();
        if matches!(self.peek(), Some('(' | '@')) {
            return Err(self.error(
                "this is JSONPath filter syntax; write [?status=answered] (no @, parentheses or quotes around the field)",
            ));
        }
        if matches!(self.peek(), None | Some('=' | '!' | ']')) {
            return Err(self.error("a filter needs a field: [?status=answered]"));
        }
        let path = self.steps(false)?;
        self.skip_spaces();
        let negate = match (self.peek(), self.peek_at(1)) {
            (Some('!'), Some('=')) => {
                self.pos += 2;
                true
            }
            (Some('='), Some('=')) => {
                self.pos += 2;
                false
            }
            (Some('='), _) => {
                self.pos += 1;
                false
            }
            (None, _) => return Err(self.error("unclosed filter; write [?field=value]")),
            (Some(c), _) => {
                return Err(self.error(format!("expected `=` or `!=` in the filter, found `{c}`")))
            }
        };
        self.skip_spaces();
        let value = match self.peek() {
            Some('"') => self.quoted()?,
            Some('\'') => {
                return Err(self.error("quote filter values with \"…\", not '…'"));
            }
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c != ']') {
                    self.pos += 1;
                }
                let value: String = self.chars[start..self.pos].iter().collect();
                let value = value.trim().to_string();
                if value.is_empty() {
                    return Err(self.error(
                        "the filter has no value; write [?field=value], or [?field=\"\"] for an empty one",
                    ));
                }
                value
            }
        };
        Ok(Filter {
            path,
            negate,
            value,
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(k) if is_plain(k) => write!(f, ".{k}"),
            Step::Key(k) => write!(f, "[{}]", quote(k)),
            Step::Index(i) => write!(f, "[{i}]"),
            Step::Filter(filter) => {
                f.write_str("[?")?;
                f.write_str(render(&filter.path).trim_start_matches('.'))?;
                f.write_str(if filter.negate { "!=" } else { "=" })?;
                f.write_str(&quote(&filter.value))?;
                f.write_str("]")
            }
        }
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && !key
            .chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '"' | '=' | '!') || c.is_whitespace())
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Steps as selector text (`data.legs[0]`), for error messages.
fn render(steps: &[Step]) -> String {
    let text: String = steps.iter().map(ToString::to_string).collect();
    text.strip_prefix('.').map(str::to_string).unwrap_or(text)
}

/// `null`, `""` (or only spaces), `[]` or `{}`.
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// What a value is, for messages; arrays are "lists", as docs/providers/generic.md calls
/// them for the people who write mappings.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "a list",
        other => json_kind(other),
    }
}

fn walk<'v>(root: &'v Value, steps: &[Step]) -> Result<Option<&'v Value>, Mismatch> {
    let mut current = root;
    for (i, step) in steps.iter().enumerate() {
        if is_blank(current) {
            return Ok(None);
        }
        let mismatch = |needed: &'static str, found: &Value| Mismatch {
            at: render(&steps[..i]),
            needed,
            found: kind_of(found),
        };
        let next = match (step, current) {
            (Step::Key(k), Value::Object(map)) => map.get(k),
            (Step::Key(_), other) => return Err(mismatch("an object", other)),
            (Step::Index(n), Value::Array(items)) => {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if *n < 0 { len + n } else { *n };
                usize::try_from(at).ok().and_then(|at| items.get(at))
            }
            (Step::Index(0 | -1), object @ Value::Object(_)) => Some(object),
            (Step::Index(_), Value::Object(_)) => None,
            (Step::Index(_), other) => return Err(mismatch("a list", other)),
            (Step::Filter(f), Value::Array(items)) => items.iter().find(|item| f.matches(item)),
            (Step::Filter(f), object @ Value::Object(_)) => Some(object).filter(|o| f.matches(o)),
            (Step::Filter(_), other) => return Err(mismatch("a list", other)),
        };
        match next {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    Ok(Some(current).filter(|v| !v.is_null()))
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        // An element of another shape simply does not match.
        let found = walk(item, &self.path).ok().flatten();
        let equal = found.is_some_and(|v| loosely_equals(v, &self.value));
        equal != self.negate
    }
}

/// Whether a payload value equals a configured one: text ignoring case and surrounding
/// spaces, numbers also by value, booleans as `true`/`false`. Lists and objects equal nothing.
pub fn loosely_equals(v: &Value, expected: &str) -> bool {
    let expected = expected.trim();
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => return false,
    };
    if text.to_lowercase() == expected.to_lowercase() {
        return true;
    }
    match (text.parse::<f64>(), expected.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b && !text.is_empty(),
        _ => false,
    }
}
