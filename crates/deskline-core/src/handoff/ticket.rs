//! What a handoff writes on a Zendesk ticket: subject, the summary as the first text, the
//! transcript comment, tags and custom fields. Pure, so every part is table-tested; the
//! worker only adds the requester, the assignee and the Zendesk calls.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::{Handoff, HandoffMode, Role};
use crate::phone::PartyNumber;
use crate::plan::tag_slug;

/// Longest subject written; Zendesk allows more, but a subject is read in a list.
const MAX_SUBJECT_CHARS: usize = 100;

/// What a handoff puts on a ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct HandoffTicketPlan {
    /// The new ticket's subject.
    pub subject: String,
    /// The first text: the AI's summary (or a line saying there was none).
    pub summary: String,
    /// The transcript comment with the session link; `None` when there is neither.
    pub transcript: Option<String>,
    /// Tags for a new ticket.
    pub create_tags: Vec<String>,
    /// Tags added when the handoff joins an existing ticket (no "created on handoff").
    pub append_tags: Vec<String>,
    /// Custom field values by field id, from `customData`.
    pub fields: BTreeMap<u64, Value>,
}

/// A display name for the contact: the name, else the email, else the number, else the
/// platform's id.
pub fn contact_label(h: &Handoff) -> String {
    let c = &h.contact;
    if let Some(name) = &c.name {
        return name.clone();
    }
    if let Some(email) = &c.email {
        return email.clone();
    }
    if let PartyNumber::Known { phone } = &c.phone {
        return phone.as_str().to_string();
    }
    c.external_id
        .clone()
        .unwrap_or_else(|| "Unknown contact".to_string())
}

fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() <= MAX_SUBJECT_CHARS {
        return Some(line.to_string());
    }
    let cut: String = line.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::Ai => "AI",
        Role::Agent => "Agent",
        Role::System => "System",
    }
}

fn channel_label(channel: &str) -> String {
    match channel {
        "web" => "Web chat".to_string(),
        "sms" => "SMS".to_string(),
        "whatsapp" => "WhatsApp".to_string(),
        other => {
            let spaced = other.replace('_', " ");
            let mut chars = spaced.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => spaced,
            }
        }
    }
}

/// The transcript as a comment: one line per message with its time (UTC) when known, then
/// the session link.
pub fn transcript_text(h: &Handoff) -> Option<String> {
    if h.transcript.is_empty() && h.session_link.is_none() {
        return None;
    }
    let mut out = String::new();
    if !h.transcript.is_empty() {
        let _ = writeln!(
            out,
            "Transcript ({}, {} messages):",
            channel_label(&h.channel),
            h.transcript.len()
        );
        for m in &h.transcript {
            let _ = match m.at {
                Some(at) => writeln!(
                    out,
                    "[{}] {}: {}",
                    at.format("%Y-%m-%d %H:%M:%S UTC"),
                    role_label(m.role),
                    m.text
                ),
                None => writeln!(out, "{}: {}", role_label(m.role), m.text),
            };
        }
    }
    if let Some(link) = &h.session_link {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "Session: {link}");
    }
    Some(out.trim_end().to_string())
}

/// Plans the ticket parts of a handoff.
pub fn plan(h: &Handoff) -> HandoffTicketPlan {
    let who = contact_label(h);
    let channel = channel_label(&h.channel);
    let subject = match first_line(&h.summary) {
        Some(line) => line,
        None => format!("{channel} conversation with {who}"),
    };
    let lead = match h.mode {
        HandoffMode::HandedOff => {
            format!("{channel} conversation with {who}, handed off by the AI agent.")
        }
        HandoffMode::Resolved => {
            format!("{channel} conversation with {who}, resolved by the AI agent.")
        }
    };
    let summary = if h.summary.trim().is_empty() {
        format!("{lead}\n\nNo summary was given.")
    } else {
        format!("{lead}\n\nSummary: {}", h.summary.trim())
    };
    let mut tags = vec!["deskline".to_string()];
    tags.push(match h.mode {
        HandoffMode::HandedOff => "deskline_handedoff".to_string(),
        HandoffMode::Resolved => "deskline_ai_resolved".to_string(),
    });
    tags.push(format!("deskline_channel_{}", h.channel));
    if let Some(s) = h
        .sentiment
        .as_deref()
        .map(tag_slug)
        .filter(|s| !s.is_empty())
    {
        tags.push(format!("deskline_sentiment_{s}"));
    }
    if let Some(l) = h
        .language
        .as_deref()
        .map(tag_slug)
        .filter(|l| !l.is_empty())
    {
        tags.push(format!("deskline_language_{l}"));
    }
    for t in &h.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let append_tags = tags.clone();
    let mut create_tags = tags;
    create_tags.insert(2, "deskline_ticket_created_on_handoff".to_string());
    HandoffTicketPlan {
        subject,
        summary,
        transcript: transcript_text(h),
        create_tags,
        append_tags,
        fields: h.ticket_fields.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::{json, Map};

    use super::*;
    use crate::handoff::{Contact, TranscriptMessage};

    fn handoff() -> Handoff {
        Handoff {
            session_id: "conv_1".into(),
            contact: Contact {
                name: Some("Tom Okafor".into()),
                email: Some("tom@okafor.example".into()),
                phone: PartyNumber::Withheld,
                external_id: None,
            },
            channel: "web".into(),
            summary: "Customer was charged twice for order 1182.\nWants a refund.".into(),
            transcript: vec![
                TranscriptMessage {
                    role: Role::Customer,
                    text: "I was charged twice".into(),
                    at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 1, 0).single(),
                },
                TranscriptMessage {
                    role: Role::Ai,
                    text: "Let me get a human".into(),
                    at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 5).single(),
                },
            ],
            language: Some("pt-BR".into()),
            sentiment: Some("angry".into()),
            mode: HandoffMode::HandedOff,
            session_link: Some("https://ai.example/sessions/conv_1".into()),
            ticket_fields: BTreeMap::from([(360001, json!("billing"))]),
            tags: vec!["double_charge".into(), "deskline".into()],
            custom_data: Map::new(),
        }
    }

    #[test]
    fn a_full_handoff() {
        let p = plan(&handoff());
        assert_eq!(p.subject, "Customer was charged twice for order 1182.");
        assert_eq!(
            p.summary,
            "Web chat conversation with Tom Okafor, handed off by the AI agent.\n\nSummary: Customer was charged twice for order 1182.\nWants a refund."
        );
        assert_eq!(
            p.transcript.as_deref(),
            Some(
                "Transcript (Web chat, 2 messages):\n\
                 [2026-11-23 10:01:00 UTC] Customer: I was charged twice\n\
                 [2026-11-23 10:02:05 UTC] AI: Let me get a human\n\n\
                 Session: https://ai.example/sessions/conv_1"
            )
        );
        assert_eq!(
            p.create_tags,
            [
                "deskline",
                "deskline_handedoff",
                "deskline_ticket_created_on_handoff",
                "deskline_channel_web",
                "deskline_sentiment_angry",
                "deskline_language_pt_br",
                "double_charge"
            ]
        );
        assert!(!p
            .append_tags
            .contains(&"deskline_ticket_created_on_handoff".to_string()));
        assert_eq!(p.append_tags.len(), p.create_tags.len() - 1);
        assert_eq!(p.fields.get(&360001), Some(&json!("billing")));
    }

    #[test]
    fn sparse_handoffs() {
        struct Case {
            name: &'static str,
            edit: fn(&mut Handoff),
            subject: &'static str,
            transcript: Option<&'static str>,
            tag: &'static str,
        }
        let cases = [
            Case {
                name: "no summary: the subject names the channel and contact",
                edit: |h| {
                    h.summary = String::new();
                    h.channel = "whatsapp".into();
                },
                subject: "WhatsApp conversation with Tom Okafor",
                transcript: Some("Transcript (WhatsApp, 2 messages):"),
                tag: "deskline_channel_whatsapp",
            },
            Case {
                name: "only a phone number",
                edit: |h| {
                    h.summary = String::new();
                    h.contact.name = None;
                    h.contact.email = None;
                    h.contact.phone = PartyNumber::Known {
                        phone: crate::phone::PhoneParser::new("IN")
                            .expect("region")
                            .parse("+919876543210")
                            .phone()
                            .expect("valid")
                            .clone(),
                    };
                },
                subject: "Web chat conversation with +919876543210",
                transcript: Some("Transcript"),
                tag: "deskline_handedoff",
            },
            Case {
                name: "no transcript and no link: no comment",
                edit: |h| {
                    h.transcript.clear();
                    h.session_link = None;
                },
                subject: "Customer was charged twice for order 1182.",
                transcript: None,
                tag: "deskline",
            },
            Case {
                name: "only a link",
                edit: |h| h.transcript.clear(),
                subject: "Customer was charged twice for order 1182.",
                transcript: Some("Session: https://ai.example/sessions/conv_1"),
                tag: "deskline",
            },
            Case {
                name: "resolved by the AI",
                edit: |h| h.mode = HandoffMode::Resolved,
                subject: "Customer was charged twice for order 1182.",
                transcript: Some("Transcript"),
                tag: "deskline_ai_resolved",
            },
            Case {
                name: "a long first line is cut",
                edit: |h| h.summary = "x".repeat(300),
                subject: "",
                transcript: Some("Transcript"),
                tag: "deskline",
            },
        ];
        for case in cases {
            let mut h = handoff();
            (case.edit)(&mut h);
            let p = plan(&h);
            if case.subject.is_empty() {
                assert_eq!(
                    p.subject.chars().count(),
                    MAX_SUBJECT_CHARS,
                    "{}",
                    case.name
                );
                assert!(p.subject.ends_with('…'), "{}", case.name);
            } else {
                assert_eq!(p.subject, case.subject, "{}", case.name);
            }
            match (case.transcript, &p.transcript) {
                (None, None) => {}
                (Some(start), Some(t)) => assert!(t.starts_with(start), "{}: {t}", case.name),
                (want, got) => panic!("{}: want {want:?}, got {got:?}", case.name),
            }
            assert!(
                p.create_tags.contains(&case.tag.to_string()),
                "{}: {:?}",
                case.name,
                p.create_tags
            );
        }
    }
}
