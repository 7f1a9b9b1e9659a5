//! SDK signing keys: the HMAC secrets a tenant's apps sign requests with, so the server can
//! verify them. Unlike API keys these must be kept, not hashed: verifying an HMAC needs the
//! secret itself. They are never logged and are shown only once, at creation.

use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{
    engine::EngineError,
    store::{Store, StoreError, WriteBatch, repositories::Keyring},
    tenancy::TenantId,
    time::now_ms,
};

/// A signing key as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// The key's id, carried in every token (`sgk_` and 12 hex characters).
    pub key_id: String,
    /// The 32-byte secret, hex.
    pub secret_hex: String,
    /// Created.
    pub created_ms: i64,
    /// Revoked; 0 while it works.
    pub revoked_ms: i64,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("key_id", &self.key_id)
            .field("created_ms", &self.created_ms)
            .field("revoked_ms", &self.revoked_ms)
            .finish_non_exhaustive()
    }
}

impl SigningKeyRecord {
    /// The secret bytes.
    pub fn secret(&self) -> Option<[u8; 32]> {
        hex::decode(&self.secret_hex)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
    }
}

/// The most signing keys one tenant may have (revoked ones included).
pub const MAX_SIGNING_KEYS: usize = 50;

/// Signing keys over the store.
pub struct SigningKeys {
    store: Arc<dyn Store>,
    keyring: Keyring,
}

impl SigningKeys {
    /// Signing keys over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            keyring: Keyring::new(store.clone()),
            store,
        }
    }

    /// Creates a key with a random secret. Durable.
    pub async fn create(&self, tenant: &TenantId) -> Result<SigningKeyRecord, EngineError> {
        if self.list(tenant).await?.len() >= MAX_SIGNING_KEYS {
            return Err(EngineError::TooManySigningKeys(MAX_SIGNING_KEYS));
        }
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let mut id = [0u8; 6];
        rand::rng().fill_bytes(&mut id);
        let record = SigningKeyRecord {
            key_id: format!("sgk_{}", hex::encode(id)),
            secret_hex: hex::encode(secret),
            created_ms: now_ms(),
            revoked_ms: 0,
        };
        let mut batch = WriteBatch::new();
        Keyring::put(&mut batch, tenant, &record)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(record)
    }

    /// Reads a key.
    pub async fn get(
        &self,
        tenant: &TenantId,
        key_id: &str,
    ) -> Result<Option<SigningKeyRecord>, StoreError> {
        self.keyring.get(tenant, key_id).await
    }

    /// The tenant's keys, oldest first.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut keys = self.keyring.all(tenant).await?;
        keys.sort_by_key(|key| key.created_ms);
        Ok(keys)
    }

    /// Revokes a key at once: tokens signed with it then fail. Durable.
    pub async fn revoke(
        &self,
        tenant: &TenantId,
        key_id: &str,
    ) -> Result<SigningKeyRecord, EngineError> {
        let mut record = self
            .get(tenant, key_id)
            .await?
            .ok_or_else(|| EngineError::SigningKeyMissing(key_id.to_string()))?;
        if record.revoked_ms == 0 {
            record.revoked_ms = now_ms();
            let mut batch = WriteBatch::new();
            Keyring::put(&mut batch, tenant, &record)?;
            self.store.apply(batch).await?;
            self.store.durable().await?;
        }
        Ok(record)
    }
}
