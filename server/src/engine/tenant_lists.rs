//! Tenants' own black- and whitelists: stored per range, served from an in-memory range table per
//! tenant that is rebuilt when the tenant changes its lists.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Serialize};

use crate::{
    engine::EngineError,
    intel::ip_lists::{TenantIpLists, parse_range},
    store::{Store, StoreError, WriteBatch, repositories::TenantListEntries},
    tenancy::TenantId,
    time::now_ms,
};

/// Which of a tenant's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantList {
    /// Always let in.
    Whitelist,
    /// Always kept out.
    Blacklist,
}

impl TenantList {
    /// The list's tag in stored keys.
    pub fn tag(self) -> &'static str {
        match self {
            TenantList::Whitelist => "w",
            TenantList::Blacklist => "b",
        }
    }
}

/// One stored range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantListEntry {
    /// The range, normalised (`203.0.113.0/24`, `2001:db8::/32`, or a single address).
    pub cidr: String,
    /// Why it is there.
    pub note: String,
    /// When it was added.
    pub created_ms: i64,
}

/// The most ranges one call may add.
pub const MAX_RANGES_PER_CALL: usize = 10_000;

/// The lists, with a per-tenant cache of their range tables.
pub struct TenantListStore {
    store: Arc<dyn Store>,
    entries: TenantListEntries,
    cache: RwLock<HashMap<TenantId, Arc<TenantIpLists>>>,
}

impl TenantListStore {
    /// Lists over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            entries: TenantListEntries::new(store.clone()),
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Adds ranges (already normalised), durably.
    pub async fn add(
        &self,
        tenant: &TenantId,
        list: TenantList,
        cidrs: &[String],
        note: &str,
    ) -> Result<Vec<TenantListEntry>, EngineError> {
        let now = now_ms();
        let mut batch = WriteBatch::new();
        let mut entries = Vec::with_capacity(cidrs.len());
        for cidr in cidrs {
            let entry = match self.entries.get(tenant, list, cidr).await? {
                Some(entry) => entry,
                None => {
                    let entry = TenantListEntry {
                        cidr: cidr.clone(),
                        note: note.to_string(),
                        created_ms: now,
                    };
                    TenantListEntries::put(&mut batch, tenant, list, &entry)?;
                    entry
                }
            };
            entries.push(entry);
        }
        self.store.apply(batch).await?;
        self.store.durable().await?;
        self.invalidate(tenant);
        Ok(entries)
    }

    /// Removes ranges (normalised), durably; returns how many were there.
    pub async fn remove(
        &self,
        tenant: &TenantId,
        list: TenantList,
        cidrs: &[String],
    ) -> Result<usize, EngineError> {
        let mut batch = WriteBatch::new();
        let mut removed = 0;
        for cidr in cidrs {
            if self.entries.get(tenant, list, cidr).await?.is_some() {
                TenantListEntries::remove(&mut batch, tenant, list, cidr);
                removed += 1;
            }
        }
        self.store.apply(batch).await?;
        self.store.durable().await?;
        self.invalidate(tenant);
        Ok(removed)
    }

    /// Every entry of one list.
    pub async fn list(
        &self,
        tenant: &TenantId,
        list: TenantList,
    ) -> Result<Vec<TenantListEntry>, StoreError> {
        self.entries.all(tenant, list).await
    }

    /// The tenant's range tables, built on first use.
    pub async fn tables(&self, tenant: &TenantId) -> Result<Arc<TenantIpLists>, StoreError> {
        if let Some(tables) = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(tenant)
        {
            return Ok(tables.clone());
        }
        let mut tables = TenantIpLists::default();
        for (list, table) in [
            (TenantList::Whitelist, &mut tables.whitelist),
            (TenantList::Blacklist, &mut tables.blacklist),
        ] {
            for entry in self.list(tenant, list).await? {
                if let Some(range) = parse_range(&entry.cidr) {
                    table.insert(range, ());
                }
            }
        }
        let tables = Arc::new(tables);
        self.cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(tenant.clone(), tables.clone());
        Ok(tables)
    }

    fn invalidate(&self, tenant: &TenantId) {
        self.cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(tenant);
    }
}
