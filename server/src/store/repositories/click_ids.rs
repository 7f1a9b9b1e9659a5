//! What visitors share: click ids seen from several visitors or IPs, and recent clicks per IP.
//!
//! [`Keyspace::ClickIds`] by `tenant / name:value` (for example `gclid:Cj0K...`);
//! [`Keyspace::IpClicks`] by `tenant / ip`.

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    engine::clicks::records::{ClickIdRecord, IpClicks},
    store::{Keyspace, Store, StoreError, WriteBatch, encode},
    tenancy::TenantId,
};

/// The shared click facts of every tenant.
#[derive(Clone)]
pub struct ClickIds {
    store: Arc<dyn Store>,
}

fn click_id_key(tenant: &TenantId, name: &str, value: &str) -> Vec<u8> {
    id_key(tenant, &format!("{name}:{value}"))
}

impl ClickIds {
    /// The shared click facts over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Who shared the click id `name`=`value` (nobody for one never seen).
    pub async fn sharers(
        &self,
        tenant: &TenantId,
        name: &str,
        value: &str,
    ) -> Result<ClickIdRecord, StoreError> {
        let key = click_id_key(tenant, name, value);
        Ok(read(self.store.as_ref(), Keyspace::ClickIds, &key)
            .await?
            .unwrap_or_default())
    }

    /// Adds writing who shared a click id to `batch`.
    pub fn put_sharers(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        name: &str,
        value: &str,
        record: &ClickIdRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::ClickIds,
            click_id_key(tenant, name, value),
            encode(record)?,
        );
        Ok(())
    }

    /// The recent clicks from `ip` (none for an IP never seen).
    pub async fn from_ip(&self, tenant: &TenantId, ip: &str) -> Result<IpClicks, StoreError> {
        Ok(
            read(self.store.as_ref(), Keyspace::IpClicks, &id_key(tenant, ip))
                .await?
                .unwrap_or_default(),
        )
    }

    /// Adds writing the recent clicks from `ip` to `batch`.
    pub fn put_from_ip(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        ip: &str,
        record: &IpClicks,
    ) -> Result<(), StoreError> {
        batch.put(Keyspace::IpClicks, id_key(tenant, ip), encode(record)?);
        Ok(())
    }
}
