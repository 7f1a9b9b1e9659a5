//! Per-tenant rate limits and their headers.

use gatehouse_proto::v1 as pb;
use tonic::Code;

use crate::harness::{Server, api_key, create_tenant, reason};

fn header(metadata: &tonic::metadata::MetadataMap, name: &str) -> u64 {
    metadata
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn over_the_limit_is_resource_exhausted_with_headers() {
    let server = Server::start().await;
    let limit = 3;
    let shop = create_tenant(
        &server,
        "shop",
        Some(pb::TenantSettings {
            rate_limit_per_minute: Some(limit),
            ..Default::default()
        }),
    )
    .await;
    let mut admin = server.admin().await;
    let request = || {
        api_key(
            pb::GetTenantRequest {
                tenant_id: shop.id.clone(),
            },
            &shop.secret_key,
        )
    };

    // The window is one wall-clock minute; if it turns over mid-test, count again.
    for _attempt in 0..3 {
        let mut resets = Vec::new();
        for expected_remaining in (0..u64::from(limit)).rev() {
            let response = admin.get_tenant(request()).await.expect("within the limit");
            let metadata = response.metadata();
            assert_eq!(header(metadata, "x-ratelimit-limit"), u64::from(limit));
            resets.push(header(metadata, "x-ratelimit-reset"));
            if header(metadata, "x-ratelimit-remaining") != expected_remaining {
                break;
            }
        }
        let refused = match admin.get_tenant(request()).await {
            Err(status) => status,
            Ok(_) => continue, // a new minute began
        };
        if resets.windows(2).any(|pair| pair[0] != pair[1]) {
            continue;
        }
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert_eq!(reason(&refused), "RATE_LIMITED");
        let metadata = refused.metadata();
        assert_eq!(header(metadata, "x-ratelimit-limit"), u64::from(limit));
        assert_eq!(header(metadata, "x-ratelimit-remaining"), 0);
        let reset = header(metadata, "x-ratelimit-reset");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            reset > now && reset <= now + 61,
            "reset {reset} is not within the next minute of {now}"
        );
        assert!(
            refused.message().contains("retry after"),
            "{}",
            refused.message()
        );
        return;
    }
    panic!("the rate limit never refused a request");
}

#[tokio::test]
async fn limits_are_per_tenant() {
    let server = Server::start().await;
    let settings = Some(pb::TenantSettings {
        rate_limit_per_minute: Some(1),
        ..Default::default()
    });
    let first = create_tenant(&server, "first", settings.clone()).await;
    let second = create_tenant(&server, "second", settings).await;
    let mut admin = server.admin().await;
    // Use up the first tenant's limit (possibly across a minute boundary: then two calls pass).
    let mut refused = false;
    for _ in 0..3 {
        if admin
            .get_tenant(api_key(
                pb::GetTenantRequest {
                    tenant_id: first.id.clone(),
                },
                &first.secret_key,
            ))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused);
    admin
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: second.id.clone(),
            },
            &second.secret_key,
        ))
        .await
        .expect("the second tenant has its own budget");
}
