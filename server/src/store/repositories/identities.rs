//! Identities, the user ids linked to them and the identities seen on each device.
//!
//! [`Keyspace::Identities`] by `tenant / identity id` (ids sort newest first),
//! [`Keyspace::UserIndex`] by `tenant / user id` (the identity id) and [`Keyspace::Devices`] by
//! `tenant / device id`.

use std::sync::Arc;

use super::{id_key, page, read};
use crate::{
    engine::identity::records::{DeviceRecord, IdentityRecord},
    store::{Keyspace, Store, StoreError, WriteBatch, encode},
    tenancy::TenantId,
};

/// The identities of every tenant.
#[derive(Clone)]
pub struct Identities {
    store: Arc<dyn Store>,
}

impl Identities {
    /// The identities over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one identity.
    pub async fn get(
        &self,
        tenant: &TenantId,
        identity_id: &str,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::Identities,
            &id_key(tenant, identity_id),
        )
        .await
    }

    /// Adds writing `identity` to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        identity: &IdentityRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::Identities,
            id_key(tenant, &identity.identity_id),
            encode(identity)?,
        );
        Ok(())
    }

    /// Up to `limit` identities, newest first, after the identity `after`.
    pub async fn page(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<IdentityRecord>, StoreError> {
        page(
            self.store.as_ref(),
            Keyspace::Identities,
            tenant,
            after,
            limit,
        )
        .await
    }

    /// The identity a user id is linked to.
    pub async fn of_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::UserIndex,
            &id_key(tenant, user_id),
        )
        .await
    }

    /// Adds linking `user_id` to `identity_id` to `batch`.
    pub fn link_user(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        user_id: &str,
        identity_id: &str,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::UserIndex,
            id_key(tenant, user_id),
            encode(&identity_id)?,
        );
        Ok(())
    }

    /// The identities seen on a device (none for a device never seen).
    pub async fn device(
        &self,
        tenant: &TenantId,
        device_id: &str,
    ) -> Result<DeviceRecord, StoreError> {
        Ok(read(
            self.store.as_ref(),
            Keyspace::Devices,
            &id_key(tenant, device_id),
        )
        .await?
        .unwrap_or_default())
    }

    /// Adds writing a device's identities to `batch`.
    pub fn put_device(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        device_id: &str,
        device: &DeviceRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::Devices,
            id_key(tenant, device_id),
            encode(device)?,
        );
        Ok(())
    }
}
