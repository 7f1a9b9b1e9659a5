//! Repositories: one module per kind of record. Each owns its records' keys, the indexes that
//! keep its lists cheap, and their encoding, so the engine asks for records by what they are
//! (`events.page(tenant, filter, ..)`, `bans.active_on(tenant, subjects, now)`) and never builds
//! a key. Writes are added to the caller's [`WriteBatch`], so one request's
//! writes across repositories still commit together.

pub mod approvals;
pub mod bans;
pub mod click_decisions;
pub mod click_events;
pub mod click_ids;
pub mod events;
pub mod identities;
pub mod ip_activity;
pub mod signals;
pub mod signing_keys;
pub mod smart_urls;
pub mod tenant_lists;
pub mod tenants;
pub mod verify_memory;
pub mod webhooks;

use serde::de::DeserializeOwned;

pub use approvals::Approvals;
pub use bans::Bans;
pub use click_decisions::{ClickDecisions, DayCounter};
pub use click_events::{ClickEvents, EventPage};
pub use click_ids::ClickIds;
pub use events::{EventFilter, EventLog};
pub use identities::Identities;
pub use ip_activity::IpActivity;
pub use signals::Signals;
pub use signing_keys::Keyring;
pub use smart_urls::SmartUrlLinks;
pub use tenant_lists::TenantListEntries;
pub use tenants::Tenants;
pub use verify_memory::VerifyMemory;
pub use webhooks::{Queued, WebhookRecords};

use super::{Keyspace, Store, StoreError, WriteBatch, decode, tenant_key, tenant_prefix};
use crate::tenancy::TenantId;

/// Reads and decodes one record.
async fn read<T: DeserializeOwned>(
    store: &dyn Store,
    space: Keyspace,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    store
        .get(space, key)
        .await?
        .map(|bytes| decode(space, &bytes))
        .transpose()
}

/// Up to `limit` of a tenant's records in key order, after the record whose id is `after`.
async fn page<T: DeserializeOwned>(
    store: &dyn Store,
    space: Keyspace,
    tenant: &TenantId,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    let start = after.map(|after| tenant_key(tenant.as_str(), after.as_bytes()));
    store
        .scan_prefix(
            space,
            &tenant_prefix(tenant.as_str()),
            start.as_deref(),
            limit,
        )
        .await?
        .into_iter()
        .map(|(_, bytes)| decode(space, &bytes))
        .collect()
}

/// Reads every record of `space` (keys `tenant / id`), a page at a time, and adds the writes
/// `index` makes for each, given the record's tenant id as stored, to one batch per page: how
/// an index is built for data dirs of releases without it. Returns how many records `index`
/// wrote for. `id` gives a record's id, to split its key.
async fn index_every<T: DeserializeOwned>(
    store: &dyn Store,
    space: Keyspace,
    id: impl Fn(&T) -> &str,
    index: impl Fn(&mut WriteBatch, &str, &T) -> bool,
) -> Result<u64, StoreError> {
    const PAGE: usize = 1000;
    let mut indexed = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .scan_prefix(space, b"", after.as_deref(), PAGE)
            .await?;
        let mut batch = WriteBatch::new();
        for (key, bytes) in &page {
            let record: T = decode(space, bytes)?;
            let Some(tenant_len) = key.len().checked_sub(id(&record).len() + 1) else {
                continue;
            };
            let tenant = String::from_utf8_lossy(&key[..tenant_len]);
            if index(&mut batch, &tenant, &record) {
                indexed += 1;
            }
        }
        store.apply(batch).await?;
        match page.last() {
            Some((key, _)) if page.len() == PAGE => after = Some(key.clone()),
            _ => return Ok(indexed),
        }
    }
}

/// The key of a tenant's record by its id.
fn id_key(tenant: &TenantId, id: &str) -> Vec<u8> {
    tenant_key(tenant.as_str(), id.as_bytes())
}
