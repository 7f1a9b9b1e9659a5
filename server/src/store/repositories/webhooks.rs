//! Webhook endpoints, the outbox of deliveries and the delivery log.
//!
//! [`Keyspace::WebhookEndpoints`] by `tenant / webhook id`; [`Keyspace::WebhookOutbox`] by the
//! due time (big-endian ms) and the outbox id, across tenants, so the dispatcher finds due work
//! at the head; [`Keyspace::WebhookPending`] by `tenant / webhook id / outbox id`, holding the
//! outbox key, so deleting an endpoint finds its pending deliveries; and
//! [`Keyspace::WebhookDeliveries`] by `tenant / webhook id / (u64::MAX - attempted ms) /
//! delivery id`, newest first.

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::TenantId,
    webhooks::{DeliveryRecord, OutboxEntry, WebhookEndpoint},
};

/// How many records one removal batch holds at most.
const REMOVE_PAGE: usize = 1000;

/// A delivery at the head of the outbox.
#[derive(Debug)]
pub struct Queued {
    /// Where it is in the outbox (opaque to callers).
    pub position: Vec<u8>,
    /// When it is due (ms).
    pub due_ms: i64,
    /// The delivery, or why it could not be read.
    pub entry: Result<OutboxEntry, StoreError>,
}

/// The webhook records of every tenant.
#[derive(Clone)]
pub struct WebhookRecords {
    store: Arc<dyn Store>,
}

/// `tenant / webhook id /`: the prefix of an endpoint's pending index and delivery log.
fn endpoint_child_prefix(tenant: &TenantId, webhook_id: &str) -> Vec<u8> {
    id_key(tenant, &format!("{webhook_id}/"))
}

fn outbox_key(due_ms: i64, outbox_id: &str) -> Vec<u8> {
    let mut key = u64::try_from(due_ms).unwrap_or(0).to_be_bytes().to_vec();
    key.extend_from_slice(outbox_id.as_bytes());
    key
}

fn outbox_due_ms(key: &[u8]) -> i64 {
    key.get(..8)
        .and_then(|head| <[u8; 8]>::try_from(head).ok())
        .map(|head| i64::try_from(u64::from_be_bytes(head)).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn pending_key(entry: &OutboxEntry) -> Vec<u8> {
    let mut key = endpoint_child_prefix(&entry.tenant_id, &entry.webhook_id);
    key.extend_from_slice(entry.outbox_id.as_bytes());
    key
}

fn delivery_key(tenant: &TenantId, record: &DeliveryRecord) -> Vec<u8> {
    let mut key = endpoint_child_prefix(tenant, &record.webhook_id);
    let inverted = u64::MAX - u64::try_from(record.attempted_ms).unwrap_or(0);
    key.extend_from_slice(&inverted.to_be_bytes());
    key.extend_from_slice(record.delivery_id.as_bytes());
    key
}

impl WebhookRecords {
    /// The webhook records over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one endpoint.
    pub async fn endpoint(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::WebhookEndpoints,
            &id_key(tenant, webhook_id),
        )
        .await
    }

    /// Every endpoint of a tenant, in id order.
    pub async fn endpoints(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::WebhookEndpoints,
                &tenant_prefix(tenant.as_str()),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::WebhookEndpoints, &bytes))
            .collect()
    }

    /// Adds writing `endpoint` to `batch`.
    pub fn put_endpoint(
        batch: &mut WriteBatch,
        endpoint: &WebhookEndpoint,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::WebhookEndpoints,
            id_key(&endpoint.tenant_id, &endpoint.webhook_id),
            encode(endpoint)?,
        );
        Ok(())
    }

    /// Removes an endpoint with its pending deliveries (in one batch), then its delivery log
    /// (in pages, once the endpoint is already gone). Not awaited for durability.
    pub async fn remove_endpoint(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<(), StoreError> {
        let children = endpoint_child_prefix(tenant, webhook_id);
        let mut batch = WriteBatch::new();
        batch.delete(Keyspace::WebhookEndpoints, id_key(tenant, webhook_id));
        for (pending, outbox) in self
            .store
            .scan_prefix(Keyspace::WebhookPending, &children, None, usize::MAX)
            .await?
        {
            batch.delete(Keyspace::WebhookPending, pending);
            batch.delete(Keyspace::WebhookOutbox, outbox);
        }
        self.store.apply(batch).await?;
        loop {
            let page = self
                .store
                .scan_prefix(Keyspace::WebhookDeliveries, &children, None, REMOVE_PAGE)
                .await?;
            if page.is_empty() {
                return Ok(());
            }
            let mut batch = WriteBatch::new();
            for (key, _) in page {
                batch.delete(Keyspace::WebhookDeliveries, key);
            }
            self.store.apply(batch).await?;
        }
    }

    /// Up to `limit` of an endpoint's delivery attempts, newest first, after the position
    /// `after` an earlier page returned; and the position after this page when more follow.
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<DeliveryRecord>, Option<Vec<u8>>), StoreError> {
        let prefix = endpoint_child_prefix(tenant, webhook_id);
        let start_after = after.map(|tail| [prefix.as_slice(), tail].concat());
        let mut entries = self
            .store
            .scan_prefix(
                Keyspace::WebhookDeliveries,
                &prefix,
                start_after.as_deref(),
                limit.saturating_add(1),
            )
            .await?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next = match (more, entries.last()) {
            (true, Some((key, _))) => Some(key[prefix.len()..].to_vec()),
            _ => None,
        };
        let records = entries
            .iter()
            .map(|(_, value)| decode(Keyspace::WebhookDeliveries, value))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, next))
    }

    /// True when `tail` could be a position [`WebhookRecords::deliveries`] returned.
    pub fn is_delivery_position(tail: &[u8]) -> bool {
        tail.len() > 8
    }

    /// Adds queueing `entry`, due at `due_ms`, to `batch` (replacing where it was queued
    /// before, for a retry, once the caller also removes its old position).
    pub fn queue(
        batch: &mut WriteBatch,
        entry: &OutboxEntry,
        due_ms: i64,
    ) -> Result<(), StoreError> {
        let key = outbox_key(due_ms, &entry.outbox_id);
        batch.put(Keyspace::WebhookOutbox, key.clone(), encode(entry)?);
        batch.put(Keyspace::WebhookPending, pending_key(entry), key);
        Ok(())
    }

    /// Up to `limit` deliveries at the head of the outbox, earliest due first.
    pub async fn head(&self, limit: usize) -> Result<Vec<Queued>, StoreError> {
        Ok(self
            .store
            .scan_prefix(Keyspace::WebhookOutbox, &[], None, limit)
            .await?
            .into_iter()
            .map(|(position, value)| Queued {
                due_ms: outbox_due_ms(&position),
                entry: decode(Keyspace::WebhookOutbox, &value),
                position,
            })
            .collect())
    }

    /// Adds removing the delivery at `position` from the outbox to `batch`; with `entry`, also
    /// from its endpoint's pending index (leave it out when the entry is queued again, which
    /// replaces the index entry).
    pub fn unqueue(batch: &mut WriteBatch, position: Vec<u8>, entry: Option<&OutboxEntry>) {
        batch.delete(Keyspace::WebhookOutbox, position);
        if let Some(entry) = entry {
            batch.delete(Keyspace::WebhookPending, pending_key(entry));
        }
    }

    /// Adds logging a delivery attempt to `batch`.
    pub fn log_attempt(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        record: &DeliveryRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::WebhookDeliveries,
            delivery_key(tenant, record),
            encode(record)?,
        );
        Ok(())
    }

    /// How many deliveries wait in the outbox, counted up to about `cap`.
    pub async fn depth(&self, cap: usize) -> Result<usize, StoreError> {
        let mut count = 0usize;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .scan_prefix(Keyspace::WebhookOutbox, &[], after.as_deref(), REMOVE_PAGE)
                .await?;
            count += page.len();
            match page.last() {
                Some((key, _)) if page.len() == REMOVE_PAGE && count < cap => {
                    after = Some(key.clone());
                }
                _ => return Ok(count),
            }
        }
    }
}
