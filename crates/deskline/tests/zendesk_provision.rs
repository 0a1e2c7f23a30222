//! `deskline zendesk provision` and `disconnect` against a real Zendesk sandbox over loopback
//! HTTP: idempotence (a second run writes nothing), the stored signing secrets are the ones
//! Zendesk signs with, the reply trigger sends public replies and never internal notes, and
//! disconnect removes exactly deskline's objects and links. The last tests run the real binary,
//! next to a running `deskline serve` that then accepts the signed deliveries.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use chrono::Utc;
use deskline_server::provision::{
    self, Change, EVENTS_WEBHOOK_ID_KEY, EVENTS_WEBHOOK_NAME, PROVISION_LINK_KIND,
    REPLIES_WEBHOOK_ID_KEY, REPLIES_WEBHOOK_NAME, REPLY_EVENT, REPLY_TRIGGER_ID_KEY,
    REPLY_TRIGGER_NAME,
};
use deskline_server::zendesk_hook::{EVENTS_SIGNING_SECRET_LINK, SIGNING_SECRET_LINK};
use deskline_store::{SqliteStore, Store};
use deskline_zendesk::signature::sign;
use deskline_zendesk::{
    NewTrigger, NewWebhook, Secret, TriggerAction, TriggerCondition, TriggerConditions,
    ZendeskClient, ZendeskConfig,
};
use reqwest::{Method, Url};
use serde_json::{json, Value};
use tempfile::TempDir;
use zendesk_sandbox::{SandboxConfig, SandboxHandle};

const ADMIN: &str = "admin@sandbox.test";
const TOKEN: &str = "sandbox-token";
const PRIYA_EMAIL: &str = "priya.sharma@sandbox.test";
const PRIYA: u64 = 30011;
const AGENT_PASSWORD: &str = "agent-password";
const ANITA: u64 = 50001;
const PUBLIC_REPLY: &str = "We are calling you back at 5pm";
const INTERNAL_NOTE: &str = "INTERNAL: customer owes 300 rupees";
const INTERNAL_TRANSCRIPT: &str = "INTERNAL transcript: card ending 4242";
const DEADLINE: Duration = Duration::from_secs(30);
/// Every link provisioning writes.
const LINKS: [(&str, &str); 5] = [
    SIGNING_SECRET_LINK,
    EVENTS_SIGNING_SECRET_LINK,
    (PROVISION_LINK_KIND, REPLIES_WEBHOOK_ID_KEY),
    (PROVISION_LINK_KIND, EVENTS_WEBHOOK_ID_KEY),
    (PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY),
];

struct Sandbox {
    handle: SandboxHandle,
    http: reqwest::Client,
}

async fn sandbox() -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let config = SandboxConfig {
        // Deliveries to an endpoint nobody listens on fail at once, without retries.
        webhook_retries: 0,
        webhook_timeout: Duration::from_secs(5),
        ..SandboxConfig::default()
    };
    let handle = zendesk_sandbox::start(config, listener)
        .await
        .expect("sandbox starts");
    Sandbox {
        handle,
        http: reqwest::Client::new(),
    }
}

impl Sandbox {
    fn client(&self) -> ZendeskClient {
        let mut config = ZendeskConfig::new(&self.handle.base_url, ADMIN, Secret::new(TOKEN));
        config.timeout = Duration::from_secs(10);
        ZendeskClient::new(&config).expect("client")
    }

    /// A request as the admin through the API token (changes come "via API", id 5).
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.handle.base_url))
            .basic_auth(format!("{ADMIN}/token"), Some(TOKEN));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("sandbox request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// A comment by Priya working in the Agent Workspace (via web, id 0), as a person replies.
    async fn agent_comment(&self, ticket: u64, body: &str, public: bool) {
        self.agent_update(
            ticket,
            json!({"ticket": {"comment": {"body": body, "public": public}}}),
        )
        .await;
    }

    /// An update by Priya in the Agent Workspace.
    async fn agent_update(&self, ticket: u64, update: Value) {
        let r = self
            .http
            .put(format!("{}/api/v2/tickets/{ticket}", self.handle.base_url))
            .basic_auth(PRIYA_EMAIL, Some(AGENT_PASSWORD))
            .json(&update)
            .send()
            .await
            .expect("agent update");
        assert!(r.status().is_success(), "{}", r.status());
    }

    /// The full state of the account's business rules, timestamps included.
    async fn rules(&self) -> (Value, Value) {
        let webhooks = self
            .admin(Method::GET, "/api/v2/webhooks?page[size]=100", None)
            .await;
        let triggers = self
            .admin(Method::GET, "/api/v2/triggers?page[size]=100", None)
            .await;
        (webhooks["webhooks"].clone(), triggers["triggers"].clone())
    }

    async fn last_request_seq(&self) -> u64 {
        let log = self.admin(Method::GET, "/sandbox/requests", None).await;
        log["requests"]
            .as_array()
            .and_then(|r| r.last())
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    async fn requests_since(&self, seq: u64) -> Vec<Value> {
        let log = self
            .admin(Method::GET, &format!("/sandbox/requests?since={seq}"), None)
            .await;
        log["requests"].as_array().cloned().unwrap_or_default()
    }

    async fn signing_secret(&self, webhook_id: &str) -> String {
        let s = self
            .admin(
                Method::GET,
                &format!("/api/v2/webhooks/{webhook_id}/signing_secret"),
                None,
            )
            .await;
        s["signing_secret"]["secret"]
            .as_str()
            .expect("a secret")
            .to_string()
    }

    /// Deliveries through `webhook_id` once `done` holds for them (or the deadline passes).
    async fn deliveries(&self, webhook_id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let log = self
                .admin(
                    Method::GET,
                    &format!("/sandbox/deliveries?webhook_id={webhook_id}"),
                    None,
                )
                .await;
            let list = log["deliveries"].as_array().cloned().unwrap_or_default();
            if done(&list) || Instant::now() > deadline {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn new_ticket(&self) -> u64 {
        let t = self
            .admin(
                Method::POST,
                "/api/v2/tickets",
                Some(json!({"ticket": {"subject": "Call back please",
                    "comment": {"body": "Missed call", "public": false},
                    "requester_id": ANITA, "external_id": "call:CA-PROV-1"}})),
            )
            .await;
        t["ticket"]["id"].as_u64().expect("ticket id")
    }
}

/// The `key` of every item, sorted: the sandbox lists webhooks by id, and ids made in the
/// same millisecond have no fixed order.
fn names(list: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[key].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

async fn link(store: &SqliteStore, (kind, key): (&str, &str)) -> Option<deskline_store::Link> {
    store.get_link(kind, key).await.expect("read link")
}

/// Someone else's webhook and trigger, which deskline must never touch.
async fn unrelated_rules(client: &ZendeskClient) -> (String, u64) {
    let hook = client
        .create_webhook(&NewWebhook {
            name: "CRM sync".into(),
            description: None,
            endpoint: "http://127.0.0.1:9/crm".into(),
            http_method: "POST".into(),
            request_format: "json".into(),
            status: "active".into(),
            subscriptions: vec!["conditional_ticket_events".into()],
        })
        .await
        .expect("unrelated webhook");
    // A name that only starts like deskline's: exact names only, so it survives too.
    client
        .create_webhook(&NewWebhook {
            name: format!("{REPLIES_WEBHOOK_NAME} (old)"),
            description: None,
            endpoint: "http://127.0.0.1:9/old".into(),
            http_method: "POST".into(),
            request_format: "json".into(),
            status: "inactive".into(),
            subscriptions: vec!["conditional_ticket_events".into()],
        })
        .await
        .expect("look-alike webhook");
    let trigger = client
        .create_trigger(&NewTrigger {
            title: "Notify CRM of solved tickets".into(),
            description: None,
            active: true,
            conditions: TriggerConditions {
                all: vec![TriggerCondition::new("status", "is", "solved")],
                any: vec![],
            },
            actions: vec![TriggerAction::notify_webhook(&hook.id, "{\"solved\":true}")],
            category_id: None,
        })
        .await
        .expect("unrelated trigger");
    (hook.id, trigger.id)
}

#[tokio::test]
async fn provision_is_idempotent_and_disconnect_removes_only_its_own() {
    let sb = sandbox().await;
    let client = sb.client();
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("deskline.db"))
        .await
        .expect("store");
    let endpoint = Url::parse("http://127.0.0.1:9/zendesk/webhook").expect("url");
    let (crm_hook, crm_trigger) = unrelated_rules(&client).await;

    let first = provision::provision(&client, &store, &endpoint, Utc::now())
        .await
        .expect("first provision");
    let changes: Vec<(&str, Change)> = first.objects.iter().map(|o| (o.name, o.change)).collect();
    assert_eq!(
        changes,
        [
            (REPLIES_WEBHOOK_NAME, Change::Created),
            (EVENTS_WEBHOOK_NAME, Change::Created),
            (REPLY_TRIGGER_NAME, Change::Created),
        ]
    );
    assert_eq!(first.links_written.len(), 5, "{:?}", first.links_written);
    assert!(first.duplicates.is_empty());
    let replies_id = first.objects[0].id.clone();
    let events_id = first.objects[1].id.clone();
    let trigger_id = first.objects[2].id.clone();

    // What was made is what the brief asks for, read back from Zendesk's side.
    let (webhooks, triggers) = sb.rules().await;
    let hook = |name: &str| -> Value {
        webhooks
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let replies = hook(REPLIES_WEBHOOK_NAME);
    assert_eq!(replies["endpoint"], endpoint.as_str());
    assert_eq!(
        (
            &replies["http_method"],
            &replies["request_format"],
            &replies["status"]
        ),
        (&json!("POST"), &json!("json"), &json!("active"))
    );
    assert_eq!(
        replies["subscriptions"],
        json!(["conditional_ticket_events"])
    );
    assert_eq!(replies["authentication"], Value::Null);
    let events = hook(EVENTS_WEBHOOK_NAME);
    assert_eq!(
        events["subscriptions"],
        json!([
            "zen:event-type:ticket.created",
            "zen:event-type:ticket.status_changed"
        ])
    );
    assert_eq!(events["authentication"], Value::Null);
    let trigger = triggers
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["title"] == REPLY_TRIGGER_NAME)
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        trigger["conditions"],
        json!({"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "current_via_id", "operator": "is_not", "value": "5"}], "any": []})
    );
    assert_eq!(
        trigger["actions"],
        json!([{"field": "notification_webhook",
            "value": [replies_id, provision::REPLY_TRIGGER_BODY]}])
    );

    // The stored secrets are exactly the ones Zendesk signs with; the ids are recorded.
    let replies_secret = sb.signing_secret(&replies_id).await;
    let events_secret = sb.signing_secret(&events_id).await;
    assert_ne!(replies_secret, events_secret);
    let stored = |l: Option<deskline_store::Link>| l.map(|l| l.value);
    assert_eq!(
        stored(link(&store, SIGNING_SECRET_LINK).await),
        Some(replies_secret.clone())
    );
    assert_eq!(
        stored(link(&store, EVENTS_SIGNING_SECRET_LINK).await),
        Some(events_secret.clone())
    );
    assert_eq!(
        stored(link(&store, (PROVISION_LINK_KIND, REPLIES_WEBHOOK_ID_KEY)).await),
        Some(replies_id.clone())
    );
    assert_eq!(
        stored(link(&store, (PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY)).await),
        Some(trigger_id.clone())
    );

    // The second run: same ids, nothing changed, and not a single write reached Zendesk.
    let before = sb.rules().await;
    let links_before: Vec<_> = {
        let mut v = Vec::new();
        for l in LINKS {
            v.push(link(&store, l).await.map(|l| (l.value, l.updated_at)));
        }
        v
    };
    let seq = sb.last_request_seq().await;
    let second = provision::provision(&client, &store, &endpoint, Utc::now())
        .await
        .expect("second provision");
    let requests = sb.requests_since(seq).await;
    let after = sb.rules().await;
    assert!(!second.changed_anything(), "{second:?}");
    assert!(second.objects.iter().all(|o| o.change == Change::Unchanged));
    assert_eq!(
        second
            .objects
            .iter()
            .map(|o| o.id.clone())
            .collect::<Vec<_>>(),
        [replies_id.clone(), events_id.clone(), trigger_id.clone()]
    );
    assert_eq!(before, after, "the second run changed Zendesk");
    let writes: Vec<&Value> = requests.iter().filter(|r| r["method"] != "GET").collect();
    assert!(writes.is_empty(), "writes on the second run: {writes:?}");
    let mut links_after = Vec::new();
    for l in LINKS {
        links_after.push(link(&store, l).await.map(|l| (l.value, l.updated_at)));
    }
    assert_eq!(links_before, links_after, "the second run rewrote links");

    // Drift by hand (trigger switched off, webhook pointed elsewhere) is put back, in place.
    sb.admin(
        Method::PUT,
        &format!("/api/v2/triggers/{trigger_id}"),
        Some(json!({"trigger": {"active": false}})),
    )
    .await;
    sb.admin(
        Method::PATCH,
        &format!("/api/v2/webhooks/{events_id}"),
        Some(json!({"webhook": {"endpoint": "http://127.0.0.1:9/elsewhere"}})),
    )
    .await;
    let third = provision::provision(&client, &store, &endpoint, Utc::now())
        .await
        .expect("third provision");
    let changes: Vec<(&str, Change)> = third.objects.iter().map(|o| (o.name, o.change)).collect();
    assert_eq!(
        changes,
        [
            (REPLIES_WEBHOOK_NAME, Change::Unchanged),
            (EVENTS_WEBHOOK_NAME, Change::Updated),
            (REPLY_TRIGGER_NAME, Change::Updated),
        ]
    );
    assert!(third.links_written.is_empty(), "same ids, same secrets");

    // An agent's internal note; then a public reply whose update also adds a private voice
    // comment after it (so the update's latest comment is private, and only
    // `latest_public_comment` gives the reply); then deskline's own API write.
    let ticket = sb.new_ticket().await;
    sb.agent_comment(ticket, INTERNAL_NOTE, false).await;
    sb.agent_update(
        ticket,
        json!({"ticket": {"comment": {"body": PUBLIC_REPLY, "public": true},
            "voice_comment": {"from": "+919876543210", "to": "+918000000000",
                "call_duration": 40, "transcription_text": INTERNAL_TRANSCRIPT}}}),
    )
    .await;
    sb.admin(
        Method::PUT,
        &format!("/api/v2/tickets/{ticket}"),
        Some(json!({"ticket": {"comment": {"body": "Written by deskline", "public": true}}})),
    )
    .await;
    sb.deliveries(&replies_id, |d| d.iter().any(|x| x["status"] != "accepted"))
        .await;
    // Give a wrongly fired trigger time to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries = sb.deliveries(&replies_id, |_| true).await;
    assert_eq!(
        deliveries.len(),
        1,
        "only the agent's public reply fires: {deliveries:#?}"
    );
    let delivery = &deliveries[0];
    let raw = delivery["body"].as_str().expect("body");
    assert!(
        !raw.contains(INTERNAL_NOTE) && !raw.contains(INTERNAL_TRANSCRIPT),
        "a private comment leaked: {raw}"
    );
    let body: Value = serde_json::from_str(raw).expect("the body is JSON");
    assert_eq!(body["deskline_event"], REPLY_EVENT);
    assert_eq!(body["latest_public_comment"], PUBLIC_REPLY);
    assert_eq!(body["ticket_id"], ticket.to_string());
    assert_eq!(body["external_id"], "call:CA-PROV-1");
    assert_eq!(body["current_user_id"], PRIYA.to_string());
    assert!(body["updated_at"].as_str().is_some_and(|s| !s.is_empty()));
    // Signed with the secret deskline stored (the events webhook's would not verify).
    let headers = &delivery["request_headers"];
    let timestamp = headers["x-zendesk-webhook-signature-timestamp"]
        .as_str()
        .expect("timestamp");
    let signature = headers["x-zendesk-webhook-signature"]
        .as_str()
        .expect("signature");
    assert_eq!(
        sign(
            &Secret::new(replies_secret.clone()),
            timestamp,
            raw.as_bytes()
        ),
        signature
    );
    assert_ne!(
        sign(
            &Secret::new(events_secret.clone()),
            timestamp,
            raw.as_bytes()
        ),
        signature
    );
    // The events webhook reported the ticket's creation, signed with the other secret.
    let event_deliveries = sb.deliveries(&events_id, |d| !d.is_empty()).await;
    let created = event_deliveries
        .iter()
        .find(|d| d["event_type"] == "zen:event-type:ticket.created")
        .expect("a ticket.created event");
    let raw = created["body"].as_str().expect("event body");
    let headers = &created["request_headers"];
    assert_eq!(
        sign(
            &Secret::new(events_secret.clone()),
            headers["x-zendesk-webhook-signature-timestamp"]
                .as_str()
                .unwrap_or_default(),
            raw.as_bytes()
        ),
        headers["x-zendesk-webhook-signature"]
            .as_str()
            .unwrap_or_default()
    );

    // Disconnect: deskline's three objects and five links go; the rest stays.
    let gone = provision::disconnect(&client, &store)
        .await
        .expect("disconnect");
    let removed: Vec<(&str, String, bool)> = gone
        .removed
        .iter()
        .map(|r| (r.name, r.id.clone(), r.existed))
        .collect();
    assert_eq!(
        removed,
        [
            (REPLY_TRIGGER_NAME, trigger_id.clone(), true),
            (REPLIES_WEBHOOK_NAME, replies_id.clone(), true),
            (EVENTS_WEBHOOK_NAME, events_id.clone(), true),
        ]
    );
    assert_eq!(gone.links_removed.len(), 5, "{:?}", gone.links_removed);
    let (webhooks, triggers) = sb.rules().await;
    assert!(names(&webhooks, "id").contains(&crm_hook));
    assert_eq!(
        names(&webhooks, "name"),
        ["CRM sync", "deskline: public replies (old)"]
    );
    assert_eq!(
        triggers
            .as_array()
            .map(|t| t.iter().map(|x| x["id"].as_u64()).collect::<Vec<_>>()),
        Some(vec![Some(crm_trigger)])
    );
    for l in LINKS {
        assert!(link(&store, l).await.is_none(), "{l:?} is still stored");
    }

    // Again: nothing to do, and nothing is sent but reads.
    let seq = sb.last_request_seq().await;
    let again = provision::disconnect(&client, &store)
        .await
        .expect("second disconnect");
    assert!(again.is_noop(), "{again:?}");
    assert!(sb
        .requests_since(seq)
        .await
        .iter()
        .all(|r| r["method"] == "GET"));
}

#[tokio::test]
async fn without_recorded_ids_disconnect_finds_deskline_objects_by_exact_name() {
    let sb = sandbox().await;
    let client = sb.client();
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("deskline.db"))
        .await
        .expect("store");
    let endpoint = Url::parse("http://127.0.0.1:9/zendesk/webhook").expect("url");
    let (crm_hook, crm_trigger) = unrelated_rules(&client).await;
    provision::provision(&client, &store, &endpoint, Utc::now())
        .await
        .expect("provision");
    // The database was replaced (a restore, a new data directory): the ids are gone.
    for (kind, key) in LINKS {
        store.delete_link(kind, key).await.expect("delete link");
    }
    let gone = provision::disconnect(&client, &store)
        .await
        .expect("disconnect");
    let removed: Vec<&str> = gone.removed.iter().map(|r| r.name).collect();
    assert_eq!(
        removed,
        [
            REPLY_TRIGGER_NAME,
            REPLIES_WEBHOOK_NAME,
            EVENTS_WEBHOOK_NAME
        ]
    );
    assert!(gone.links_removed.is_empty());
    let (webhooks, triggers) = sb.rules().await;
    assert!(names(&webhooks, "id").contains(&crm_hook));
    assert_eq!(names(&webhooks, "name").len(), 2);
    assert_eq!(triggers.as_array().map(Vec::len), Some(1));
    assert_eq!(triggers[0]["id"].as_u64(), Some(crm_trigger));
}

// --- The real binary --------------------------------------------------------------------------

/// A child process killed and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The deskline binary with no `DESKLINE_*` variable inherited (they would override the file).
fn deskline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskline"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKLINE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs `deskline ARGS` to its end without blocking the sandbox served by this runtime.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || deskline().args(&args).output().expect("deskline runs"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A configuration for the sandbox at `zendesk_url`, the database in `dir`, and optionally a
/// public URL.
fn write_config(dir: &Path, zendesk_url: &str, port: u16, public_url: Option<&str>) -> PathBuf {
    let mut config: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        admin_token = "provision-test-admin-token"

        [zendesk]
        email = "{ADMIN}"
        api_token = "{TOKEN}"

        [sources.myoperator]
        kind = "myoperator"
        secret = "provision-test-source-secret"
        fields = {{ call_id = 10001, direction = 10002, duration = 10003, recording_url = 10004, caller_number = 10005 }}
        "#
    ))
    .expect("valid TOML");
    // Paths and URLs are inserted as values so that no escaping can go wrong.
    let zendesk = config["zendesk"].as_table_mut().expect("[zendesk]");
    zendesk.insert("url".into(), toml::Value::String(zendesk_url.to_string()));
    if let Some(url) = public_url {
        let server = config["server"].as_table_mut().expect("[server]");
        server.insert("public_url".into(), toml::Value::String(url.to_string()));
    }
    let mut storage = toml::Table::new();
    storage.insert(
        "sqlite_path".into(),
        toml::Value::String(dir.join("deskline.db").to_string_lossy().into_owned()),
    );
    config.insert("storage".into(), toml::Value::Table(storage));
    let path = dir.join("deskline.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialize")).expect("write config");
    path
}

/// Starts `deskline serve --config FILE` and waits until it answers `/healthz`.
async fn serve(config: &Path, dir: &Path, base: &str) -> Running {
    let child = deskline()
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(std::fs::File::create(dir.join("serve.out")).expect("log"))
        .stderr(std::fs::File::create(dir.join("serve.err")).expect("log"))
        .spawn()
        .expect("deskline serve starts");
    let mut running = Running(child);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return running;
            }
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            let err = std::fs::read_to_string(dir.join("serve.err")).unwrap_or_default();
            panic!("deskline serve exited with {status}: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "deskline serve did not answer /healthz"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_connects_a_running_service_and_disconnects_it() {
    let sb = sandbox().await;
    let dir = TempDir::new().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = write_config(dir.path(), &sb.handle.base_url, port, Some(&base));
    let config_arg = config.to_string_lossy().into_owned();
    let _service = serve(&config, dir.path(), &base).await;

    // Provisioned next to the running service, on the same database.
    let out = run(vec![
        "zendesk".into(),
        "provision".into(),
        "--config".into(),
        config_arg.clone(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("webhook endpoint: {base}/zendesk/webhook")),
        "{stdout}"
    );
    for name in [
        REPLIES_WEBHOOK_NAME,
        EVENTS_WEBHOOK_NAME,
        REPLY_TRIGGER_NAME,
    ] {
        assert!(
            stdout.contains(&format!("{name:?}")) && stdout.contains("created"),
            "{stdout}"
        );
    }
    let (webhooks, _) = sb.rules().await;
    let ids = names(&webhooks, "id");
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let secret = sb.signing_secret(id).await;
        assert!(!stdout.contains(&secret), "a signing secret was printed");
    }

    // Again: nothing changes, and it says so.
    let out = run(vec![
        "zendesk".into(),
        "provision".into(),
        "--config".into(),
        config_arg.clone(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches(": unchanged").count(), 4, "{stdout}");
    assert!(
        stdout.contains("Already provisioned: nothing changed."),
        "{stdout}"
    );

    // The service verifies Zendesk's signed deliveries with the stored secrets: the agent's
    // public reply and the ticket events are accepted (202).
    let ticket = sb.new_ticket().await;
    sb.agent_comment(ticket, INTERNAL_NOTE, false).await;
    sb.agent_comment(ticket, PUBLIC_REPLY, true).await;
    for id in &ids {
        let deliveries = sb
            .deliveries(id, |d| {
                !d.is_empty() && d.iter().all(|x| x["status"] != "accepted")
            })
            .await;
        assert!(!deliveries.is_empty(), "nothing delivered through {id}");
        for d in &deliveries {
            assert_eq!(d["status"], "success", "{d:#}");
            assert_eq!(d["attempts"][0]["status"], 202, "{d:#}");
            assert!(!d["body"]
                .as_str()
                .unwrap_or_default()
                .contains(INTERNAL_NOTE));
        }
    }

    // Disconnect, twice.
    let out = run(vec![
        "zendesk".into(),
        "disconnect".into(),
        "--config".into(),
        config_arg.clone(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(stdout.matches(": removed").count(), 3, "{stdout}");
    let (webhooks, triggers) = sb.rules().await;
    assert_eq!(webhooks, json!([]));
    assert_eq!(triggers, json!([]));
    let out = run(vec![
        "zendesk".into(),
        "disconnect".into(),
        "--config".into(),
        config_arg,
    ])
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Nothing to remove"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_says_what_is_missing() {
    let sb = sandbox().await;
    let dir = TempDir::new().expect("temp dir");
    let config = write_config(dir.path(), &sb.handle.base_url, free_port(), None);
    let config_arg = config.to_string_lossy().into_owned();

    // No public URL anywhere: the error names both ways to give one, and nothing is made.
    let out = run(vec![
        "zendesk".into(),
        "provision".into(),
        "--config".into(),
        config_arg.clone(),
    ])
    .await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--url") && stderr.contains("server.public_url"),
        "{stderr}"
    );
    assert_eq!(sb.rules().await.0, json!([]));

    // --url gives it (a base URL; the webhook path is added).
    let out = run(vec![
        "zendesk".into(),
        "provision".into(),
        "--config".into(),
        config_arg,
        "--url".into(),
        "https://deskline.example.com/".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (webhooks, _) = sb.rules().await;
    assert!(webhooks
        .as_array()
        .into_iter()
        .flatten()
        .all(|w| w["endpoint"] == "https://deskline.example.com/zendesk/webhook"));

    // The embedded sandbox has no account to provision: refused with the way out.
    let out = run(vec!["zendesk".into(), "provision".into()]).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("built-in Zendesk sandbox") && stderr.contains("zendesk.url"),
        "{stderr}"
    );
}
