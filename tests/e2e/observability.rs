//! What an operator sees: `/metrics` in the Prometheus text format (checked by Debian's
//! `promtool`), counters and histograms that move with the traffic, and an access log line per
//! request that never holds a key.

use std::{path::Path, process::Command};

use gatehouse_proto::v1::{self as pb, blocker_service_client::BlockerServiceClient};

use crate::harness::{ADMIN_TOKEN, Server, api_key, create_tenant};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

async fn scrape(server: &Server) -> String {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/metrics", server.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn promtool_check(text: &str) {
    let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("promtool is missing: apt-get install prometheus (scripts/check.sh does)");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{promtool} check metrics < {}",
            file.path().display()
        ))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const CHECK_VISITOR_OK: &str = "gatehouse_requests_total{code=\"OK\",method=\"CheckVisitor\",\
                                protocol=\"grpc\",service=\"BlockerService\"}";
const CHECK_VISITOR_LATENCY: &str = "gatehouse_request_duration_seconds_count{\
                                     method=\"CheckVisitor\",protocol=\"grpc\",\
                                     service=\"BlockerService\"}";

#[tokio::test]
async fn metrics_pass_promtool_and_move_with_the_traffic_and_the_access_log_holds_no_key() {
    let server = Server::start().await;
    let tenant = create_tenant(&server, "shop", None).await;
    let mut blocker = BlockerServiceClient::new(server.channel().await);
    let check = |ua: &str| {
        api_key(
            pb::CheckVisitorRequest {
                ip: "198.51.100.7".into(),
                ua: ua.into(),
                url: "/shop?q=shoes".into(),
            },
            &tenant.secret_key,
        )
    };
    for _ in 0..3 {
        blocker.check_visitor(check(CHROME)).await.unwrap();
    }
    blocker
        .check_visitor(check("python-requests/2.31"))
        .await
        .unwrap();
    let refused = blocker
        .check_visitor(api_key(
            pb::CheckVisitorRequest::default(),
            "sk_not_a_real_key_0000000000000000000000",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let invalid = blocker
        .check_visitor(api_key(
            pb::CheckVisitorRequest::default(),
            &tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    // A smart URL visit on the HTTP port.
    let healthz = reqwest::get(format!("http://127.0.0.1:{}/healthz", server.http_port))
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);

    let first = scrape(&server).await;
    promtool_check(&first);
    assert_eq!(sample(&first, CHECK_VISITOR_OK), 4.0, "{first}");
    assert_eq!(sample(&first, CHECK_VISITOR_LATENCY), 6.0, "{first}");
    assert_eq!(
        sample(
            &first,
            "gatehouse_requests_total{code=\"InvalidArgument\",method=\"CheckVisitor\",protocol=\"grpc\",service=\"BlockerService\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&first, "gatehouse_refusals_total{reason=\"UNAUTHORIZED\"}"),
        1.0
    );
    assert_eq!(
        sample(
            &first,
            "gatehouse_verdicts_total{face=\"blocker\",verdict=\"VISITOR\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &first,
            "gatehouse_verdicts_total{face=\"blocker\",verdict=\"BLOCK BY SPIDER CRAWLER\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &first,
            "gatehouse_requests_total{code=\"200\",method=\"/healthz\",protocol=\"http\",service=\"http\"}"
        ),
        1.0
    );
    assert!(sample(&first, "gatehouse_store_group_batches_count") >= 1.0);
    assert!(sample(&first, "gatehouse_store_flush_seconds_count") >= 1.0);
    assert!(first.contains("gatehouse_build_info{version="));
    assert!(
        !first.contains("tenant_id="),
        "no tenant label unless opted in"
    );

    blocker.check_visitor(check(CHROME)).await.unwrap();
    let second = scrape(&server).await;
    assert_eq!(sample(&second, CHECK_VISITOR_OK), 5.0);

    // The access log: one line per request, with the tenant and the verdict, never a key.
    let log = server
        .log_when(|log| log.matches("CheckVisitor").count() >= 7)
        .await;
    let access: Vec<_> = log
        .lines()
        .filter(|line| line.contains("gatehouse::access"))
        .collect();
    assert!(
        access
            .iter()
            .filter(|line| line.contains("method=\"CheckVisitor\"")
                || line.contains("method=CheckVisitor"))
            .count()
            >= 7,
        "{log}"
    );
    assert!(
        access
            .iter()
            .any(|line| line.contains(&tenant.id) && line.contains("BLOCK BY SPIDER CRAWLER")),
        "{log}"
    );
    for secret in [
        tenant.secret_key.as_str(),
        tenant.publishable_key.as_str(),
        ADMIN_TOKEN,
        "sk_not_a_real_key",
    ] {
        assert!(!log.contains(secret), "a key reached the log");
    }
}

#[tokio::test]
async fn tenant_labels_are_opt_in_and_metrics_can_have_their_own_listener() {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start_with(
        &[],
        &[
            ("GATEHOUSE_METRICS_TENANT_LABEL", "true".into()),
            (
                "GATEHOUSE_METRICS_LISTEN",
                format!("127.0.0.1:{metrics_port}"),
            ),
            ("GATEHOUSE_ACCESS_LOG", "false".into()),
        ],
    )
    .await;
    let tenant = create_tenant(&server, "shop", None).await;
    BlockerServiceClient::new(server.channel().await)
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: "198.51.100.7".into(),
                ua: CHROME.into(),
                url: "/".into(),
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let on_http = client
        .get(format!("http://127.0.0.1:{}/metrics", server.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(on_http.status(), 404, "metrics moved to their own listener");
    let text = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    promtool_check(&text);
    assert_eq!(
        sample(
            &text,
            &format!(
                "gatehouse_tenant_requests_total{{code=\"OK\",service=\"BlockerService\",tenant_id=\"{}\"}}",
                tenant.id
            )
        ),
        1.0,
        "{text}"
    );
    assert!(!server.log().contains("gatehouse::access"));
}
