//! Signals and the answers kept per idempotency key.
//!
//! [`Keyspace::Signals`] by `tenant / signal id` (ids sort newest first, so the oldest are at
//! the end of the tenant's prefix); [`Keyspace::Idempotency`] by `tenant / idempotency key`.

use std::sync::Arc;

use super::{id_key, read};
use crate::{
    engine::identity::records::{IdempotencyRecord, SignalRecord},
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::TenantId,
};

/// How many records one purge batch removes at most.
const PURGE_PAGE: usize = 500;

/// The signals of every tenant.
#[derive(Clone)]
pub struct Signals {
    store: Arc<dyn Store>,
}

impl Signals {
    /// The signals over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Adds writing `signal` to `batch`.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        signal: &SignalRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::Signals,
            id_key(tenant, &signal.signal_id),
            encode(signal)?,
        );
        Ok(())
    }

    /// The answer kept for an idempotency key.
    pub async fn answer(
        &self,
        tenant: &TenantId,
        idempotency_key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = id_key(tenant, idempotency_key);
        read(self.store.as_ref(), Keyspace::Idempotency, &key).await
    }

    /// Adds keeping `answer` for an idempotency key to `batch`.
    pub fn put_answer(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        idempotency_key: &str,
        answer: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        batch.put(
            Keyspace::Idempotency,
            id_key(tenant, idempotency_key),
            encode(answer)?,
        );
        Ok(())
    }

    /// Removes signals received before `before_ms`; returns how many. The oldest are read from
    /// the end of the tenant's prefix, a chunk at a time.
    pub async fn purge_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        let prefix = tenant_prefix(tenant.as_str());
        let mut removed = 0;
        loop {
            let oldest = self
                .store
                .scan_prefix_last(Keyspace::Signals, &prefix, PURGE_PAGE)
                .await?;
            let mut batch = WriteBatch::new();
            for (signal_key, bytes) in &oldest {
                let signal: SignalRecord = decode(Keyspace::Signals, bytes)?;
                if signal.received_ms < before_ms {
                    batch.delete(Keyspace::Signals, signal_key.clone());
                }
            }
            let chunk = batch.ops().len();
            if chunk == 0 {
                return Ok(removed);
            }
            removed += chunk;
            self.store.apply(batch).await?;
        }
    }

    /// Removes idempotency answers kept before `before_ms`; returns how many.
    pub async fn purge_answers_before(
        &self,
        tenant: &TenantId,
        before_ms: i64,
    ) -> Result<usize, StoreError> {
        let prefix = tenant_prefix(tenant.as_str());
        let mut removed = 0;
        let mut after: Option<Vec<u8>> = None;
        // Page through: a tenant can hold millions of answers, and one scan of all of them
        // would hold them all in memory at once.
        loop {
            let page = self
                .store
                .scan_prefix(Keyspace::Idempotency, &prefix, after.as_deref(), PURGE_PAGE)
                .await?;
            let Some((last, _)) = page.last() else {
                return Ok(removed);
            };
            after = Some(last.clone());
            let mut batch = WriteBatch::new();
            for (record_key, bytes) in page {
                let record: IdempotencyRecord = decode(Keyspace::Idempotency, &bytes)?;
                if record.created_ms < before_ms {
                    batch.delete(Keyspace::Idempotency, record_key);
                    removed += 1;
                }
            }
            self.store.apply(batch).await?;
        }
    }
}
