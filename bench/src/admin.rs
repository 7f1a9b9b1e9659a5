//! What the benchmark asks of the running server through AdminService, with the admin token: a
//! smart URL for SmartUrl Check, and an SDK signing key whose secret signs the Verify tokens
//! (with `gatehouse_sdk_core::signature::sign`, as an app would).

use base64::Engine as _;
use gatehouse_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use gatehouse_sdk_core::signature::{EnvFlags, SignRequest, SigningKey, sign};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::{Value, json};
use tonic::{metadata::MetadataValue, transport::Channel};

use crate::{
    BenchError,
    population::{device_id, mix},
};

/// AdminService with the admin token on every call.
pub struct Admin {
    client: AdminServiceClient<Channel>,
    token: MetadataValue<tonic::metadata::Ascii>,
}

impl Admin {
    /// Connects to `server` (`http://127.0.0.1:50051`).
    pub async fn connect(server: &str, admin_token: &str) -> Result<Self, BenchError> {
        let token = format!("Bearer {}", admin_token.trim())
            .parse()
            .map_err(|_| BenchError::Invalid("admin token: not sendable as metadata".into()))?;
        let client = AdminServiceClient::connect(server.to_string())
            .await
            .map_err(|source| BenchError::Connect {
                server: server.to_string(),
                source,
            })?;
        Ok(Self { client, token })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        request
    }

    /// Creates the smart URL `keyname` for `tenant_id`.
    pub async fn create_smart_url(
        &mut self,
        tenant_id: &str,
        keyname: &str,
    ) -> Result<(), BenchError> {
        let request = self.request(pb::CreateSmartUrlRequest {
            tenant_id: tenant_id.to_string(),
            smart_url: Some(pb::SmartUrl {
                keyname: keyname.to_string(),
                allowed_destination: "https://shop.example/landing/spring-sale".into(),
                blocked_destination: "https://shop.example/".into(),
                ..Default::default()
            }),
        });
        self.client.create_smart_url(request).await?;
        Ok(())
    }

    /// Creates a signing key for `tenant_id` and returns it with its secret.
    pub async fn create_signing_key(&mut self, tenant_id: &str) -> Result<SigningKey, BenchError> {
        let request = self.request(pb::CreateSigningKeyRequest {
            tenant_id: tenant_id.to_string(),
        });
        let created = self.client.create_signing_key(request).await?.into_inner();
        let key_id = created
            .key
            .map(|key| key.key_id)
            .ok_or_else(|| BenchError::Invalid("CreateSigningKey answered no key".into()))?;
        Ok(SigningKey::from_base64url(&key_id, &created.secret)?)
    }
}

/// The path every Verify token is signed for.
pub const VERIFY_PATH: &str = "/api/v1/checkout";

/// `count` Verify requests for `tenant_id`, each with its own token signed with `key` now (and a
/// fresh nonce), over a checkout request with a query and a JSON body, from one of 5 000 devices
/// (one in fifty reports a rooted device).
pub fn verify_requests(
    key: &SigningKey,
    tenant_id: &str,
    count: usize,
    seed: u64,
    now_ms: i64,
) -> Result<Vec<Value>, BenchError> {
    let mut rng = SmallRng::seed_from_u64(mix(seed, now_ms.unsigned_abs()));
    let base64 = base64::engine::general_purpose::STANDARD;
    (0..count)
        .map(|i| {
            let device = device_id(seed, rng.random_range(0..5_000u64));
            let query = format!(
                "item={}&currency=EUR&qty={}",
                rng.random_range(1..50_000u32),
                rng.random_range(1..4u32)
            );
            let body = format!(
                r#"{{"cart":"c{}","amount_cents":{},"coupon":""}}"#,
                i,
                rng.random_range(500..50_000u32)
            );
            let env = EnvFlags {
                root: rng.random_range(0..50u32) == 0,
                ..EnvFlags::default()
            };
            let token = sign(
                key,
                &SignRequest {
                    path: VERIFY_PATH,
                    query: &query,
                    body: body.as_bytes(),
                    device_id: &device,
                    env,
                },
                now_ms,
                rng.random(),
            )?;
            Ok(json!({
                "partner_code": tenant_id,
                "path": VERIFY_PATH,
                "sign": token,
                "query": query,
                // bytes fields are base64 in the JSON mapping
                "body": base64.encode(body.as_bytes()),
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use gatehouse_sdk_core::signature::{DEFAULT_VALIDITY_MS, parse, verify};

    use super::*;

    #[test]
    fn every_token_verifies_with_the_sdk_verifier_and_is_distinct() {
        let key = SigningKey::new("sk1_bench", [7; 32]).unwrap();
        let now = 1_700_000_000_000;
        let requests = verify_requests(&key, "tn_0123456789abcdef", 300, 1, now).unwrap();
        let mut seen = std::collections::HashSet::new();
        let base64 = base64::engine::general_purpose::STANDARD;
        for request in &requests {
            let sign = request["sign"].as_str().unwrap();
            assert!(seen.insert(sign.to_string()), "a token repeats");
            let token = parse(sign).unwrap();
            let body = base64.decode(request["body"].as_str().unwrap()).unwrap();
            verify(
                &token,
                &key,
                request["path"].as_str().unwrap(),
                request["query"].as_str().unwrap(),
                &body,
                now + 1_000,
                DEFAULT_VALIDITY_MS,
            )
            .unwrap();
        }
    }
}
