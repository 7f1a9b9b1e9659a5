//! Bans, found by id and by subject.
//!
//! [`Keyspace::Bans`] by `tenant / ban id` (ids sort newest first); [`Keyspace::BanIndex`] holds
//! an empty entry by `tenant / subject kind / subject / ban id` for every ban not lifted, so the
//! bans on a subject are one prefix.

use std::sync::Arc;

use super::{id_key, page, read};
use crate::{
    engine::identity::records::{BanRecord, BanSubjectKind},
    store::{Keyspace, Store, StoreError, WriteBatch, encode},
    tenancy::TenantId,
};

/// The bans of every tenant.
#[derive(Clone)]
pub struct Bans {
    store: Arc<dyn Store>,
}

fn subject_prefix(tenant: &TenantId, kind: BanSubjectKind, subject: &str) -> Vec<u8> {
    id_key(tenant, &format!("{}/{subject}/", kind.tag()))
}

fn index_key(tenant: &TenantId, ban: &BanRecord) -> Vec<u8> {
    let mut key = subject_prefix(tenant, ban.subject_kind, &ban.subject);
    key.extend_from_slice(ban.ban_id.as_bytes());
    key
}

impl Bans {
    /// The bans over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one ban.
    pub async fn get(
        &self,
        tenant: &TenantId,
        ban_id: &str,
    ) -> Result<Option<BanRecord>, StoreError> {
        read(self.store.as_ref(), Keyspace::Bans, &id_key(tenant, ban_id)).await
    }

    /// Adds writing `ban` to `batch`; a lifted ban leaves its subject's index.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        ban: &BanRecord,
    ) -> Result<(), StoreError> {
        batch.put(Keyspace::Bans, id_key(tenant, &ban.ban_id), encode(ban)?);
        if ban.lifted_ms == 0 {
            batch.put(Keyspace::BanIndex, index_key(tenant, ban), Vec::new());
        } else {
            batch.delete(Keyspace::BanIndex, index_key(tenant, ban));
        }
        Ok(())
    }

    /// The bans in force at `now` on any of `subjects`.
    pub async fn active_on(
        &self,
        tenant: &TenantId,
        subjects: &[(BanSubjectKind, String)],
        now: i64,
    ) -> Result<Vec<BanRecord>, StoreError> {
        let mut bans = Vec::new();
        for (kind, subject) in subjects {
            let prefix = subject_prefix(tenant, *kind, subject);
            let entries = self
                .store
                .scan_prefix(Keyspace::BanIndex, &prefix, None, usize::MAX)
                .await?;
            for (key, _) in entries {
                let ban_id = String::from_utf8_lossy(&key[prefix.len()..]);
                if let Some(ban) = self.get(tenant, &ban_id).await? {
                    if ban.active_at(now) {
                        bans.push(ban);
                    }
                }
            }
        }
        Ok(bans)
    }

    /// Up to `limit` bans, newest first, after the ban `after`.
    pub async fn page(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BanRecord>, StoreError> {
        page(self.store.as_ref(), Keyspace::Bans, tenant, after, limit).await
    }
}
