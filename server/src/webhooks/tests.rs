//! Endpoints, the outbox and the dispatcher against a real HTTP receiver on 127.0.0.1.

use std::{
    collections::VecDeque,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::post,
};

use super::*;
use crate::{
    error::ApiError,
    store::{Keyspace, SledStore},
};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A webhook receiver: answers with the scripted statuses in turn (200 once they run out, or
/// always `fallback`), and keeps what it got.
#[derive(Clone)]
struct Receiver {
    url: String,
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct ReceiverState {
    script: Arc<Mutex<VecDeque<u16>>>,
    fallback: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    state.got.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    let status = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(state.fallback);
    let status = StatusCode::from_u16(status).unwrap();
    (status, [(header::LOCATION, "http://10.0.0.1/elsewhere")])
}

async fn start_receiver(script: &[u16], fallback: u16) -> Receiver {
    let got = Arc::new(Mutex::new(Vec::new()));
    let state = ReceiverState {
        script: Arc::new(Mutex::new(script.iter().copied().collect())),
        fallback,
        got: Arc::clone(&got),
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        port,
        got,
    }
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Fast settings for tests; private targets allowed so the receiver on 127.0.0.1 can be used.
fn test_settings() -> WebhookSettings {
    WebhookSettings {
        allow_private_targets: true,
        request_timeout: Duration::from_secs(5),
        retry_for: Duration::from_secs(3600),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    }
}

fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SledStore::open(dir).unwrap())
}

/// Reopens a store after a "restart": the group-commit task holds the database until it notices
/// that its channel closed.
async fn reopen(dir: &Path) -> Arc<dyn Store> {
    for _ in 0..500 {
        match SledStore::open(dir) {
            Ok(store) => return Arc::new(store),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("the store was never released");
}

/// Polls `check` until it gives a value, for at most 10 seconds.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Queues one event the way a service does: in its own batch, durable, then notify.
async fn raise(
    webhooks: &Webhooks,
    store: &Arc<dyn Store>,
    tenant: &TenantId,
    event_type: &str,
    event_id: &str,
) {
    let mut batch = WriteBatch::new();
    let payload = format!(r#"{{"event_id":"{event_id}","type":"{event_type}"}}"#);
    let queued = webhooks
        .enqueue(&mut batch, tenant, event_type, event_id, payload.as_bytes())
        .await
        .unwrap();
    assert!(queued > 0, "no endpoint wanted the event");
    store.apply(batch).await.unwrap();
    store.durable().await.unwrap();
    webhooks.notify();
}

async fn outbox_len(store: &Arc<dyn Store>) -> usize {
    store
        .scan_prefix(Keyspace::WebhookOutbox, &[], None, usize::MAX)
        .await
        .unwrap()
        .len()
}

async fn all_deliveries(
    webhooks: &Webhooks,
    tenant: &TenantId,
    webhook_id: &str,
) -> Vec<DeliveryRecord> {
    webhooks
        .list_deliveries(tenant, webhook_id, MAX_DELIVERIES_PAGE_SIZE, "")
        .await
        .unwrap()
        .0
}

fn invalid_field(error: ApiError) -> (String, String) {
    match error {
        ApiError::InvalidArgument { field, problem } => (field, problem),
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

#[tokio::test]
async fn create_checks_the_url_and_event_types() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let strict = Webhooks::new(
        Arc::clone(&store),
        WebhookSettings {
            allow_private_targets: false,
            ..WebhookSettings::default()
        },
    );
    let tenant = TenantId::generate();

    let endpoint = strict
        .create_endpoint(
            &tenant,
            "https://93.184.216.34/hooks",
            vec!["tor".into(), " VPN ".into(), "TOR".into()],
        )
        .await
        .unwrap();
    assert!(endpoint.webhook_id.starts_with("whk_"));
    assert!(endpoint.secret.starts_with("whsec_"));
    assert_eq!(endpoint.secret.len(), 6 + 64);
    assert_eq!(endpoint.event_types, vec!["TOR", "VPN"]);
    assert!(!format!("{endpoint:?}").contains(&endpoint.secret));
    assert_eq!(
        strict.list_endpoints(&tenant).await.unwrap(),
        vec![endpoint]
    );

    for url in [
        "http://127.0.0.1/hook",
        "http://10.0.0.8/hook",
        "https://192.168.1.10/hook",
        "http://[::1]:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.1.1/hook",
        "http://[::ffff:10.0.0.1]/hook",
    ] {
        let (field, problem) = invalid_field(
            strict
                .create_endpoint(&tenant, url, vec![])
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "url", "{url}");
        assert!(
            problem.contains("webhooks_allow_private_targets"),
            "{url}: {problem}"
        );
    }

    let lenient = Webhooks::new(Arc::clone(&store), test_settings());
    assert!(
        lenient
            .create_endpoint(&tenant, "http://127.0.0.1:9/hook", vec![])
            .await
            .is_ok()
    );

    for (url, needle) in [
        ("ftp://93.184.216.34/", "https or http"),
        ("https://user:pw@93.184.216.34/", "user name or password"),
        ("not a url", "absolute URL"),
    ] {
        let (field, problem) = invalid_field(
            strict
                .create_endpoint(&tenant, url, vec![])
                .await
                .unwrap_err(),
        );
        assert_eq!(field, "url");
        assert!(problem.contains(needle), "{url}: {problem}");
    }

    let (field, _) = invalid_field(
        strict
            .create_endpoint(
                &tenant,
                "https://93.184.216.34/",
                vec!["TOR".into(), "bad-type".into()],
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "event_types[1]");
    let (field, _) = invalid_field(
        strict
            .create_endpoint(&tenant, "https://93.184.216.34/", vec![String::new()])
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "event_types[0]");
}

#[tokio::test]
async fn enqueue_follows_subscriptions_and_delete_drops_pending_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let webhooks = Webhooks::new(Arc::clone(&store), test_settings());
    let tenant = TenantId::generate();
    let other_tenant = TenantId::generate();
    let all = webhooks
        .create_endpoint(&tenant, "http://127.0.0.1:9/all", vec![])
        .await
        .unwrap();
    let tor_only = webhooks
        .create_endpoint(&tenant, "http://127.0.0.1:9/tor", vec!["TOR".into()])
        .await
        .unwrap();
    webhooks
        .create_endpoint(&other_tenant, "http://127.0.0.1:9/other", vec![])
        .await
        .unwrap();

    let mut batch = WriteBatch::new();
    assert_eq!(
        webhooks
            .enqueue(&mut batch, &tenant, "VPN", "evt_1", b"{}")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        webhooks
            .enqueue(&mut batch, &tenant, "tor", "evt_2", b"{}")
            .await
            .unwrap(),
        2
    );
    // Nothing is written until the caller applies its batch.
    assert_eq!(outbox_len(&store).await, 0);
    store.apply(batch).await.unwrap();
    assert_eq!(outbox_len(&store).await, 3);

    webhooks
        .delete_endpoint(&tenant, &all.webhook_id)
        .await
        .unwrap();
    assert_eq!(
        outbox_len(&store).await,
        1,
        "the deleted endpoint's two deliveries are dropped"
    );
    assert_eq!(
        webhooks.list_endpoints(&tenant).await.unwrap(),
        vec![tor_only]
    );
    assert_eq!(
        webhooks.list_endpoints(&other_tenant).await.unwrap().len(),
        1
    );

    assert!(matches!(
        webhooks.delete_endpoint(&tenant, &all.webhook_id).await,
        Err(ApiError::NotFound(_))
    ));
    assert!(matches!(
        webhooks
            .list_deliveries(&tenant, &all.webhook_id, 0, "")
            .await,
        Err(ApiError::NotFound(_))
    ));
    let (field, _) = invalid_field(
        webhooks
            .delete_endpoint(&tenant, "whk_x/..")
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "webhook_id");
}

#[tokio::test]
async fn delivers_signed_and_logs_the_attempt() {
    let receiver = start_receiver(&[], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let webhooks = Arc::new(Webhooks::new(Arc::clone(&store), test_settings()));
    let dispatcher = webhooks.spawn_dispatcher();
    let tenant = TenantId::generate();
    let endpoint = webhooks
        .create_endpoint(&tenant, &receiver.url, vec![])
        .await
        .unwrap();

    raise(&webhooks, &store, &tenant, "TOR", "evt_signed").await;
    let got = eventually("the delivery", async || receiver.received().pop()).await;

    let expected_body = br#"{"event_id":"evt_signed","type":"TOR"}"#;
    assert_eq!(got.body, expected_body);
    let header_text = |name: &str| {
        got.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header_text("content-type"), "application/json");
    assert_eq!(header_text("x-gatehouse-event-id"), "evt_signed");
    assert_eq!(header_text("x-gatehouse-delivery-attempt"), "1");
    assert_eq!(header_text("user-agent"), USER_AGENT);
    let signature = header_text(SIGNATURE_HEADER);
    let now = now_ms() / 1000;
    assert!(
        verify_signature(&endpoint.secret, &signature, &got.body, now, 300),
        "{signature}"
    );
    assert!(!verify_signature(
        "whsec_wrong",
        &signature,
        &got.body,
        now,
        300
    ));

    let log = eventually("the delivery record", async || {
        Some(all_deliveries(&webhooks, &tenant, &endpoint.webhook_id).await)
            .filter(|log| !log.is_empty())
    })
    .await;
    assert_eq!(log.len(), 1);
    assert!(log[0].delivered);
    assert_eq!(log[0].http_status, 200);
    assert_eq!(log[0].attempt, 1);
    assert_eq!(log[0].event_id, "evt_signed");
    assert_eq!(log[0].next_attempt_ms, 0);
    assert!(log[0].error.is_empty());
    assert_eq!(outbox_len(&store).await, 0);
    assert!(
        store
            .scan_prefix(Keyspace::WebhookPending, &[], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    dispatcher.abort();
}

#[tokio::test]
async fn a_failure_is_retried_and_both_attempts_are_logged() {
    let receiver = start_receiver(&[500], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let webhooks = Arc::new(Webhooks::new(Arc::clone(&store), test_settings()));
    let dispatcher = webhooks.spawn_dispatcher();
    let tenant = TenantId::generate();
    let endpoint = webhooks
        .create_endpoint(&tenant, &receiver.url, vec![])
        .await
        .unwrap();

    raise(&webhooks, &store, &tenant, "TOR", "evt_retry").await;
    let log = eventually("two attempts", async || {
        Some(all_deliveries(&webhooks, &tenant, &endpoint.webhook_id).await)
            .filter(|log| log.iter().any(|record| record.delivered))
    })
    .await;
    assert_eq!(log.len(), 2, "{log:?}");
    // Newest first.
    assert_eq!(
        (log[0].attempt, log[0].delivered, log[0].http_status),
        (2, true, 200)
    );
    assert_eq!(
        (log[1].attempt, log[1].delivered, log[1].http_status),
        (1, false, 500)
    );
    assert!(log[1].error.contains("500"), "{}", log[1].error);
    assert!(log[1].next_attempt_ms >= log[1].attempted_ms + 50);
    assert!(log[0].attempted_ms >= log[1].next_attempt_ms);
    let attempts: Vec<String> = receiver
        .received()
        .iter()
        .map(|got| {
            got.headers["x-gatehouse-delivery-attempt"]
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(attempts, vec!["1", "2"]);
    assert_eq!(outbox_len(&store).await, 0);

    // Paging: one record a page, newest first, then the end.
    let (first, token) = webhooks
        .list_deliveries(&tenant, &endpoint.webhook_id, 1, "")
        .await
        .unwrap();
    assert_eq!(first, vec![log[0].clone()]);
    assert!(!token.is_empty());
    let (second, token) = webhooks
        .list_deliveries(&tenant, &endpoint.webhook_id, 1, &token)
        .await
        .unwrap();
    assert_eq!(second, vec![log[1].clone()]);
    assert!(token.is_empty());
    let (field, _) = invalid_field(
        webhooks
            .list_deliveries(&tenant, &endpoint.webhook_id, 1, "zz")
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "page_token");
    let (field, _) = invalid_field(
        webhooks
            .list_deliveries(&tenant, &endpoint.webhook_id, 501, "")
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "page_size");
    dispatcher.abort();
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    let receiver = start_receiver(&[], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::generate();
    let endpoint = {
        let store = open_store(dir.path());
        // No dispatcher: the server "stops" with the delivery still queued.
        let webhooks = Webhooks::new(Arc::clone(&store), test_settings());
        let endpoint = webhooks
            .create_endpoint(&tenant, &receiver.url, vec![])
            .await
            .unwrap();
        raise(&webhooks, &store, &tenant, "TOR", "evt_restart").await;
        assert_eq!(outbox_len(&store).await, 1);
        endpoint
    };

    let store = reopen(dir.path()).await;
    let webhooks = Arc::new(Webhooks::new(Arc::clone(&store), test_settings()));
    let dispatcher = webhooks.spawn_dispatcher();
    let got = eventually("the delivery after the restart", async || {
        receiver.received().pop()
    })
    .await;
    assert_eq!(got.headers["x-gatehouse-event-id"], "evt_restart");
    eventually("the outbox to empty", async || {
        (outbox_len(&store).await == 0).then_some(())
    })
    .await;
    let log = all_deliveries(&webhooks, &tenant, &endpoint.webhook_id).await;
    assert!(log[0].delivered);
    dispatcher.abort();
}

#[tokio::test]
async fn retries_stop_once_retry_for_has_passed() {
    let receiver = start_receiver(&[], 503).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let settings = WebhookSettings {
        retry_for: Duration::from_millis(300),
        base_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(80),
        ..test_settings()
    };
    let webhooks = Arc::new(Webhooks::new(Arc::clone(&store), settings));
    let dispatcher = webhooks.spawn_dispatcher();
    let tenant = TenantId::generate();
    let endpoint = webhooks
        .create_endpoint(&tenant, &receiver.url, vec![])
        .await
        .unwrap();

    raise(&webhooks, &store, &tenant, "TOR", "evt_doomed").await;
    let log = eventually("the final failed attempt", async || {
        Some(all_deliveries(&webhooks, &tenant, &endpoint.webhook_id).await)
            .filter(|log| log.first().is_some_and(|last| last.next_attempt_ms == 0))
    })
    .await;
    let last = &log[0];
    assert!(!last.delivered);
    assert_eq!(last.http_status, 503);
    assert!(log.len() >= 3, "retried several times first: {log:?}");
    let first = &log[log.len() - 1];
    assert_eq!(first.attempt, 1);
    assert!(last.attempted_ms - first.attempted_ms >= 300, "{log:?}");
    assert!(log.iter().all(|record| !record.delivered));
    assert!(log[1..].iter().all(|record| record.next_attempt_ms > 0));
    assert_eq!(outbox_len(&store).await, 0);
    assert_eq!(receiver.received().len(), log.len());
    dispatcher.abort();
}

#[tokio::test]
async fn private_targets_are_refused_at_delivery_and_redirects_not_followed() {
    let receiver = start_receiver(&[], 302).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let tenant = TenantId::generate();
    // The endpoints were registered while private targets were allowed...
    let lenient = Webhooks::new(Arc::clone(&store), test_settings());
    let literal = lenient
        .create_endpoint(&tenant, &receiver.url, vec!["LITERAL".into()])
        .await
        .unwrap();
    let named = lenient
        .create_endpoint(
            &tenant,
            &format!("http://localhost:{}/hook", receiver.port),
            vec!["NAMED".into()],
        )
        .await
        .unwrap();
    // ...and the operator has since turned that off.
    let strict = Arc::new(Webhooks::new(
        Arc::clone(&store),
        WebhookSettings {
            allow_private_targets: false,
            base_backoff: Duration::from_secs(3600),
            ..test_settings()
        },
    ));
    let dispatcher = strict.spawn_dispatcher();
    let mut batch = WriteBatch::new();
    strict
        .enqueue(&mut batch, &tenant, "LITERAL", "evt_a", b"{}")
        .await
        .unwrap();
    strict
        .enqueue(&mut batch, &tenant, "NAMED", "evt_b", b"{}")
        .await
        .unwrap();
    store.apply(batch).await.unwrap();
    strict.notify();
    for endpoint in [&literal, &named] {
        let log = eventually("the refused attempt", async || {
            Some(all_deliveries(&strict, &tenant, &endpoint.webhook_id).await)
                .filter(|log| !log.is_empty())
        })
        .await;
        assert_eq!(log[0].http_status, 0);
        assert!(!log[0].delivered);
        assert!(log[0].error.contains("loopback"), "{}", log[0].error);
        assert!(
            log[0].next_attempt_ms > 0,
            "a refusal is retried: the DNS answer may change"
        );
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );
    dispatcher.abort();

    // With private targets allowed again the receiver is reached, and its redirect (to a private
    // address) is recorded as a failure rather than followed.
    let lenient = Arc::new(Webhooks::new(
        Arc::clone(&store),
        WebhookSettings {
            base_backoff: Duration::from_secs(3600),
            ..test_settings()
        },
    ));
    let dispatcher = lenient.spawn_dispatcher();
    raise(&lenient, &store, &tenant, "LITERAL", "evt_redirect").await;
    let log = eventually("the redirected attempt", async || {
        Some(all_deliveries(&lenient, &tenant, &literal.webhook_id).await)
            .filter(|log| log.iter().any(|record| record.event_id == "evt_redirect"))
    })
    .await;
    assert_eq!(log[0].http_status, 302);
    assert!(
        log[0].error.contains("redirects are not followed"),
        "{}",
        log[0].error
    );
    assert_eq!(receiver.received().len(), 1);
    dispatcher.abort();
}
