//! Tenants and their API keys.
//!
//! [`Keyspace::Tenants`] by tenant id; [`Keyspace::ApiKeys`] by `tenant / key id`;
//! [`Keyspace::ApiKeyHashes`] by the SHA-256 of the key, holding the key record's key (keys are
//! never stored, only their hashes).

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::{ApiKeyRecord, Tenant, TenantId},
};

/// Every tenant and API key.
#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn Store>,
}

impl Tenants {
    /// The tenants over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads a tenant.
    pub async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::Tenants,
            id.as_str().as_bytes(),
        )
        .await
    }

    /// Up to `limit` tenants in id order, after `start_after`.
    pub async fn page(
        &self,
        start_after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<Tenant>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::Tenants,
                b"",
                start_after.map(|id| id.as_str().as_bytes()),
                limit,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::Tenants, &bytes))
            .collect()
    }

    /// Adds writing `tenant` to `batch`.
    pub fn put(batch: &mut WriteBatch, tenant: &Tenant) -> Result<(), StoreError> {
        batch.put(
            Keyspace::Tenants,
            tenant.id.as_str().as_bytes().to_vec(),
            encode(tenant)?,
        );
        Ok(())
    }

    /// Reads one API key record.
    pub async fn key(
        &self,
        tenant_id: &TenantId,
        key_id: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::ApiKeys,
            &id_key(tenant_id, key_id),
        )
        .await
    }

    /// The API key record whose key hashes to `hash`.
    pub async fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let Some(location) = self.store.get(Keyspace::ApiKeyHashes, hash).await? else {
            return Ok(None);
        };
        read(self.store.as_ref(), Keyspace::ApiKeys, &location).await
    }

    /// A tenant's API key records in id order.
    pub async fn keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::ApiKeys,
                &tenant_prefix(tenant_id.as_str()),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::ApiKeys, &bytes))
            .collect()
    }

    /// Adds writing an API key record and its hash's index entry to `batch`.
    pub fn put_key(batch: &mut WriteBatch, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let location = id_key(&record.tenant_id, &record.key_id);
        let hash = hex::decode(&record.hash).map_err(|error| StoreError::Corrupt {
            keyspace: Keyspace::ApiKeys.tree_name(),
            detail: error.to_string(),
        })?;
        batch.put(Keyspace::ApiKeyHashes, hash, location.clone());
        batch.put(Keyspace::ApiKeys, location, encode(record)?);
        Ok(())
    }
}
