//! The client against the real sandbox over loopback HTTP: idempotent creates, paging the
//! seeded directory, user upsert and phone search, webhooks and triggers, and real error
//! answers (422, 401, 404, 429 storms, dropped connections). The sandbox is written
//! independently of this client, so agreement here is evidence, not an echo.

use std::time::Duration;

use deskline_zendesk::{
    CustomField, IdempotencyLookup, NewComment, NewTicket, NewTrigger, NewUser, NewWebhook, Secret,
    TicketStatus, TicketUpdate, TriggerAction, TriggerCondition, TriggerConditions, UserRole,
    VoiceComment, ZendeskClient, ZendeskConfig, ZendeskError,
};
use serde_json::{json, Value};
use zendesk_sandbox::{SandboxConfig, SandboxHandle};

const ADMIN: &str = "admin@sandbox.test";
const TOKEN: &str = "sandbox-token";
const PRIYA: u64 = 30011;
const LUCAS: u64 = 30016;
const VOICE_MISSED_CALLS: u64 = 20003;
const ANITA: u64 = 50001;

struct Sandbox {
    handle: SandboxHandle,
    client: ZendeskClient,
    http: reqwest::Client,
}

async fn sandbox(config: SandboxConfig) -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let handle = zendesk_sandbox::start(config, listener)
        .await
        .expect("sandbox starts");
    let client = client_with_token(&handle.base_url, TOKEN);
    Sandbox {
        handle,
        client,
        http: reqwest::Client::new(),
    }
}

fn client_with_token(base: &str, token: &str) -> ZendeskClient {
    let mut config = ZendeskConfig::new(base, ADMIN, Secret::new(token));
    config.timeout = Duration::from_secs(5);
    ZendeskClient::new(&config).expect("client")
}

impl Sandbox {
    /// A `/sandbox/*` control request as the admin.
    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.handle.base_url))
            .basic_auth(format!("{ADMIN}/token"), Some(TOKEN));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("control request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }
}

fn call_ticket(call_id: &str, assignee: u64) -> NewTicket {
    NewTicket {
        subject: Some(format!("Answered call {call_id}")),
        comment: Some(NewComment::private_text(format!("Call {call_id}, 95 s"))),
        requester_id: Some(ANITA),
        assignee_id: Some(assignee),
        group_id: Some(VOICE_MISSED_CALLS),
        external_id: Some(format!("call:{call_id}")),
        tags: vec!["voice".into()],
        custom_fields: vec![
            CustomField::new(10001, call_id),
            CustomField::new(10002, "inbound"),
            CustomField::new(10003, "95"),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn tickets_are_created_once_per_key_and_can_be_worked() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = &sb.client;
    let ticket = call_ticket("CA100", PRIYA);
    let first = c
        .create_ticket(&ticket, "call:CA100")
        .await
        .expect("first create");
    let again = c
        .create_ticket(&ticket, "call:CA100")
        .await
        .expect("replayed create");
    assert_eq!(first.idempotency, Some(IdempotencyLookup::Miss));
    assert_eq!(again.idempotency, Some(IdempotencyLookup::Hit));
    assert_eq!(first.ticket.id, again.ticket.id);
    assert_eq!(sb.handle.ticket_count(), 1);
    assert_eq!(first.ticket.assignee_id, Some(PRIYA));
    assert_eq!(first.ticket.status, Some(TicketStatus::Open));

    // The same key with another body is refused, permanently.
    let changed = call_ticket("CA101", PRIYA);
    let err = c.create_ticket(&changed, "call:CA100").await.err();
    assert_eq!(err, Some(ZendeskError::IdempotencyMismatch));

    let found = c
        .tickets_by_external_id("call:CA100")
        .await
        .expect("by external id");
    assert_eq!(
        found.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![first.ticket.id]
    );
    let shown = c.show_ticket(first.ticket.id).await.expect("show");
    assert!(shown
        .custom_fields
        .contains(&CustomField::new(10001, "CA100")));

    let update = TicketUpdate {
        comment: Some(NewComment::private_text("Customer called back")),
        status: Some(TicketStatus::Pending),
        additional_tags: vec!["callback".into()],
        ..Default::default()
    };
    let updated = c
        .update_ticket(first.ticket.id, &update)
        .await
        .expect("update");
    assert_eq!(updated.status, Some(TicketStatus::Pending));
    assert!(
        updated.tags.contains(&"callback".to_string())
            && updated.tags.contains(&"voice".to_string())
    );
    let comments = c.list_comments(first.ticket.id).await.expect("comments");
    assert_eq!(comments.len(), 2);
    assert!(
        comments.iter().all(|cm| !cm.public),
        "internal notes stay private"
    );

    // Talk Partner Edition voicemail: the caller becomes the requester.
    let voicemail = NewTicket {
        via_id: Some(44),
        voice_comment: Some(VoiceComment {
            from: Some("+919876543210".into()),
            to: Some("+918000000000".into()),
            recording_url: Some("https://rec.example/vm.mp3".into()),
            call_duration: Some(30),
            ..Default::default()
        }),
        group_id: Some(VOICE_MISSED_CALLS),
        external_id: Some("call:VM1".into()),
        ..Default::default()
    };
    let vm = c
        .create_voice_ticket(&voicemail, Some(PRIYA))
        .await
        .expect("voicemail");
    assert_eq!(vm.requester_id, Some(ANITA));
    let vm_comments = c.list_comments(vm.id).await.expect("voicemail comments");
    assert_eq!(
        vm_comments
            .first()
            .and_then(|cm| cm.comment_type.as_deref()),
        Some("VoiceComment")
    );
}

#[tokio::test]
async fn the_directory_is_read_to_the_end() {
    let sb = sandbox(SandboxConfig::default()).await;
    // Five per page: the 13 staff take three pages.
    let c = sb.client.with_page_size(5);
    let staff = c.list_staff().await.expect("staff");
    assert_eq!(staff.len(), 13);
    assert!(staff
        .iter()
        .all(|u| matches!(u.role, Some(UserRole::Agent | UserRole::Admin))));
    let priya = staff.iter().find(|u| u.id == PRIYA).expect("priya");
    assert_eq!(priya.email.as_deref(), Some("priya.sharma@sandbox.test"));
    let requests = sb
        .control(reqwest::Method::GET, "/sandbox/requests", None)
        .await;
    let pages = requests["requests"].as_array().map_or(0, |r| {
        r.iter()
            .filter(|e| {
                e["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/api/v2/users"))
            })
            .count()
    });
    assert_eq!(pages, 3, "{requests}");

    let groups = c.list_groups().await.expect("groups");
    assert!(groups
        .iter()
        .any(|g| g.id == VOICE_MISSED_CALLS && g.name == "Voice-Missed-Calls"));
    let memberships = c.list_group_memberships().await.expect("memberships");
    assert!(memberships
        .iter()
        .any(|m| m.user_id == PRIYA && m.group_id == VOICE_MISSED_CALLS));
    let fields = c.list_ticket_fields().await.expect("fields");
    for id in 10001..=10005 {
        assert!(fields.iter().any(|f| f.id == id), "field {id}");
    }
    let direction = fields
        .iter()
        .find(|f| f.id == 10002)
        .expect("direction field");
    assert!(direction
        .custom_field_options
        .iter()
        .any(|o| o.value == "inbound"));
    let me = c.me().await.expect("me");
    assert_eq!((me.id, me.role), (30001, Some(UserRole::Admin)));
    assert_eq!(c.budget().snapshot().limit, Some(700));
}

#[tokio::test]
async fn users_are_upserted_and_found_by_phone() {
    let sb = sandbox(SandboxConfig {
        search_index_delay: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let c = &sb.client;
    let user = NewUser {
        name: Some("Jane Caller".into()),
        email: Some("jane@example.com".into()),
        phone: Some("+15557654321".into()),
        external_id: Some("crm-8812".into()),
        skip_verify_email: Some(true),
        ..Default::default()
    };
    let (created, was_created) = c.create_or_update_user(&user).await.expect("create");
    assert!(was_created);
    // The client's own 1/s limiter spaces this second call; the sandbox enforces 1/s too.
    let rename = NewUser {
        name: Some("Jane C.".into()),
        email: Some("JANE@example.com".into()),
        ..Default::default()
    };
    let (updated, was_created) = c.create_or_update_user(&rename).await.expect("update");
    assert!(!was_created);
    assert_eq!(updated.id, created.id);

    let found = c.find_users_by_phone("+15557654321").await.expect("search");
    assert_eq!(
        found.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![created.id]
    );
    let anita = c
        .find_users_by_phone("+919876543210")
        .await
        .expect("search seed");
    assert_eq!(anita.iter().map(|u| u.id).collect::<Vec<_>>(), vec![ANITA]);
    assert!(c
        .find_users_by_phone("+15550000000")
        .await
        .expect("none")
        .is_empty());
    let shown = c.show_user(created.id).await.expect("show");
    assert_eq!(shown.name.as_deref(), Some("Jane C."));
}

#[tokio::test]
async fn real_error_answers_are_classified() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = &sb.client;
    // Lucas is in Sales, not in Voice-Missed-Calls: 422 with per-field details.
    let err = c
        .create_ticket(&call_ticket("CA200", LUCAS), "call:CA200")
        .await
        .err();
    match &err {
        Some(ZendeskError::Invalid { details }) => {
            assert!(details.starts_with("assignee: "), "{details}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(err.is_some_and(|e| e.is_permanent()));
    let mut bad_field = call_ticket("CA201", PRIYA);
    bad_field
        .custom_fields
        .push(CustomField::new(10003, "ninety"));
    assert!(matches!(
        c.create_ticket(&bad_field, "call:CA201").await,
        Err(ZendeskError::Invalid { .. })
    ));
    assert_eq!(
        sb.handle.ticket_count(),
        0,
        "a refused create changes nothing"
    );

    assert!(matches!(
        c.show_ticket(999_999).await,
        Err(ZendeskError::NotFound { .. })
    ));
    let wrong = client_with_token(&sb.handle.base_url, "not-the-token");
    let err = wrong.me().await.err();
    assert_eq!(err, Some(ZendeskError::Unauthorized));
}

#[tokio::test]
async fn storms_and_dropped_connections_are_not_permanent() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = &sb.client;
    sb.control(reqwest::Method::DELETE, "/sandbox/requests", None)
        .await;
    sb.control(
        reqwest::Method::PUT,
        "/sandbox/faults",
        Some(json!({"rate_limit_storm_seconds": 2})),
    )
    .await;
    let err = c.me().await.err();
    let retry_after = err.as_ref().and_then(ZendeskError::retry_after);
    assert!(
        matches!(err, Some(ZendeskError::RateLimited { .. }))
            && retry_after.is_some_and(|d| d <= Duration::from_secs(2)),
        "{err:?}"
    );
    // The client returned at once: exactly one request reached the sandbox (no retry loop).
    let log = sb
        .control(reqwest::Method::GET, "/sandbox/requests", None)
        .await;
    let entries = log["requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["status"], 429);

    sb.control(
        reqwest::Method::PUT,
        "/sandbox/faults",
        Some(json!({"drop_rate": 1.0})),
    )
    .await;
    let err = c.me().await.err();
    assert!(
        matches!(err, Some(ZendeskError::Transient { .. })),
        "{err:?}"
    );

    sb.control(
        reqwest::Method::PUT,
        "/sandbox/faults",
        Some(json!({"error_rate": 1.0, "error_statuses": [502]})),
    )
    .await;
    let err = c.me().await.err();
    assert!(
        matches!(err, Some(ZendeskError::Transient { .. })),
        "{err:?}"
    );

    sb.control(reqwest::Method::DELETE, "/sandbox/faults", None)
        .await;
    assert!(c.me().await.is_ok());
}

#[tokio::test]
async fn webhooks_and_triggers_round_trip() {
    let sb = sandbox(SandboxConfig::default()).await;
    let c = &sb.client;
    let hook = NewWebhook {
        name: "replies".into(),
        description: Some("test".into()),
        endpoint: "http://127.0.0.1:9/zendesk/webhook".into(),
        http_method: "POST".into(),
        request_format: "json".into(),
        status: "active".into(),
        subscriptions: vec!["conditional_ticket_events".into()],
    };
    let created = c.create_webhook(&hook).await.expect("create webhook");
    assert_eq!(created.name, "replies");
    assert!(created.is_trigger_connected() && created.authentication.is_none());
    let secret = c
        .webhook_signing_secret(&created.id)
        .await
        .expect("signing secret");
    let again = c
        .webhook_signing_secret(&created.id)
        .await
        .expect("signing secret again");
    assert!(!secret.secret.is_empty());
    assert_eq!(secret.secret.expose(), again.secret.expose());

    // A replace answers 204 and changes what it sends.
    let moved = NewWebhook {
        endpoint: "http://127.0.0.1:9/other".into(),
        ..hook.clone()
    };
    c.update_webhook(&created.id, &moved)
        .await
        .expect("replace");
    let listed = c.list_webhooks().await.expect("list webhooks");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].endpoint, "http://127.0.0.1:9/other");
    // The connection method cannot change: the webhooks API's `errors` answer, read.
    let events = NewWebhook {
        subscriptions: vec!["zen:event-type:ticket.created".into()],
        ..hook.clone()
    };
    match c.update_webhook(&created.id, &events).await {
        Err(ZendeskError::BadRequest { description }) => {
            assert!(description.contains("connection method"), "{description}")
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }

    let trigger = NewTrigger {
        title: "replies".into(),
        description: None,
        active: true,
        conditions: TriggerConditions {
            all: vec![
                TriggerCondition::new("update_type", "is", "Change"),
                TriggerCondition::new("comment_is_public", "is", "true"),
            ],
            any: vec![],
        },
        actions: vec![TriggerAction::notify_webhook(
            &created.id,
            "{\"id\":\"{{ticket.id}}\"}",
        )],
        category_id: None,
    };
    let t = c.create_trigger(&trigger).await.expect("create trigger");
    assert!(t.active);
    assert_eq!(t.conditions, trigger.conditions);
    assert_eq!(t.actions, trigger.actions);
    let off = NewTrigger {
        active: false,
        ..trigger.clone()
    };
    let updated = c.update_trigger(t.id, &off).await.expect("update trigger");
    assert!(!updated.active);
    let listed = c.list_triggers().await.expect("list triggers");
    assert!(listed.iter().any(|x| x.id == t.id && !x.active));
    // A condition the sandbox cannot evaluate is refused with a reason, not ignored.
    let odd = NewTrigger {
        conditions: TriggerConditions {
            all: vec![TriggerCondition::new("satisfaction_score", "is", "good")],
            any: vec![],
        },
        ..trigger.clone()
    };
    assert!(matches!(
        c.create_trigger(&odd).await,
        Err(ZendeskError::Invalid { .. })
    ));

    c.delete_trigger(t.id).await.expect("delete trigger");
    c.delete_webhook(&created.id).await.expect("delete webhook");
    assert!(matches!(
        c.delete_trigger(t.id).await,
        Err(ZendeskError::NotFound { .. })
    ));
    assert!(matches!(
        c.delete_webhook(&created.id).await,
        Err(ZendeskError::NotFound { .. })
    ));
    assert!(c.list_webhooks().await.expect("list").is_empty());
}
