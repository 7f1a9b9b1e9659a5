//! Tenants (a.k.a. properties), their API keys and settings, and per-tenant rate limits.

mod key_cache;
mod keys;
pub mod origins;
mod rate_limit;
mod settings;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use keys::{KeyHash, KeyKind, generate_admin_token, random_hex as random_token};
pub use origins::BrowserOrigins;
pub use rate_limit::{RateDecision, RateLimiter};
pub use settings::*;

use crate::{
    error::ApiError,
    store::{Keyspace, Store, StoreError, WriteBatch, repositories::Tenants},
    time::now_ms,
};

/// A tenant's id (`tn_` and 16 hex characters); also the Verify partner code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// A new random tenant id.
    pub fn generate() -> Self {
        Self(format!("tn_{}", keys::random_hex(8)))
    }

    /// Parses a tenant id sent by a client; `field` names it in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ApiError> {
        let valid = raw.len() == 19
            && raw.starts_with("tn_")
            && raw[3..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if valid {
            Ok(Self(raw.to_string()))
        } else if raw.is_empty() {
            Err(ApiError::invalid(
                field,
                "is required: give the tenant id (tn_...)",
            ))
        } else {
            Err(ApiError::invalid(
                field,
                format!("{raw:?} is not a tenant id: expected tn_ and 16 hex characters"),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_ms: i64,
    /// Its settings.
    pub settings: TenantSettings,
}

/// An API key as stored: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key's id (`key_...`).
    pub key_id: String,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// What it may do.
    pub kind: KeyKind,
    /// Its first characters, for display.
    pub prefix: String,
    /// SHA-256 of the key, hex.
    pub hash: String,
    /// When it was created.
    pub created_ms: i64,
    /// When it was revoked; `None` while it works.
    pub revoked_ms: Option<i64>,
}

/// A key that was just issued: the record and the key itself, which is shown once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// The key; never stored.
    pub key: String,
}

/// Who a valid API key belongs to.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The tenant.
    pub tenant: Tenant,
    /// The kind of key presented.
    pub kind: KeyKind,
}

/// The longest tenant name.
pub const MAX_TENANT_NAME_CHARS: usize = 100;

/// Tenants and API keys over the store.
#[derive(Clone)]
pub struct Tenancy {
    store: Arc<dyn Store>,
    tenants: Tenants,
    origins: BrowserOrigins,
    /// One rebuild of the origins at a time, so the last one always reads the latest tenants.
    origins_rebuild: Arc<tokio::sync::Mutex<()>>,
    /// Owners of authenticated keys; emptied by every write below.
    keys: Arc<key_cache::KeyCache>,
}

impl Tenancy {
    /// Tenancy over `store`, with the browser origins of the stored tenants loaded.
    pub async fn new(store: Arc<dyn Store>) -> Self {
        let tenancy = Self {
            tenants: Tenants::new(store.clone()),
            store,
            origins: BrowserOrigins::default(),
            origins_rebuild: Arc::default(),
            keys: Arc::default(),
        };
        if let Err(error) = tenancy.reload_origins().await {
            tracing::error!(%error, "cannot read the tenants' browser origins; browsers are refused");
        }
        tenancy
    }

    /// The browser origins any tenant allows (for the CORS layer).
    pub fn origins(&self) -> BrowserOrigins {
        self.origins.clone()
    }

    /// Rebuilds the browser origins from the stored tenants.
    async fn reload_origins(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.origins_rebuild.lock().await;
        let mut tenants = Vec::new();
        let mut after: Option<TenantId> = None;
        loop {
            let page = self.list_tenants(after.as_ref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            tenants.extend(page);
        }
        self.origins.rebuild(&tenants);
        Ok(())
    }

    /// Checks a tenant name: 1-100 characters after trimming, no control characters.
    pub fn validate_name(raw: &str, field: &str) -> Result<String, ApiError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(
                field,
                "is required: give the tenant a name",
            ));
        }
        if name.chars().count() > MAX_TENANT_NAME_CHARS {
            return Err(ApiError::invalid(
                field,
                format!("is longer than {MAX_TENANT_NAME_CHARS} characters: shorten it"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        Ok(name.to_string())
    }

    /// Creates a tenant with a publishable and a secret key, durably.
    pub async fn create_tenant(
        &self,
        name: String,
        settings: TenantSettings,
    ) -> Result<(Tenant, IssuedKey, IssuedKey), ApiError> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name,
            created_ms: now_ms(),
            settings,
        };
        let publishable = new_key(&tenant.id, KeyKind::Publishable);
        let secret = new_key(&tenant.id, KeyKind::Secret);
        let mut batch = WriteBatch::new();
        Tenants::put(&mut batch, &tenant)?;
        for issued in [&publishable, &secret] {
            Tenants::put_key(&mut batch, &issued.record)?;
        }
        self.store.apply(batch).await?;
        self.keys.forget_all();
        self.store.durable().await?;
        if !tenant.settings.allowed_origins.is_empty() {
            self.reload_origins().await?;
        }
        Ok((tenant, publishable, secret))
    }

    /// Reads a tenant.
    pub async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.tenants.get(id).await
    }

    /// Reads a tenant that must exist.
    pub async fn require_tenant(&self, id: &TenantId) -> Result<Tenant, ApiError> {
        self.get_tenant(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant {id} does not exist")))
    }

    /// Lists up to `limit` tenants in id order, after `start_after`.
    pub async fn list_tenants(
        &self,
        start_after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Vec<Tenant>, StoreError> {
        self.tenants.page(start_after, limit).await
    }

    /// Stores a changed tenant, durably.
    pub async fn save_tenant(&self, tenant: &Tenant) -> Result<(), ApiError> {
        let mut batch = WriteBatch::new();
        Tenants::put(&mut batch, tenant)?;
        self.store.apply(batch).await?;
        self.keys.forget_all();
        self.store.durable().await?;
        self.reload_origins().await?;
        Ok(())
    }

    /// Issues a new key of `kind`; with `revoke_previous`, revokes the tenant's other keys of that
    /// kind in the same write.
    pub async fn rotate_key(
        &self,
        tenant_id: &TenantId,
        kind: KeyKind,
        revoke_previous: bool,
    ) -> Result<(IssuedKey, Vec<String>), ApiError> {
        self.require_tenant(tenant_id).await?;
        let issued = new_key(tenant_id, kind);
        let mut batch = WriteBatch::new();
        let mut revoked = Vec::new();
        if revoke_previous {
            let now = now_ms();
            for mut record in self.list_keys(tenant_id).await? {
                if record.kind == kind && record.revoked_ms.is_none() {
                    record.revoked_ms = Some(now);
                    revoked.push(record.key_id.clone());
                    Tenants::put_key(&mut batch, &record)?;
                }
            }
        }
        Tenants::put_key(&mut batch, &issued.record)?;
        self.store.apply(batch).await?;
        self.keys.forget_all();
        self.store.durable().await?;
        Ok((issued, revoked))
    }

    /// Revokes a key at once.
    pub async fn revoke_key(
        &self,
        tenant_id: &TenantId,
        key_id: &str,
    ) -> Result<ApiKeyRecord, ApiError> {
        let mut record = self.tenants.key(tenant_id, key_id).await?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "key {key_id} does not exist for tenant {tenant_id}"
            ))
        })?;
        if record.revoked_ms.is_none() {
            record.revoked_ms = Some(now_ms());
            let mut batch = WriteBatch::new();
            Tenants::put_key(&mut batch, &record)?;
            self.store.apply(batch).await?;
            self.keys.forget_all();
            self.store.durable().await?;
        }
        Ok(record)
    }

    /// Lists a tenant's keys in id order.
    pub async fn list_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.tenants.keys(tenant_id).await
    }

    /// Finds who a presented API key belongs to; `None` for unknown or revoked keys.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<KeyOwner>, StoreError> {
        let hash = KeyHash::of(presented);
        if let Some(owner) = self.keys.get(&hash.0) {
            return Ok(Some(owner));
        }
        let generation = self.keys.generation();
        let Some(record) = self.tenants.key_by_hash(&hash.0).await? else {
            return Ok(None);
        };
        let stored = hex::decode(&record.hash)
            .ok()
            .and_then(|raw| <[u8; 32]>::try_from(raw.as_slice()).ok().map(KeyHash));
        let Some(stored) = stored else {
            return Err(StoreError::Corrupt {
                keyspace: Keyspace::ApiKeys.tree_name(),
                detail: format!("key {} has a malformed hash", record.key_id),
            });
        };
        if !stored.matches(&hash) || record.revoked_ms.is_some() {
            return Ok(None);
        }
        let owner = self
            .get_tenant(&record.tenant_id)
            .await?
            .map(|tenant| KeyOwner {
                tenant,
                kind: record.kind,
            });
        if let Some(owner) = &owner {
            self.keys.remember(generation, hash.0, owner.clone());
        }
        Ok(owner)
    }
}

fn new_key(tenant_id: &TenantId, kind: KeyKind) -> IssuedKey {
    let key = keys::generate_api_key(kind);
    let record = ApiKeyRecord {
        key_id: format!("key_{}", keys::random_hex(6)),
        tenant_id: tenant_id.clone(),
        kind,
        prefix: keys::display_prefix(&key),
        hash: hex::encode(KeyHash::of(&key).0),
        created_ms: now_ms(),
        revoked_ms: None,
    };
    IssuedKey { record, key }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    async fn tenancy() -> (tempfile::TempDir, Tenancy) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        (dir, Tenancy::new(Arc::new(store)).await)
    }

    #[tokio::test]
    async fn keys_authenticate_until_revoked() {
        let (_dir, tenancy) = tenancy().await;
        let (tenant, publishable, secret) = tenancy
            .create_tenant("shop".into(), TenantSettings::default())
            .await
            .unwrap();
        let owner = tenancy.authenticate(&secret.key).await.unwrap().unwrap();
        assert_eq!(owner.tenant.id, tenant.id);
        assert_eq!(owner.kind, KeyKind::Secret);
        assert_eq!(
            tenancy
                .authenticate(&publishable.key)
                .await
                .unwrap()
                .unwrap()
                .kind,
            KeyKind::Publishable
        );
        assert!(tenancy.authenticate("sk_wrong").await.unwrap().is_none());
        tenancy
            .revoke_key(&tenant.id, &secret.record.key_id)
            .await
            .unwrap();
        assert!(tenancy.authenticate(&secret.key).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn changed_settings_reach_the_next_request() {
        let (_dir, tenancy) = tenancy().await;
        let (mut tenant, _, secret) = tenancy
            .create_tenant("shop".into(), TenantSettings::default())
            .await
            .unwrap();
        let before = tenancy.authenticate(&secret.key).await.unwrap().unwrap();
        tenant.settings.rate_limit_per_minute = before.tenant.settings.rate_limit_per_minute + 7;
        tenancy.save_tenant(&tenant).await.unwrap();
        let after = tenancy.authenticate(&secret.key).await.unwrap().unwrap();
        assert_eq!(
            after.tenant.settings.rate_limit_per_minute, tenant.settings.rate_limit_per_minute,
            "the remembered owner was forgotten when the tenant changed"
        );
    }

    #[tokio::test]
    async fn stored_keys_hold_no_plaintext() {
        let (_dir, tenancy) = tenancy().await;
        let (tenant, _, secret) = tenancy
            .create_tenant("shop".into(), TenantSettings::default())
            .await
            .unwrap();
        for record in tenancy.list_keys(&tenant.id).await.unwrap() {
            let stored = serde_json::to_string(&record).unwrap();
            assert!(!stored.contains(&secret.key[3..]));
        }
    }

    #[tokio::test]
    async fn rotation_can_revoke_the_previous_keys() {
        let (_dir, tenancy) = tenancy().await;
        let (tenant, publishable, secret) = tenancy
            .create_tenant("shop".into(), TenantSettings::default())
            .await
            .unwrap();
        let (new_secret, revoked) = tenancy
            .rotate_key(&tenant.id, KeyKind::Secret, true)
            .await
            .unwrap();
        assert_eq!(revoked, vec![secret.record.key_id.clone()]);
        assert!(tenancy.authenticate(&secret.key).await.unwrap().is_none());
        assert!(
            tenancy
                .authenticate(&new_secret.key)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            tenancy
                .authenticate(&publishable.key)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn tenant_ids_are_checked() {
        assert!(TenantId::parse(TenantId::generate().as_str(), "tenant_id").is_ok());
        for bad in [
            "",
            "tn_",
            "tn_XYZ",
            "tn_0123456789abcdeg",
            "../etc/passwd",
            "tn_0123456789abcdef/x",
        ] {
            let error = TenantId::parse(bad, "tenant_id").unwrap_err();
            assert!(error.to_string().starts_with("tenant_id: "), "{error}");
        }
    }
}
