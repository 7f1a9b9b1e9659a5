//! Click-fraud decisions, the blocklist they feed and the per-day counters.
//!
//! [`Keyspace::ClickDecisions`] by `tenant / visitor id` (the latest decision);
//! [`Keyspace::ClickBlocklist`] by `tenant / ip`; [`Keyspace::ClickStats`] by
//! `tenant / day (big-endian u32) / name`, so a range of days is one range scan.

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    engine::clicks::records::{BlocklistRecord, DecisionRecord},
    store::{
        Keyspace, Store, StoreError, WriteBatch, decode, decode_counter, encode, tenant_prefix,
    },
    tenancy::TenantId,
};

/// One day counter, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounter {
    /// The day number (days since 1970-01-01).
    pub day: i64,
    /// The counter's name (`events`, `fraud`, `rule:honeypot`, ...).
    pub name: String,
    /// Its value.
    pub value: i64,
}

/// The decisions, blocklists and day counters of every tenant.
#[derive(Clone)]
pub struct ClickDecisions {
    store: Arc<dyn Store>,
}

fn day_key(tenant: &TenantId, day: i64) -> Vec<u8> {
    let mut key = tenant_prefix(tenant.as_str());
    key.extend_from_slice(&u32::try_from(day).unwrap_or_default().to_be_bytes());
    key
}

fn counter_key(tenant: &TenantId, day: i64, name: &str) -> Vec<u8> {
    let mut key = day_key(tenant, day);
    key.push(b'/');
    key.extend_from_slice(name.as_bytes());
    key
}

impl ClickDecisions {
    /// The decisions over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The latest decision about a visitor.
    pub async fn get(
        &self,
        tenant: &TenantId,
        visitor_id: &str,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::ClickDecisions,
            &id_key(tenant, visitor_id),
        )
        .await
    }

    /// Adds writing a visitor's latest decision to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        visitor_id: &str,
        record: &DecisionRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::ClickDecisions,
            id_key(tenant, visitor_id),
            encode(record)?,
        );
        Ok(())
    }

    /// The blocklist entry of an IP.
    pub async fn blocked(
        &self,
        tenant: &TenantId,
        ip: &str,
    ) -> Result<Option<BlocklistRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::ClickBlocklist,
            &id_key(tenant, ip),
        )
        .await
    }

    /// Adds writing an IP's blocklist entry to `batch`.
    pub fn put_blocked(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        record: &BlocklistRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::ClickBlocklist,
            id_key(tenant, &record.ip),
            encode(record)?,
        );
        Ok(())
    }

    /// Every blocklist entry of a tenant.
    pub async fn blocklist(&self, tenant: &TenantId) -> Result<Vec<BlocklistRecord>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::ClickBlocklist,
                &tenant_prefix(tenant.as_str()),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::ClickBlocklist, &bytes))
            .collect()
    }

    /// Adds adding `delta` to the counter `name` of `day` to `batch`.
    pub fn count(batch: &mut WriteBatch, tenant: &TenantId, day: i64, name: &str, delta: i64) {
        batch.add(Keyspace::ClickStats, counter_key(tenant, day, name), delta);
    }

    /// Every counter of the days `first..=last`, by day.
    pub async fn counters(
        &self,
        tenant: &TenantId,
        first: i64,
        last: i64,
    ) -> Result<Vec<DayCounter>, StoreError> {
        let prefix_len = day_key(tenant, first).len();
        // One pass over the whole range: day keys sort by day within the tenant.
        let entries = self
            .store
            .scan_range(
                Keyspace::ClickStats,
                &day_key(tenant, first),
                &day_key(tenant, last + 1),
                usize::MAX,
            )
            .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, value)| {
                let day = u32::from_be_bytes(key.get(prefix_len - 4..prefix_len)?.try_into().ok()?);
                let name = String::from_utf8_lossy(key.get(prefix_len + 1..)?).into_owned();
                Some(DayCounter {
                    day: i64::from(day),
                    name,
                    value: decode_counter(&value),
                })
            })
            .collect())
    }
}
