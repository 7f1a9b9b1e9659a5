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
