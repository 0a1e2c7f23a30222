//! Form-encoded bodies as JSON, so one mapping reads both encodings.
//!
//! - `key=value` becomes `{"key": "value"}`; every value is a string.
//! - Bracketed and dotted keys nest: `call[agent][email]=…` and `call.agent.email=…` both
//!   become `{"call": {"agent": {"email": …}}}`; `legs[0][status]=…` becomes a list
//!   (`{"legs": [{"status": …}]}`), and `tags[]=a&tags[]=b` appends (`{"tags": ["a", "b"]}`).
//! - A value that is itself a JSON object or list (`data={"call": …}`, as some providers
//!   post) is read as JSON.
//! - When the same key comes twice, the first value is kept. A key that cannot nest (it
//!   clashes with an earlier one, as `a=1&a[b]=2`, or is malformed, as `a[b`) is kept as
//!   written at the top level, where a quoted selector reads it: `["a[b]"]`.

use serde_json::{Map, Value};

/// Lists longer than this stay objects keyed by number, so `a[99999999]=x` cannot allocate.
const MAX_INDEX: usize = 1000;

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// `[]`: the next free index.
    Push,
}

/// The form's pairs as one JSON object.
pub fn to_json(body: &[u8]) -> Value {
    let mut root = Map::new();
    for (key, raw) in form_urlencoded::parse(body) {
        let value = json_value(&raw);
        let placed = match segments(&key) {
            Some(path) => insert(&mut root, &path, value.clone()),
            None => false,
        };
        if !placed {
            root.entry(key.into_owned()).or_insert(value);
        }
    }
    lists(Value::Object(root))
}

fn json_value(raw: &str) -> Value {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(raw) {
            return v;
        }
    }
    Value::String(raw.to_string())
}

/// `a[b][0][]` or `a.b.0` as segments; `None` for a key that does not split cleanly.
fn segments(key: &str) -> Option<Vec<Segment>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut out = Vec::new();
    for part in head.split('.') {
        if part.is_empty() {
            return None;
        }
        out.push(Segment::Key(part.to_string()));
    }
    while !rest.is_empty() {
        let inner_end = rest.find(']')?;
        let inner = rest.get(1..inner_end)?;
        if !rest.starts_with('[') || inner.contains('[') {
            return None;
        }
        out.push(if inner.is_empty() {
            Segment::Push
        } else {
            Segment::Key(inner.to_string())
        });
        rest = &rest[inner_end + 1..];
    }
    Some(out)
}

/// Places `value` at `path`; false when an earlier value is in the way.
fn insert(root: &mut Map<String, Value>, path: &[Segment], value: Value) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let key = match first {
        Segment::Key(k) => k.clone(),
        Segment::Push => root.len().to_string(),
    };
    if rest.is_empty() {
        if root.contains_key(&key) {
            // A repeated key: the first value stands (a nested one would be lost).
            return !matches!(root.get(&key), Some(Value::Object(_)));
        }
        root.insert(key, value);
        return true;
    }
    match root.entry(key).or_insert_with(|| Value::Object(Map::new())) {
        Value::Object(child) => insert(child, rest, value),
        _ => false,
    }
}

/// Objects whose keys are exactly 0, 1, 2, … (in any order, gaps allowed) become lists.
fn lists(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let indexes: Option<Vec<usize>> = map.keys().map(|k| canonical_index(k)).collect();
            match indexes {
                Some(idx) if !idx.is_empty() && idx.iter().all(|i| *i < MAX_INDEX) => {
                    let len = idx.iter().max().map_or(0, |m| m + 1);
                    let mut items = vec![Value::Null; len];
                    for (i, (_, item)) in idx.into_iter().zip(map) {
                        if let Some(slot) = items.get_mut(i) {
                            *slot = lists(item);
                        }
                    }
                    Value::Array(items)
                }
                _ => Value::Object(map.into_iter().map(|(k, v)| (k, lists(v))).collect()),
            }
        }
        other => other,
    }
}

/// `0`, `1`, `12`, but not `01` or `-1`.
fn canonical_index(k: &str) -> Option<usize> {
    if k.is_empty() || (k.len() > 1 && k.starts_with('0')) || !k.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    k.parse().ok()
}
