//! Webhooks end to end: a real HTTP receiver started by the test gets signed deliveries, failures
//! are retried, and a delivery pending when the server is killed is made after the restart.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use gatehouse_proto::v1::{self as pb, signal_service_client::SignalServiceClient};
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, Server, api_key, create_tenant};

const TOR_IP: &str = "198.51.100.10";

/// What the receiver saw, and what it answers next.
#[derive(Default)]
struct Inbox {
    received: Vec<(HeaderMap, Bytes, u16)>,
    failures_left: usize,
}

struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inbox = inbox.lock().unwrap();
    let status = if inbox.failures_left > 0 {
        inbox.failures_left -= 1;
        500
    } else {
        200
    };
    inbox.received.push((headers, body, status));
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let inbox = Arc::new(Mutex::new(Inbox {
            failures_left: failures,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/gatehouse", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hooks/gatehouse", post(receive))
            .with_state(inbox.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inbox, task }
    }

    /// Waits for a delivery the receiver accepted.
    async fn accepted(&self, within: Duration) -> (HeaderMap, Bytes) {
        let deadline = Instant::now() + within;
        loop {
            if let Some((headers, body, _)) = self
                .inbox
                .lock()
                .unwrap()
                .received
                .iter()
                .find(|(_, _, status)| *status == 200)
            {
                return (headers.clone(), body.clone());
            }
            assert!(
                Instant::now() < deadline,
                "no delivery accepted in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn envs() -> Vec<(&'static str, String)> {
    vec![
        ("GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true".into()),
        ("GATEHOUSE_WEBHOOKS_BASE_BACKOFF_MS", "200".into()),
        ("GATEHOUSE_WEBHOOKS_MAX_BACKOFF_MS", "1000".into()),
    ]
}

fn tor_signal(user: &str) -> pb::SendSignalRequest {
    pb::SendSignalRequest {
        r#type: "login".into(),
        source: pb::SignalSource::Server.into(),
        identifiers: Some(pb::Identifiers {
            user_id: user.into(),
            identity_id: String::new(),
        }),
        ip: TOR_IP.into(),
        ..Default::default()
    }
}

fn lists_dir() -> tempfile::TempDir {
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(lists.path().join("tor-exits.txt"), format!("{TOR_IP}\n")).unwrap();
    lists
}

async fn create_webhook(
    server: &Server,
    tenant_id: &str,
    key: &str,
    url: &str,
) -> (String, String) {
    let created = server
        .admin()
        .await
        .create_webhook(api_key(
            pb::CreateWebhookRequest {
                tenant_id: tenant_id.into(),
                url: url.into(),
                event_types: vec!["tor".into()],
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    (created.webhook.unwrap().webhook_id, created.secret)
}

#[tokio::test]
async fn signed_delivery_retried_after_a_failure() {
    let receiver = Receiver::start(1).await;
    let lists = lists_dir();
    let server =
        Server::start_with(&["--ip-lists-dir", lists.path().to_str().unwrap()], &envs()).await;
    let tenant = create_tenant(&server, "app", None).await;
    let (webhook_id, secret) =
        create_webhook(&server, &tenant.id, &tenant.secret_key, &receiver.url).await;
    assert!(secret.starts_with("whsec_"));

    let signal = SignalServiceClient::new(server.channel().await)
        .send_signal(api_key(tor_signal("tess"), &tenant.secret_key))
        .await
        .unwrap()
        .into_inner();
    let event_id = signal.immediate_results[0].event_id.clone();

    let (headers, body) = receiver.accepted(Duration::from_secs(30)).await;
    let signature = headers
        .get("x-gatehouse-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert!(gatehouse_server::webhooks::verify_signature(
        &secret, signature, &body, now, 300
    ));
    assert!(!gatehouse_server::webhooks::verify_signature(
        "whsec_wrong",
        signature,
        &body,
        now,
        300
    ));
    assert_eq!(
        headers.get("x-gatehouse-event-id").unwrap(),
        event_id.as_str()
    );
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["event_type"], "TOR");
    assert_eq!(payload["event_id"], event_id.as_str());
    assert_eq!(payload["tenant_id"], tenant.id.as_str());

    // The failed first attempt and the delivered retry are both in the log.
    let deliveries = server
        .admin()
        .await
        .list_webhook_deliveries(api_key(
            pb::ListWebhookDeliveriesRequest {
                tenant_id: tenant.id.clone(),
                webhook_id,
                ..Default::default()
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(
        deliveries
            .iter()
            .any(|delivery| delivery.http_status == 500 && !delivery.delivered),
        "{deliveries:?}"
    );
    assert!(
        deliveries
            .iter()
            .any(|delivery| delivery.delivered && delivery.attempt >= 2),
        "{deliveries:?}"
    );
}

#[tokio::test]
async fn a_pending_delivery_survives_kill_9() {
    let receiver = Receiver::start(usize::MAX).await;
    let lists = lists_dir();
    let data = tempfile::tempdir().unwrap();
    let extra = ["--ip-lists-dir", lists.path().to_str().unwrap()];
    let mut server = Server::spawn_with_env(data.path(), Some(ADMIN_TOKEN), &extra, &envs());
    server.wait_ready().await;
    let tenant = create_tenant(&server, "app", None).await;
    let (webhook_id, _) =
        create_webhook(&server, &tenant.id, &tenant.secret_key, &receiver.url).await;
    let event_id = SignalServiceClient::new(server.channel().await)
        .send_signal(api_key(tor_signal("uma"), &tenant.secret_key))
        .await
        .unwrap()
        .into_inner()
        .immediate_results[0]
        .event_id
        .clone();
    // Wait until the server has tried and failed at least once, then kill it mid-retry.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.inbox.lock().unwrap().received.is_empty() {
        assert!(Instant::now() < deadline, "no attempt made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill9();
    receiver.inbox.lock().unwrap().failures_left = 0;

    let mut server = Server::spawn_with_env(data.path(), Some(ADMIN_TOKEN), &extra, &envs());
    server.wait_ready().await;
    let (headers, _) = receiver.accepted(Duration::from_secs(30)).await;
    assert_eq!(
        headers.get("x-gatehouse-event-id").unwrap(),
        event_id.as_str()
    );
    let deliveries = server
        .admin()
        .await
        .list_webhook_deliveries(api_key(
            pb::ListWebhookDeliveriesRequest {
                tenant_id: tenant.id.clone(),
                webhook_id,
                ..Default::default()
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(deliveries.iter().any(|delivery| delivery.delivered));
}

#[tokio::test]
async fn private_targets_are_refused_unless_the_operator_allows_them() {
    let server = Server::start().await;
    let tenant = create_tenant(&server, "app", None).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "ftp://example.com/x",
    ] {
        let refused = server
            .admin()
            .await
            .create_webhook(api_key(
                pb::CreateWebhookRequest {
                    tenant_id: tenant.id.clone(),
                    url: url.into(),
                    event_types: Vec::new(),
                },
                &tenant.secret_key,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{url}");
        assert!(
            refused.message().starts_with("url"),
            "{}",
            refused.message()
        );
    }
}
