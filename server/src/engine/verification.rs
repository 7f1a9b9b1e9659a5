//! Verification of requests signed by the client SDK: the token format and its MAC check are
//! `gatehouse_sdk_core::signature` (defined once, for the SDKs and the server); this module adds
//! what only the server knows: the tenant's signing keys, the nonces already seen (replay), and
//! how many requests a device made lately (velocity).

use std::sync::Arc;

use gatehouse_sdk_core::signature::{self, EnvFlags, SigningKey, Token, TokenError, VerifyError};

use super::{
    counters::{bucket_of, estimate},
    locks::Stripes,
    signing_keys::SigningKeys,
};
use crate::{
    store::{Store, StoreError, WriteBatch, repositories::VerifyMemory},
    tenancy::{TenantId, TenantSettings},
};

/// The one window device velocity is counted in.
const VELOCITY_WINDOW_MS: i64 = 60_000;

/// The result code of a verification; the numbers are the codes of the Verify API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyStatus {
    /// 1101: no signature was given.
    SignMissing = 1101,
    /// 1102: no path was given.
    PathMissing = 1102,
    /// 1200: the request is what the SDK signed.
    Pass = 1200,
    /// 1301: the token is not base64url.
    InvalidEncoding = 1301,
    /// 1302: the token has the wrong length.
    InvalidLength = 1302,
    /// 1303: the token's version is not supported.
    InvalidVersion = 1303,
    /// 1304: a field inside the token is malformed.
    InvalidField = 1304,
    /// 1401: the MAC does not match.
    BadSignature = 1401,
    /// 1402: the signing key is unknown or revoked.
    UnknownKey = 1402,
    /// 1501: the token is too old or from the future.
    Expired = 1501,
    /// 1502: the path is not the signed one.
    PathMismatch = 1502,
    /// 1503: the query or body is not the signed one.
    QueryOrBodyMismatch = 1503,
    /// 1601: passed, but the device reported a risk.
    PassDeviceRisk = 1601,
    /// 1602: passed, but this device keeps sending requests.
    PassVelocity = 1602,
    /// 1603: passed, but the nonce was seen before: a replay.
    PassReplay = 1603,
}

/// The verification result in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Something needed was missing.
    Miss,
    /// The request must be refused.
    Block,
    /// The request may proceed (look at the status for risks).
    Pass,
}

impl VerifyStatus {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The outcome the code belongs to: 11xx miss, 12xx and 16xx pass, the rest block.
    pub fn outcome(self) -> VerifyOutcome {
        match self.code() / 100 {
            11 => VerifyOutcome::Miss,
            12 | 16 => VerifyOutcome::Pass,
            _ => VerifyOutcome::Block,
        }
    }

    fn of_token_error(error: &TokenError) -> Self {
        match error {
            TokenError::Encoding => VerifyStatus::InvalidEncoding,
            TokenError::Length => VerifyStatus::InvalidLength,
            TokenError::Version => VerifyStatus::InvalidVersion,
            TokenError::Field { .. } => VerifyStatus::InvalidField,
        }
    }

    fn of_verify_error(error: &VerifyError) -> Self {
        match error {
            VerifyError::BadSignature => VerifyStatus::BadSignature,
            VerifyError::Expired => VerifyStatus::Expired,
            VerifyError::PathMismatch => VerifyStatus::PathMismatch,
            VerifyError::QueryOrBodyMismatch => VerifyStatus::QueryOrBodyMismatch,
        }
    }
}

/// What the customer's backend received and wants checked.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The request path.
    pub path: &'a str,
    /// The token from the SDK.
    pub sign: &'a str,
    /// The query string or JSON object.
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// The verdict on one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The result code.
    pub status: VerifyStatus,
    /// The device risks the token carries (empty when it could not be read).
    pub env: EnvFlags,
    /// The token format version (`v1`).
    pub version: String,
    /// The device id the token names.
    pub device_id: String,
    /// The signing key id the token names.
    pub key_id: String,
}

impl Verification {
    fn without_token(status: VerifyStatus) -> Self {
        Self {
            status,
            env: EnvFlags::default(),
            version: version_name(signature::VERSION),
            device_id: String::new(),
            key_id: String::new(),
        }
    }

    fn of_token(status: VerifyStatus, token: &Token) -> Self {
        Self {
            status,
            env: token.env,
            version: version_name(token.version),
            device_id: token.device_id.clone(),
            key_id: token.key_id.clone(),
        }
    }
}

fn version_name(version: u8) -> String {
    format!("v{version}")
}

/// Verifies signed requests for every tenant.
pub struct Verifier {
    store: Arc<dyn Store>,
    memory: VerifyMemory,
    /// One check-and-remember of a nonce (and a device's counter) at a time.
    locks: Stripes,
}

impl Verifier {
    /// A verifier over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            memory: VerifyMemory::new(store.clone()),
            store,
            locks: Stripes::new(),
        }
    }

    /// Verifies `request` for `tenant` at `now_ms`.
    ///
    /// A token that passes is remembered (its nonce until it expires, one count for its device),
    /// without awaiting the disk: Verify is a check on the caller's request path, and a nonce lost
    /// in a crash within the flush interval only lets one replay through as a pass.
    pub async fn verify(
        &self,
        keys: &SigningKeys,
        tenant: &TenantId,
        settings: &TenantSettings,
        request: &SignedRequest<'_>,
        now_ms: i64,
    ) -> Result<Verification, StoreError> {
        if request.sign.trim().is_empty() {
            return Ok(Verification::without_token(VerifyStatus::SignMissing));
        }
        if request.path.is_empty() {
            return Ok(Verification::without_token(VerifyStatus::PathMissing));
        }
        let token = match signature::parse(request.sign.trim()) {
            Ok(token) => token,
            Err(error) => {
                return Ok(Verification::without_token(VerifyStatus::of_token_error(
                    &error,
                )));
            }
        };
        let key = keys
            .get(tenant, &token.key_id)
            .await?
            .filter(|record| record.revoked_ms == 0)
            .and_then(|record| record.secret())
            .and_then(|secret| SigningKey::new(&token.key_id, secret).ok());
        let Some(key) = key else {
            return Ok(Verification::of_token(VerifyStatus::UnknownKey, &token));
        };
        let validity_ms = i64::from(settings.signature_validity_seconds) * 1000;
        if let Err(error) = signature::verify(
            &token,
            &key,
            request.path,
            request.query,
            request.body,
            now_ms,
            validity_ms,
        ) {
            return Ok(Verification::of_token(
                VerifyStatus::of_verify_error(&error),
                &token,
            ));
        }

        let nonce = hex::encode(token.nonce);
        let _guards = self
            .locks
            .lock_many(tenant, &[&nonce, &token.device_id])
            .await;
        let mut batch = WriteBatch::new();
        let replay = self
            .remember_nonce(
                tenant,
                &nonce,
                token.timestamp_ms + validity_ms + signature::MAX_FUTURE_SKEW_MS,
                now_ms,
                &mut batch,
            )
            .await?;
        let counted = Self::count_device(tenant, &token.device_id, now_ms, &mut batch);
        self.store.apply(batch).await?;
        let fast = match counted {
            Some(bucket) => {
                self.device_requests(tenant, &token.device_id, bucket, now_ms)
                    .await?
                    > f64::from(settings.verify_velocity_per_minute)
            }
            None => false,
        };
        let status = if replay {
            VerifyStatus::PassReplay
        } else if fast {
            VerifyStatus::PassVelocity
        } else if token.env != EnvFlags::default() {
            VerifyStatus::PassDeviceRisk
        } else {
            VerifyStatus::Pass
        };
        Ok(Verification::of_token(status, &token))
    }

    /// Remembers `nonce` until `until_ms`; true when it was already remembered (a replay).
    async fn remember_nonce(
        &self,
        tenant: &TenantId,
        nonce: &str,
        until_ms: i64,
        now_ms: i64,
        batch: &mut WriteBatch,
    ) -> Result<bool, StoreError> {
        let seen_until = self.memory.nonce_until(tenant, nonce).await?;
        // An expired nonce the sweep has not reached yet is not a replay: its token fails 1501.
        if seen_until.is_some_and(|until| until >= now_ms) {
            return Ok(true);
        }
        VerifyMemory::remember_nonce(batch, tenant, nonce, until_ms)?;
        Ok(false)
    }

    /// Counts one verified request of `device_id` in `batch`; the bucket it went to, or `None`
    /// without a device id (then there is nothing to count per device).
    fn count_device(
        tenant: &TenantId,
        device_id: &str,
        now_ms: i64,
        batch: &mut WriteBatch,
    ) -> Option<i64> {
        if device_id.is_empty() {
            return None;
        }
        let bucket = bucket_of(now_ms, VELOCITY_WINDOW_MS);
        VerifyMemory::count_device(batch, tenant, device_id, bucket);
        Some(bucket)
    }

    /// The device's verified requests within the last window, this one included.
    async fn device_requests(
        &self,
        tenant: &TenantId,
        device_id: &str,
        bucket: i64,
        now_ms: i64,
    ) -> Result<f64, StoreError> {
        let previous = self
            .memory
            .device_count(tenant, device_id, bucket - 1)
            .await?;
        let current = self.memory.device_count(tenant, device_id, bucket).await?;
        Ok(estimate(previous, current, now_ms, VELOCITY_WINDOW_MS))
    }

    /// Forgets nonces whose tokens have expired and device counters that went quiet; returns
    /// how many records were removed.
    pub async fn sweep(&self, now_ms: i64) -> Result<usize, StoreError> {
        let nonces = self.memory.forget_expired_nonces(now_ms).await?;
        let current = bucket_of(now_ms, VELOCITY_WINDOW_MS);
        // The previous bucket still counts toward the two-bucket estimate.
        let devices = self.memory.forget_quiet_devices(current - 1).await?;
        Ok(nonces + devices)
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use gatehouse_sdk_core::signature::{SignRequest, sign};

    use super::*;
    use crate::store::{Keyspace, SledStore, tenant_key};

    const NOW: i64 = 1_790_000_000_000;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        verifier: Verifier,
        keys: SigningKeys,
        tenant: TenantId,
        settings: TenantSettings,
        key: SigningKey,
    }

    impl Fixture {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
            let keys = SigningKeys::new(store.clone());
            let tenant = TenantId::generate();
            let record = keys.create(&tenant).await.unwrap();
            let key = SigningKey::new(&record.key_id, record.secret().unwrap()).unwrap();
            Self {
                verifier: Verifier::new(store.clone()),
                _dir: dir,
                store,
                keys,
                tenant,
                settings: TenantSettings::default(),
                key,
            }
        }

        fn token(&self, env: EnvFlags, device_id: &str, at_ms: i64, nonce: u8) -> String {
            let request = SignRequest {
                path: "/goods/getValue",
                query: "b=2&a=1",
                body: b"{\"sku\":42}",
                device_id,
                env,
            };
            sign(&self.key, &request, at_ms, [nonce; 16]).unwrap()
        }

        async fn verify_as(
            &self,
            path: &str,
            sign: &str,
            query: &str,
            body: &[u8],
        ) -> Verification {
            self.verify_at(path, sign, query, body, NOW).await
        }

        async fn verify_at(
            &self,
            path: &str,
            sign: &str,
            query: &str,
            body: &[u8],
            now_ms: i64,
        ) -> Verification {
            let request = SignedRequest {
                path,
                sign,
                query,
                body,
            };
            self.verifier
                .verify(&self.keys, &self.tenant, &self.settings, &request, now_ms)
                .await
                .unwrap()
        }

        async fn verify(&self, sign: &str) -> Verification {
            self.verify_as("/goods/getValue", sign, "a=1&b=2", b"{\"sku\":42}")
                .await
        }
    }

    fn flip_byte(token: &str, index: usize) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[index] ^= 0x01;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[tokio::test]
    async fn code_1101_sign_missing() {
        let fixture = Fixture::new().await;
        let result = fixture.verify("").await;
        assert_eq!(result.status, VerifyStatus::SignMissing);
        assert_eq!(result.status.outcome(), VerifyOutcome::Miss);
    }

    #[tokio::test]
    async fn code_1102_path_missing() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let result = fixture.verify_as("", &token, "a=1&b=2", b"").await;
        assert_eq!(result.status, VerifyStatus::PathMissing);
        assert_eq!(result.status.outcome(), VerifyOutcome::Miss);
    }

    #[tokio::test]
    async fn code_1200_pass() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW - 1_000, 1);
        let result = fixture.verify(&token).await;
        assert_eq!(result.status, VerifyStatus::Pass);
        assert_eq!(result.status.outcome(), VerifyOutcome::Pass);
        assert_eq!(result.device_id, "dev_a");
        assert_eq!(result.key_id, fixture.key.key_id);
        assert_eq!(result.version, "v1");
    }

    #[tokio::test]
    async fn code_1301_invalid_encoding() {
        let fixture = Fixture::new().await;
        let result = fixture.verify("not base64url!").await;
        assert_eq!(result.status, VerifyStatus::InvalidEncoding);
        assert_eq!(result.status.outcome(), VerifyOutcome::Block);
    }

    #[tokio::test]
    async fn code_1302_invalid_length() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let truncated = &token[..token.len() - 8];
        assert_eq!(
            fixture.verify(truncated).await.status,
            VerifyStatus::InvalidLength
        );
    }

    #[tokio::test]
    async fn code_1303_invalid_version() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        // The first byte is the version.
        assert_eq!(
            fixture.verify(&flip_byte(&token, 0)).await.status,
            VerifyStatus::InvalidVersion
        );
    }

    #[tokio::test]
    async fn code_1304_invalid_field() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        // The first key id character becomes a space, outside [A-Za-z0-9_-].
        bytes[2] = b' ';
        let result = fixture.verify(&URL_SAFE_NO_PAD.encode(bytes)).await;
        assert_eq!(result.status, VerifyStatus::InvalidField);
    }

    #[tokio::test]
    async fn code_1401_bad_signature() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let last = URL_SAFE_NO_PAD.decode(&token).unwrap().len() - 1;
        let result = fixture.verify(&flip_byte(&token, last)).await;
        assert_eq!(result.status, VerifyStatus::BadSignature);
        assert_eq!(result.status.outcome(), VerifyOutcome::Block);
    }

    #[tokio::test]
    async fn code_1402_unknown_or_revoked_key() {
        let fixture = Fixture::new().await;
        let stranger = SigningKey::new("sgk_000000000000", [7; 32]).unwrap();
        let request = SignRequest {
            path: "/goods/getValue",
            query: "a=1&b=2",
            body: b"{\"sku\":42}",
            device_id: "dev_a",
            env: EnvFlags::default(),
        };
        let token = sign(&stranger, &request, NOW, [1; 16]).unwrap();
        assert_eq!(
            fixture.verify(&token).await.status,
            VerifyStatus::UnknownKey
        );

        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 2);
        fixture
            .keys
            .revoke(&fixture.tenant, &fixture.key.key_id)
            .await
            .unwrap();
        assert_eq!(
            fixture.verify(&token).await.status,
            VerifyStatus::UnknownKey
        );
    }

    #[tokio::test]
    async fn code_1501_expired() {
        let fixture = Fixture::new().await;
        let validity = i64::from(fixture.settings.signature_validity_seconds) * 1000;
        let old = fixture.token(EnvFlags::default(), "dev_a", NOW - validity - 1, 1);
        assert_eq!(fixture.verify(&old).await.status, VerifyStatus::Expired);
        let future = fixture.token(
            EnvFlags::default(),
            "dev_a",
            NOW + signature::MAX_FUTURE_SKEW_MS + 1,
            2,
        );
        assert_eq!(fixture.verify(&future).await.status, VerifyStatus::Expired);
    }

    #[tokio::test]
    async fn code_1502_path_mismatch() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let result = fixture
            .verify_as("/goods/setValue", &token, "a=1&b=2", b"{\"sku\":42}")
            .await;
        assert_eq!(result.status, VerifyStatus::PathMismatch);
    }

    #[tokio::test]
    async fn code_1503_query_or_body_mismatch() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        let query = fixture
            .verify_as("/goods/getValue", &token, "a=1&b=3", b"{\"sku\":42}")
            .await;
        assert_eq!(query.status, VerifyStatus::QueryOrBodyMismatch);
        let body = fixture
            .verify_as("/goods/getValue", &token, "a=1&b=2", b"{\"sku\":43}")
            .await;
        assert_eq!(body.status, VerifyStatus::QueryOrBodyMismatch);
        // The same query written as JSON is the same query.
        let json = fixture
            .verify_as(
                "/goods/getValue",
                &token,
                r#"{"a":"1","b":"2"}"#,
                b"{\"sku\":42}",
            )
            .await;
        assert_eq!(json.status, VerifyStatus::Pass);
    }

    #[tokio::test]
    async fn code_1601_pass_with_device_risk() {
        let fixture = Fixture::new().await;
        let risky = EnvFlags {
            root: true,
            virtual_env: true,
            ..EnvFlags::default()
        };
        let result = fixture.verify(&fixture.token(risky, "dev_a", NOW, 1)).await;
        assert_eq!(result.status, VerifyStatus::PassDeviceRisk);
        assert_eq!(result.status.outcome(), VerifyOutcome::Pass);
        assert_eq!(result.env.names(), vec!["root", "virtualEnv"]);
    }

    #[tokio::test]
    async fn code_1602_pass_velocity() {
        let mut fixture = Fixture::new().await;
        fixture.settings.verify_velocity_per_minute = 3;
        for nonce in 0..3 {
            let token = fixture.token(EnvFlags::default(), "dev_busy", NOW, nonce);
            assert_eq!(fixture.verify(&token).await.status, VerifyStatus::Pass);
        }
        let fourth = fixture.token(EnvFlags::default(), "dev_busy", NOW, 3);
        assert_eq!(
            fixture.verify(&fourth).await.status,
            VerifyStatus::PassVelocity
        );
        // Another device is not slowed by this one.
        let other = fixture.token(EnvFlags::default(), "dev_calm", NOW, 4);
        assert_eq!(fixture.verify(&other).await.status, VerifyStatus::Pass);
        // Two quiet minutes later the busy device passes again.
        let later = fixture.token(EnvFlags::default(), "dev_busy", NOW + 120_000, 5);
        assert_eq!(
            fixture
                .verify_at(
                    "/goods/getValue",
                    &later,
                    "a=1&b=2",
                    b"{\"sku\":42}",
                    NOW + 120_000
                )
                .await
                .status,
            VerifyStatus::Pass
        );
    }

    #[tokio::test]
    async fn code_1603_pass_replay() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        assert_eq!(fixture.verify(&token).await.status, VerifyStatus::Pass);
        let again = fixture.verify(&token).await;
        assert_eq!(again.status, VerifyStatus::PassReplay);
        assert_eq!(again.status.outcome(), VerifyOutcome::Pass);
    }

    #[tokio::test]
    async fn concurrent_replays_pass_once() {
        let fixture = Arc::new(Fixture::new().await);
        let token = fixture.token(EnvFlags::default(), "", NOW, 9);
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let fixture = fixture.clone();
                let token = token.clone();
                tokio::spawn(async move { fixture.verify(&token).await.status })
            })
            .collect();
        let mut passes = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                VerifyStatus::Pass => passes += 1,
                status => assert_eq!(status, VerifyStatus::PassReplay),
            }
        }
        assert_eq!(passes, 1);
    }

    #[tokio::test]
    async fn nonces_and_quiet_devices_are_forgotten_after_expiry() {
        let fixture = Fixture::new().await;
        let token = fixture.token(EnvFlags::default(), "dev_a", NOW, 1);
        assert_eq!(fixture.verify(&token).await.status, VerifyStatus::Pass);
        let validity = i64::from(fixture.settings.signature_validity_seconds) * 1000;
        // Before expiry nothing goes; after it, the nonce and the quiet device counter go.
        assert_eq!(fixture.verifier.sweep(NOW).await.unwrap(), 0);
        let later = NOW + validity + signature::MAX_FUTURE_SKEW_MS + 3 * VELOCITY_WINDOW_MS;
        assert_eq!(fixture.verifier.sweep(later).await.unwrap(), 2);
        assert!(
            fixture
                .store
                .scan_prefix(Keyspace::VerifyNonces, &[], None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn device_counters_of_the_earlier_layout_are_swept() {
        let fixture = Fixture::new().await;
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant_id").unwrap();
        let mut batch = WriteBatch::new();
        batch.put(
            Keyspace::DeviceVelocity,
            tenant_key(tenant.as_str(), b"dev_old"),
            br#"{"requests":{"bucket_start_ms":1,"current_hits":3,"previous_hits":0}}"#.to_vec(),
        );
        fixture.store.apply(batch).await.unwrap();
        assert_eq!(fixture.verifier.sweep(NOW).await.unwrap(), 1);
    }
}
