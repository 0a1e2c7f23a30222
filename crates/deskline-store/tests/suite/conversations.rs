//! Conversations: saved and read back whole, found by ticket, by contact and by phone number.

use deskline_core::conversation::{ConversationState, ConversationStatus};
use deskline_store::{ContactKeys, Conversation};
use serde_json::json;

use super::{at, Harness};

fn conversation(source: &str, session: &str, channel: &str) -> Conversation {
    Conversation {
        source: source.to_string(),
        session_id: session.to_string(),
        channel: channel.to_string(),
        email: None,
        phone: None,
        contact_external_id: None,
        contact: json!({}),
        ticket_id: None,
        status: ConversationStatus::opened(at(0)),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub async fn conversations_save_and_find(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store
        .get_conversation("ai", "s-1")
        .await
        .expect("get")
        .is_none());

    let mut first = conversation("ai", "s-1", "web");
    first.email = Some("tom@okafor.example".into());
    first.contact = json!({"name": "Tom Okafor", "email": "tom@okafor.example"});
    store.save_conversation(&first, at(0)).await.expect("save");
    let read = store
        .get_conversation("ai", "s-1")
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(read, first, "read back whole");

    // Overwrite: the ticket and the status change, created_at stays.
    first.ticket_id = Some(7001);
    first.status.agent_replied(30011);
    store.save_conversation(&first, at(60)).await.expect("save");
    let read = store
        .get_conversation("ai", "s-1")
        .await
        .expect("get")
        .expect("saved");
    assert_eq!(read.ticket_id, Some(7001));
    assert_eq!(read.status.state, ConversationState::Assigned);
    assert_eq!(read.status.agent_id, Some(30011));
    assert_eq!((read.created_at, read.updated_at), (at(0), at(60)));

    // A second session of the same contact on the same ticket, changed later.
    let mut second = conversation("ai", "s-2", "web");
    second.email = Some("tom@okafor.example".into());
    second.ticket_id = Some(7001);
    store
        .save_conversation(&second, at(120))
        .await
        .expect("save");
    let on_ticket = store
        .conversations_for_ticket(7001)
        .await
        .expect("by ticket");
    let sessions: Vec<_> = on_ticket.iter().map(|c| c.session_id.as_str()).collect();
    assert_eq!(sessions, ["s-2", "s-1"], "most recently changed first");
    assert!(store
        .conversations_for_ticket(9999)
        .await
        .expect("by ticket")
        .is_empty());

    // By contact: any identity matches; the external id only within its source.
    let mut whatsapp = conversation("ai", "s-3", "whatsapp");
    whatsapp.phone = Some("+919876543210".into());
    whatsapp.contact_external_id = Some("c-42".into());
    whatsapp.ticket_id = Some(7002);
    store
        .save_conversation(&whatsapp, at(180))
        .await
        .expect("save");
    let by = |email: Option<&str>, phone: Option<&str>, ext: Option<&str>| ContactKeys {
        email: email.map(str::to_string),
        phone: phone.map(str::to_string),
        external_id: ext.map(str::to_string),
    };
    let found = |c: Option<Conversation>| c.map(|c| c.session_id);
    assert_eq!(
        found(
            store
                .latest_conversation_with_ticket("ai", &by(Some("tom@okafor.example"), None, None))
                .await
                .expect("by contact")
        ),
        Some("s-2".to_string())
    );
    assert_eq!(
        found(
            store
                .latest_conversation_with_ticket("ai", &by(None, Some("+919876543210"), None))
                .await
                .expect("by contact")
        ),
        Some("s-3".to_string())
    );
    assert_eq!(
        found(
            store
                .latest_conversation_with_ticket("ai", &by(None, None, Some("c-42")))
                .await
                .expect("by contact")
        ),
        Some("s-3".to_string())
    );
    assert_eq!(
        found(
            store
                .latest_conversation_with_ticket("other", &by(None, None, Some("c-42")))
                .await
                .expect("by contact")
        ),
        None,
        "another source's contact ids are another namespace"
    );
    assert_eq!(
        found(
            store
                .latest_conversation_with_ticket("ai", &ContactKeys::default())
                .await
                .expect("by contact")
        ),
        None
    );
}

pub async fn open_phone_sessions_match_exactly(h: &dyn Harness) {
    let store = h.open().await;
    let mut older = conversation("voice-ai", "call-1", "phone");
    older.phone = Some("+14155550100".into());
    store.save_conversation(&older, at(0)).await.expect("save");
    let mut newer = conversation("voice-ai", "call-2", "phone");
    newer.phone = Some("+14155550100".into());
    newer.created_at = at(30);
    store.save_conversation(&newer, at(30)).await.expect("save");
    let mut chat = conversation("voice-ai", "chat-1", "web");
    chat.phone = Some("+14155550101".into());
    store.save_conversation(&chat, at(0)).await.expect("save");

    let found = store
        .open_phone_session("+14155550100")
        .await
        .expect("lookup")
        .map(|c| c.session_id);
    assert_eq!(found.as_deref(), Some("call-2"), "the newest session");
    for other in [
        "+4155550100",
        "14155550100",
        "+141555501000",
        "+14155550101",
    ] {
        assert!(
            store
                .open_phone_session(other)
                .await
                .expect("lookup")
                .is_none(),
            "{other}: only an exact E.164 match on a phone session"
        );
    }

    // Stamped with a ticket, or closed: no longer open for correlation.
    newer.ticket_id = Some(8001);
    store.save_conversation(&newer, at(40)).await.expect("save");
    older.status.ticket_status_changed("closed", at(40));
    store.save_conversation(&older, at(40)).await.expect("save");
    assert!(store
        .open_phone_session("+14155550100")
        .await
        .expect("lookup")
        .is_none());
}
