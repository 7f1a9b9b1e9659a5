//! Smart URL links, the server-wide claim on each keyname, JavaScript confirmations and visit
//! counters.
//!
//! [`Keyspace::SmartUrls`] by `tenant / keyname`; [`Keyspace::SmartUrlNames`] by keyname alone
//! (keynames are unique across the server: they are the path of `/r/{keyname}`), holding the
//! owning tenant; [`Keyspace::JsConfirmations`] by `tenant / keyname / ip` (until when, ms);
//! [`Keyspace::SmartUrlStats`] by `tenant / keyname / day (big-endian u32) name`.

use std::{net::IpAddr, sync::Arc};

use super::{id_key, read};
use crate::{
    engine::smart_urls::SmartUrlRecord,
    store::{
        Keyspace, Store, StoreError, WriteBatch, decode, decode_counter, encode, tenant_prefix,
    },
    tenancy::TenantId,
};

/// The smart URLs of every tenant.
#[derive(Clone)]
pub struct SmartUrlLinks {
    store: Arc<dyn Store>,
}

fn day_prefix(tenant: &TenantId, keyname: &str, day: i64) -> Vec<u8> {
    let mut key = id_key(tenant, keyname);
    key.push(b'/');
    key.extend_from_slice(&u32::try_from(day).unwrap_or_default().to_be_bytes());
    key
}

fn confirmation_key(tenant: &TenantId, keyname: &str, ip: IpAddr) -> Vec<u8> {
    id_key(tenant, &format!("{keyname}/{ip}"))
}

impl SmartUrlLinks {
    /// The smart URLs over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads a tenant's smart URL.
    pub async fn get(
        &self,
        tenant: &TenantId,
        keyname: &str,
    ) -> Result<Option<SmartUrlRecord>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::SmartUrls,
            &id_key(tenant, keyname),
        )
        .await
    }

    /// The tenant that owns `keyname`.
    pub async fn owner(&self, keyname: &str) -> Result<Option<TenantId>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::SmartUrlNames,
            keyname.as_bytes(),
        )
        .await
    }

    /// Adds writing `record` to `batch`; with `claim`, also the keyname's claim for `tenant`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        record: &SmartUrlRecord,
        claim: bool,
    ) -> Result<(), StoreError> {
        if claim {
            batch.put(
                Keyspace::SmartUrlNames,
                record.keyname.as_bytes().to_vec(),
                encode(tenant)?,
            );
        }
        batch.put(
            Keyspace::SmartUrls,
            id_key(tenant, &record.keyname),
            encode(record)?,
        );
        Ok(())
    }

    /// Adds removing a smart URL and its keyname's claim to `batch`.
    pub fn remove(batch: &mut WriteBatch, tenant: &TenantId, keyname: &str) {
        batch.delete(Keyspace::SmartUrls, id_key(tenant, keyname));
        batch.delete(Keyspace::SmartUrlNames, keyname.as_bytes().to_vec());
    }

    /// The tenant's smart URLs, by keyname.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<SmartUrlRecord>, StoreError> {
        self.store
            .scan_prefix(
                Keyspace::SmartUrls,
                &tenant_prefix(tenant.as_str()),
                None,
                usize::MAX,
            )
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::SmartUrls, &bytes))
            .collect()
    }

    /// Adds "`ip` ran JavaScript for `keyname` until `until_ms`" to `batch`.
    pub fn put_confirmation(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        keyname: &str,
        ip: IpAddr,
        until_ms: i64,
    ) {
        batch.put(
            Keyspace::JsConfirmations,
            confirmation_key(tenant, keyname, ip),
            until_ms.to_be_bytes().to_vec(),
        );
    }

    /// Until when `ip` is confirmed for `keyname` (ms), if it ever was.
    pub async fn confirmed_until(
        &self,
        tenant: &TenantId,
        keyname: &str,
        ip: IpAddr,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .store
            .get(
                Keyspace::JsConfirmations,
                &confirmation_key(tenant, keyname, ip),
            )
            .await?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map(i64::from_be_bytes))
    }

    /// Adds one to the visit counter `name` of `keyname` on `day` to `batch`.
    pub fn count(batch: &mut WriteBatch, tenant: &TenantId, keyname: &str, day: i64, name: &str) {
        let mut key = day_prefix(tenant, keyname, day);
        key.extend_from_slice(name.as_bytes());
        batch.add(Keyspace::SmartUrlStats, key, 1);
    }

    /// The visit counters of `keyname` on `day`, by name.
    pub async fn counters(
        &self,
        tenant: &TenantId,
        keyname: &str,
        day: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let prefix = day_prefix(tenant, keyname, day);
        Ok(self
            .store
            .scan_prefix(Keyspace::SmartUrlStats, &prefix, None, usize::MAX)
            .await?
            .into_iter()
            .map(|(counter, value)| {
                (
                    String::from_utf8_lossy(&counter[prefix.len()..]).into_owned(),
                    decode_counter(&value),
                )
            })
            .collect())
    }
}
