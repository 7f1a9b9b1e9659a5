//! Tenants, keys and who may call what.

use gatehouse_proto::v1::{self as pb, decision_service_client::DecisionServiceClient};
use tonic::Code;

use crate::harness::{ADMIN_TOKEN, Server, api_key, bearer, cli, create_tenant, field, reason};

#[tokio::test]
async fn secret_key_reads_its_own_tenant_and_nothing_else() {
    let server = Server::start().await;
    let shop = create_tenant(&server, "shop", None).await;
    let other = create_tenant(&server, "rival", None).await;
    let mut admin = server.admin().await;

    // With its own secret key: works, over either header.
    let tenant = admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .expect("own tenant with x-api-key")
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(tenant.name, "shop");
    admin
        .get_tenant(bearer(
            pb::GetTenantRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .expect("own tenant with authorization: Bearer");

    // Tenant A's key against tenant B's data: refused, and B's data stays unread.
    let refused = admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: other.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "UNAUTHORIZED");
    assert!(
        !refused.message().contains("rival"),
        "{}",
        refused.message()
    );
    let refused = admin
        .list_keys(api_key(
            pb::ListKeysRequest {
                tenant_id: other.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // A wrong key, and no key at all.
    let wrong = admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: shop.id.clone(),
            },
            "sk_0000000000000000000000000000000000000000",
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(reason(&wrong), "UNAUTHORIZED");
    let missing = admin
        .get_tenant(pb::GetTenantRequest {
            tenant_id: shop.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(
        missing.message().contains("x-api-key"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn publishable_key_is_refused_on_secret_only_calls() {
    let server = Server::start().await;
    let shop = create_tenant(&server, "shop", None).await;
    let denied = server
        .admin()
        .await
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains("secret key"),
        "{}",
        denied.message()
    );

    // The gate refuses before any service sees the call, so this holds for every secret-only RPC.
    let denied = DecisionServiceClient::new(server.channel().await)
        .get_decision(api_key(
            pb::GetDecisionRequest {
                visitor_id: "vis_1".into(),
            },
            &shop.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(reason(&denied), "UNAUTHORIZED");
}

#[tokio::test]
async fn only_the_admin_token_manages_tenants() {
    let server = Server::start().await;
    let shop = create_tenant(&server, "shop", None).await;
    let mut admin = server.admin().await;
    let denied = admin
        .create_tenant(api_key(
            pb::CreateTenantRequest {
                name: "mine".into(),
                settings: None,
            },
            &shop.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = admin
        .list_tenants(bearer(
            pb::ListTenantsRequest::default(),
            "not-the-admin-token",
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);

    // A tenant may change its own settings, but not what the operator sets.
    let updated = admin
        .update_tenant(api_key(
            pb::UpdateTenantRequest {
                tenant_id: shop.id.clone(),
                name: Some("shop two".into()),
                settings: Some(pb::TenantSettings {
                    retention_days: Some(30),
                    ..Default::default()
                }),
            },
            &shop.secret_key,
        ))
        .await
        .expect("own settings")
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(updated.name, "shop two");
    assert_eq!(updated.settings.unwrap().retention_days, Some(30));
    let denied = admin
        .update_tenant(api_key(
            pb::UpdateTenantRequest {
                tenant_id: shop.id.clone(),
                settings: Some(pb::TenantSettings {
                    rate_limit_per_minute: Some(1_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &shop.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("settings.rate_limit_per_minute"));
}

#[tokio::test]
async fn bad_input_names_the_field_and_leaves_the_server_serving() {
    let server = Server::start().await;
    let mut admin = server.admin().await;
    let cases = [
        pb::CreateTenantRequest {
            name: "".into(),
            settings: None,
        },
        pb::CreateTenantRequest {
            name: "x".repeat(101),
            settings: None,
        },
        pb::CreateTenantRequest {
            name: "shop".into(),
            settings: Some(pb::TenantSettings {
                allowed_origins: vec!["not an origin".into()],
                ..Default::default()
            }),
        },
    ];
    let fields = ["name", "name", "settings.allowed_origins[0]"];
    for (request, field) in cases.into_iter().zip(fields) {
        let refused = admin
            .create_tenant(bearer(request, ADMIN_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(reason(&refused), "INVALID_REQUEST");
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
    for tenant_id in [
        "",
        "tn_nothex!",
        "../../etc/passwd",
        "tn_0123456789abcdef\u{0}",
    ] {
        let refused = admin
            .get_tenant(bearer(
                pb::GetTenantRequest {
                    tenant_id: tenant_id.into(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{tenant_id:?}");
        assert!(refused.message().starts_with("tenant_id"));
    }
    let missing = admin
        .get_tenant(bearer(
            pb::GetTenantRequest {
                tenant_id: "tn_0123456789abcdef".into(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "NOT_FOUND");
    // Nothing above was stored, and the server still answers.
    let tenants = admin
        .list_tenants(bearer(pb::ListTenantsRequest::default(), ADMIN_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert!(tenants.tenants.is_empty());
}

#[tokio::test]
async fn cli_creates_tenants_and_rotates_and_revokes_keys() {
    // No admin token configured: the server generates one into the data dir and the CLI finds it.
    let temp = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(temp.path(), None, &[]);
    server.wait_ready().await;
    let token_file = temp.path().join("admin-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "admin token file must be private");
    }
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        !server.log().contains(token.trim()),
        "the token must not be logged"
    );

    let data_dir = temp.path().to_str().unwrap();
    let connection = ["--server", &server.grpc_url, "--data-dir", data_dir];
    let created = cli(
        &[&["tenant", "create", "--name", "shop"][..], &connection[..]].concat(),
        &[],
    )
    .unwrap();
    let tenant_id = field(&created, "tenant_id").to_string();
    let first_secret = field(&created, "secret_key").to_string();
    assert!(tenant_id.starts_with("tn_"));
    assert!(field(&created, "publishable_key").starts_with("pk_"));
    assert!(first_secret.starts_with("sk_"));

    let listed = cli(&[&["tenant", "list"][..], &connection[..]].concat(), &[]).unwrap();
    assert_eq!(field(&listed, "tenant_id"), tenant_id);

    // Rotate: the new key works alongside the old one until the old one is revoked.
    let rotated = cli(
        &[
            &["key", "rotate", "--tenant", &tenant_id, "--kind", "secret"][..],
            &connection[..],
        ]
        .concat(),
        &[],
    )
    .unwrap();
    let second_secret = field(&rotated, "api_key").to_string();
    let mut admin = server.admin().await;
    for key in [&first_secret, &second_secret] {
        admin
            .get_tenant(api_key(
                pb::GetTenantRequest {
                    tenant_id: tenant_id.clone(),
                },
                key,
            ))
            .await
            .expect("both keys work");
    }
    // Find the first secret key's id by its displayed prefix, and revoke it.
    let keys = cli(
        &[
            &["key", "list", "--tenant", &tenant_id][..],
            &connection[..],
        ]
        .concat(),
        &[],
    )
    .unwrap();
    let mut first_key_id = None;
    let mut current_id = "";
    for (name, value) in &keys {
        match name.as_str() {
            "key_id" => current_id = value,
            "prefix" if first_secret.starts_with(value.as_str()) => {
                first_key_id = Some(current_id.to_string())
            }
            _ => {}
        }
    }
    let first_key_id = first_key_id.expect("the first secret key is listed");
    let revoked = cli(
        &[
            &[
                "key",
                "revoke",
                "--tenant",
                &tenant_id,
                "--key-id",
                &first_key_id,
            ][..],
            &connection[..],
        ]
        .concat(),
        &[],
    )
    .unwrap();
    assert_eq!(field(&revoked, "revoked"), "true");
    assert_eq!(field(&revoked, "kind"), "secret");
    let refused = admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: tenant_id.clone(),
            },
            &first_secret,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: tenant_id.clone(),
            },
            &second_secret,
        ))
        .await
        .expect("the rotated key still works");

    // Rotation with --revoke-previous retires every older secret at once.
    let rotated = cli(
        &[
            &[
                "key",
                "rotate",
                "--tenant",
                &tenant_id,
                "--kind",
                "secret",
                "--revoke-previous",
            ][..],
            &connection[..],
        ]
        .concat(),
        &[],
    )
    .unwrap();
    let third_secret = field(&rotated, "api_key").to_string();
    let refused = admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: tenant_id.clone(),
            },
            &second_secret,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: tenant_id.clone(),
            },
            &third_secret,
        ))
        .await
        .expect("the newest key works");

    // The CLI explains a missing token.
    let empty = tempfile::tempdir().unwrap();
    let error = cli(
        &[
            "tenant",
            "list",
            "--server",
            &server.grpc_url,
            "--data-dir",
            empty.path().to_str().unwrap(),
        ],
        &[],
    )
    .unwrap_err();
    assert!(error.contains("GATEHOUSE_ADMIN_TOKEN"), "{error}");
}

#[tokio::test]
async fn sdk_signing_keys_are_created_once_listed_without_secrets_and_revoked() {
    let server = Server::start().await;
    let shop = create_tenant(&server, "shop", None).await;
    let other = create_tenant(&server, "other", None).await;
    let mut admin = server.admin().await;
    let created = admin
        .create_signing_key(api_key(
            pb::CreateSigningKeyRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    let key = created.key.unwrap();
    assert!(key.key_id.starts_with("sgk_"));
    // 32 bytes, base64url without padding.
    assert_eq!(created.secret.len(), 43);
    assert!(
        created
            .secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let listed = admin
        .list_signing_keys(api_key(
            pb::ListSigningKeysRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(listed, vec![key.clone()]);
    let denied = admin
        .list_signing_keys(api_key(
            pb::ListSigningKeysRequest {
                tenant_id: shop.id.clone(),
            },
            &other.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let revoked = admin
        .revoke_signing_key(api_key(
            pb::RevokeSigningKeyRequest {
                tenant_id: shop.id.clone(),
                key_id: key.key_id.clone(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .key
        .unwrap();
    assert!(revoked.revoked_ms > 0);
    let missing = admin
        .revoke_signing_key(api_key(
            pb::RevokeSigningKeyRequest {
                tenant_id: shop.id.clone(),
                key_id: "sgk_nope".into(),
            },
            &shop.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(
        !server.log().contains(&created.secret),
        "the secret must never be logged"
    );
}
