//! Intelligence that keeps itself current, against the real binary: GeoIP databases replaced
//! under a running server (no restart, no failed request), hosting networks by ASN, and
//! `gatehouse intel update` / `intel status` fetching feeds from a local publisher, a `kill -9`
//! in the middle of an update included.

use std::{
    io::{Read, Write},
    path::Path,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use gatehouse_proto::v1::{
    self as pb, blocker_service_client::BlockerServiceClient,
    decision_service_client::DecisionServiceClient,
};
use gatehouse_server::intel::{feeds::builtin_feeds, ip_lists::IpListTables};

use crate::harness::{BINARY, Server, api_key, cli, create_tenant, field, test_mmdb};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

async fn check(
    client: &mut BlockerServiceClient<tonic::transport::Channel>,
    key: &str,
    ip: &str,
) -> Result<pb::CheckVisitorResponse, tonic::Status> {
    client
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: ip.into(),
                ua: CHROME.into(),
                url: "https://shop.example/".into(),
            },
            key,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn city_of(response: &pb::CheckVisitorResponse) -> String {
    response
        .ip_info
        .as_ref()
        .map(|info| info.city.clone())
        .unwrap_or_default()
}

/// Replaces `target` by `source` the way feeds do: a temporary file in the folder, renamed.
fn replace_atomically(source: &Path, target: &Path) {
    let temp = target.with_file_name(".city.mmdb.test.tmp");
    std::fs::copy(source, &temp).unwrap();
    std::fs::rename(&temp, target).unwrap();
}

#[tokio::test]
async fn the_city_database_is_replaced_under_a_running_server_without_a_failed_request() {
    let data_dir = tempfile::tempdir().unwrap();
    // No geoip_city_db configured: the server uses the fed database once it exists.
    let geoip_dir = data_dir.path().join("intel/geoip");
    let mut server = Server::spawn_with_env(
        data_dir.path(),
        Some(crate::harness::ADMIN_TOKEN),
        &[],
        &[("GATEHOUSE_IP_LISTS_RELOAD_SECONDS", "1".into())],
    );
    server.wait_ready().await;
    // The load below sends thousands of checks a minute: above the default rate limit.
    let tenant = create_tenant(
        &server,
        "geo",
        Some(pb::TenantSettings {
            rate_limit_per_minute: Some(1_000_000),
            ..Default::default()
        }),
    )
    .await;
    let mut client = BlockerServiceClient::new(server.channel().await);
    assert_eq!(
        city_of(
            &check(&mut client, &tenant.secret_key, "81.2.69.160")
                .await
                .unwrap()
        ),
        ""
    );

    // A first database appears (the first feed update on a fresh machine).
    std::fs::create_dir_all(&geoip_dir).unwrap();
    let target = geoip_dir.join("city.mmdb");
    replace_atomically(&test_mmdb("flat-city-ipv4.mmdb"), &target);
    let deadline = Instant::now() + Duration::from_secs(20);
    while city_of(
        &check(&mut client, &tenant.secret_key, "81.2.69.160")
            .await
            .unwrap(),
    ) != "London"
    {
        assert!(
            Instant::now() < deadline,
            "the new database was not loaded:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        city_of(
            &check(&mut client, &tenant.secret_key, "89.160.20.112")
                .await
                .unwrap()
        ),
        ""
    );

    // Requests keep coming from four clients while the database is swapped.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let mut client = BlockerServiceClient::new(server.channel().await);
        let key = tenant.secret_key.clone();
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match check(&mut client, &key, "81.2.69.160").await {
                    Ok(response) if city_of(&response) == "London" => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    replace_atomically(&test_mmdb("GeoIP2-City-Test.mmdb"), &target);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let city = city_of(
            &check(&mut client, &tenant.secret_key, "89.160.20.112")
                .await
                .unwrap(),
        );
        if city == "Linköping" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the swap was not seen:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "a request failed or answered wrongly during the swap"
    );
    assert!(answered.load(Ordering::Relaxed) > 20, "the load ran");

    // A broken file keeps the last good database in use.
    std::fs::write(geoip_dir.join(".broken.tmp"), b"not a database").unwrap();
    std::fs::rename(geoip_dir.join(".broken.tmp"), &target).unwrap();
    let log = server
        .log_when(|log| log.contains("GeoIP databases not reloaded"))
        .await;
    assert!(log.contains("GeoIP databases not reloaded"), "{log}");
    assert_eq!(
        city_of(
            &check(&mut client, &tenant.secret_key, "89.160.20.112")
                .await
                .unwrap()
        ),
        "Linköping"
    );
}

#[tokio::test]
async fn an_address_of_a_hosting_asn_on_no_list_is_non_isp() {
    let lists = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &[
            "--ip-lists-dir",
            lists.path().to_str().unwrap(),
            "--geoip-asn-db",
            test_mmdb("GeoLite2-ASN-Test.mmdb").to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let tenant = create_tenant(&server, "hosting", None).await;
    let mut client = BlockerServiceClient::new(server.channel().await);
    // 1.0.0.0/24 is AS15169 (Google) in MaxMind's test database, on no list here.
    let response = check(&mut client, &tenant.secret_key, "1.0.0.1")
        .await
        .unwrap();
    let status = response.ip_status.unwrap();
    assert_eq!(
        status.detect_activity,
        pb::DetectActivity::BlockByIpNonIsp as i32
    );
    assert_eq!(status.detect_activity_label, "BLOCK BY IP NON-ISP");
    assert!(status.block_access);
    let info = response.ip_info.unwrap();
    assert_eq!(info.asn, 15169);
    assert_eq!(info.company, "Google Inc.");
    // A consumer ISP's address (AS1221 Telstra) is a visitor.
    let response = check(&mut client, &tenant.secret_key, "1.128.0.1")
        .await
        .unwrap();
    assert_eq!(
        response.ip_status.unwrap().detect_activity,
        pb::DetectActivity::Visitor as i32
    );
    assert_eq!(response.ip_info.unwrap().asn, 1221);

    // The click face reads the same fact: a click from that address is a datacenter click.
    let mut decisions = DecisionServiceClient::new(server.channel().await);
    let mut event = pb::TrackEventRequest {
        r#type: pb::ClickEventType::PageView.into(),
        url: "https://shop.example/landing".into(),
        visitor_id: "vis_hosted".into(),
        ip: "1.0.0.1".into(),
        data: Some(pb::ClickEventData {
            user_agent: CHROME.into(),
            js_enabled: Some(true),
            time_on_page_ms: Some(45_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    decisions
        .track_event(api_key(event.clone(), &tenant.secret_key))
        .await
        .unwrap();
    event.r#type = pb::ClickEventType::Click.into();
    decisions
        .track_event(api_key(event, &tenant.secret_key))
        .await
        .unwrap();
    let decision = decisions
        .get_decision(api_key(
            pb::GetDecisionRequest {
                visitor_id: "vis_hosted".into(),
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    let datacenter = decision
        .reasons
        .iter()
        .find(|reason| reason.rule == "datacenter_ip")
        .unwrap_or_else(|| panic!("{decision:?}"));
    assert_eq!(datacenter.details, "Hosting network AS15169 (Google Inc.)");
}

/// A publisher on 127.0.0.1 over plain sockets: `/tor-exits` answers `lines` addresses, written
/// slowly when `slow`; `/aws` the AWS sample with an `ETag` and `304`s.
struct Publisher {
    port: u16,
}

impl Publisher {
    fn start(lines: usize, slow: bool) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tor: Arc<Vec<u8>> = Arc::new(
            (0..lines)
                .map(|n| format!("10.{}.{}.{}\n", n >> 16 & 255, n >> 8 & 255, n & 255))
                .collect::<String>()
                .into_bytes(),
        );
        let aws = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds/aws-ip-ranges.json"),
        )
        .unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let tor = tor.clone();
                let aws = aws.clone();
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let read = stream.read(&mut request).unwrap_or(0);
                    let request = String::from_utf8_lossy(&request[..read]).to_string();
                    let (body, etag): (&[u8], &str) = if request.starts_with("GET /aws") {
                        (&aws, "\"aws-1\"")
                    } else {
                        (&tor, "\"tor-1\"")
                    };
                    if request.contains(&format!("if-none-match: {etag}")) {
                        let _ = stream
                            .write_all(b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\n\r\n");
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\netag: {etag}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    for chunk in body.chunks(64 * 1024) {
                        if stream.write_all(chunk).is_err() {
                            return;
                        }
                        if slow {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                });
            }
        });
        Self { port }
    }

    /// A config that points `tor-exits` and `aws` here and switches every other feed off.
    fn config(&self, dir: &Path) -> std::path::PathBuf {
        let mut text = String::new();
        for feed in builtin_feeds(false) {
            text.push_str(&format!("[[intel_feeds]]\nname = \"{}\"\n", feed.name));
            match feed.name.as_str() {
                "tor-exits" | "aws" => text.push_str(&format!(
                    "url = \"http://127.0.0.1:{}/{}\"\nenabled = true\n",
                    self.port, feed.name
                )),
                _ => text.push_str("enabled = false\n"),
            }
        }
        let path = dir.join("gatehouse.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

#[tokio::test]
async fn intel_update_fetches_reports_and_survives_kill_9() {
    let publisher = Publisher::start(200_000, false);
    let dir = tempfile::tempdir().unwrap();
    let config = publisher.config(dir.path());
    let data_dir = dir.path().join("data");
    let args = |command: &str| {
        vec![
            "intel".to_string(),
            command.to_string(),
            "--config".into(),
            config.display().to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ]
    };
    let run = |command: &str| {
        let owned = args(command);
        let borrowed: Vec<&str> = owned.iter().map(String::as_str).collect();
        cli(&borrowed, &[])
    };
    let updated = run("update").unwrap();
    assert_eq!(field(&updated, "tor-exits"), "updated entries=200000");
    assert_eq!(field(&updated, "aws"), "updated entries=5");
    let again = run("update").unwrap();
    assert_eq!(field(&again, "aws"), "not_modified entries=5");
    let status = run("status").unwrap();
    assert_eq!(field(&status, "last_error"), "none");
    assert!(
        status
            .iter()
            .any(|(name, value)| name == "feed" && value == "dbip-city-lite")
    );

    let lists_dir = data_dir.join("intel/lists");
    let load = || {
        let (tables, warnings) = IpListTables::load_dir(&lists_dir).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        tables.entries()
    };
    assert_eq!(load(), 200_005);

    // kill -9 at many points of an update of a 200 000-line list served slowly: the folder
    // always loads, with the old list or the new one, never half of one.
    let slow = Publisher::start(150_000, true);
    let slow_config = slow.config(dir.path());
    for delay_ms in [50u64, 150, 300, 600, 1200, 2000] {
        let mut child = Command::new(BINARY)
            .args(["intel", "update", "--feed", "tor-exits", "--config"])
            .arg(&slow_config)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let entries = load();
        assert!(
            entries == 200_005 || entries == 150_005,
            "after kill -9 at {delay_ms} ms the folder holds {entries} entries"
        );
    }
}
