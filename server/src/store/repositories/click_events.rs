//! Tracked click events, by visitor and by time.
//!
//! [`Keyspace::ClickEvents`] by `tenant / visitor id / time (big-endian ms) / event id`, so a
//! visitor's events are one prefix in time order; [`Keyspace::ClickEventTimes`] by
//! `tenant / time / event id`, holding the event's key, so the tenant's events in time order
//! (listing and retention) are one prefix too.

use std::sync::Arc;

use super::id_key;
use crate::{
    engine::clicks::records::ClickEvent,
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::TenantId,
};

/// How many events one retention batch removes at most.
const PURGE_PAGE: usize = 1000;

/// A page of events and where the next one starts (`None` after the last page).
#[derive(Debug)]
pub struct EventPage {
    /// The events, oldest first.
    pub events: Vec<ClickEvent>,
    /// The position after the last event, relative to the tenant (opaque to callers).
    pub next: Option<Vec<u8>>,
}

/// The click events of every tenant.
#[derive(Clone)]
pub struct ClickEvents {
    store: Arc<dyn Store>,
}

fn big_endian_ms(time_ms: i64) -> [u8; 8] {
    u64::try_from(time_ms).unwrap_or_default().to_be_bytes()
}

fn visitor_prefix(tenant: &TenantId, visitor_id: &str) -> Vec<u8> {
    id_key(tenant, &format!("{visitor_id}/"))
}

fn event_key(tenant: &TenantId, event: &ClickEvent) -> Vec<u8> {
    let mut key = visitor_prefix(tenant, &event.visitor_id);
    key.extend_from_slice(&big_endian_ms(event.time_ms));
    key.extend_from_slice(event.event_id.as_bytes());
    key
}

fn time_key(tenant: &TenantId, time_ms: i64, event_id: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant.as_str());
    key.extend_from_slice(&big_endian_ms(time_ms));
    key.extend_from_slice(event_id.as_bytes());
    key
}

impl ClickEvents {
    /// The click events over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds writing a new `event` to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        event: &ClickEvent,
    ) -> Result<(), StoreError> {
        let stored_at = event_key(tenant, event);
        batch.put(
            Keyspace::ClickEventTimes,
            time_key(tenant, event.time_ms, &event.event_id),
            stored_at.clone(),
        );
        batch.put(Keyspace::ClickEvents, stored_at, encode(event)?);
        Ok(())
    }

    /// A visitor's latest `limit` events, oldest first.
    pub async fn latest(
        &self,
        tenant: &TenantId,
        visitor_id: &str,
        limit: usize,
    ) -> Result<Vec<ClickEvent>, StoreError> {
        self.store
            .scan_prefix_last(
                Keyspace::ClickEvents,
                &visitor_prefix(tenant, visitor_id),
                limit,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::ClickEvents, &bytes))
            .collect()
    }

    /// Up to `limit` events, oldest first, of one visitor or of the whole tenant, after the
    /// position `after` (empty for the first page) that an earlier page returned.
    pub async fn page(
        &self,
        tenant: &TenantId,
        visitor_id: Option<&str>,
        after: &[u8],
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        // Per visitor, events sit under `tenant/visitor/`; for the tenant, the time index leads.
        let (space, prefix) = match visitor_id {
            Some(visitor) => (Keyspace::ClickEvents, visitor_prefix(tenant, visitor)),
            None => (Keyspace::ClickEventTimes, tenant_prefix(tenant.as_str())),
        };
        let start_after = (!after.is_empty()).then(|| [prefix.as_slice(), after].concat());
        let entries = self
            .store
            .scan_prefix(
                space,
                &prefix,
                start_after.as_deref(),
                limit.saturating_add(1),
            )
            .await?;
        let more = entries.len() > limit;
        let mut events = Vec::with_capacity(limit.min(entries.len()));
        let mut last_key = Vec::new();
        for (entry_key, value) in entries.into_iter().take(limit) {
            let event = match space {
                Keyspace::ClickEventTimes => self
                    .store
                    .get(Keyspace::ClickEvents, &value)
                    .await?
                    .map(|bytes| decode(Keyspace::ClickEvents, &bytes))
                    .transpose()?,
                _ => Some(decode(Keyspace::ClickEvents, &value)?),
            };
            // An index entry whose event retention just removed is skipped, not an error.
            if let Some(event) = event {
                events.push(event);
            }
            last_key = entry_key;
        }
        let next = more.then(|| last_key[prefix.len()..].to_vec());
        Ok(EventPage { events, next })
    }

    /// The visitor after `after` (the first with `None`) that has events, in id order.
    pub async fn next_visitor(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let prefix = tenant_prefix(tenant.as_str());
        // Past every key of the visitor `after`: event keys continue with a time, then ASCII.
        let start = after.map(|visitor| {
            let mut key = visitor_prefix(tenant, visitor);
            key.extend_from_slice(&[0xff; 9]);
            key
        });
        let found = self
            .store
            .scan_prefix(Keyspace::ClickEvents, &prefix, start.as_deref(), 1)
            .await?;
        Ok(found.first().and_then(|(key, _)| {
            let rest = key.get(prefix.len()..)?;
            let end = rest.iter().position(|byte| *byte == b'/')?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        }))
    }

    /// Removes events that happened before `before_ms`; returns how many.
    pub async fn purge_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        let prefix = tenant_prefix(tenant.as_str());
        let limit = time_key(tenant, before_ms, "");
        let mut removed = 0;
        loop {
            let old: Vec<_> = self
                .store
                .scan_prefix(Keyspace::ClickEventTimes, &prefix, None, PURGE_PAGE)
                .await?
                .into_iter()
                .take_while(|(time_key, _)| time_key.as_slice() < limit.as_slice())
                .collect();
            if old.is_empty() {
                return Ok(removed);
            }
            let mut batch = WriteBatch::new();
            for (time_key, event_key) in &old {
                batch.delete(Keyspace::ClickEvents, event_key.clone());
                batch.delete(Keyspace::ClickEventTimes, time_key.clone());
            }
            removed += old.len();
            self.store.apply(batch).await?;
        }
    }
}
