//! Bans, found by id and by subject.
//!
//! [`Keyspace::Bans`] by `tenant / ban id` (ids sort newest first); [`Keyspace::BanIndex`] holds
//! an empty entry by `tenant / subject kind / subject / ban id` for every ban not lifted, so the
//! bans on a subject are one prefix, and one by `tenant / ~in_force / ban id`, so the bans in
//! force are one prefix, newest first, however many were lifted. Expired bans leave both with
//! [`Bans::unindex_expired`] (run by retention).

use std::sync::Arc;

use super::{id_key, index_every, page, read};
use crate::{
    engine::identity::records::{BanRecord, BanSubjectKind},
    store::{Keyspace, Store, StoreError, WriteBatch, encode, tenant_key},
    tenancy::TenantId,
};

/// Subject kind tags are words; this prefix can be none of them.
const IN_FORCE: &str = "~in_force/";

fn in_force_key(tenant: &str, ban_id: &str) -> Vec<u8> {
    tenant_key(tenant, format!("{IN_FORCE}{ban_id}").as_bytes())
}

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
        let in_force = in_force_key(tenant.as_str(), &ban.ban_id);
        if ban.lifted_ms == 0 {
            batch.put(Keyspace::BanIndex, index_key(tenant, ban), Vec::new());
            batch.put(Keyspace::BanIndex, in_force, Vec::new());
        } else {
            batch.delete(Keyspace::BanIndex, index_key(tenant, ban));
            batch.delete(Keyspace::BanIndex, in_force);
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

    /// Up to `limit` bans not lifted (expired ones included until retention unindexes them),
    /// newest first, after the ban `after`.
    pub async fn in_force_page(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BanRecord>, StoreError> {
        let prefix = in_force_key(tenant.as_str(), "");
        let start = after.map(|ban_id| in_force_key(tenant.as_str(), ban_id));
        let entries = self
            .store
            .scan_prefix(Keyspace::BanIndex, &prefix, start.as_deref(), limit)
            .await?;
        let mut bans = Vec::with_capacity(entries.len());
        for (key, _) in entries {
            let ban_id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            if let Some(ban) = self.get(tenant, &ban_id).await? {
                bans.push(ban);
            }
        }
        Ok(bans)
    }

    /// Removes bans that expired before `now_ms` from both indexes (the bans stay, for
    /// `include_inactive` listings); returns how many.
    pub async fn unindex_expired(
        &self,
        tenant: &TenantId,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        const PAGE: usize = 500;
        let mut removed = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.in_force_page(tenant, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(removed);
            };
            after = Some(last.ban_id.clone());
            let mut batch = WriteBatch::new();
            for ban in &page {
                if ban.expires_ms != 0 && ban.expires_ms <= now_ms {
                    batch.delete(Keyspace::BanIndex, index_key(tenant, ban));
                    batch.delete(
                        Keyspace::BanIndex,
                        in_force_key(tenant.as_str(), &ban.ban_id),
                    );
                    removed += 1;
                }
            }
            self.store.apply(batch).await?;
            if page.len() < PAGE {
                return Ok(removed);
            }
        }
    }

    /// Writes the in-force index entry of every ban not lifted (data dirs of releases without
    /// it); returns how many.
    pub async fn build_in_force_index(store: &dyn Store) -> Result<u64, StoreError> {
        index_every(
            store,
            Keyspace::Bans,
            |ban: &BanRecord| &ban.ban_id,
            |batch, tenant, ban| {
                if ban.lifted_ms != 0 {
                    return false;
                }
                batch.put(
                    Keyspace::BanIndex,
                    in_force_key(tenant, &ban.ban_id),
                    Vec::new(),
                );
                true
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::identity::records::{BanAction, new_id},
        store::SledStore,
    };

    fn ban(n: i64, subject: &str, expires_ms: i64) -> BanRecord {
        BanRecord {
            // Ids sort newest first, like the engine's.
            ban_id: new_id("ban", 1_000_000 + n),
            subject_kind: BanSubjectKind::Ip,
            subject: subject.into(),
            action: BanAction::Block,
            reason: "test".into(),
            created_ms: n,
            expires_ms,
            lifted_ms: 0,
        }
    }

    fn subjects(bans: &[BanRecord]) -> Vec<&str> {
        bans.iter().map(|ban| ban.subject.as_str()).collect()
    }

    #[tokio::test]
    async fn bans_in_force_are_an_index_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let bans = Bans::new(store.clone());
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        let mut lifted = ban(1, "192.0.2.1", 0);
        let records = [
            lifted.clone(),
            ban(2, "192.0.2.2", 5_000),
            ban(3, "192.0.2.3", 0),
        ];
        let mut batch = WriteBatch::new();
        for record in &records {
            Bans::put(&mut batch, &tenant, record).unwrap();
        }
        lifted.lifted_ms = 10;
        Bans::put(&mut batch, &tenant, &lifted).unwrap();
        store.apply(batch).await.unwrap();

        let in_force = bans.in_force_page(&tenant, None, 10).await.unwrap();
        assert_eq!(
            subjects(&in_force),
            vec!["192.0.2.3", "192.0.2.2"],
            "newest first"
        );
        let after = bans
            .in_force_page(&tenant, Some(&in_force[0].ban_id), 10)
            .await
            .unwrap();
        assert_eq!(subjects(&after), vec!["192.0.2.2"]);
        assert_eq!(bans.page(&tenant, None, 10).await.unwrap().len(), 3);

        // Once expired, a ban leaves both indexes.
        assert_eq!(bans.unindex_expired(&tenant, 6_000).await.unwrap(), 1);
        let in_force = bans.in_force_page(&tenant, None, 10).await.unwrap();
        assert_eq!(subjects(&in_force), vec!["192.0.2.3"]);
        let on_subject = bans
            .active_on(&tenant, &[(BanSubjectKind::Ip, "192.0.2.2".into())], 0)
            .await
            .unwrap();
        assert!(on_subject.is_empty());

        // A data dir without the in-force index gets it for the bans not lifted.
        let mut batch = WriteBatch::new();
        batch.delete(
            Keyspace::BanIndex,
            in_force_key(tenant.as_str(), &records[2].ban_id),
        );
        store.apply(batch).await.unwrap();
        assert!(
            bans.in_force_page(&tenant, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(Bans::build_in_force_index(store.as_ref()).await.unwrap(), 2);
        assert_eq!(
            bans.in_force_page(&tenant, None, 10).await.unwrap().len(),
            2
        );
    }
}
