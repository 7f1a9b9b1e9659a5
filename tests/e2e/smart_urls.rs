//! Smart URLs against the real binary: destinations by verdict, per-link blocker settings, the
//! invalid keyname, the JavaScript confirmation flow over gRPC, the `/r/{keyname}` redirect with a
//! real HTTP client, and the confirmation page run by headless Chromium.

use gatehouse_proto::v1::{
    self as pb, blocker_service_client::BlockerServiceClient,
    smart_url_service_client::SmartUrlServiceClient,
};
use tonic::Code;

use crate::harness::{Server, TestTenant, api_key, create_tenant, reason, test_mmdb};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                      Gecko) Chrome/124.0.0.0 Safari/537.36";
const ALLOWED: &str = "https://shop.example/spring-sale";
const BLOCKED: &str = "https://shop.example/nothing-here";
const HOME_IP: &str = "192.0.2.10";
const GB_IP: &str = "81.2.69.160";

struct Fixture {
    server: Server,
    tenant: TestTenant,
    _lists: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(
        lists.path().join("datacenter-aws.txt"),
        "# label: AWS\n203.0.113.0/24\n",
    )
    .unwrap();
    let server = Server::start_with(
        &[
            "--ip-lists-dir",
            lists.path().to_str().unwrap(),
            "--geoip-city-db",
            test_mmdb("GeoIP2-City-Test.mmdb").to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let tenant = create_tenant(&server, "campaigns", None).await;
    let f = Fixture {
        server,
        tenant,
        _lists: lists,
    };
    f.create("spring-sale", false, None).await;
    f.create(
        "uk-blocked",
        false,
        Some(pb::BlockerSettings {
            blocked_countries: vec!["GB".into()],
            ..Default::default()
        }),
    )
    .await;
    f.create("js-gate", true, None).await;
    f
}

impl Fixture {
    async fn create(
        &self,
        keyname: &str,
        js: bool,
        blocker: Option<pb::BlockerSettings>,
    ) -> pb::SmartUrl {
        self.server
            .admin()
            .await
            .create_smart_url(api_key(
                pb::CreateSmartUrlRequest {
                    tenant_id: self.tenant.id.clone(),
                    smart_url: Some(pb::SmartUrl {
                        keyname: keyname.into(),
                        allowed_destination: ALLOWED.into(),
                        blocked_destination: BLOCKED.into(),
                        js_confirmation_required: js,
                        blocker,
                        ..Default::default()
                    }),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
            .smart_url
            .unwrap()
    }

    async fn check(&self, keyname: &str, ip: &str, ua: &str) -> pb::CheckResponse {
        SmartUrlServiceClient::new(self.server.channel().await)
            .check(api_key(
                pb::CheckRequest {
                    keyname: keyname.into(),
                    ip: ip.into(),
                    ua: ua.into(),
                    url: format!("/r/{keyname}"),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.server.http_port)
    }
}

fn activity(response: &pb::CheckResponse) -> pb::DetectActivity {
    pb::DetectActivity::try_from(response.ip_status.as_ref().unwrap().detect_activity).unwrap()
}

#[tokio::test]
async fn visitors_go_where_their_verdict_says() {
    use pb::DetectActivity as A;
    let f = fixture().await;
    let human = f.check("spring-sale", HOME_IP, CHROME).await;
    assert_eq!(human.redirect_to, ALLOWED);
    assert_eq!(activity(&human), A::Visitor);
    assert!(!human.js_response);

    let datacenter = f.check("spring-sale", "203.0.113.9", CHROME).await;
    assert_eq!(
        (datacenter.redirect_to.as_str(), activity(&datacenter)),
        (BLOCKED, A::BlockByIpNonIsp)
    );
    let crawler = f.check("spring-sale", HOME_IP, "curl/8.5.0").await;
    assert_eq!(
        (crawler.redirect_to.as_str(), activity(&crawler)),
        (BLOCKED, A::BlockBySpiderCrawler)
    );

    // The link's own country block; the tenant's blocker lets the same visitor in.
    let uk = f.check("uk-blocked", GB_IP, CHROME).await;
    assert_eq!(
        (uk.redirect_to.as_str(), activity(&uk)),
        (BLOCKED, A::BlockByCountry)
    );
    assert_eq!(uk.ip_info.unwrap().country_code, "GB");
    let tenant_view = BlockerServiceClient::new(f.server.channel().await)
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: GB_IP.into(),
                ua: CHROME.into(),
                url: "/".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        tenant_view.ip_status.unwrap().detect_activity,
        A::Visitor as i32
    );
    assert_eq!(
        f.check("spring-sale", GB_IP, CHROME).await.redirect_to,
        ALLOWED
    );

    // An unknown keyname is an answer, not an error.
    let unknown = f.check("no-such-link", HOME_IP, CHROME).await;
    assert_eq!(activity(&unknown), A::BlockByInvalidKeyname);
    let status = unknown.ip_status.unwrap();
    assert!(status.block_access);
    assert_eq!(status.detect_activity_label, "BLOCK BY INVALID KEYNAME");
    assert!(unknown.redirect_to.is_empty());

    // Per-day stats by outcome and reason.
    let stats = f
        .server
        .admin()
        .await
        .get_smart_url_stats(api_key(
            pb::GetSmartUrlStatsRequest {
                tenant_id: f.tenant.id.clone(),
                keyname: "spring-sale".into(),
                days: 0,
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .daily;
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].allowed, stats[0].blocked), (2, 2));
    assert_eq!(stats[0].by_reason.get("BLOCK BY IP NON-ISP"), Some(&1));
    assert_eq!(stats[0].by_reason.get("VISITOR"), Some(&2));

    // Keynames are unique, and bad links are refused by field.
    let mut admin = f.server.admin().await;
    let taken = admin
        .create_smart_url(api_key(
            pb::CreateSmartUrlRequest {
                tenant_id: f.tenant.id.clone(),
                smart_url: Some(pb::SmartUrl {
                    keyname: "spring-sale".into(),
                    allowed_destination: ALLOWED.into(),
                    blocked_destination: BLOCKED.into(),
                    ..Default::default()
                }),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let bad = admin
        .create_smart_url(api_key(
            pb::CreateSmartUrlRequest {
                tenant_id: f.tenant.id.clone(),
                smart_url: Some(pb::SmartUrl {
                    allowed_destination: "javascript:alert(1)".into(),
                    blocked_destination: BLOCKED.into(),
                    ..Default::default()
                }),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert!(
        bad.message().starts_with("smart_url.allowed_destination"),
        "{}",
        bad.message()
    );
    // A generated keyname, then deleted: it answers INVALID KEYNAME again.
    let generated = f.create("", false, None).await;
    assert!(generated.keyname.len() >= 8);
    assert_eq!(
        f.check(&generated.keyname, HOME_IP, CHROME)
            .await
            .redirect_to,
        ALLOWED
    );
    admin
        .delete_smart_url(api_key(
            pb::DeleteSmartUrlRequest {
                tenant_id: f.tenant.id.clone(),
                keyname: generated.keyname.clone(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap();
    assert_eq!(
        activity(&f.check(&generated.keyname, HOME_IP, CHROME).await),
        A::BlockByInvalidKeyname
    );
}

#[tokio::test]
async fn javascript_confirmation_over_grpc() {
    let f = fixture().await;
    let first = f.check("js-gate", HOME_IP, CHROME).await;
    assert!(first.js_response);
    assert!(first.js_confirmation_pending);
    assert!(
        first.redirect_to.ends_with("/r/js-gate"),
        "{}",
        first.redirect_to
    );

    let mut client = SmartUrlServiceClient::new(f.server.channel().await);
    let refused = client
        .confirm_java_script(api_key(
            pb::ConfirmJavaScriptRequest {
                keyname: "js-gate".into(),
                ip: HOME_IP.into(),
                js: "0".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "INVALID_REQUEST");
    assert!(refused.message().starts_with("js"), "{}", refused.message());
    let unknown = client
        .confirm_java_script(api_key(
            pb::ConfirmJavaScriptRequest {
                keyname: "no-such-link".into(),
                ip: HOME_IP.into(),
                js: "1".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown.add_visitor_status, 0);
    let confirmed = client
        .confirm_java_script(api_key(
            pb::ConfirmJavaScriptRequest {
                keyname: "js-gate".into(),
                ip: HOME_IP.into(),
                js: "1".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(confirmed.add_visitor_status, 1);
    assert!(confirmed.confirmed_until_ms > confirmed.time_response_ms);

    let after = f.check("js-gate", HOME_IP, CHROME).await;
    assert!(!after.js_confirmation_pending);
    assert_eq!(after.redirect_to, ALLOWED);
    // Another visitor still has to confirm; a bot never gets the confirmation step.
    assert!(
        f.check("js-gate", "192.0.2.11", CHROME)
            .await
            .js_confirmation_pending
    );
    let bot = f
        .check("js-gate", "192.0.2.12", "python-requests/2.31")
        .await;
    assert!(!bot.js_confirmation_pending);
    assert_eq!(bot.redirect_to, BLOCKED);
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_redirect_endpoint_and_its_javascript_page_in_chromium() {
    let f = fixture().await;
    let http = http_client();
    let human = http
        .get(f.http("/r/spring-sale"))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(human.status(), 302);
    assert_eq!(human.headers()["location"], ALLOWED);
    let bot = http
        .get(f.http("/r/spring-sale"))
        .header("user-agent", "curl/8.5.0")
        .send()
        .await
        .unwrap();
    assert_eq!(bot.status(), 302);
    assert_eq!(bot.headers()["location"], BLOCKED);
    let missing = http
        .get(f.http("/r/no-such-link"))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // JS confirmation required: first a page whose script confirms and continues.
    let page = http
        .get(f.http("/r/js-gate"))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/r/js-gate/confirm"));

    // A real browser runs the page (as a person's Chrome: a headless user agent is a bot).
    let profile = tempfile::tempdir().unwrap();
    let mut browser =
        crate::harness::headless_chromium(&f.http("/r/js-gate"), CHROME, profile.path(), &[]);
    // The browser's confirmation is for 127.0.0.1: once it lands, the link sends us on.
    let location = crate::harness::await_redirect(&http, &f.http("/r/js-gate"), CHROME, || {
        "Chromium never confirmed JavaScript".to_string()
    })
    .await;
    assert_eq!(location, ALLOWED);
    let _ = browser.kill();
    let _ = browser.wait();
}

#[tokio::test]
async fn a_flood_on_a_public_link_is_turned_away_without_starving_the_tenants_api() {
    let server = Server::start().await;
    let tenant = create_tenant(
        &server,
        "small",
        Some(pb::TenantSettings {
            rate_limit_per_minute: Some(5),
            ..Default::default()
        }),
    )
    .await;
    let f = Fixture {
        server,
        tenant,
        _lists: tempfile::tempdir().unwrap(),
    };
    f.create("flooded", false, None).await;
    let http = http_client();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = http
            .get(f.http("/r/flooded"))
            .header("user-agent", CHROME)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(response.headers()["x-ratelimit-limit"], "5");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [302, 302, 302, 302, 302, 429, 429]);
    // The confirmation endpoint is within the same budget.
    let confirm = http
        .post(f.http("/r/flooded/confirm"))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 429);
    // The tenant's API budget is its own: its server still checks visitors.
    BlockerServiceClient::new(f.server.channel().await)
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: HOME_IP.into(),
                ua: CHROME.into(),
                url: "/".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap();
}
