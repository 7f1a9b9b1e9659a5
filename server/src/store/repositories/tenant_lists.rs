//! Tenants' own black- and whitelists, by `tenant / list tag / range` in
//! [`Keyspace::TenantIpLists`], so one list is one prefix.

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    engine::tenant_lists::{TenantList, TenantListEntry},
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode},
    tenancy::TenantId,
};

/// The tenant lists of every tenant.
#[derive(Clone)]
pub struct TenantListEntries {
    store: Arc<dyn Store>,
}

fn list_prefix(tenant: &TenantId, list: TenantList) -> Vec<u8> {
    id_key(tenant, &format!("{}/", list.tag()))
}

fn entry_key(tenant: &TenantId, list: TenantList, cidr: &str) -> Vec<u8> {
    let mut key = list_prefix(tenant, list);
    key.extend_from_slice(cidr.as_bytes());
    key
}

impl TenantListEntries {
    /// The tenant lists over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one range's entry.
    pub async fn get(
        &self,
        tenant: &TenantId,
        list: TenantList,
        cidr: &str,
    ) -> Result<Option<TenantListEntry>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::TenantIpLists,
            &entry_key(tenant, list, cidr),
        )
        .await
    }

    /// Every entry of one list, by range.
    pub async fn all(
        &self,
        tenant: &TenantId,
        list: TenantList,
    ) -> Result<Vec<TenantListEntry>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::TenantIpLists,
                &list_prefix(tenant, list),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::TenantIpLists, &bytes))
            .collect()
    }

    /// Adds writing `entry` to `list` to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        list: TenantList,
        entry: &TenantListEntry,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::TenantIpLists,
            entry_key(tenant, list, &entry.cidr),
            encode(entry)?,
        );
        Ok(())
    }

    /// Adds removing a range from `list` to `batch`.
    pub fn remove(batch: &mut WriteBatch, tenant: &TenantId, list: TenantList, cidr: &str) {
        batch.delete(Keyspace::TenantIpLists, entry_key(tenant, list, cidr));
    }
}
