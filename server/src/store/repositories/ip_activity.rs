//! Malicious activity per IP: threat hits in window-long buckets and the block they start.
//!
//! [`Keyspace::IpActivity`] by `tenant / ip / b` (until when the IP is blocked, ms, big-endian)
//! and `tenant / ip / h / bucket` (a counter of hits in one bucket, added to atomically).

use std::{net::IpAddr, sync::Arc};

use crate::{
    store::{Keyspace, Store, StoreError, WriteBatch, encode_counter, read_counter, tenant_key},
    tenancy::TenantId,
};

/// The malicious-activity records of every tenant.
#[derive(Clone)]
pub struct IpActivity {
    store: Arc<dyn Store>,
}

fn blocked_key(tenant: &TenantId, ip: IpAddr) -> Vec<u8> {
    tenant_key(tenant.as_str(), format!("{ip}/b").as_bytes())
}

fn bucket_key(tenant: &TenantId, ip: IpAddr, bucket: i64) -> Vec<u8> {
    let mut key = tenant_key(tenant.as_str(), format!("{ip}/h/").as_bytes());
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

impl IpActivity {
    /// The records over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Until when `ip` was last blocked (ms); 0 when never.
    pub async fn blocked_until(&self, tenant: &TenantId, ip: IpAddr) -> Result<i64, StoreError> {
        read_counter(
            self.store.as_ref(),
            Keyspace::IpActivity,
            &blocked_key(tenant, ip),
        )
        .await
    }

    /// Adds blocking `ip` until `until_ms` to `batch`.
    pub fn put_block(batch: &mut WriteBatch, tenant: &TenantId, ip: IpAddr, until_ms: i64) {
        batch.put(
            Keyspace::IpActivity,
            blocked_key(tenant, ip),
            encode_counter(until_ms).to_vec(),
        );
    }

    /// Adds one hit of `ip` in `bucket` to `batch`, and forgets `stale` (a bucket that no
    /// longer counts).
    pub fn add_hit(batch: &mut WriteBatch, tenant: &TenantId, ip: IpAddr, bucket: i64, stale: i64) {
        batch.add(Keyspace::IpActivity, bucket_key(tenant, ip, bucket), 1);
        batch.delete(Keyspace::IpActivity, bucket_key(tenant, ip, stale));
    }

    /// The hits of `ip` in `bucket`.
    pub async fn hits(
        &self,
        tenant: &TenantId,
        ip: IpAddr,
        bucket: i64,
    ) -> Result<i64, StoreError> {
        read_counter(
            self.store.as_ref(),
            Keyspace::IpActivity,
            &bucket_key(tenant, ip, bucket),
        )
        .await
    }
}
