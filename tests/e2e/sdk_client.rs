//! The SDK core's connection and errors against the real server.

use gatehouse_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use gatehouse_sdk_core::{ClientConfig, ClientError, connect};

use crate::harness::{Server, create_tenant};

#[tokio::test]
async fn sdk_core_authenticates_and_types_refusals() {
    let server = Server::start().await;
    let shop = create_tenant(&server, "shop", None).await;

    let channel = connect(&ClientConfig::new(&server.grpc_url, &shop.secret_key))
        .await
        .unwrap();
    let tenant = AdminServiceClient::new(channel)
        .get_tenant(pb::GetTenantRequest {
            tenant_id: shop.id.clone(),
        })
        .await
        .map_err(ClientError::from)
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    assert_eq!(tenant.tenant_id, shop.id);

    let channel = connect(&ClientConfig::new(
        &server.grpc_url,
        "sk_0000000000000000000000000000000000000000",
    ))
    .await
    .unwrap();
    let error = AdminServiceClient::new(channel)
        .get_tenant(pb::GetTenantRequest {
            tenant_id: shop.id.clone(),
        })
        .await
        .map_err(ClientError::from)
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(error.reason(), "UNAUTHORIZED");

    let channel = connect(&ClientConfig::new(&server.grpc_url, &shop.secret_key))
        .await
        .unwrap();
    let error = AdminServiceClient::new(channel)
        .update_tenant(pb::UpdateTenantRequest {
            tenant_id: shop.id.clone(),
            settings: Some(pb::TenantSettings {
                retention_days: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(ClientError::from)
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::InvalidInput {
            field: Some("settings.retention_days".into()),
            message: "settings.retention_days: must be between 1 and 3650".into(),
        }
    );

    let refused = connect(&ClientConfig::new("not a url", &shop.secret_key))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ClientError::InvalidInput { field: Some(ref field), .. } if field == "endpoint")
    );
}
