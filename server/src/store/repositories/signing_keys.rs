//! SDK signing keys, by `tenant / key id` in [`Keyspace::SigningKeys`].

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    engine::signing_keys::SigningKeyRecord,
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::TenantId,
};

/// The signing keys of every tenant.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<dyn Store>,
}

impl Keyring {
    /// The signing keys over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one key.
    pub async fn get(
        &self,
        tenant: &TenantId,
        key_id: &str,
    ) -> Result<Option<SigningKeyRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::SigningKeys,
            &id_key(tenant, key_id),
        )
        .await
    }

    /// Every key of a tenant, in id order.
    pub async fn all(&self, tenant: &TenantId) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::SigningKeys,
                &tenant_prefix(tenant.as_str()),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::SigningKeys, &bytes))
            .collect()
    }

    /// Adds writing `record` to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        record: &SigningKeyRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::SigningKeys,
            id_key(tenant, &record.key_id),
            encode(record)?,
        );
        Ok(())
    }
}
