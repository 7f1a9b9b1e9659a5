//! Webhooks: tenants' endpoints, a durable outbox of deliveries, and the dispatcher that sends
//! them.
//!
//! An event and its deliveries are written in one batch ([`Webhooks::enqueue`] adds to the
//! caller's), so an acknowledged event always has its deliveries queued. The dispatcher finds due
//! deliveries with a range scan (outbox keys start with the big-endian due time), POSTs each one
//! signed (see [`signature_header`]), records every attempt, and retries failures with exponential
//! backoff and jitter until [`WebhookSettings::retry_for`] has passed since the first attempt.
//! Delivery is at least once: an outbox entry is removed only in the same batch that records its
//! successful attempt, so a crash in between means one more delivery, never none. Receivers
//! de-duplicate on `x-gatehouse-event-id`.

mod dispatch;
mod signature;
mod target;

use std::{sync::Arc, time::Duration};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

pub use signature::{SIGNATURE_HEADER, signature_header, verify_signature};
pub use target::{MAX_URL_CHARS, TargetError};

use crate::{
    error::ApiError,
    store::{Store, StoreError, WriteBatch, repositories::WebhookRecords},
    tenancy::TenantId,
    time::now_ms,
};

/// By default loopback, private and other special addresses are refused as webhook targets.
pub const DEFAULT_ALLOW_PRIVATE_TARGETS: bool = false;
/// The default limit of one delivery attempt (connect, send, answer).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// By default failed deliveries are retried for at least a day after their first attempt.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(24 * 3600);
/// The default delay before the first retry; it doubles with each further failure.
pub const DEFAULT_BASE_BACKOFF: Duration = Duration::from_secs(5);
/// The default longest delay between two attempts.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The limit of the DNS lookup made when an endpoint is created.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most endpoints one tenant may have.
pub const MAX_ENDPOINTS_PER_TENANT: usize = 20;
/// The most event types one endpoint may subscribe to.
pub const MAX_EVENT_TYPES: usize = 64;
/// The longest event type name.
pub const MAX_EVENT_TYPE_CHARS: usize = 64;
/// The page size of [`Webhooks::list_deliveries`] when 0 is asked for.
pub const DEFAULT_DELIVERIES_PAGE_SIZE: usize = 50;
/// The largest page of [`Webhooks::list_deliveries`].
pub const MAX_DELIVERIES_PAGE_SIZE: usize = 500;
/// The `user-agent` of every delivery.
pub const USER_AGENT: &str = concat!("gatehouse-webhooks/", env!("CARGO_PKG_VERSION"));

/// Operator settings of webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// True lets endpoints point at loopback, private and other special addresses (for tests and
    /// private deployments; `webhooks_allow_private_targets`).
    pub allow_private_targets: bool,
    /// The limit of one delivery attempt.
    pub request_timeout: Duration,
    /// Failed deliveries are retried at least this long after their first attempt, then given up.
    pub retry_for: Duration,
    /// The delay before the first retry; it doubles with each further failure.
    pub base_backoff: Duration,
    /// The longest delay between two attempts (before jitter).
    pub max_backoff: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: DEFAULT_ALLOW_PRIVATE_TARGETS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry_for: DEFAULT_RETRY_FOR,
            base_backoff: DEFAULT_BASE_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

/// A tenant's webhook endpoint, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// Its id (`whk_` and 16 hex characters).
    pub webhook_id: String,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Where deliveries are POSTed (normalised).
    pub url: String,
    /// The signing secret (`whsec_...`). Unlike API keys it is stored as is, because the server
    /// needs it to sign every delivery; it is shown to the tenant once and never logged (the
    /// `Debug` output leaves it out).
    pub secret: String,
    /// The event types delivered (uppercase names); all when empty.
    pub event_types: Vec<String>,
    /// When it was created.
    pub created_ms: i64,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("webhook_id", &self.webhook_id)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .field("secret", &"..")
            .field("event_types", &self.event_types)
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

impl WebhookEndpoint {
    /// True when this endpoint wants events of `event_type` (an uppercase name).
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|name| name == event_type)
    }
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The attempt's id (`dlv_...`).
    pub delivery_id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event delivered.
    pub event_id: String,
    /// Which attempt this was, from 1.
    pub attempt: u32,
    /// The receiver's HTTP status; 0 when it could not be reached.
    pub http_status: u16,
    /// What went wrong; empty when delivered.
    pub error: String,
    /// When the attempt started.
    pub attempted_ms: i64,
    /// True when the receiver answered 2xx.
    pub delivered: bool,
    /// When the next attempt is due; 0 when none is (delivered, or given up).
    pub next_attempt_ms: i64,
}

/// A delivery waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Its id (`obx_...`), the tail of its outbox key.
    pub outbox_id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The endpoint.
    pub webhook_id: String,
    /// The event's type (uppercase).
    pub event_type: String,
    /// The event's id.
    pub event_id: String,
    /// The body to POST, as given to [`Webhooks::enqueue`].
    pub payload: String,
    /// When it was queued.
    pub enqueued_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt was made; 0 before it.
    pub first_attempt_ms: i64,
}

/// Webhook endpoints, the outbox and its dispatcher, over the store.
pub struct Webhooks {
    store: Arc<dyn Store>,
    records: WebhookRecords,
    settings: WebhookSettings,
    /// The HTTP client, or why it could not be built (then every attempt records that).
    client: Result<reqwest::Client, String>,
    /// Wakes the dispatcher when new work was queued.
    wake: Notify,
}

impl Webhooks {
    /// Webhooks over `store`. Does not start the dispatcher: see [`Webhooks::spawn_dispatcher`].
    pub fn new(store: Arc<dyn Store>, settings: WebhookSettings) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            // A redirect could lead to a private address and bypass the target check.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the host itself, out of the target check's reach.
            .no_proxy()
            .dns_resolver(Arc::new(target::GuardedResolver {
                allow_private: settings.allow_private_targets,
                timeout: settings.request_timeout,
            }))
            .build()
            .map_err(|error| {
                tracing::error!(%error, "cannot build the webhook HTTP client; deliveries will fail");
                format!("the server's HTTP client could not be built: {error}")
            });
        Self {
            records: WebhookRecords::new(store.clone()),
            store,
            settings,
            client,
            wake: Notify::new(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    /// Registers an endpoint for `tenant`. The URL must be http or https with a host and no user
    /// name or password; its host must not be (or resolve to) a loopback, private, link-local,
    /// unspecified, multicast, broadcast or carrier-grade NAT address, IPv4-mapped forms
    /// included, unless the operator allows private targets. `event_types` are EventType names
    /// (letters and underscores, uppercased here); empty means all. Returns the endpoint with its
    /// secret, which the caller shows once. Durable when it returns.
    pub async fn create_endpoint(
        &self,
        tenant: &TenantId,
        url: &str,
        event_types: Vec<String>,
    ) -> Result<WebhookEndpoint, ApiError> {
        let parsed =
            target::parse_url(url).map_err(|error| ApiError::invalid("url", error.to_string()))?;
        let event_types = normalize_event_types(event_types)?;
        if self.list_endpoints(tenant).await?.len() >= MAX_ENDPOINTS_PER_TENANT {
            return Err(ApiError::invalid(
                "url",
                format!(
                    "the tenant already has {MAX_ENDPOINTS_PER_TENANT} webhook endpoints; delete one first"
                ),
            ));
        }
        target::check_url_host(
            &parsed,
            self.settings.allow_private_targets,
            RESOLVE_TIMEOUT,
        )
        .await
        .map_err(|error| ApiError::invalid("url", error.to_string()))?;
        let endpoint = WebhookEndpoint {
            webhook_id: format!("whk_{}", random_hex(8)),
            tenant_id: tenant.clone(),
            url: parsed.to_string(),
            secret: format!("whsec_{}", random_hex(32)),
            event_types,
            created_ms: now_ms(),
        };
        let mut batch = WriteBatch::new();
        WebhookRecords::put_endpoint(&mut batch, &endpoint)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        tracing::info!(
            tenant_id = %tenant,
            webhook_id = %endpoint.webhook_id,
            url = %endpoint.url,
            "webhook endpoint created"
        );
        Ok(endpoint)
    }

    /// The tenant's endpoints, oldest first.
    pub async fn list_endpoints(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let mut endpoints = self.records.endpoints(tenant).await?;
        endpoints.sort_by(|a, b| (a.created_ms, &a.webhook_id).cmp(&(b.created_ms, &b.webhook_id)));
        Ok(endpoints)
    }

    /// Reads one endpoint.
    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.records.endpoint(tenant, webhook_id).await
    }

    /// Reads an endpoint that must exist, checking the id's form first.
    async fn require_endpoint(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<WebhookEndpoint, ApiError> {
        validate_webhook_id(webhook_id)?;
        self.get_endpoint(tenant, webhook_id).await?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "webhook {webhook_id} does not exist for tenant {tenant}; list the tenant's webhooks for their ids"
            ))
        })
    }

    /// Removes an endpoint, its pending deliveries and its delivery log. Durable when it returns.
    pub async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<(), ApiError> {
        self.require_endpoint(tenant, webhook_id).await?;
        // The endpoint and its pending deliveries go together; the dispatcher also drops any
        // delivery whose endpoint is gone, which covers one that was in flight meanwhile.
        self.records.remove_endpoint(tenant, webhook_id).await?;
        self.store.durable().await?;
        tracing::info!(tenant_id = %tenant, webhook_id, "webhook endpoint deleted");
        Ok(())
    }

    /// One page of an endpoint's delivery attempts, newest first, and the token of the next page
    /// (empty on the last). `page_size` 0 means [`DEFAULT_DELIVERIES_PAGE_SIZE`].
    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<DeliveryRecord>, String), ApiError> {
        let page_size = match page_size {
            0 => DEFAULT_DELIVERIES_PAGE_SIZE,
            size if size > MAX_DELIVERIES_PAGE_SIZE => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!(
                        "must be 1-{MAX_DELIVERIES_PAGE_SIZE} (0 means {DEFAULT_DELIVERIES_PAGE_SIZE})"
                    ),
                ));
            }
            size => size,
        };
        self.require_endpoint(tenant, webhook_id).await?;
        let after = if page_token.is_empty() {
            None
        } else {
            let tail = hex::decode(page_token)
                .ok()
                .filter(|tail| WebhookRecords::is_delivery_position(tail))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "page_token",
                        "is not a token this server issued; pass next_page_token from the previous page, or leave it empty",
                    )
                })?;
            Some(tail)
        };
        let (records, next) = self
            .records
            .deliveries(tenant, webhook_id, after.as_deref(), page_size)
            .await?;
        let next_token = next.map(hex::encode).unwrap_or_default();
        Ok((records, next_token))
    }

    /// Queues one delivery of an event to every endpoint of `tenant` that wants `event_type`, in
    /// the caller's `batch`, so that the event and its deliveries commit together. The caller then
    /// applies the batch, awaits [`Store::durable`] and calls [`Webhooks::notify`]. The payload
    /// is POSTed as is; it is JSON, so UTF-8. Returns how many deliveries were queued.
    pub async fn enqueue(
        &self,
        batch: &mut WriteBatch,
        tenant: &TenantId,
        event_type: &str,
        event_id: &str,
        payload_json: &[u8],
    ) -> Result<usize, StoreError> {
        let event_type = event_type.trim().to_ascii_uppercase();
        let endpoints = self.list_endpoints(tenant).await?;
        let wanted: Vec<&WebhookEndpoint> = endpoints
            .iter()
            .filter(|endpoint| endpoint.wants(&event_type))
            .collect();
        if wanted.is_empty() {
            return Ok(0);
        }
        let payload = match std::str::from_utf8(payload_json) {
            Ok(text) => text.to_string(),
            Err(_) => {
                tracing::warn!(
                    event_id,
                    "webhook payload is not UTF-8; invalid bytes replaced"
                );
                String::from_utf8_lossy(payload_json).into_owned()
            }
        };
        let now = now_ms();
        for endpoint in &wanted {
            let entry = OutboxEntry {
                outbox_id: format!("obx_{}", random_hex(12)),
                tenant_id: tenant.clone(),
                webhook_id: endpoint.webhook_id.clone(),
                event_type: event_type.clone(),
                event_id: event_id.to_string(),
                payload: payload.clone(),
                enqueued_ms: now,
                attempts: 0,
                first_attempt_ms: 0,
            };
            WebhookRecords::queue(batch, &entry, now)?;
        }
        Ok(wanted.len())
    }

    /// Wakes the dispatcher: new deliveries are durable and may be due.
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// Checks and normalises the subscribed event types: trimmed, uppercased, de-duplicated.
fn normalize_event_types(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    if raw.len() > MAX_EVENT_TYPES {
        return Err(ApiError::invalid(
            "event_types",
            format!("lists more than {MAX_EVENT_TYPES} event types; leave it empty to get all"),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for (index, given) in raw.iter().enumerate() {
        let name = given.trim().to_ascii_uppercase();
        let valid = !name.is_empty()
            && name.len() <= MAX_EVENT_TYPE_CHARS
            && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !valid {
            return Err(ApiError::invalid(
                format!("event_types[{index}]"),
                format!(
                    "{given:?} is not an event type name; use EventType names without the prefix (letters and underscores, at most {MAX_EVENT_TYPE_CHARS}), for example TOR"
                ),
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Checks the form of a webhook id sent by a client.
fn validate_webhook_id(webhook_id: &str) -> Result<(), ApiError> {
    let valid = webhook_id.len() == 20
        && webhook_id.starts_with("whk_")
        && webhook_id[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if valid {
        Ok(())
    } else if webhook_id.is_empty() {
        Err(ApiError::invalid(
            "webhook_id",
            "is required: give the webhook's id (whk_...)",
        ))
    } else {
        Err(ApiError::invalid(
            "webhook_id",
            format!("{webhook_id:?} is not a webhook id: expected whk_ and 16 hex characters"),
        ))
    }
}

/// `n` random bytes as lowercase hex.
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests;
