//! Storage: a small trait over a key-value store, and its sled implementation.
//!
//! Every record lives in a [`Keyspace`]; keys of tenant-owned records start with the tenant id and
//! a separator (see [`tenant_key`]), so one tenant's scans can never reach another's records.
//! Writes become durable only after [`Store::durable`] resolves: callers acknowledge a write to a
//! client only then. Concurrent callers share one flush (group commit), and batches applied at the
//! same time share one transaction (group apply).

mod group_apply;
mod group_commit;
pub mod migrate;
pub mod repositories;
mod sled_store;

use std::{future::Future, pin::Pin};

pub use sled_store::SledStore;

/// The default size of the store's page cache, in MiB (`store_cache_mb`). sled's own default is
/// 1 GiB; see the README's Benchmarks section for what this costs in read latency.
pub const DEFAULT_CACHE_MB: u64 = 1024;

/// The kinds of records Gatehouse keeps; one sled tree each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyspace {
    /// Tenants by tenant id.
    Tenants,
    /// API keys by `tenant id / key id`.
    ApiKeys,
    /// API key ids by the SHA-256 of the key, for authentication.
    ApiKeyHashes,
    /// Server-wide metadata (format version, ...).
    Meta,
    /// Tenants' own black- and whitelists by `tenant id / list / range`.
    TenantIpLists,
    /// Per-IP threat counters and blocks by `tenant id / ip`.
    IpActivity,
    /// Identities by `tenant id / identity id`.
    Identities,
    /// Identity ids by `tenant id / user id`.
    UserIndex,
    /// The identities of a device by `tenant id / device id`.
    Devices,
    /// Signals by `tenant id / signal id` (newest first).
    Signals,
    /// Idempotency answers by `tenant id / idempotency key`.
    Idempotency,
    /// Events by `tenant id / event id` (newest first).
    Events,
    /// Event ids by each filter ListEvents offers (see [`repositories::events`]).
    EventIndex,
    /// Bans by `tenant id / ban id` (newest first).
    Bans,
    /// Ban ids by `tenant id / subject kind / subject / ban id`.
    BanIndex,
    /// Approvals by `tenant id / identity id / approval id`.
    Approvals,
    /// Approval locations by SHA-256 of the approval token.
    ApprovalTokens,
    /// Webhook endpoints by `tenant id / webhook id`.
    WebhookEndpoints,
    /// Pending webhook deliveries by due time (big-endian ms) and outbox id, across tenants, so
    /// the dispatcher finds due work with a range scan.
    WebhookOutbox,
    /// The outbox key of each pending delivery by `tenant id / webhook id / outbox id`, so that
    /// deleting an endpoint can drop its pending deliveries.
    WebhookPending,
    /// Webhook delivery attempts by `tenant id / webhook id / inverted time / delivery id`,
    /// newest first.
    WebhookDeliveries,
    /// Click events by `tenant id / visitor id / time / event id`.
    ClickEvents,
    /// Click event locations by `tenant id / time / event id`, for retention.
    ClickEventTimes,
    /// Who shared a click id, by `tenant id / name:value`.
    ClickIds,
    /// Recent clicks per IP by `tenant id / ip`.
    IpClicks,
    /// The latest decision per visitor by `tenant id / visitor id`.
    ClickDecisions,
    /// Blocklisted IPs by `tenant id / ip`.
    ClickBlocklist,
    /// The same IPs by `tenant id / label / last seen (big-endian ms) / ip`, so one label's
    /// recently seen entries are one range scan (see [`repositories::click_decisions`]).
    ClickBlocklistIndex,
    /// Day counters by `tenant id / day / name`.
    ClickStats,
    /// Smart URLs by `tenant id / keyname`.
    SmartUrls,
    /// The owning tenant of every smart URL keyname (keynames are unique across the server).
    SmartUrlNames,
    /// JavaScript confirmations (until, ms) by `tenant id / keyname / ip`.
    JsConfirmations,
    /// Smart URL visit counters by `tenant id / keyname / day / name`.
    SmartUrlStats,
    /// SDK signing keys by `tenant id / key id`.
    SigningKeys,
    /// Nonces of verified tokens (until when they are remembered, ms) by `tenant id / nonce`.
    VerifyNonces,
    /// The same nonces by big-endian expiry (ms) and `tenant id / nonce`, so that forgetting the
    /// expired ones is a range scan.
    VerifyNonceExpiry,
    /// Verified requests per device lately by `tenant id / device id`.
    DeviceVelocity,
}

impl Keyspace {
    /// Every keyspace, in a fixed order.
    pub const ALL: [Keyspace; 37] = [
        Keyspace::Tenants,
        Keyspace::ApiKeys,
        Keyspace::ApiKeyHashes,
        Keyspace::Meta,
        Keyspace::TenantIpLists,
        Keyspace::IpActivity,
        Keyspace::Identities,
        Keyspace::UserIndex,
        Keyspace::Devices,
        Keyspace::Signals,
        Keyspace::Idempotency,
        Keyspace::Events,
        Keyspace::EventIndex,
        Keyspace::Bans,
        Keyspace::BanIndex,
        Keyspace::Approvals,
        Keyspace::ApprovalTokens,
        Keyspace::WebhookEndpoints,
        Keyspace::WebhookOutbox,
        Keyspace::WebhookPending,
        Keyspace::WebhookDeliveries,
        Keyspace::ClickEvents,
        Keyspace::ClickEventTimes,
        Keyspace::ClickIds,
        Keyspace::IpClicks,
        Keyspace::ClickDecisions,
        Keyspace::ClickBlocklist,
        Keyspace::ClickBlocklistIndex,
        Keyspace::ClickStats,
        Keyspace::SmartUrls,
        Keyspace::SmartUrlNames,
        Keyspace::JsConfirmations,
        Keyspace::SmartUrlStats,
        Keyspace::SigningKeys,
        Keyspace::VerifyNonces,
        Keyspace::VerifyNonceExpiry,
        Keyspace::DeviceVelocity,
    ];

    /// The name of the tree on disk; stable, never rename.
    pub fn tree_name(self) -> &'static str {
        match self {
            Keyspace::Tenants => "tenants",
            Keyspace::ApiKeys => "api_keys",
            Keyspace::ApiKeyHashes => "api_key_hashes",
            Keyspace::Meta => "meta",
            Keyspace::TenantIpLists => "tenant_ip_lists",
            Keyspace::IpActivity => "ip_activity",
            Keyspace::Identities => "identities",
            Keyspace::UserIndex => "user_index",
            Keyspace::Devices => "devices",
            Keyspace::Signals => "signals",
            Keyspace::Idempotency => "idempotency",
            Keyspace::Events => "events",
            Keyspace::EventIndex => "event_index",
            Keyspace::Bans => "bans",
            Keyspace::BanIndex => "ban_index",
            Keyspace::Approvals => "approvals",
            Keyspace::ApprovalTokens => "approval_tokens",
            Keyspace::WebhookEndpoints => "webhook_endpoints",
            Keyspace::WebhookOutbox => "webhook_outbox",
            Keyspace::WebhookPending => "webhook_pending",
            Keyspace::WebhookDeliveries => "webhook_deliveries",
            Keyspace::ClickEvents => "click_events",
            Keyspace::ClickEventTimes => "click_event_times",
            Keyspace::ClickIds => "click_ids",
            Keyspace::IpClicks => "ip_clicks",
            Keyspace::ClickDecisions => "click_decisions",
            Keyspace::ClickBlocklist => "click_blocklist",
            Keyspace::ClickBlocklistIndex => "click_blocklist_index",
            Keyspace::ClickStats => "click_stats",
            Keyspace::SmartUrls => "smart_urls",
            Keyspace::SmartUrlNames => "smart_url_names",
            Keyspace::JsConfirmations => "js_confirmations",
            Keyspace::SmartUrlStats => "smart_url_stats",
            Keyspace::SigningKeys => "signing_keys",
            Keyspace::VerifyNonces => "verify_nonces",
            Keyspace::VerifyNonceExpiry => "verify_nonce_expiry",
            Keyspace::DeviceVelocity => "device_velocity",
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|space| *space == self)
            .unwrap_or_default()
    }
}

/// Separates the tenant id from the rest of a key. Tenant ids never contain it.
pub const TENANT_SEPARATOR: u8 = b'/';

/// Builds the key of a tenant-owned record: `tenant_id / rest`.
pub fn tenant_key(tenant_id: &str, rest: &[u8]) -> Vec<u8> {
    let mut key = tenant_prefix(tenant_id);
    key.extend_from_slice(rest);
    key
}

/// The prefix of every key a tenant owns in a keyspace.
pub fn tenant_prefix(tenant_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant_id.len() + 1);
    key.extend_from_slice(tenant_id.as_bytes());
    key.push(TENANT_SEPARATOR);
    key
}

/// What went wrong in the store.
#[derive(Debug, thiserror::Error, Clone)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("storage failed: {0}")]
    Backend(String),
    /// A stored record could not be decoded; the data on disk is not what this version expects.
    #[error("stored record in {keyspace} is corrupt: {detail}")]
    Corrupt {
        /// The tree the record is in.
        keyspace: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The store is shutting down and takes no more writes.
    #[error("storage is shutting down")]
    Closed,
}

/// One write of a [`WriteBatch`].
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Insert or replace a value.
    Put {
        /// Where.
        space: Keyspace,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove a key, if present.
    Delete {
        /// Where.
        space: Keyspace,
        /// The key.
        key: Vec<u8>,
    },
    /// Add `delta` to the counter at `key` (a missing counter is zero). The read and the write
    /// happen inside the batch, so concurrent additions never lose one another and callers need
    /// no lock of their own.
    Add {
        /// Where.
        space: Keyspace,
        /// The key.
        key: Vec<u8>,
        /// How much to add (negative to subtract).
        delta: i64,
    },
}

impl WriteOp {
    /// The keyspace the write goes to.
    pub fn space(&self) -> Keyspace {
        match self {
            WriteOp::Put { space, .. }
            | WriteOp::Delete { space, .. }
            | WriteOp::Add { space, .. } => *space,
        }
    }
}

/// Encodes a counter value (big-endian, so it is also readable by tools that sort bytes).
pub fn encode_counter(value: i64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Decodes a counter value; anything that is not 8 bytes counts as zero.
pub fn decode_counter(bytes: &[u8]) -> i64 {
    <[u8; 8]>::try_from(bytes)
        .map(i64::from_be_bytes)
        .unwrap_or_default()
}

/// Reads the counter at `key` (see [`WriteOp::Add`]); a missing counter is zero.
pub async fn read_counter(
    store: &dyn Store,
    space: Keyspace,
    key: &[u8],
) -> Result<i64, StoreError> {
    Ok(store
        .get(space, key)
        .await?
        .map_or(0, |bytes| decode_counter(&bytes)))
}

/// Writes applied all together or not at all.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an insert.
    pub fn put(&mut self, space: Keyspace, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put {
            space,
            key: key.into(),
            value: value.into(),
        });
    }

    /// Adds a removal.
    pub fn delete(&mut self, space: Keyspace, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete {
            space,
            key: key.into(),
        });
    }

    /// Adds an addition to a counter (see [`WriteOp::Add`]).
    pub fn add(&mut self, space: Keyspace, key: impl Into<Vec<u8>>, delta: i64) {
        self.ops.push(WriteOp::Add {
            space,
            key: key.into(),
            delta,
        });
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A key and its value, as read from the store.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A boxed future, so that the trait stays object-safe.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The storage the engine and the services use. Implementations must be safe to share between
/// threads. Every method is async, so that a store on the network (PostgreSQL for a fleet) can
/// implement it without blocking the runtime; the embedded store answers reads at once. Writes
/// are awaited, so that concurrent writers can share a transaction, and durability is awaited
/// separately with [`Store::durable`].
pub trait Store: Send + Sync + 'static {
    /// Reads one value.
    fn get<'a>(&'a self, space: Keyspace, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Reads up to `limit` entries whose keys start with `prefix`, in key order, starting after
    /// `start_after` when given.
    fn scan_prefix<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        start_after: Option<&'a [u8]>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>>;

    /// Reads up to `limit` entries with `start <= key < end`, in key order: one pass over a
    /// run of adjacent records (a tenant's day counters over a date range) instead of a scan
    /// per sub-prefix.
    fn scan_range<'a>(
        &'a self,
        space: Keyspace,
        start: &'a [u8],
        end: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>>;

    /// Reads the last `limit` entries whose keys start with `prefix`, in key order (a bounded
    /// read of the newest entries when keys end in a time).
    fn scan_prefix_last<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>>;

    /// Applies a batch atomically: after a crash either all of it is there or none. Resolves once
    /// the batch is visible to reads.
    fn apply(&self, batch: WriteBatch) -> StoreFuture<'_, ()>;

    /// Resolves once every write applied before the call is on disk. Concurrent callers share
    /// one flush.
    fn durable(&self) -> StoreFuture<'_, ()>;
}

/// Encodes a record for the store.
pub fn encode<T: serde::Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|error| StoreError::Backend(error.to_string()))
}

/// Decodes a record read from `space`.
pub fn decode<T: serde::de::DeserializeOwned>(
    space: Keyspace,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        keyspace: space.tree_name(),
        detail: error.to_string(),
    })
}
