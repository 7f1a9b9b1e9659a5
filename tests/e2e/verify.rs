//! `VerifyService.Verify` over gRPC against the real binary, with tokens made by the SDK core's
//! signer and the calls made through the SDK core's client.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use gatehouse_proto::v1 as pb;
use gatehouse_sdk_core::{
    ClientConfig, ClientError, Gatehouse, JsonOptions,
    signature::{self, EnvFlags, SignRequest, SigningKey},
};

use crate::harness::{ADMIN_TOKEN, Server, TestTenant, create_tenant, now_ms};

const PATH: &str = "/goods/getValue";
const QUERY: &str = "sku=42&lang=en";
const BODY: &[u8] = br#"{"qty":1}"#;

struct Shop {
    tenant: TestTenant,
    admin: Gatehouse,
    client: Gatehouse,
    key: SigningKey,
}

impl Shop {
    async fn open(server: &Server, name: &str) -> Self {
        let tenant = create_tenant(server, name, None).await;
        let admin = Gatehouse::connect(ClientConfig::new(&server.grpc_url, ADMIN_TOKEN))
            .await
            .unwrap();
        let client = Gatehouse::connect(ClientConfig::new(&server.grpc_url, &tenant.secret_key))
            .await
            .unwrap();
        let key = new_signing_key(&admin, &tenant.id).await;
        Self {
            tenant,
            admin,
            client,
            key,
        }
    }

    async fn verify(&self, path: &str, sign: &str, query: &str, body: &[u8]) -> pb::VerifyResponse {
        self.client
            .verify()
            .verify(pb::VerifyRequest {
                partner_code: self.tenant.id.clone(),
                path: path.into(),
                sign: sign.into(),
                query: query.into(),
                body: body.to_vec(),
            })
            .await
            .unwrap()
    }

    /// The status of verifying `sign` for the request it was made for.
    async fn status(&self, sign: &str) -> pb::VerifyStatus {
        status_of(&self.verify(PATH, sign, "lang=en&sku=42", BODY).await)
    }

    async fn update(&self, settings: pb::TenantSettings) {
        self.admin
            .admin()
            .update_tenant(pb::UpdateTenantRequest {
                tenant_id: self.tenant.id.clone(),
                name: None,
                settings: Some(settings),
            })
            .await
            .unwrap();
    }
}

async fn new_signing_key(admin: &Gatehouse, tenant_id: &str) -> SigningKey {
    let created = admin
        .admin()
        .create_signing_key(pb::CreateSigningKeyRequest {
            tenant_id: tenant_id.into(),
        })
        .await
        .unwrap();
    SigningKey::from_base64url(&created.key.unwrap().key_id, &created.secret).unwrap()
}

fn token(key: &SigningKey, device_id: &str, env: EnvFlags) -> String {
    signature::sign_now(
        key,
        &SignRequest {
            path: PATH,
            query: QUERY,
            body: BODY,
            device_id,
            env,
        },
    )
    .unwrap()
}

fn status_of(response: &pb::VerifyResponse) -> pb::VerifyStatus {
    assert_eq!(
        response.code,
        pb::VerifyEnvelopeCode::Ok as i32,
        "{response:?}"
    );
    let data = response.data.as_ref().expect("data");
    pb::VerifyStatus::try_from(data.status).expect("a known status")
}

#[tokio::test]
async fn a_signed_request_passes_once_and_then_is_a_replay() {
    let server = Server::start().await;
    let shop = Shop::open(&server, "shop").await;
    let sign = token(&shop.key, "dev_phone", EnvFlags::default());

    let first = shop.verify(PATH, &sign, "lang=en&sku=42", BODY).await;
    assert_eq!(first.message, "success");
    let data = first.data.clone().unwrap();
    assert_eq!(data.status, 1200);
    assert_eq!(data.result, "pass");
    assert_eq!(data.outcome, pb::VerifyOutcome::Pass as i32);
    assert_eq!(data.version, "v1");
    assert_eq!(data.device_id, "dev_phone");
    assert_eq!(data.key_id, shop.key.key_id);
    assert!(data.env.is_empty());

    let again = shop.verify(PATH, &sign, QUERY, BODY).await;
    assert_eq!(status_of(&again), pb::VerifyStatus::PassReplay);
    assert_eq!(again.data.unwrap().result, "pass");

    // The JSON path of the client reaches the same service with the same answer.
    let fresh = token(&shop.key, "dev_phone", EnvFlags::default());
    let request = serde_json::json!({
        "partnerCode": shop.tenant.id,
        "path": PATH,
        "sign": fresh,
        "query": r#"{"sku":"42","lang":"en"}"#,
        "body": base64::engine::general_purpose::STANDARD.encode(BODY),
    });
    let answer = shop
        .client
        .call_json(
            "VerifyService/Verify",
            &request.to_string(),
            JsonOptions::CAMEL_CASE,
        )
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["code"], "VERIFY_ENVELOPE_CODE_OK", "{answer}");
    assert_eq!(answer["data"]["status"], "VERIFY_STATUS_PASS", "{answer}");
}

#[tokio::test]
async fn tampered_expired_and_malformed_tokens_are_blocked() {
    let server = Server::start().await;
    let shop = Shop::open(&server, "shop").await;

    let sign = token(&shop.key, "dev_phone", EnvFlags::default());
    let cases: [(&str, &str, &[u8], pb::VerifyStatus); 3] = [
        (
            "/goods/setValue",
            QUERY,
            BODY,
            pb::VerifyStatus::PathMismatch,
        ),
        (
            PATH,
            "sku=43&lang=en",
            BODY,
            pb::VerifyStatus::QueryOrBodyMismatch,
        ),
        (
            PATH,
            QUERY,
            br#"{"qty":9}"#,
            pb::VerifyStatus::QueryOrBodyMismatch,
        ),
    ];
    for (path, query, body, expected) in cases {
        let response = shop.verify(path, &sign, query, body).await;
        assert_eq!(status_of(&response), expected, "{path} {query}");
        assert_eq!(response.data.unwrap().result, "block");
    }

    // Any flipped byte inside the signed part breaks the MAC.
    let mut bytes = URL_SAFE_NO_PAD.decode(&sign).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let flipped = URL_SAFE_NO_PAD.encode(&bytes);
    assert_eq!(shop.status(&flipped).await, pb::VerifyStatus::BadSignature);

    let validity_ms = i64::from(300u32) * 1000;
    let old = signature::sign(
        &shop.key,
        &SignRequest {
            path: PATH,
            query: QUERY,
            body: BODY,
            device_id: "dev_phone",
            env: EnvFlags::default(),
        },
        now_ms() - validity_ms - 5_000,
        [3; 16],
    )
    .unwrap();
    assert_eq!(shop.status(&old).await, pb::VerifyStatus::Expired);

    assert_eq!(shop.status("@@@").await, pb::VerifyStatus::InvalidEncoding);
    assert_eq!(
        shop.status(&sign[..sign.len() - 10]).await,
        pb::VerifyStatus::InvalidLength
    );
    let missing = shop.verify(PATH, "", QUERY, BODY).await;
    assert_eq!(status_of(&missing), pb::VerifyStatus::SignMissing);
    assert_eq!(missing.data.unwrap().result, "miss");
    let no_path = shop.verify("", &sign, QUERY, BODY).await;
    assert_eq!(status_of(&no_path), pb::VerifyStatus::PathMissing);
}

#[tokio::test]
async fn keys_are_checked_per_tenant_and_rotate() {
    let server = Server::start().await;
    let shop = Shop::open(&server, "shop").await;
    let other = Shop::open(&server, "other").await;

    // A key with the right id but the wrong secret.
    let forged = SigningKey::new(&shop.key.key_id, [9; 32]).unwrap();
    assert_eq!(
        shop.status(&token(&forged, "dev_x", EnvFlags::default()))
            .await,
        pb::VerifyStatus::BadSignature
    );
    // Another tenant's key is unknown here.
    assert_eq!(
        shop.status(&token(&other.key, "dev_x", EnvFlags::default()))
            .await,
        pb::VerifyStatus::UnknownKey
    );

    // Rotation: a second key works alongside the first; once the first is revoked, its tokens
    // fail with 1402 and the second key's still pass.
    let second = new_signing_key(&shop.admin, &shop.tenant.id).await;
    let signed_with_first = token(&shop.key, "dev_x", EnvFlags::default());
    assert_eq!(
        shop.status(&token(&second, "dev_x", EnvFlags::default()))
            .await,
        pb::VerifyStatus::Pass
    );
    shop.admin
        .admin()
        .revoke_signing_key(pb::RevokeSigningKeyRequest {
            tenant_id: shop.tenant.id.clone(),
            key_id: shop.key.key_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        shop.status(&signed_with_first).await,
        pb::VerifyStatus::UnknownKey
    );
    assert_eq!(
        shop.status(&token(&second, "dev_x", EnvFlags::default()))
            .await,
        pb::VerifyStatus::Pass
    );
}

#[tokio::test]
async fn device_risk_and_velocity_pass_with_a_warning() {
    let server = Server::start().await;
    let shop = Shop::open(&server, "shop").await;
    shop.update(pb::TenantSettings {
        verify_velocity_per_minute: Some(3),
        ..Default::default()
    })
    .await;

    let rooted = EnvFlags {
        root: true,
        crawler: true,
        ..EnvFlags::default()
    };
    let response = shop
        .verify(PATH, &token(&shop.key, "dev_rooted", rooted), QUERY, BODY)
        .await;
    assert_eq!(status_of(&response), pb::VerifyStatus::PassDeviceRisk);
    let data = response.data.unwrap();
    assert_eq!(data.env, vec!["root".to_string(), "crawler".to_string()]);
    assert_eq!(data.result, "pass");

    for _ in 0..3 {
        assert_eq!(
            shop.status(&token(&shop.key, "dev_busy", EnvFlags::default()))
                .await,
            pb::VerifyStatus::Pass
        );
    }
    assert_eq!(
        shop.status(&token(&shop.key, "dev_busy", EnvFlags::default()))
            .await,
        pb::VerifyStatus::PassVelocity
    );
    assert_eq!(
        shop.status(&token(&shop.key, "dev_calm", EnvFlags::default()))
            .await,
        pb::VerifyStatus::Pass
    );
}

#[tokio::test]
async fn switched_off_tenants_and_wrong_partners_answer_in_the_envelope() {
    let server = Server::start().await;
    let shop = Shop::open(&server, "shop").await;
    let sign = token(&shop.key, "dev_x", EnvFlags::default());

    let wrong_partner = shop
        .client
        .verify()
        .verify(pb::VerifyRequest {
            partner_code: "tn_someoneelse".into(),
            path: PATH.into(),
            sign: sign.clone(),
            query: QUERY.into(),
            body: BODY.to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(
        wrong_partner.code,
        pb::VerifyEnvelopeCode::PartnerMissing as i32
    );
    assert!(wrong_partner.data.is_none());

    shop.update(pb::TenantSettings {
        services: Some(pb::ServiceSwitches {
            verify: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let off = shop.verify(PATH, &sign, QUERY, BODY).await;
    assert_eq!(off.code, pb::VerifyEnvelopeCode::ServiceNotEnabled as i32);
    assert_eq!(off.code, 512);

    shop.update(pb::TenantSettings {
        traffic_enabled: Some(false),
        services: Some(pb::ServiceSwitches {
            verify: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let disabled = shop.verify(PATH, &sign, QUERY, BODY).await;
    assert_eq!(disabled.code, 513);
    assert!(
        disabled.message.contains("disabled"),
        "{}",
        disabled.message
    );

    // A wrong key is a gRPC error, typed by the client.
    let stranger = Gatehouse::connect(ClientConfig::new(
        &server.grpc_url,
        "sk_0000000000000000000000000000000000000000",
    ))
    .await
    .unwrap();
    let error = stranger
        .verify()
        .verify(pb::VerifyRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error}");
}
