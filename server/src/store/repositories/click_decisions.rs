//! Click-fraud decisions, the blocklist they feed and the per-day counters.
//!
//! [`Keyspace::ClickDecisions`] by `tenant / visitor id` (the latest decision);
//! [`Keyspace::ClickBlocklist`] by `tenant / ip`, with an empty entry per IP in
//! [`Keyspace::ClickBlocklistIndex`] by `tenant / label / last seen (big-endian ms) / ip`, so
//! the blocklist of one label over the last days is one range scan and costs what it returns;
//! [`Keyspace::ClickStats`] by `tenant / day (big-endian u32) / name`, so a range of days is one
//! range scan.

use std::sync::Arc;

use super::{id_key, index_every, read};
use crate::{
    engine::clicks::records::{BlocklistRecord, DecisionRecord, Label},
    store::{
        Keyspace, Store, StoreError, WriteBatch, decode_counter, encode, tenant_key, tenant_prefix,
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

fn label_prefix(tenant: &str, label: Label) -> Vec<u8> {
    tenant_key(tenant, format!("{}/", label.name()).as_bytes())
}

fn blocklist_index_key(tenant: &str, record: &BlocklistRecord) -> Vec<u8> {
    let mut key = label_prefix(tenant, record.label);
    key.extend_from_slice(
        &u64::try_from(record.last_seen_ms)
            .unwrap_or(0)
            .to_be_bytes(),
    );
    key.extend_from_slice(record.ip.as_bytes());
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

    /// Adds writing an IP's blocklist entry to `batch`; `previous` is the entry it replaces,
    /// whose index entry goes.
    pub fn put_blocked(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        record: &BlocklistRecord,
        previous: Option<&BlocklistRecord>,
    ) -> Result<(), StoreError> {
        if let Some(previous) = previous {
            batch.delete(
                Keyspace::ClickBlocklistIndex,
                blocklist_index_key(tenant.as_str(), previous),
            );
        }
        batch.put(
            Keyspace::ClickBlocklistIndex,
            blocklist_index_key(tenant.as_str(), record),
            Vec::new(),
        );
        batch.put(
            Keyspace::ClickBlocklist,
            id_key(tenant, &record.ip),
            encode(record)?,
        );
        Ok(())
    }

    /// The blocklist entries of `label` last seen at or after `since_ms`.
    pub async fn blocklist(
        &self,
        tenant: &TenantId,
        label: Label,
        since_ms: i64,
    ) -> Result<Vec<BlocklistRecord>, StoreError> {
        let prefix = label_prefix(tenant.as_str(), label);
        let mut start = prefix.clone();
        start.extend_from_slice(&u64::try_from(since_ms).unwrap_or(0).to_be_bytes());
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 9]);
        let entries = self
            .store
            .scan_range(Keyspace::ClickBlocklistIndex, &start, &end, usize::MAX)
            .await?;
        let mut records = Vec::with_capacity(entries.len());
        for (key, _) in entries {
            let ip = String::from_utf8_lossy(&key[prefix.len() + 8..]).into_owned();
            // An entry whose label or time moved since is found under its new key.
            if let Some(record) = self.blocked(tenant, &ip).await? {
                if record.label == label && record.last_seen_ms >= since_ms {
                    records.push(record);
                }
            }
        }
        Ok(records)
    }

    /// Writes the index entry of every blocklist entry (data dirs of releases without the
    /// index); returns how many.
    pub async fn build_blocklist_index(store: &dyn Store) -> Result<u64, StoreError> {
        index_every(
            store,
            Keyspace::ClickBlocklist,
            |record: &BlocklistRecord| &record.ip,
            |batch, tenant, record| {
                batch.put(
                    Keyspace::ClickBlocklistIndex,
                    blocklist_index_key(tenant, record),
                    Vec::new(),
                );
                true
            },
        )
        .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn entry(ip: &str, label: Label, last_seen_ms: i64) -> BlocklistRecord {
        BlocklistRecord {
            ip: ip.into(),
            score: 80,
            label,
            last_seen_ms,
            reason: "test".into(),
        }
    }

    fn ips(records: &[BlocklistRecord]) -> Vec<&str> {
        records.iter().map(|record| record.ip.as_str()).collect()
    }

    #[tokio::test]
    async fn the_blocklist_reads_one_label_since_a_time_and_follows_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let decisions = ClickDecisions::new(store.clone());
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        let other = TenantId::parse("tn_fedcba9876543210", "tenant").unwrap();
        let mut batch = WriteBatch::new();
        for record in [
            entry("192.0.2.1", Label::Fraud, 1_000),
            entry("192.0.2.2", Label::Fraud, 5_000),
            entry("192.0.2.3", Label::Suspicious, 5_000),
        ] {
            ClickDecisions::put_blocked(&mut batch, &tenant, &record, None).unwrap();
        }
        ClickDecisions::put_blocked(
            &mut batch,
            &other,
            &entry("198.51.100.1", Label::Fraud, 5_000),
            None,
        )
        .unwrap();
        store.apply(batch).await.unwrap();
        let fraud = decisions.blocklist(&tenant, Label::Fraud, 0).await.unwrap();
        assert_eq!(ips(&fraud), vec!["192.0.2.1", "192.0.2.2"]);
        let recent = decisions
            .blocklist(&tenant, Label::Fraud, 2_000)
            .await
            .unwrap();
        assert_eq!(ips(&recent), vec!["192.0.2.2"]);

        // Seen again and now FRAUD: the entry moves, and is found once, under its new key.
        let previous = decisions
            .blocked(&tenant, "192.0.2.3")
            .await
            .unwrap()
            .unwrap();
        let mut batch = WriteBatch::new();
        let moved = entry("192.0.2.3", Label::Fraud, 9_000);
        ClickDecisions::put_blocked(&mut batch, &tenant, &moved, Some(&previous)).unwrap();
        store.apply(batch).await.unwrap();
        let fraud = decisions.blocklist(&tenant, Label::Fraud, 0).await.unwrap();
        assert_eq!(ips(&fraud), vec!["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert!(
            decisions
                .blocklist(&tenant, Label::Suspicious, 0)
                .await
                .unwrap()
                .is_empty()
        );

        // A data dir without the index gets it from the entries.
        let mut batch = WriteBatch::new();
        for (key, _) in store
            .scan_prefix(Keyspace::ClickBlocklistIndex, b"", None, usize::MAX)
            .await
            .unwrap()
        {
            batch.delete(Keyspace::ClickBlocklistIndex, key);
        }
        store.apply(batch).await.unwrap();
        assert!(
            decisions
                .blocklist(&tenant, Label::Fraud, 0)
                .await
                .unwrap()
                .is_empty()
        );
        let indexed = ClickDecisions::build_blocklist_index(store.as_ref())
            .await
            .unwrap();
        assert_eq!(indexed, 4);
        let fraud = decisions.blocklist(&tenant, Label::Fraud, 0).await.unwrap();
        assert_eq!(fraud.len(), 3);
    }
}
