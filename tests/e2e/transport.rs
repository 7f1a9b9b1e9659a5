//! What any client sees first: health, reflection, grpc-web, the HTTP port and start-up errors.

use std::time::Duration;

use gatehouse_proto::v1 as pb;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::harness::{ADMIN_TOKEN, Server, bearer, create_tenant};

async fn raw_http(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .unwrap();
    response
}

#[tokio::test]
async fn reflection_lists_every_registered_service() {
    let server = Server::start().await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    for expected in ["gatehouse.v1.AdminService", "grpc.health.v1.Health"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn grpc_web_and_healthz_answer_over_http1() {
    let server = Server::start().await;
    let port: u16 = server.grpc_url.rsplit(':').next().unwrap().parse().unwrap();
    // An empty HealthCheckRequest in one grpc-web frame: flag 0, length 0.
    let mut bytes = b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\n"
        .to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
    let response = raw_http(port, &bytes).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("application/grpc-web"), "{text}");
    assert!(
        text.contains("grpc-status:0"),
        "trailer frame missing: {text}"
    );

    let response = raw_http(
        server.http_port,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains(r#"{"status":"ok"}"#), "{text}");
}

#[tokio::test]
async fn tenants_page_through_in_order() {
    let server = Server::start().await;
    for n in 0..5 {
        create_tenant(&server, &format!("t{n}"), None).await;
    }
    let mut admin = server.admin().await;
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = admin
            .list_tenants(bearer(
                pb::ListTenantsRequest {
                    page_size: 2,
                    page_token,
                },
                ADMIN_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.tenants.len() <= 2);
        seen.extend(page.tenants.into_iter().map(|tenant| tenant.tenant_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
}

#[tokio::test]
async fn a_config_file_with_a_wrong_key_stops_start_up_with_its_name() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("gatehouse.toml");
    std::fs::write(&config, "listne = \"127.0.0.1:1\"\n").unwrap();
    let output = std::process::Command::new(crate::harness::BINARY)
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            temp.path().to_str().unwrap(),
        ])
        .env_remove("GATEHOUSE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listne"), "{stderr}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(temp.path(), Some(ADMIN_TOKEN), &["--log-format", "json"]);
    server.wait_ready().await;
    create_tenant(&server, "shop", None).await;
    let log = server.log();
    let lines: Vec<_> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(
        !log.contains(ADMIN_TOKEN),
        "the admin token must never be logged"
    );
}

/// One grpc-web call over HTTP/1.1 as a browser makes it, from `origin`; the raw response.
async fn browser_call(port: u16, path: &str, key: &str, origin: &str, message: &[u8]) -> String {
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {origin}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nX-Api-Key: {key}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    String::from_utf8_lossy(&raw_http(port, &request).await).into_owned()
}

async fn preflight(port: u16, origin: &str) -> String {
    let request = format!(
        "OPTIONS /gatehouse.v1.DecisionService/TrackEvent HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type,x-api-key,x-grpc-web\r\n\
         Connection: close\r\n\r\n"
    );
    String::from_utf8_lossy(&raw_http(port, request.as_bytes()).await).to_ascii_lowercase()
}

#[tokio::test]
async fn browsers_reach_publishable_rpcs_only_from_their_tenants_origins() {
    use prost::Message as _;

    let server = Server::start().await;
    let port: u16 = server.grpc_url.rsplit(':').next().unwrap().parse().unwrap();
    let shop = create_tenant(
        &server,
        "shop",
        Some(pb::TenantSettings {
            allowed_origins: vec!["http://shop.test:8080".into()],
            ..Default::default()
        }),
    )
    .await;
    let blog = create_tenant(&server, "blog", None).await;

    // The preflight: an allowed origin is echoed; any other gets no CORS headers at all.
    let allowed = preflight(port, "http://shop.test:8080").await;
    assert!(
        allowed.contains("access-control-allow-origin: http://shop.test:8080"),
        "{allowed}"
    );
    let refused = preflight(port, "http://evil.test").await;
    assert!(
        !refused.contains("access-control-allow-origin"),
        "{refused}"
    );

    let page_view = pb::TrackEventRequest {
        r#type: pb::ClickEventType::PageView.into(),
        url: "http://shop.test:8080/landing?gclid=abc".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let track = "/gatehouse.v1.DecisionService/TrackEvent";
    let ok = browser_call(
        port,
        track,
        &shop.publishable_key,
        "http://shop.test:8080",
        &page_view,
    )
    .await;
    assert!(ok.contains("grpc-status:0"), "{ok}");
    assert!(
        ok.to_ascii_lowercase()
            .contains("access-control-allow-origin: http://shop.test:8080"),
        "{ok}"
    );

    // PERMISSION_DENIED (7): another origin, the secret key in a browser, another tenant's key,
    // and a secret-key RPC with the publishable key.
    for (key, origin, path) in [
        (&shop.publishable_key, "http://evil.test", track),
        (&shop.secret_key, "http://shop.test:8080", track),
        (&blog.publishable_key, "http://shop.test:8080", track),
        (
            &shop.publishable_key,
            "http://shop.test:8080",
            "/gatehouse.v1.DecisionService/GetStats",
        ),
        (
            &ADMIN_TOKEN.to_string(),
            "http://shop.test:8080",
            "/gatehouse.v1.AdminService/ListTenants",
        ),
    ] {
        let answer = browser_call(port, path, key, origin, &[]).await;
        assert!(
            answer.contains("grpc-status: 7") || answer.contains("grpc-status:7"),
            "{key:.3} from {origin} to {path}: {answer}"
        );
    }

    // Origins change with the tenant's settings, at once.
    server
        .admin()
        .await
        .update_tenant(bearer(
            pb::UpdateTenantRequest {
                tenant_id: shop.id.clone(),
                name: None,
                settings: Some(pb::TenantSettings {
                    allowed_origins: vec!["https://shop.example".into()],
                    replace_allowed_origins: true,
                    ..Default::default()
                }),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap();
    let moved = preflight(port, "http://shop.test:8080").await;
    assert!(!moved.contains("access-control-allow-origin"), "{moved}");
    let new = preflight(port, "https://shop.example").await;
    assert!(new.contains("access-control-allow-origin"), "{new}");
}
