//! Approvals, found by identity and by their one-time token.
//!
//! [`Keyspace::Approvals`] by `tenant / identity id / approval id`, so an identity's approvals
//! are one prefix; [`Keyspace::ApprovalTokens`] by the SHA-256 of the token, holding the
//! approval's key (the token itself is never stored).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{id_key, read};
use crate::{
    engine::identity::records::ApprovalRecord,
    store::{Keyspace, Store, StoreError, WriteBatch, decode, encode, tenant_prefix},
    tenancy::TenantId,
};

/// The approvals of every tenant.
#[derive(Clone)]
pub struct Approvals {
    store: Arc<dyn Store>,
}

fn approval_key(tenant: &TenantId, identity_id: &str, approval_id: &str) -> Vec<u8> {
    id_key(tenant, &format!("{identity_id}/{approval_id}"))
}

impl Approvals {
    /// The approvals over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Reads one approval.
    pub async fn get(
        &self,
        tenant: &TenantId,
        identity_id: &str,
        approval_id: &str,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        let key = approval_key(tenant, identity_id, approval_id);
        read(self.store.as_ref(), Keyspace::Approvals, &key).await
    }

    /// The approval a token answers, if the token is the tenant's.
    pub async fn by_token(
        &self,
        tenant: &TenantId,
        token: &str,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        let Some(location) = self
            .store
            .get(Keyspace::ApprovalTokens, &Sha256::digest(token.as_bytes()))
            .await?
        else {
            return Ok(None);
        };
        // A token of another tenant is as unknown as a made-up one.
        if !location.starts_with(&tenant_prefix(tenant.as_str())) {
            return Ok(None);
        }
        read(self.store.as_ref(), Keyspace::Approvals, &location).await
    }

    /// Every approval of an identity.
    pub async fn of_identity(
        &self,
        tenant: &TenantId,
        identity_id: &str,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let prefix = approval_key(tenant, identity_id, "");
        self.store
            .scan_prefix(Keyspace::Approvals, &prefix, None, usize::MAX)
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(Keyspace::Approvals, &bytes))
            .collect()
    }

    /// Adds writing `approval` to `batch`; with `token`, a new approval that the token answers.
    pub fn put(
        batch: &mut WriteBatch,
        tenant: &TenantId,
        approval: &ApprovalRecord,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let location = approval_key(tenant, &approval.identity_id, &approval.approval_id);
        if let Some(token) = token {
            batch.put(
                Keyspace::ApprovalTokens,
                Sha256::digest(token.as_bytes()).to_vec(),
                location.clone(),
            );
        }
        batch.put(Keyspace::Approvals, location, encode(approval)?);
        Ok(())
    }
}
