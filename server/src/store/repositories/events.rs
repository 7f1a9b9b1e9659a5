//! Identity events, with an index per filter `ListEvents` offers.
//!
//! Events live in [`Keyspace::Events`] by `tenant / event id`; event ids sort newest first, so
//! the tenant's log is one prefix in that order. [`Keyspace::EventIndex`] holds an empty entry
//! per event and filter, ending in the event id so each filter's page is one seek:
//! `tenant / i / identity id / event id`, `tenant / t / TYPE / event id` and
//! `tenant / it / identity id / TYPE / event id`. A page costs what it holds, however long the
//! tenant's history.

use std::sync::Arc;

use crate::{
    engine::identity::records::{EventRecord, EventType},
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_key, tenant_prefix},
    tenancy::TenantId,
};

/// Which events a page holds; `None` fields do not filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter<'a> {
    /// Only this identity's events.
    pub identity_id: Option<&'a str>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
}

/// The identity events of every tenant.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<dyn Store>,
}

/// The index prefix a filter reads, or `None` for the log itself.
fn index_prefix(tenant: &str, filter: EventFilter<'_>) -> Option<Vec<u8>> {
    let rest = match (filter.identity_id, filter.event_type) {
        (None, None) => return None,
        (Some(identity), None) => format!("i/{identity}/"),
        (None, Some(kind)) => format!("t/{}/", kind.name()),
        (Some(identity), Some(kind)) => format!("it/{identity}/{}/", kind.name()),
    };
    Some(tenant_key(tenant, rest.as_bytes()))
}

/// The index entries of one event, one per filter that selects it.
fn index_keys(tenant: &str, event: &EventRecord) -> [Vec<u8>; 3] {
    let identity = Some(event.identity_id.as_str());
    let kind = Some(event.event_type);
    [(identity, None), (None, kind), (identity, kind)].map(|(identity_id, event_type)| {
        let filter = EventFilter {
            identity_id,
            event_type,
        };
        let mut key = index_prefix(tenant, filter).unwrap_or_default();
        key.extend_from_slice(event.event_id.as_bytes());
        key
    })
}

impl EventLog {
    /// The event log over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds writing `event` (new or changed; its identity and type never change) to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        event: &EventRecord,
    ) -> Result<(), StoreError> {
        let tenant = tenant.as_str();
        batch.put(
            Keyspace::Events,
            tenant_key(tenant, event.event_id.as_bytes()),
            encode(event)?,
        );
        for key in index_keys(tenant, event) {
            batch.put(Keyspace::EventIndex, key, Vec::new());
        }
        Ok(())
    }

    /// Reads one event.
    pub async fn get(
        &self,
        tenant: &TenantId,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let key = tenant_key(tenant.as_str(), event_id.as_bytes());
        self.store
            .get(Keyspace::Events, &key)
            .await?
            .map(|bytes| decode(Keyspace::Events, &bytes))
            .transpose()
    }

    /// Up to `limit` events that pass `filter`, newest first, after the event `after`.
    pub async fn page(
        &self,
        tenant: &TenantId,
        filter: EventFilter<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let Some(prefix) = index_prefix(tenant.as_str(), filter) else {
            let prefix = tenant_prefix(tenant.as_str());
            let start = after.map(|after| tenant_key(tenant.as_str(), after.as_bytes()));
            return self
                .store
                .scan_prefix(Keyspace::Events, &prefix, start.as_deref(), limit)
                .await?
                .into_iter()
                .map(|(_, bytes)| decode(Keyspace::Events, &bytes))
                .collect();
        };
        let start = after.map(|after| [prefix.as_slice(), after.as_bytes()].concat());
        let entries = self
            .store
            .scan_prefix(Keyspace::EventIndex, &prefix, start.as_deref(), limit)
            .await?;
        let mut events = Vec::with_capacity(entries.len());
        for (key, _) in entries {
            let event_id = String::from_utf8_lossy(&key[prefix.len()..]);
            // An index entry is written in the same batch as its event, so it has one.
            match self.get(tenant, &event_id).await? {
                Some(event) => events.push(event),
                None => {
                    return Err(StoreError::Corrupt {
                        keyspace: Keyspace::EventIndex.tree_name(),
                        detail: format!("event {event_id} is indexed but missing"),
                    });
                }
            }
        }
        Ok(events)
    }

    /// Writes the index entries of every stored event (the migration to format 2, when the
    /// index was added); returns how many events it indexed. Safe to run again.
    pub async fn build_index(store: &dyn Store) -> Result<u64, StoreError> {
        super::index_every(
            store,
            Keyspace::Events,
            |event: &EventRecord| &event.event_id,
            |batch, tenant, event| {
                for index_key in index_keys(tenant, event) {
                    batch.put(Keyspace::EventIndex, index_key, Vec::new());
                }
                true
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::identity::records::{EventLevel, Recommendation, new_id},
        store::SledStore,
    };

    fn event(n: i64, identity_id: &str, event_type: EventType) -> EventRecord {
        EventRecord {
            // Ids sort newest first, like the engine's.
            event_id: new_id("evt", 1_000_000 + n),
            identity_id: identity_id.into(),
            event_type,
            level: EventLevel::Low,
            signals: Vec::new(),
            recommendation: Recommendation::None,
            details: String::new(),
            created_ms: 1_000_000 + n,
            approval_id: None,
        }
    }

    async fn ids(
        log: &EventLog,
        tenant: &TenantId,
        filter: EventFilter<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<String> {
        log.page(tenant, filter, after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.event_id)
            .collect()
    }

    #[tokio::test]
    async fn each_filter_pages_its_own_events_newest_first_and_stays_in_its_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let log = EventLog::new(store.clone());
        let tenant = TenantId::parse("tn_00000000000000aa", "tenant_id").unwrap();
        let other = TenantId::parse("tn_00000000000000bb", "tenant_id").unwrap();
        let kinds = [EventType::Tor, EventType::Vpn, EventType::NewDevice];
        let mut all = Vec::new();
        let mut batch = WriteBatch::new();
        for n in 0..30 {
            let identity = if n % 2 == 0 { "idt_even" } else { "idt_odd" };
            let record = event(n, identity, kinds[usize::try_from(n % 3).unwrap()]);
            EventLog::put(&mut batch, &tenant, &record).unwrap();
            all.push(record);
        }
        EventLog::put(&mut batch, &other, &event(99, "idt_even", EventType::Tor)).unwrap();
        store.apply(batch).await.unwrap();
        all.reverse();

        let expect = |keep: &dyn Fn(&EventRecord) -> bool| -> Vec<String> {
            all.iter()
                .filter(|event| keep(event))
                .map(|event| event.event_id.clone())
                .collect()
        };
        let filters = [
            (None, None),
            (Some("idt_even"), None),
            (None, Some(EventType::Tor)),
            (Some("idt_odd"), Some(EventType::Vpn)),
        ];
        for (identity_id, event_type) in filters {
            let filter = EventFilter {
                identity_id,
                event_type,
            };
            let wanted = expect(&|event| {
                identity_id.is_none_or(|id| event.identity_id == id)
                    && event_type.is_none_or(|kind| event.event_type == kind)
            });
            assert_eq!(ids(&log, &tenant, filter, None, 100).await, wanted);
            // Pages of four, each starting after the last one's final event.
            let mut paged = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = ids(&log, &tenant, filter, after.as_deref(), 4).await;
                paged.extend(page.iter().cloned());
                if page.len() < 4 {
                    break;
                }
                after = page.last().cloned();
            }
            assert_eq!(paged, wanted, "{identity_id:?} {event_type:?}");
        }
        let elsewhere = ids(&log, &other, EventFilter::default(), None, 100).await;
        assert_eq!(elsewhere.len(), 1);
    }

    #[tokio::test]
    async fn the_index_is_rebuilt_from_events_written_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let tenant = TenantId::parse("tn_00000000000000aa", "tenant_id").unwrap();
        // The layout before the index: the event alone.
        let mut batch = WriteBatch::new();
        for n in 0..1500 {
            let record = event(n, "idt_x", EventType::Tor);
            batch.put(
                Keyspace::Events,
                tenant_key(tenant.as_str(), record.event_id.as_bytes()),
                encode(&record).unwrap(),
            );
        }
        store.apply(batch).await.unwrap();
        let log = EventLog::new(store.clone());
        let filter = EventFilter {
            identity_id: Some("idt_x"),
            event_type: Some(EventType::Tor),
        };
        assert!(ids(&log, &tenant, filter, None, 10).await.is_empty());
        assert_eq!(EventLog::build_index(store.as_ref()).await.unwrap(), 1500);
        assert_eq!(ids(&log, &tenant, filter, None, 2000).await.len(), 1500);
    }
}
