//! Authenticated API keys, remembered in memory: every request presents a key, and reading and
//! decoding the key record and its tenant from the store on each one cost more than most RPCs.
//!
//! Only keys that authenticated are kept (random keys from an attacker cannot fill the cache),
//! and every change to a tenant or a key empties it, so a revoked key or new settings take effect
//! on the next request. A lookup that started before such a change is not remembered: it may
//! have read the old records.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use super::KeyOwner;

/// How many keys are remembered at most; when full, the cache starts over.
pub const MAX_CACHED_KEYS: usize = 10_000;

/// The owners of recently authenticated keys, by the SHA-256 of the key.
#[derive(Debug, Default)]
pub struct KeyCache(RwLock<Generation>);

#[derive(Debug, Default)]
struct Generation {
    /// Bumped by every change to tenants or keys.
    number: u64,
    owners: HashMap<[u8; 32], KeyOwner>,
}

impl KeyCache {
    /// The owner of the key with this hash, when remembered.
    pub fn get(&self, hash: &[u8; 32]) -> Option<KeyOwner> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .owners
            .get(hash)
            .cloned()
    }

    /// The current generation: take it before reading the store, and pass it to
    /// [`KeyCache::remember`].
    pub fn generation(&self) -> u64 {
        self.0.read().unwrap_or_else(PoisonError::into_inner).number
    }

    /// Remembers `owner`, unless tenants or keys changed since `generation` was taken.
    pub fn remember(&self, generation: u64, hash: [u8; 32], owner: KeyOwner) {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if current.number != generation {
            return;
        }
        if current.owners.len() >= MAX_CACHED_KEYS {
            current.owners.clear();
        }
        current.owners.insert(hash, owner);
    }

    /// Forgets everything; called after every write to tenants or keys.
    pub fn forget_all(&self) {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        current.number += 1;
        current.owners.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{KeyKind, Tenant, TenantId, TenantSettings};

    fn owner() -> KeyOwner {
        KeyOwner {
            tenant: Tenant {
                id: TenantId::generate(),
                name: "shop".into(),
                created_ms: 0,
                settings: TenantSettings::default(),
            },
            kind: KeyKind::Secret,
        }
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_remembered() {
        let cache = KeyCache::default();
        let before = cache.generation();
        cache.forget_all();
        cache.remember(before, [1; 32], owner());
        assert!(cache.get(&[1; 32]).is_none(), "read before the change");
        cache.remember(cache.generation(), [1; 32], owner());
        assert!(cache.get(&[1; 32]).is_some());
        cache.forget_all();
        assert!(cache.get(&[1; 32]).is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = KeyCache::default();
        let generation = cache.generation();
        for n in 0..=MAX_CACHED_KEYS {
            let mut hash = [0; 32];
            hash[..8].copy_from_slice(&(n as u64).to_be_bytes());
            cache.remember(generation, hash, owner());
        }
        assert_eq!(cache.0.read().unwrap().owners.len(), 1);
    }
}
