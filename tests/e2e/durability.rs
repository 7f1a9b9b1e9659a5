//! Acknowledged writes survive `kill -9`; SIGTERM shuts down cleanly.

use gatehouse_proto::v1 as pb;

use crate::harness::{ADMIN_TOKEN, Server, api_key, bearer};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(temp.path(), Some(ADMIN_TOKEN), &[]);
    server.wait_ready().await;

    // Many concurrent writers, so group commit batches them; every one is acknowledged.
    let writers: Vec<_> = (0..40)
        .map(|n| {
            let url = server.grpc_url.clone();
            tokio::spawn(async move {
                let channel = tonic::transport::Endpoint::from_shared(url)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let mut admin = pb::admin_service_client::AdminServiceClient::new(channel);
                let created = admin
                    .create_tenant(bearer(
                        pb::CreateTenantRequest {
                            name: format!("tenant-{n}"),
                            settings: None,
                        },
                        ADMIN_TOKEN,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                let tenant_id = created.tenant.unwrap().tenant_id;
                admin
                    .update_tenant(api_key(
                        pb::UpdateTenantRequest {
                            tenant_id: tenant_id.clone(),
                            settings: Some(pb::TenantSettings {
                                retention_days: Some(n + 1),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        &created.secret_key,
                    ))
                    .await
                    .unwrap();
                (tenant_id, created.secret_key, n + 1)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.await.unwrap());
    }
    // No graceful shutdown: the process dies right after the last acknowledgement.
    server.kill9();

    let mut server = Server::spawn(temp.path(), Some(ADMIN_TOKEN), &[]);
    server.wait_ready().await;
    let mut admin = server.admin().await;
    for (tenant_id, secret_key, retention_days) in acknowledged {
        let tenant = admin
            .get_tenant(api_key(
                pb::GetTenantRequest {
                    tenant_id: tenant_id.clone(),
                },
                &secret_key,
            ))
            .await
            .unwrap_or_else(|status| panic!("{tenant_id} lost after kill -9: {status}"))
            .into_inner()
            .tenant
            .unwrap();
        assert_eq!(
            tenant.settings.unwrap().retention_days,
            Some(retention_days)
        );
    }
    let listed = admin
        .list_tenants(bearer(
            pb::ListTenantsRequest {
                page_size: 500,
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tenants.len(), 40);
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(temp.path(), Some(ADMIN_TOKEN), &[]);
    server.wait_ready().await;
    let created = crate::harness::create_tenant(&server, "shop", None).await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    assert!(server.log().contains("store flushed"));

    let mut server = Server::spawn(temp.path(), Some(ADMIN_TOKEN), &[]);
    server.wait_ready().await;
    server
        .admin()
        .await
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: created.id,
            },
            &created.secret_key,
        ))
        .await
        .expect("tenant kept across restart");
}
