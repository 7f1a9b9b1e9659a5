//! Request signatures: a signer object holding the key, and the canonical query form.

use std::sync::Arc;

use gatehouse_sdk_core::signature::{self as core, EnvFlags, SignRequest, SigningKey};

use crate::{EnvRisks, GatehouseError};

/// The parts of an HTTP request a signature covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SignableRequest {
    /// Request path without the query string, for example `/api/v1/login`; signed as is.
    pub path: String,
    /// Query string (`a=1&b=2`, a leading `?` allowed) or a JSON object of strings, numbers and
    /// booleans; both are put in the same canonical form.
    #[uniffi(default)]
    pub query: String,
    /// Raw request body.
    #[uniffi(default)]
    pub body: Vec<u8>,
    /// The device id from `fingerprint()`, at most 64 printable ASCII characters.
    #[uniffi(default)]
    pub device_id: String,
    /// The device's environment risks (a fingerprint's `env`).
    #[uniffi(default)]
    pub env: EnvRisks,
}

impl SignableRequest {
    fn as_core(&self) -> SignRequest<'_> {
        let EnvRisks {
            root,
            hack,
            virtual_env,
            crawler,
        } = self.env;
        SignRequest {
            path: &self.path,
            query: &self.query,
            body: &self.body,
            device_id: &self.device_id,
            env: EnvFlags {
                root,
                hack,
                virtual_env,
                crawler,
            },
        }
    }
}

/// Signs requests with one SDK signing key (from `AdminService.CreateSigningKey`), so that the
/// server's `VerifyService.Verify` can tell them from forged or replayed ones.
#[derive(Debug, uniffi::Object)]
pub struct RequestSigner {
    key: SigningKey,
}

#[uniffi::export]
impl RequestSigner {
    /// A signer for the key `key_id` whose 32-byte secret is `secret` in base64url without
    /// padding, exactly as `CreateSigningKey` returned it.
    #[uniffi::constructor]
    pub fn new(key_id: String, secret: String) -> Result<Arc<Self>, GatehouseError> {
        let key = SigningKey::from_base64url(&key_id, &secret)?;
        Ok(Arc::new(Self { key }))
    }

    /// The key id every token names.
    pub fn key_id(&self) -> String {
        self.key.key_id.clone()
    }

    /// A token for `request`, signed now with a random nonce; send it with the request.
    pub fn sign(&self, request: SignableRequest) -> Result<String, GatehouseError> {
        Ok(core::sign_now(&self.key, &request.as_core())?)
    }

    /// A token for `request` at `timestamp_ms` (Unix milliseconds) with a 16-byte `nonce`: the
    /// same inputs always give the same token, which is what test vectors need. Use
    /// `sign` for real requests.
    pub fn sign_at(
        &self,
        request: SignableRequest,
        timestamp_ms: i64,
        nonce: Vec<u8>,
    ) -> Result<String, GatehouseError> {
        let nonce: [u8; 16] =
            nonce
                .try_into()
                .map_err(|nonce: Vec<u8>| GatehouseError::InvalidRequest {
                    field: Some("nonce".into()),
                    detail: format!("nonce: must be 16 bytes, got {}", nonce.len()),
                })?;
        Ok(core::sign(
            &self.key,
            &request.as_core(),
            timestamp_ms,
            nonce,
        )?)
    }
}

/// The canonical form of a query string or JSON object, as a signature covers it.
#[uniffi::export]
pub fn canonical_query(query: String) -> Result<String, GatehouseError> {
    Ok(core::canonical_query(&query)?)
}
