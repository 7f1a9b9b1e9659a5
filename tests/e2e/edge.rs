//! The edge in a real deployment: TLS on both ports (gRPC, grpc-web, HTTP, a browser), certificate
//! reloads, client certificates for the admin token, and the client's real IP behind a real nginx
//! and behind PROXY protocol headers, while the same headers from anyone else are ignored.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use gatehouse_proto::v1::{
    self as pb, blocker_service_client::BlockerServiceClient,
    decision_service_client::DecisionServiceClient,
};
use prost::Message as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::harness::{ADMIN_TOKEN, Server, api_key, bearer, create_tenant};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const ALLOWED: &str = "https://shop.example/landing";
const BLOCKED: &str = "https://shop.example/blocked";

/// A throw-away CA that issues server and client certificates.
struct Pki {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_pem: String,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Gatehouse test CA");
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        Self {
            ca_params,
            ca_key,
            ca_pem,
            dir,
        }
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a certificate for `names`; returns (certificate PEM, key PEM, key's SPKI DER).
    fn issue(&self, names: &[&str], common_name: &str, client: bool) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if client {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (
            cert.pem(),
            key.serialize_pem(),
            rcgen::PublicKeyData::subject_public_key_info(&key),
        )
    }

    /// Writes a server certificate for localhost and 127.0.0.1 to `cert.pem` / `key.pem`.
    fn write_server_pair(&self, common_name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
        let (cert, key, spki) = self.issue(&["localhost", "127.0.0.1"], common_name, false);
        let cert_path = self.dir.path().join("cert.pem");
        let key_path = self.dir.path().join("key.pem");
        // Key first, then the certificate: a reload between the two writes fails and is retried.
        std::fs::write(&key_path, key).unwrap();
        std::fs::write(&cert_path, cert).unwrap();
        (cert_path, key_path, spki)
    }
}

fn tls_endpoint(port: u16, ca_pem: &str, identity: Option<(&str, &str)>) -> Endpoint {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_only()
        .build()
        .unwrap()
}

/// A server with a certificate from `pki`, ready over TLS; with the certificate key's SPKI.
async fn start_tls(pki: &Pki, extra_env: &[(&str, String)]) -> (Server, Vec<u8>) {
    let (cert, key, spki) = pki.write_server_pair("gatehouse one");
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.keep();
    let mut envs = vec![("GATEHOUSE_TLS_RELOAD_SECONDS", "1".to_string())];
    envs.extend(extra_env.iter().cloned());
    let mut server = Server::spawn_with_env(
        &data_dir,
        Some(ADMIN_TOKEN),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &envs,
    );
    let port = server.grpc_port();
    let ca = pki.ca_pem.clone();
    server
        .wait_ready_with(move || tls_endpoint(port, &ca, None))
        .await;
    (server, spki)
}

/// Creates a tenant with the admin token over `channel`.
async fn create_tenant_over(
    channel: tonic::transport::Channel,
    name: &str,
) -> Result<pb::CreateTenantResponse, tonic::Status> {
    gatehouse_proto::v1::admin_service_client::AdminServiceClient::new(channel)
        .create_tenant(bearer(
            pb::CreateTenantRequest {
                name: name.into(),
                settings: None,
            },
            ADMIN_TOKEN,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The certificate a fresh TLS handshake with `port` is shown.
async fn presented_certificate(port: u16, ca_pem: &str) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, tcp).await.unwrap();
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

use rustls_pki_types::pem::PemObject as _;

#[tokio::test]
async fn tls_serves_grpc_grpc_web_and_http_and_reloads_the_certificate() {
    let pki = Pki::new();
    let (server, _) = start_tls(&pki, &[]).await;
    let port = server.grpc_port();

    // gRPC over TLS (HTTP/2 by ALPN): a tenant and a visitor check.
    let channel = tls_endpoint(port, &pki.ca_pem, None)
        .connect()
        .await
        .unwrap();
    let created = create_tenant_over(channel.clone(), "shop").await.unwrap();
    let checked = BlockerServiceClient::new(channel.clone())
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: "198.51.100.7".into(),
                ua: CHROME.into(),
                url: "/shop".into(),
            },
            &created.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.ip, "198.51.100.7");

    // grpc-web over TLS (HTTP/1.1), as a browser library sends it.
    let https = https_client(&pki.ca_pem);
    let grpc_web = https
        .post(format!(
            "https://localhost:{port}/grpc.health.v1.Health/Check"
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(grpc_web.status(), 200);
    assert_eq!(grpc_web.version(), reqwest::Version::HTTP_11);
    let body = grpc_web.bytes().await.unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("grpc-status:0"),
        "{body:?}"
    );

    // The HTTP port is TLS too.
    let healthz = https
        .get(format!("https://localhost:{}/healthz", server.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    // Plain text to a TLS port gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/healthz", server.http_port))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // A renewed certificate is picked up by new connections, on change and on SIGHUP, while the
    // connection opened before keeps working.
    let first = presented_certificate(port, &pki.ca_pem).await;
    let (_, _, renewed_spki) = pki.write_server_pair("gatehouse renewed");
    let deadline = Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        let shown = presented_certificate(port, &pki.ca_pem).await;
        if shown != first {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "renewed certificate never served:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        renewed
            .windows(renewed_spki.len())
            .any(|window| window == renewed_spki.as_slice()),
        "the new certificate carries the new key"
    );
    pki.write_server_pair("gatehouse after sighup");
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while presented_certificate(port, &pki.ca_pem).await == renewed {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let still = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(still.is_ok(), "the open connection was dropped: {still:?}");
    assert!(
        server
            .log_when(|log| log.contains("TLS certificate reloaded"))
            .await
            .contains("TLS certificate reloaded")
    );
}

#[tokio::test]
async fn with_a_client_ca_the_admin_token_needs_a_client_certificate() {
    let pki = Pki::new();
    let (server, _) = start_tls(
        &pki,
        &[(
            "GATEHOUSE_TLS_CLIENT_CA",
            pki.ca_path().display().to_string(),
        )],
    )
    .await;
    let port = server.grpc_port();
    let anonymous = tls_endpoint(port, &pki.ca_pem, None)
        .connect()
        .await
        .unwrap();
    let refused = create_tenant_over(anonymous.clone(), "shop")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(
        refused.message().contains("client certificate"),
        "{refused:?}"
    );

    let (cert, key, _) = pki.issue(&["operator"], "operator", true);
    let operator = tls_endpoint(port, &pki.ca_pem, Some((&cert, &key)))
        .connect()
        .await
        .unwrap();
    let created = create_tenant_over(operator, "shop").await.unwrap();

    // Tenants' keys need no client certificate.
    BlockerServiceClient::new(anonymous)
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: "198.51.100.7".into(),
                ua: CHROME.into(),
                url: "/".into(),
            },
            &created.secret_key,
        ))
        .await
        .unwrap();

    // The operator CLI: over https with the CA, and the client certificate the token needs.
    let cert_path = pki.dir.path().join("operator.pem");
    let key_path = pki.dir.path().join("operator.key");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let server_url = format!("https://127.0.0.1:{port}");
    let ca = pki.ca_path();
    let base = [
        "tenant",
        "list",
        "--server",
        server_url.as_str(),
        "--tls-ca",
        ca.to_str().unwrap(),
    ];
    let listed = crate::harness::cli(
        &[
            &base[..],
            &[
                "--tls-client-cert",
                cert_path.to_str().unwrap(),
                "--tls-client-key",
                key_path.to_str().unwrap(),
            ],
        ]
        .concat(),
        &[("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .unwrap();
    assert_eq!(crate::harness::field(&listed, "name"), "shop");
    let refused =
        crate::harness::cli(&base, &[("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN)]).unwrap_err();
    assert!(refused.contains("client certificate"), "{refused}");

    // A certificate from another CA fails the handshake itself.
    let stranger = Pki::new();
    let (cert, key, _) = stranger.issue(&["intruder"], "intruder", true);
    let intruder = tls_endpoint(port, &pki.ca_pem, Some((&cert, &key)))
        .connect()
        .await;
    let failed = match intruder {
        Err(_) => true,
        Ok(channel) => HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_err(),
    };
    assert!(failed, "a certificate from an unknown CA was accepted");
}

async fn create_link(server_channel: tonic::transport::Channel, secret_key: &str, tenant: &str) {
    gatehouse_proto::v1::admin_service_client::AdminServiceClient::new(server_channel)
        .create_smart_url(api_key(
            pb::CreateSmartUrlRequest {
                tenant_id: tenant.into(),
                smart_url: Some(pb::SmartUrl {
                    keyname: "tls-gate".into(),
                    allowed_destination: ALLOWED.into(),
                    blocked_destination: BLOCKED.into(),
                    js_confirmation_required: true,
                    ..Default::default()
                }),
            },
            secret_key,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn chromium_runs_the_confirmation_page_over_https() {
    use base64::Engine as _;
    use sha2::Digest as _;

    let pki = Pki::new();
    let (server, spki) = start_tls(&pki, &[]).await;
    let channel = tls_endpoint(server.grpc_port(), &pki.ca_pem, None)
        .connect()
        .await
        .unwrap();
    let created = create_tenant_over(channel.clone(), "links").await.unwrap();
    let tenant_id = created.tenant.unwrap().tenant_id;
    create_link(channel, &created.secret_key, &tenant_id).await;
    let link = format!("https://localhost:{}/r/tls-gate", server.http_port);
    let https = https_client(&pki.ca_pem);
    let page = https
        .get(&link)
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the confirmation page comes first");

    // Chromium trusts our test key by its SPKI hash, the switch meant for exactly this.
    let spki_hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&spki));
    let profile = tempfile::tempdir().unwrap();
    let mut browser = crate::harness::headless_chromium(
        &link,
        CHROME,
        profile.path(),
        &[format!("--ignore-certificate-errors-spki-list={spki_hash}")],
    );
    let location = crate::harness::await_redirect(&https, &link, CHROME, || {
        format!("Chromium never confirmed over https:\n{}", server.log())
    })
    .await;
    assert_eq!(location, ALLOWED);
    let _ = browser.kill();
    let _ = browser.wait();
}

/// One HTTP/1.1 exchange from source address `source` to `port`, with `prefix` bytes (a PROXY
/// header) sent first; the raw answer.
async fn raw_http_from(source: IpAddr, port: u16, prefix: &[u8], request: &[u8]) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let Ok(mut stream) = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
    else {
        return String::new();
    };
    // A server that refuses the connection closes it: writes may then fail, and the answer is
    // empty.
    if stream.write_all(prefix).await.is_err() || stream.write_all(request).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn visit(headers: &str) -> Vec<u8> {
    format!(
        "GET /r/proxied HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: {CHROME}\r\n{headers}\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

fn track(publishable_key: &str, headers: &str) -> Vec<u8> {
    let message = pb::TrackEventRequest {
        r#type: pb::ClickEventType::PageView.into(),
        url: "https://shop.example/landing?gclid=edge".into(),
        visitor_id: "vis_edge".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&message);
    let mut request = format!(
        "POST /gatehouse.v1.DecisionService/TrackEvent HTTP/1.1\r\nHost: shop.example\r\n\
         Origin: https://shop.example\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nX-Api-Key: {publishable_key}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

fn location(answer: &str) -> &str {
    answer
        .lines()
        .find_map(|line| {
            line.strip_prefix("location: ")
                .or_else(|| line.strip_prefix("Location: "))
        })
        .unwrap_or_else(|| panic!("no location in {answer}"))
        .trim()
}

/// A server that trusts 127.0.0.1 as its proxy and lists 127.0.0.66 as a Tor exit; a tenant
/// with a link and a browser origin.
struct ProxyFixture {
    server: Server,
    tenant: crate::harness::TestTenant,
    _lists: tempfile::TempDir,
}

const TOR_VISITOR: &str = "127.0.0.66";
const DIRECT_VISITOR: &str = "127.0.0.67";

async fn proxy_fixture() -> ProxyFixture {
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(
        lists.path().join("tor-exits.txt"),
        format!("# label: Tor\n{TOR_VISITOR}\n"),
    )
    .unwrap();
    let envs = vec![("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1".to_string())];
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.keep();
    let mut server = Server::spawn_with_env(
        &data_dir,
        Some(ADMIN_TOKEN),
        &["--ip-lists-dir", lists.path().to_str().unwrap()],
        &envs,
    );
    server.wait_ready().await;
    let tenant = crate::harness::TestTenant {
        id: String::new(),
        publishable_key: String::new(),
        secret_key: String::new(),
    };
    ProxyFixture {
        server,
        tenant,
        _lists: lists,
    }
}

async fn wait_http(port: u16, prefix: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            raw_http_from(
                "127.0.0.1".parse().unwrap(),
                port,
                prefix,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ),
        )
        .await
        .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(Instant::now() < deadline, "HTTP port never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl ProxyFixture {
    /// Creates the tenant (with the browser origin) and its link.
    async fn set_up(&mut self) {
        let tenant = create_tenant(
            &self.server,
            "shop",
            Some(pb::TenantSettings {
                allowed_origins: vec!["https://shop.example".into()],
                ..Default::default()
            }),
        )
        .await;
        gatehouse_proto::v1::admin_service_client::AdminServiceClient::new(
            self.server.channel().await,
        )
        .create_smart_url(api_key(
            pb::CreateSmartUrlRequest {
                tenant_id: tenant.id.clone(),
                smart_url: Some(pb::SmartUrl {
                    keyname: "proxied".into(),
                    allowed_destination: ALLOWED.into(),
                    blocked_destination: BLOCKED.into(),
                    ..Default::default()
                }),
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap();
        self.tenant = tenant;
    }

    async fn recorded_ips(&self) -> Vec<String> {
        DecisionServiceClient::new(self.server.channel().await)
            .list_click_events(api_key(
                pb::ListClickEventsRequest {
                    visitor_id: "vis_edge".into(),
                    ..Default::default()
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
            .events
            .into_iter()
            .map(|event| event.ip)
            .collect()
    }
}

struct Nginx {
    child: Child,
    port: u16,
    _prefix: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's nginx on a free loopback port, proxying the smart-URL path to the HTTP port and the
/// grpc-web paths to the gRPC port the way deploy/nginx.conf does.
async fn start_nginx(http_port: u16, grpc_port: u16) -> Nginx {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("nginx is missing: apt-get install nginx (scripts/check.sh does)");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = tempfile::tempdir().unwrap();
    let root = prefix.path().display();
    let config = format!(
        r#"
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header Forwarded "";
        location /gatehouse.v1. {{
            proxy_pass http://127.0.0.1:{grpc_port};
        }}
        location / {{
            proxy_pass http://127.0.0.1:{http_port};
        }}
    }}
}}
"#
    );
    let config_path = prefix.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(prefix.path())
        .arg("-c")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Nginx {
        child,
        port,
        _prefix: prefix,
    }
}

#[tokio::test]
async fn behind_nginx_the_forwarded_client_is_the_visitor_and_the_same_header_direct_is_ignored() {
    let mut f = proxy_fixture().await;
    f.set_up().await;
    let nginx = start_nginx(f.server.http_port, f.server.grpc_port()).await;
    let tor: IpAddr = TOR_VISITOR.parse().unwrap();
    let direct: IpAddr = DIRECT_VISITOR.parse().unwrap();

    // The Tor visitor comes through nginx: its address is the forwarded one, and it is blocked.
    let through = raw_http_from(tor, nginx.port, b"", &visit("")).await;
    assert_eq!(location(&through), BLOCKED, "{through}");
    // A browser call from the same visitor, through nginx, is recorded with its address.
    let tracked = raw_http_from(tor, nginx.port, b"", &track(&f.tenant.publishable_key, "")).await;
    assert!(tracked.contains("grpc-status:0"), "{tracked}");
    assert_eq!(f.recorded_ips().await, vec![TOR_VISITOR.to_string()]);

    // Straight to the server from a peer that is not a trusted proxy, the same claim is ignored:
    // the peer itself is the visitor.
    let forged = format!("X-Forwarded-For: {TOR_VISITOR}\r\nForwarded: for={TOR_VISITOR}\r\n");
    let direct_visit = raw_http_from(direct, f.server.http_port, b"", &visit(&forged)).await;
    assert_eq!(location(&direct_visit), ALLOWED, "{direct_visit}");
    let direct_track = raw_http_from(
        direct,
        f.server.grpc_port(),
        b"",
        &track(&f.tenant.publishable_key, &forged),
    )
    .await;
    assert!(direct_track.contains("grpc-status:0"), "{direct_track}");
    assert_eq!(
        f.recorded_ips().await,
        vec![TOR_VISITOR.to_string(), DIRECT_VISITOR.to_string()]
    );

    // A client that sends its own X-Forwarded-For through nginx only adds a hop on the left.
    let sneaky = raw_http_from(
        direct,
        nginx.port,
        b"",
        &visit(&format!("X-Forwarded-For: {TOR_VISITOR}\r\n")),
    )
    .await;
    assert_eq!(location(&sneaky), ALLOWED, "{sneaky}");
}

fn proxy_v2(source: [u8; 4], port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&source);
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(&port.to_be_bytes());
    header.extend_from_slice(&443u16.to_be_bytes());
    header
}

#[tokio::test]
async fn proxy_protocol_v1_and_v2_name_the_client_on_both_ports() {
    let mut f = proxy_fixture().await;
    f.set_up().await;
    // The same data dir, restarted with PROXY protocol on both listeners.
    let data_dir = f.server.data_dir.clone();
    f.server.kill9();
    let mut server = Server::spawn_with_env(
        &data_dir,
        Some(ADMIN_TOKEN),
        &["--ip-lists-dir", f._lists.path().to_str().unwrap()],
        &[
            ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1".to_string()),
            ("GATEHOUSE_PROXY_PROTOCOL", "true".to_string()),
            ("GATEHOUSE_HTTP_PROXY_PROTOCOL", "true".to_string()),
        ],
    );
    let v1_local = b"PROXY TCP4 127.0.0.1 127.0.0.1 40000 8080\r\n";
    wait_http(server.http_port, v1_local).await;
    let lb: IpAddr = "127.0.0.1".parse().unwrap();

    let v1 = format!("PROXY TCP4 {TOR_VISITOR} 127.0.0.1 51000 443\r\n");
    let visit_v1 = raw_http_from(lb, server.http_port, v1.as_bytes(), &visit("")).await;
    assert_eq!(location(&visit_v1), BLOCKED, "{visit_v1}");
    let visit_v2 = raw_http_from(
        lb,
        server.http_port,
        &proxy_v2([127, 0, 0, 66], 51001),
        &visit(""),
    )
    .await;
    assert_eq!(location(&visit_v2), BLOCKED, "{visit_v2}");
    let clean_v2 = raw_http_from(
        lb,
        server.http_port,
        &proxy_v2([127, 0, 0, 67], 51002),
        &visit(""),
    )
    .await;
    assert_eq!(location(&clean_v2), ALLOWED, "{clean_v2}");

    // grpc-web on the gRPC port, with a v2 and a v1 header.
    let key = f.tenant.publishable_key.clone();
    let grpc_port = server.grpc_port();
    let tracked = raw_http_from(
        lb,
        grpc_port,
        &proxy_v2([127, 0, 0, 66], 51003),
        &track(&key, ""),
    )
    .await;
    assert!(tracked.contains("grpc-status:0"), "{tracked}");
    let v1_direct = format!("PROXY TCP4 {DIRECT_VISITOR} 127.0.0.1 51004 443\r\n");
    let tracked = raw_http_from(lb, grpc_port, v1_direct.as_bytes(), &track(&key, "")).await;
    assert!(tracked.contains("grpc-status:0"), "{tracked}");

    // A connection without the header, or from a peer that is not a trusted proxy, is closed.
    let bare = raw_http_from(lb, server.http_port, b"", &visit("")).await;
    assert!(bare.is_empty(), "{bare}");
    let untrusted = raw_http_from(
        DIRECT_VISITOR.parse().unwrap(),
        server.http_port,
        v1.as_bytes(),
        &visit(""),
    )
    .await;
    assert!(untrusted.is_empty(), "{untrusted}");

    // Read the recorded addresses back over grpc-web with the secret key (PROXY header first).
    let list = pb::ListClickEventsRequest {
        visitor_id: "vis_edge".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(list.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&list);
    let mut request = format!(
        "POST /gatehouse.v1.DecisionService/ListClickEvents HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nX-Api-Key: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        f.tenant.secret_key,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let answer = raw_http_from(lb, grpc_port, v1_local, &request).await;
    assert!(answer.contains(TOR_VISITOR), "{answer}");
    assert!(answer.contains(DIRECT_VISITOR), "{answer}");
    server.kill9();
}
