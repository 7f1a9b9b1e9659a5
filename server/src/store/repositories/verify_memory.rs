//! What Verify remembers: the nonces of verified tokens until they expire, and verified
//! requests per device in window-long buckets.
//!
//! [`Keyspace::VerifyNonces`] by `tenant / nonce` (until when, ms, JSON);
//! [`Keyspace::VerifyNonceExpiry`] by big-endian expiry and the nonce's key, so forgetting the
//! expired ones is a range scan; [`Keyspace::DeviceVelocity`] by `tenant / device id / bucket`
//! (a counter, added to atomically, so servers sharing a store count together).

use std::sync::Arc;

use super::read;
use crate::{
    store::{Keyspace, Store, StoreError, WriteBatch, encode, read_counter, tenant_key},
    tenancy::TenantId,
};

/// How many records one sweep step removes before the next read.
const SWEEP_BATCH: usize = 1_000;

/// Verify's memory for every tenant.
#[derive(Clone)]
pub struct VerifyMemory {
    store: Arc<dyn Store>,
}

fn nonce_key(tenant: &TenantId, nonce: &str) -> Vec<u8> {
    tenant_key(tenant.as_str(), nonce.as_bytes())
}

fn expiry_key(until_ms: i64, nonce_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + nonce_key.len());
    // Non-negative times sort correctly as big-endian bytes.
    key.extend_from_slice(&until_ms.max(0).to_be_bytes());
    key.extend_from_slice(nonce_key);
    key
}

fn split_expiry_key(key: &[u8]) -> Option<(i64, &[u8])> {
    let (time, nonce_key) = key.split_at_checked(8)?;
    Some((i64::from_be_bytes(time.try_into().ok()?), nonce_key))
}

fn velocity_key(tenant: &TenantId, device_id: &str, bucket: i64) -> Vec<u8> {
    let mut key = tenant_key(tenant.as_str(), device_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

impl VerifyMemory {
    /// Verify's memory over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Until when `nonce` is remembered (ms), if it is.
    pub async fn nonce_until(
        &self,
        tenant: &TenantId,
        nonce: &str,
    ) -> Result<Option<i64>, StoreError> {
        read(
            self.store.as_ref(),
            Keyspace::VerifyNonces,
            &nonce_key(tenant, nonce),
        )
        .await
    }

    /// Adds remembering `nonce` until `until_ms` to `batch`.
    pub fn remember_nonce(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        nonce: &str,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        let key = nonce_key(tenant, nonce);
        batch.put(Keyspace::VerifyNonceExpiry, expiry_key(until_ms, &key), []);
        batch.put(Keyspace::VerifyNonces, key, encode(&until_ms)?);
        Ok(())
    }

    /// Adds one verified request of `device_id` in `bucket` to `batch`.
    pub fn count_device(batch: &mut WriteBatch, tenant: &TenantId, device_id: &str, bucket: i64) {
        batch.add(
            Keyspace::DeviceVelocity,
            velocity_key(tenant, device_id, bucket),
            1,
        );
    }

    /// The verified requests of `device_id` in `bucket`.
    pub async fn device_count(
        &self,
        tenant: &TenantId,
        device_id: &str,
        bucket: i64,
    ) -> Result<i64, StoreError> {
        read_counter(
            self.store.as_ref(),
            Keyspace::DeviceVelocity,
            &velocity_key(tenant, device_id, bucket),
        )
        .await
    }

    /// Forgets the nonces remembered until before `now_ms`; returns how many.
    pub async fn forget_expired_nonces(&self, now_ms: i64) -> Result<usize, StoreError> {
        let mut removed = 0;
        loop {
            let due = self
                .store
                .scan_prefix(Keyspace::VerifyNonceExpiry, &[], None, SWEEP_BATCH)
                .await?;
            let mut batch = WriteBatch::new();
            let mut done = due.len() < SWEEP_BATCH;
            for (key, _) in &due {
                let Some((until, nonce_key)) = split_expiry_key(key) else {
                    batch.delete(Keyspace::VerifyNonceExpiry, key.clone());
                    continue;
                };
                if until >= now_ms {
                    done = true;
                    break;
                }
                batch.delete(Keyspace::VerifyNonces, nonce_key.to_vec());
                batch.delete(Keyspace::VerifyNonceExpiry, key.clone());
                removed += 1;
            }
            if !batch.is_empty() {
                self.store.apply(batch).await?;
            }
            if done {
                return Ok(removed);
            }
        }
    }

    /// Forgets device buckets older than `oldest_counted`, and records of the earlier
    /// per-device layout; returns how many.
    pub async fn forget_quiet_devices(&self, oldest_counted: i64) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut start_after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .scan_prefix(
                    Keyspace::DeviceVelocity,
                    &[],
                    start_after.as_deref(),
                    SWEEP_BATCH,
                )
                .await?;
            let mut batch = WriteBatch::new();
            for (key, value) in &page {
                // A bucket counter (8 bytes, its bucket the key's last 8) goes once it no longer
                // counts; a record of the earlier per-device layout (JSON) goes at once.
                let stale = match key.len().checked_sub(8).map(|start| &key[start..]) {
                    Some(suffix) if value.len() == 8 => {
                        let bucket = i64::from_be_bytes(suffix.try_into().unwrap_or_default());
                        bucket < oldest_counted
                    }
                    _ => true,
                };
                if stale {
                    batch.delete(Keyspace::DeviceVelocity, key.clone());
                    removed += 1;
                }
            }
            if !batch.is_empty() {
                self.store.apply(batch).await?;
            }
            match page.last() {
                Some((key, _)) if page.len() == SWEEP_BATCH => start_after = Some(key.clone()),
                _ => return Ok(removed),
            }
        }
    }
}
