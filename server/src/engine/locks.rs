//! Striped locks: one read-modify-write of a record at a time per key (an identity, a user id, an
//! idempotency key, a click id, an IP), without a lock per key or one lock for everything.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

use crate::tenancy::TenantId;

/// How many locks a [`Stripes`] holds.
pub const STRIPES: usize = 1024;

/// A fixed set of locks; a key locks the stripe its hash falls in.
pub struct Stripes(Vec<Mutex<()>>);

impl Default for Stripes {
    fn default() -> Self {
        Self::new()
    }
}

impl Stripes {
    /// A set of unlocked stripes.
    pub fn new() -> Self {
        Self((0..STRIPES).map(|_| Mutex::new(())).collect())
    }

    /// The stripe `key` locks in `tenant` (two keys on one stripe wait for each other).
    pub fn stripe(tenant: &TenantId, key: &str) -> usize {
        Self::index(tenant, key)
    }

    fn index(tenant: &TenantId, key: &str) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        tenant.hash(&mut hasher);
        key.hash(&mut hasher);
        usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or_default()
    }

    /// Locks the stripe of `key` in `tenant`.
    pub async fn lock(&self, tenant: &TenantId, key: &str) -> MutexGuard<'_, ()> {
        self.0[Self::index(tenant, key)].lock().await
    }

    /// Locks the stripes of all `keys`, in stripe order so that two callers never deadlock.
    pub async fn lock_many(&self, tenant: &TenantId, keys: &[&str]) -> Vec<MutexGuard<'_, ()>> {
        let mut indexes: Vec<usize> = keys.iter().map(|key| Self::index(tenant, key)).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let mut guards = Vec::with_capacity(indexes.len());
        for index in indexes {
            guards.push(self.0[index].lock().await);
        }
        guards
    }
}
