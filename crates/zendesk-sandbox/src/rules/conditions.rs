//! Trigger conditions: the ones the sandbox understands, checked when a trigger is saved and
//! evaluated against a ticket change.
//!
//! A condition is parsed into a [`Test`] both when it is saved (so an unsupported field,
//! operator or value is a 422 naming it, never silently ignored) and when it is evaluated (so
//! the two can never disagree).

use serde_json::Value;

use crate::change::{TicketChange, UpdateType};
use crate::model::{Account, Condition, Role, Ticket};
use crate::tickets::{normalise_tags, STATUSES};

/// Condition fields the sandbox evaluates.
pub const SUPPORTED_FIELDS: &[&str] = &[
    "update_type",
    "comment_is_public",
    "current_via_id",
    "via_id",
    "status",
    "priority",
    "current_tags",
    "role",
    "assignee_id",
    "group_id",
    "custom_fields_<id>",
];

/// Priorities in their natural order (for `less_than` / `greater_than`).
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// What conditions look at: the ticket as it is now (after earlier triggers' actions) and the
/// change that started the trigger run.
pub struct Facts<'a> {
    /// The account, for the acting user's role.
    pub account: &'a Account,
    /// The ticket, including actions of triggers that already fired.
    pub ticket: &'a Ticket,
    /// The create or update being processed.
    pub change: &'a TicketChange,
}

/// A condition, parsed.
#[derive(Clone, Debug, PartialEq)]
enum Test {
    UpdateType {
        negate: bool,
        value: UpdateType,
    },
    Comment(CommentTest),
    CurrentVia {
        negate: bool,
        id: u32,
    },
    TicketVia {
        negate: bool,
        id: u32,
    },
    Tags {
        includes: bool,
        tags: Vec<String>,
    },
    Role {
        negate: bool,
        role: Role,
    },
    Property {
        field: Property,
        op: Op,
        value: Option<String>,
    },
}

/// `comment_is_public` values.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CommentTest {
    /// `true` / `requester_can_see_comment`: this update added a public comment.
    Public,
    /// `false`: this update added a comment and none of its comments is public.
    Private,
    /// `not_relevant`: this update added a comment, public or not.
    Present,
}

/// Ticket properties compared with the `status`-style operators.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Property {
    Status,
    Priority,
    Assignee,
    Group,
    /// A custom ticket field, by id (values compared as text).
    Custom(u64),
}

impl Property {
    fn ordered(self) -> Option<&'static [&'static str]> {
        match self {
            Property::Status => Some(STATUSES),
            Property::Priority => Some(PRIORITIES),
            Property::Assignee | Property::Group | Property::Custom(_) => None,
        }
    }
}

/// Operators on a ticket property.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Is,
    IsNot,
    LessThan,
    GreaterThan,
    Changed,
    NotChanged,
    ChangedTo,
    NotChangedTo,
    ChangedFrom,
    NotChangedFrom,
    Present,
    NotPresent,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "is" => Op::Is,
            "is_not" => Op::IsNot,
            "less_than" => Op::LessThan,
            "greater_than" => Op::GreaterThan,
            "changed" => Op::Changed,
            "not_changed" => Op::NotChanged,
            "value" => Op::ChangedTo,
            "not_value" => Op::NotChangedTo,
            "value_previous" => Op::ChangedFrom,
            "not_value_previous" => Op::NotChangedFrom,
            "present" => Op::Present,
            "not_present" => Op::NotPresent,
            _ => return None,
        })
    }

    fn needs_value(self) -> bool {
        !matches!(
            self,
            Op::Changed | Op::NotChanged | Op::Present | Op::NotPresent
        )
    }
}

/// A condition value as text: Zendesk sends strings, clients also send numbers and booleans.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn is_or_not(field: &str, operator: &str) -> Result<bool, String> {
    match operator {
        "is" => Ok(false),
        "is_not" => Ok(true),
        other => Err(format!(
            "condition {field}: operator {other:?} is not supported (use is or is_not)"
        )),
    }
}

fn via_value(field: &str, value: &Value) -> Result<u32, String> {
    value_text(value)
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| {
            format!("condition {field}: value must be a via type id such as \"5\", got {value}")
        })
}

fn property_value(field: Property, name: &str, value: &Value) -> Result<Option<String>, String> {
    let text = value_text(value)
        .ok_or_else(|| format!("condition {name}: value must be a string, got {value}"))?;
    if text.is_empty() || text == "-" {
        // Zendesk's "-" choice (no priority, no assignee, no group) is sent as an empty value.
        return if field == Property::Status {
            Err(format!(
                "condition {name}: value must be one of {}",
                STATUSES.join(", ")
            ))
        } else {
            Ok(None)
        };
    }
    match field {
        Property::Status | Property::Priority => {
            let allowed = field.ordered().unwrap_or_default();
            let lower = text.to_ascii_lowercase();
            if allowed.contains(&lower.as_str()) {
                Ok(Some(lower))
            } else {
                Err(format!(
                    "condition {name}: {text:?} is not one of {}",
                    allowed.join(", ")
                ))
            }
        }
        Property::Custom(_) => Ok(Some(text)),
        Property::Assignee if text == "current_user" => Ok(Some(text)),
        Property::Assignee | Property::Group => match text.parse::<u64>() {
            Ok(_) => Ok(Some(text)),
            Err(_) => Err(format!(
                "condition {name}: value must be an id{}, got {text:?}",
                if field == Property::Assignee {
                    ", \"current_user\" or \"\""
                } else {
                    " or \"\""
                }
            )),
        },
    }
}

fn custom_field(field: &str, account: Option<&Account>) -> Result<Option<Property>, String> {
    let Some(id) = field.strip_prefix("custom_fields_") else {
        return Ok(None);
    };
    let id: u64 = id
        .parse()
        .map_err(|_| format!("condition {field}: expected custom_fields_<ticket field id>"))?;
    if account.is_some_and(|a| !a.ticket_fields.contains_key(&id)) {
        return Err(format!(
            "condition {field}: ticket field {id} does not exist"
        ));
    }
    Ok(Some(Property::Custom(id)))
}

fn parse(c: &Condition, account: Option<&Account>) -> Result<Test, String> {
    let field = c.field.as_str();
    let op = c.operator.as_str();
    let value = &c.value;
    let property = match field {
        "status" => Some(Property::Status),
        "priority" => Some(Property::Priority),
        "assignee_id" => Some(Property::Assignee),
        "group_id" => Some(Property::Group),
        other => custom_field(other, account)?,
    };
    if let Some(property) = property {
        let custom = matches!(property, Property::Custom(_));
        let parsed = Op::parse(op).filter(|o| match o {
            Op::LessThan | Op::GreaterThan => property.ordered().is_some(),
            Op::Present | Op::NotPresent => custom,
            _ => true,
        });
        let Some(parsed) = parsed else {
            return Err(format!(
                "condition {field}: operator {op:?} is not supported (use is, is_not, {}changed, not_changed, value, not_value, value_previous{})",
                if property.ordered().is_some() { "less_than, greater_than, " } else { "" },
                if custom { ", not_value_previous, present or not_present" } else { " or not_value_previous" },
            ));
        };
        let value = if parsed.needs_value() {
            property_value(property, field, value)?
        } else {
            None
        };
        return Ok(Test::Property {
            field: property,
            op: parsed,
            value,
        });
    }
    match field {
        "update_type" => {
            let negate = is_or_not(field, op)?;
            let text = value_text(value).unwrap_or_default();
            let value = match [UpdateType::Create, UpdateType::Change]
                .into_iter()
                .find(|u| u.as_str().eq_ignore_ascii_case(&text))
            {
                Some(u) => u,
                None => {
                    return Err(format!(
                        "condition update_type: value must be \"Create\" or \"Change\", got {value}"
                    ))
                }
            };
            Ok(Test::UpdateType { negate, value })
        }
        "comment_is_public" => {
            if op != "is" {
                return Err(format!(
                    "condition comment_is_public: operator {op:?} is not supported (use is)"
                ));
            }
            let test = match value_text(value).as_deref() {
                Some("true") | Some("requester_can_see_comment") => CommentTest::Public,
                Some("false") => CommentTest::Private,
                Some("not_relevant") => CommentTest::Present,
                _ => return Err(format!(
                    "condition comment_is_public: value must be true, false, not_relevant or requester_can_see_comment, got {value}"
                )),
            };
            Ok(Test::Comment(test))
        }
        "current_via_id" => Ok(Test::CurrentVia {
            negate: is_or_not(field, op)?,
            id: via_value(field, value)?,
        }),
        "via_id" => Ok(Test::TicketVia {
            negate: is_or_not(field, op)?,
            id: via_value(field, value)?,
        }),
        "current_tags" => {
            let includes = match op {
                "includes" => true,
                "not_includes" => false,
                other => {
                    return Err(format!(
                        "condition current_tags: operator {other:?} is not supported (use includes or not_includes)"
                    ))
                }
            };
            let tags = match value {
                Value::Array(items) => normalise_tags(items.iter().filter_map(Value::as_str)),
                Value::String(s) => normalise_tags([s.as_str()]),
                _ => Vec::new(),
            };
            if tags.is_empty() {
                return Err(format!(
                    "condition current_tags: value must list at least one tag, got {value}"
                ));
            }
            Ok(Test::Tags { includes, tags })
        }
        "role" => {
            let negate = is_or_not(field, op)?;
            let role = match value_text(value).as_deref() {
                Some("agent") => Role::Agent,
                Some("admin") => Role::Admin,
                Some("end_user") | Some("end-user") => Role::EndUser,
                _ => {
                    return Err(format!(
                        "condition role: value must be agent, admin or end_user, got {value}"
                    ))
                }
            };
            Ok(Test::Role { negate, role })
        }
        other => Err(format!(
            "condition field {other:?} is not supported by the sandbox (supported: {})",
            SUPPORTED_FIELDS.join(", ")
        )),
    }
}

/// Checks a condition can be evaluated against the account (custom fields must exist); the
/// error names the field, operator or value.
pub fn check(c: &Condition, account: &Account) -> Result<(), String> {
    parse(c, Some(account)).map(|_| ())
}

/// Whether a condition holds. A condition that does not parse (only possible for a state file
/// edited by hand) never holds.
pub fn holds(c: &Condition, facts: &Facts) -> bool {
    parse(c, None).is_ok_and(|t| t.holds(facts))
}

/// Whether a trigger's conditions hold: every `all`, and at least one `any` when there are any.
pub fn matches(all: &[Condition], any: &[Condition], facts: &Facts) -> bool {
    all.iter().all(|c| holds(c, facts)) && (any.is_empty() || any.iter().any(|c| holds(c, facts)))
}

fn current(field: Property, t: &Ticket) -> Option<String> {
    match field {
        Property::Status => Some(t.status.clone()),
        Property::Priority => t.priority.clone(),
        Property::Assignee => t.assignee_id.map(|id| id.to_string()),
        Property::Group => t.group_id.map(|id| id.to_string()),
        Property::Custom(id) => field_text(t.custom_fields.get(&id)),
    }
}

/// A custom field value as text; null and empty count as no value.
fn field_text(v: Option<&Value>) -> Option<String> {
    value_text(v?).filter(|s| !s.is_empty())
}

/// The value before the update; `None` on a create, where every property counts as changed
/// from nothing (so `status changed` and `status value new` hold when a ticket is created).
fn previous(field: Property, change: &TicketChange) -> Option<String> {
    let before = change.before.as_ref()?;
    match field {
        Property::Status => Some(before.status.clone()),
        Property::Priority => before.priority.clone(),
        Property::Assignee => before.assignee_id.map(|id| id.to_string()),
        Property::Group => before.group_id.map(|id| id.to_string()),
        Property::Custom(id) => field_text(before.custom_fields.get(&id)),
    }
}

fn rank(order: &[&str], value: Option<&str>) -> Option<usize> {
    value.and_then(|v| order.iter().position(|o| *o == v))
}

impl Test {
    fn holds(&self, f: &Facts) -> bool {
        match self {
            Test::UpdateType { negate, value } => (f.change.update_type == *value) != *negate,
            Test::Comment(test) => {
                let added: Vec<bool> = f
                    .ticket
                    .comments
                    .iter()
                    .filter(|c| f.change.comment_ids.contains(&c.id))
                    .map(|c| c.public)
                    .collect();
                match test {
                    CommentTest::Public => added.iter().any(|p| *p),
                    CommentTest::Private => !added.is_empty() && !added.iter().any(|p| *p),
                    CommentTest::Present => !added.is_empty(),
                }
            }
            Test::CurrentVia { negate, id } => (f.change.via_id == *id) != *negate,
            Test::TicketVia { negate, id } => (f.ticket.via.id == *id) != *negate,
            Test::Tags { includes, tags } => {
                let any_present = tags.iter().any(|t| f.ticket.tags.contains(t));
                any_present == *includes
            }
            Test::Role { negate, role } => {
                let actual = f.account.users.get(&f.change.actor_id).map(|u| u.role);
                // An admin is also an agent, as in Zendesk's role condition.
                let is = match role {
                    Role::Agent => actual.is_some_and(Role::is_staff),
                    other => actual == Some(*other),
                };
                is != *negate
            }
            Test::Property { field, op, value } => {
                let value = match value.as_deref() {
                    Some("current_user") => Some(f.change.actor_id.to_string()),
                    other => other.map(str::to_string),
                };
                let now = current(*field, f.ticket);
                let before = previous(*field, f.change);
                let changed = now != before;
                match op {
                    Op::Is => now == value,
                    Op::IsNot => now != value,
                    Op::LessThan | Op::GreaterThan => {
                        let order = field.ordered().unwrap_or_default();
                        match (rank(order, now.as_deref()), rank(order, value.as_deref())) {
                            (Some(a), Some(b)) if *op == Op::LessThan => a < b,
                            (Some(a), Some(b)) => a > b,
                            _ => false,
                        }
                    }
                    Op::Changed => changed,
                    Op::NotChanged => !changed,
                    Op::ChangedTo => changed && now == value,
                    Op::NotChangedTo => !(changed && now == value),
                    Op::ChangedFrom => changed && before.is_some() && before == value,
                    Op::NotChangedFrom => !(changed && before.is_some() && before == value),
                    Op::Present => now.is_some(),
                    Op::NotPresent => now.is_none(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{account, change, ticket};
    use serde_json::json;

    fn cond(field: &str, operator: &str, value: Value) -> Condition {
        Condition {
            field: field.into(),
            operator: operator.into(),
            value,
        }
    }

    #[test]
    fn conditions_evaluate_as_documented() {
        let account = account();
        // Ticket 1 was "new", an agent (id 2) made it "open", tagged vip, and added a public
        // comment through the agent interface (via 0).
        let mut t = ticket();
        t.status = "open".into();
        t.tags = vec!["vip".into(), "voice".into()];
        t.custom_fields.insert(11, json!("call-42"));
        let mut ch = change(Some("new"), vec![100], 0, 2);
        t.comments[0].public = true;
        let cases: Vec<(Condition, bool)> = vec![
            (cond("update_type", "is", json!("Change")), true),
            (cond("update_type", "is", json!("Create")), false),
            (cond("update_type", "is_not", json!("Create")), true),
            (cond("comment_is_public", "is", json!("true")), true),
            (cond("comment_is_public", "is", json!(true)), true),
            (cond("comment_is_public", "is", json!("false")), false),
            (cond("comment_is_public", "is", json!("not_relevant")), true),
            (cond("current_via_id", "is_not", json!("5")), true),
            (cond("current_via_id", "is", json!(0)), true),
            (cond("via_id", "is", json!("5")), true),
            (cond("status", "is", json!("open")), true),
            (cond("status", "is_not", json!("open")), false),
            (cond("status", "less_than", json!("solved")), true),
            (cond("status", "greater_than", json!("open")), false),
            (cond("status", "greater_than", json!("new")), true),
            (cond("status", "changed", json!(null)), true),
            (cond("status", "not_changed", json!("")), false),
            (cond("status", "value", json!("open")), true),
            (cond("status", "value", json!("pending")), false),
            (cond("status", "value_previous", json!("new")), true),
            (cond("status", "not_value_previous", json!("new")), false),
            (cond("current_tags", "includes", json!("vip other")), true),
            (cond("current_tags", "includes", json!("other")), false),
            (
                cond("current_tags", "not_includes", json!("other spam")),
                true,
            ),
            (cond("current_tags", "not_includes", json!("voice")), false),
            (cond("role", "is", json!("agent")), true),
            (cond("role", "is", json!("admin")), false),
            (cond("role", "is_not", json!("end_user")), true),
            (cond("assignee_id", "is", json!("")), true),
            (cond("assignee_id", "changed", json!(null)), false),
            (cond("group_id", "is_not", json!("7")), true),
            (cond("priority", "is", json!("")), true),
            (cond("custom_fields_11", "is", json!("call-42")), true),
            (cond("custom_fields_11", "present", json!(null)), true),
            (cond("custom_fields_11", "changed", json!(null)), true),
            (
                cond("custom_fields_11", "value_previous", json!("call-41")),
                false,
            ),
            (cond("custom_fields_11", "is", json!("")), false),
        ];
        for (c, expected) in &cases {
            let facts = Facts {
                account: &account,
                ticket: &t,
                change: &ch,
            };
            assert_eq!(check(c, &account), Ok(()), "{c:?} parses");
            assert_eq!(holds(c, &facts), *expected, "{c:?}");
        }
        // An internal note is not a public comment.
        t.comments[0].public = false;
        let facts = Facts {
            account: &account,
            ticket: &t,
            change: &ch,
        };
        assert!(!holds(
            &cond("comment_is_public", "is", json!("true")),
            &facts
        ));
        assert!(holds(
            &cond("comment_is_public", "is", json!("false")),
            &facts
        ));
        // No comment at all: neither public nor private nor present.
        ch.comment_ids.clear();
        let facts = Facts {
            account: &account,
            ticket: &t,
            change: &ch,
        };
        assert!(!holds(
            &cond("comment_is_public", "is", json!("not_relevant")),
            &facts
        ));
        assert!(!holds(
            &cond("comment_is_public", "is", json!("false")),
            &facts
        ));
    }

    #[test]
    fn on_create_properties_changed_from_nothing() {
        let account = account();
        let t = ticket();
        let mut ch = change(None, vec![], 5, 1);
        ch.update_type = UpdateType::Create;
        let facts = Facts {
            account: &account,
            ticket: &t,
            change: &ch,
        };
        assert!(holds(&cond("status", "changed", json!(null)), &facts));
        assert!(holds(&cond("status", "value", json!("new")), &facts));
        assert!(!holds(
            &cond("status", "value_previous", json!("new")),
            &facts
        ));
        assert!(!holds(&cond("group_id", "changed", json!(null)), &facts));
        assert!(holds(&cond("role", "is", json!("admin")), &facts));
        assert!(holds(&cond("role", "is", json!("agent")), &facts));
    }

    #[test]
    fn unsupported_conditions_are_named() {
        let account = account();
        let cases = [
            (
                cond("subject_includes_word", "includes", json!("x")),
                "subject_includes_word",
            ),
            (cond("status", "includes", json!("open")), "includes"),
            (cond("status", "is", json!("opened")), "opened"),
            (cond("assignee_id", "less_than", json!("1")), "less_than"),
            (cond("group_id", "is", json!("support")), "support"),
            (cond("comment_is_public", "is", json!("maybe")), "maybe"),
            (cond("current_via_id", "is", json!("web")), "web"),
            (cond("current_tags", "includes", json!("")), "current_tags"),
            (cond("role", "is", json!("owner")), "owner"),
            (cond("update_type", "is", json!("Delete")), "Delete"),
            (cond("custom_fields_999", "is", json!("x")), "999"),
            (cond("custom_fields_x", "is", json!("x")), "custom_fields_x"),
            (cond("status", "present", json!(null)), "present"),
        ];
        for (c, named) in cases {
            let err = check(&c, &account).expect_err("rejected");
            assert!(err.contains(named), "{err} names {named}");
        }
    }
}
