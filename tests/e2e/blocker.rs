//! BlockerService.CheckVisitor against the real binary: every DetectActivity reason (but INVALID
//! KEYNAME, which smart URLs own), precedence where two apply, switches, list reloads and bad
//! input.

use std::time::{Duration, Instant};

use gatehouse_proto::v1::{self as pb, blocker_service_client::BlockerServiceClient};
use tonic::Code;

use crate::{
    dns::TestDns,
    harness::{ADMIN_TOKEN, Server, TestTenant, api_key, bearer, create_tenant, reason, test_mmdb},
};

const CHROME_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

// Addresses from the documentation ranges, placed on lists by the test.
const TOR_IP: &str = "198.51.100.10";
const VPN_IP: &str = "198.51.100.20";
const DATACENTER_IP: &str = "203.0.113.50";
const TOR_AND_DATACENTER_IP: &str = "203.0.113.77";
const REPUTATION_IP: &str = "192.0.2.66";
const CLEAN_IP: &str = "192.0.2.200";
const SCANNER_IP: &str = "192.0.2.150";
const GOOGLEBOT_IP: &str = "66.249.66.1";
const FAKE_GOOGLEBOT_IP: &str = "192.0.2.99";
// In MaxMind's GeoIP2-City test database: London, GB.
const GB_IP: &str = "81.2.69.160";

struct Fixture {
    server: Server,
    tenant: TestTenant,
    lists_dir: tempfile::TempDir,
    _dns: TestDns,
}

async fn fixture() -> Fixture {
    let lists_dir = tempfile::tempdir().unwrap();
    write_lists(lists_dir.path(), false);
    let dns = TestDns::start(
        &[
            (GOOGLEBOT_IP, "crawl-66-249-66-1.googlebot.com"),
            // A spoofed PTR: claims Google but the name does not resolve back to the IP.
            (FAKE_GOOGLEBOT_IP, "crawl-fake.googlebot.com"),
            (SCANNER_IP, "scanner-7.census.shodan.io"),
        ],
        &[
            ("crawl-66-249-66-1.googlebot.com", GOOGLEBOT_IP),
            ("crawl-fake.googlebot.com", "66.249.66.250"),
        ],
    )
    .await;
    let server = Server::start_with(
        &[
            "--ip-lists-dir",
            lists_dir.path().to_str().unwrap(),
            "--geoip-city-db",
            test_mmdb("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            "--geoip-asn-db",
            test_mmdb("GeoLite2-ASN-Test.mmdb").to_str().unwrap(),
        ],
        &[
            ("GATEHOUSE_RDNS_ENABLED", "true".into()),
            ("GATEHOUSE_RDNS_NAMESERVERS", format!("[\"{}\"]", dns.addr)),
            ("GATEHOUSE_RDNS_TIMEOUT_MS", "2000".into()),
            ("GATEHOUSE_IP_LISTS_RELOAD_SECONDS", "1".into()),
        ],
    )
    .await;
    let tenant = create_tenant(&server, "shop", None).await;
    Fixture {
        server,
        tenant,
        lists_dir,
        _dns: dns,
    }
}

fn write_lists(dir: &std::path::Path, with_extra_vpn: bool) {
    std::fs::write(
        dir.join("tor-exits.txt"),
        format!("{TOR_IP}\n{TOR_AND_DATACENTER_IP}\n"),
    )
    .unwrap();
    let mut vpn = format!("# label: ExampleVPN\n{VPN_IP}/32\n");
    if with_extra_vpn {
        vpn.push_str(&format!("{CLEAN_IP}\n"));
    }
    std::fs::write(dir.join("vpn-example.txt"), vpn).unwrap();
    std::fs::write(
        dir.join("datacenter-aws.txt"),
        "# label: AWS\n203.0.113.0/24\n2001:db8:aa::/48\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("reputation-firehol.netset"),
        format!("{REPUTATION_IP}\n"),
    )
    .unwrap();
}

impl Fixture {
    async fn check(&self, ip: &str, ua: &str, url: &str) -> pb::CheckVisitorResponse {
        BlockerServiceClient::new(self.server.channel().await)
            .check_visitor(api_key(
                pb::CheckVisitorRequest {
                    ip: ip.into(),
                    ua: ua.into(),
                    url: url.into(),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap_or_else(|status| panic!("check {ip}: {status}"))
            .into_inner()
    }

    async fn activity(&self, ip: &str, ua: &str, url: &str) -> pb::DetectActivity {
        let response = self.check(ip, ua, url).await;
        let status = response.ip_status.unwrap();
        let activity = pb::DetectActivity::try_from(status.detect_activity).unwrap();
        assert_eq!(
            status.block_access,
            !matches!(
                activity,
                pb::DetectActivity::Visitor | pb::DetectActivity::AllowByWhitelistIp
            )
        );
        activity
    }

    async fn update_blocker(&self, blocker: pb::BlockerSettings) {
        self.server
            .admin()
            .await
            .update_tenant(api_key(
                pb::UpdateTenantRequest {
                    tenant_id: self.tenant.id.clone(),
                    settings: Some(pb::TenantSettings {
                        blocker: Some(blocker),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap();
    }

    async fn add_to_list(&self, list: pb::IpListKind, cidrs: &[&str]) {
        self.server
            .admin()
            .await
            .add_ip_list_entries(api_key(
                pb::AddIpListEntriesRequest {
                    tenant_id: self.tenant.id.clone(),
                    list: list.into(),
                    cidrs: cidrs.iter().map(|cidr| cidr.to_string()).collect(),
                    note: "test".into(),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn every_reason_is_reached_in_order() {
    use pb::DetectActivity as A;
    let f = fixture().await;

    // VISITOR, with the full IP info from the GeoIP test databases.
    let visitor = f.check(GB_IP, CHROME_DESKTOP, "/shop/shoes?size=42").await;
    let status = visitor.ip_status.clone().unwrap();
    assert_eq!(status.detect_activity, A::Visitor as i32);
    assert_eq!(status.detect_activity_label, "VISITOR");
    assert!(!status.is_bot && !status.block_access && !status.threat_url);
    let info = visitor.ip_info.unwrap();
    assert_eq!(info.country_code, "GB");
    assert_eq!(info.city, "London");
    assert!(!info.timezone.is_empty());
    assert_eq!(visitor.ua, CHROME_DESKTOP);
    assert!(visitor.time_response_ms > 0);

    // BLOCK BY IP DATABASE, PROXY/VPN/TOR (Tor and VPN), IP NON-ISP (IPv4 and IPv6).
    assert_eq!(
        f.activity(REPUTATION_IP, CHROME_DESKTOP, "/").await,
        A::BlockByIpDatabase
    );
    assert_eq!(
        f.activity(TOR_IP, CHROME_DESKTOP, "/").await,
        A::BlockByProxyVpnTor
    );
    assert_eq!(
        f.activity(VPN_IP, CHROME_DESKTOP, "/").await,
        A::BlockByProxyVpnTor
    );
    assert_eq!(
        f.activity(DATACENTER_IP, CHROME_DESKTOP, "/").await,
        A::BlockByIpNonIsp
    );
    assert_eq!(
        f.activity("2001:db8:aa::5", CHROME_DESKTOP, "/").await,
        A::BlockByIpNonIsp
    );
    // Precedence: Tor is decided before non-ISP.
    assert_eq!(
        f.activity(TOR_AND_DATACENTER_IP, CHROME_DESKTOP, "/").await,
        A::BlockByProxyVpnTor
    );

    // BLOCK BY HOSTNAME DATABASE, from reverse DNS; the hostname is in the IP info.
    let scanner = f.check(SCANNER_IP, CHROME_DESKTOP, "/").await;
    assert_eq!(
        scanner.ip_info.unwrap().hostname,
        "scanner-7.census.shodan.io"
    );
    assert_eq!(
        scanner.ip_status.unwrap().detect_activity,
        A::BlockByHostnameDatabase as i32
    );

    // BLOCK BY SPIDER CRAWLER: a script, and a Googlebot user agent from an IP that is not
    // Google's (the PTR claims Google, forward DNS disagrees).
    let curl = f
        .check(CLEAN_IP, "curl/8.5.0", "/")
        .await
        .ip_status
        .unwrap();
    assert_eq!(curl.detect_activity, A::BlockBySpiderCrawler as i32);
    assert!(curl.is_bot);
    let fake = f
        .check(FAKE_GOOGLEBOT_IP, GOOGLEBOT, "/")
        .await
        .ip_status
        .unwrap();
    assert_eq!(fake.detect_activity, A::BlockBySpiderCrawler as i32);
    // A verified Googlebot is a bot, and gets in.
    let real = f
        .check(GOOGLEBOT_IP, GOOGLEBOT, "/")
        .await
        .ip_status
        .unwrap();
    assert!(real.is_bot);
    assert_eq!(real.detect_activity, A::Visitor as i32);
    // Precedence: a crawler probing for WordPress is decided as a crawler.
    assert_eq!(
        f.activity(CLEAN_IP, "curl/8.5.0", "/wp-login.php").await,
        A::BlockBySpiderCrawler
    );

    // BLOCK BY THREAT URL.
    let probe = f
        .check(CLEAN_IP, CHROME_DESKTOP, "/.git/config")
        .await
        .ip_status
        .unwrap();
    assert_eq!(probe.detect_activity, A::BlockByThreatUrl as i32);
    assert!(probe.threat_url);

    // BLOCK BY COUNTRY.
    f.update_blocker(pb::BlockerSettings {
        blocked_countries: vec!["gb".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.activity(GB_IP, CHROME_DESKTOP, "/").await,
        A::BlockByCountry
    );
    // Precedence: the reputation list is decided before the country.
    assert_eq!(
        f.activity(REPUTATION_IP, CHROME_DESKTOP, "/").await,
        A::BlockByIpDatabase
    );
    f.update_blocker(pb::BlockerSettings {
        replace_blocked_countries: true,
        ..Default::default()
    })
    .await;

    // BLOCK BY DEVICE DESKTOP and MOBILE, when switched on.
    f.update_blocker(pb::BlockerSettings {
        reasons: Some(pb::BlockerReasonSwitches {
            device_desktop: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.activity(CLEAN_IP, CHROME_DESKTOP, "/").await,
        A::BlockByDeviceDesktop
    );
    assert_eq!(f.activity(CLEAN_IP, IPHONE, "/").await, A::Visitor);
    f.update_blocker(pb::BlockerSettings {
        reasons: Some(pb::BlockerReasonSwitches {
            device_desktop: Some(false),
            device_mobile: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.activity(CLEAN_IP, IPHONE, "/").await,
        A::BlockByDeviceMobile
    );
    assert_eq!(f.activity(CLEAN_IP, CHROME_DESKTOP, "/").await, A::Visitor);

    // A switched-off reason gives way to the next one: Tor off, so the Tor+datacenter IP is non-ISP.
    f.update_blocker(pb::BlockerSettings {
        reasons: Some(pb::BlockerReasonSwitches {
            proxy_vpn_tor: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(
        f.activity(TOR_AND_DATACENTER_IP, CHROME_DESKTOP, "/").await,
        A::BlockByIpNonIsp
    );
    assert_eq!(f.activity(TOR_IP, CHROME_DESKTOP, "/").await, A::Visitor);

    // BLOCK BY BLACKLIST IP and ALLOW BY WHITELIST IP, managed through AdminService.
    f.add_to_list(pb::IpListKind::Blacklist, &["192.0.2.0/25"])
        .await;
    assert_eq!(
        f.activity("192.0.2.1", CHROME_DESKTOP, "/").await,
        A::BlockByBlacklistIp
    );
    // Precedence: the blacklist is decided before the reputation list.
    assert_eq!(
        f.activity(REPUTATION_IP, CHROME_DESKTOP, "/").await,
        A::BlockByBlacklistIp
    );
    f.add_to_list(pb::IpListKind::Whitelist, &[REPUTATION_IP, DATACENTER_IP])
        .await;
    // Precedence: the whitelist wins over the blacklist and every list.
    assert_eq!(
        f.activity(REPUTATION_IP, CHROME_DESKTOP, "/").await,
        A::AllowByWhitelistIp
    );
    assert_eq!(
        f.activity(DATACENTER_IP, "curl/8.5.0", "/.env").await,
        A::AllowByWhitelistIp
    );
    let listed = f
        .server
        .admin()
        .await
        .list_ip_list_entries(api_key(
            pb::ListIpListEntriesRequest {
                tenant_id: f.tenant.id.clone(),
                list: pb::IpListKind::Whitelist.into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.entries.len(), 2);
}

#[tokio::test]
async fn repeated_probing_blocks_an_ip_for_malicious_activity() {
    use pb::DetectActivity as A;
    let f = fixture().await;
    f.update_blocker(pb::BlockerSettings {
        malicious_threshold: Some(3),
        malicious_window_seconds: Some(600),
        malicious_block_seconds: Some(600),
        ..Default::default()
    })
    .await;
    let prober = "192.0.2.33";
    for path in ["/wp-login.php", "/.env", "/phpmyadmin/index.php"] {
        assert_eq!(
            f.activity(prober, CHROME_DESKTOP, path).await,
            A::BlockByThreatUrl,
            "{path}"
        );
    }
    // Now even an ordinary page is refused, and the reason precedes THREAT URL.
    assert_eq!(
        f.activity(prober, CHROME_DESKTOP, "/").await,
        A::BlockByMaliciousActivity
    );
    assert_eq!(
        f.activity(prober, CHROME_DESKTOP, "/.git/config").await,
        A::BlockByMaliciousActivity
    );
    // Another tenant's view of the same IP is its own.
    let other = create_tenant(&f.server, "other", None).await;
    let response = BlockerServiceClient::new(f.server.channel().await)
        .check_visitor(api_key(
            pb::CheckVisitorRequest {
                ip: prober.into(),
                ua: CHROME_DESKTOP.into(),
                url: "/".into(),
            },
            &other.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.ip_status.unwrap().detect_activity,
        A::Visitor as i32
    );
}

#[tokio::test]
async fn list_files_reload_without_a_restart() {
    use pb::DetectActivity as A;
    let f = fixture().await;
    assert_eq!(f.activity(CLEAN_IP, CHROME_DESKTOP, "/").await, A::Visitor);
    write_lists(f.lists_dir.path(), true);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let activity = f.activity(CLEAN_IP, CHROME_DESKTOP, "/").await;
        if activity == A::BlockByProxyVpnTor {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the changed list was never picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn bad_visitor_input_is_refused_by_field() {
    let f = fixture().await;
    let mut client = BlockerServiceClient::new(f.server.channel().await);
    for (ip, ua, field) in [
        ("", CHROME_DESKTOP, "ip"),
        ("10.0.0.300", CHROME_DESKTOP, "ip"),
        (CLEAN_IP, "", "ua"),
    ] {
        let refused = client
            .check_visitor(api_key(
                pb::CheckVisitorRequest {
                    ip: ip.into(),
                    ua: ua.into(),
                    url: "/".into(),
                },
                &f.tenant.secret_key,
            ))
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
    // Bad list entries and countries name the field too.
    let refused = f
        .server
        .admin()
        .await
        .add_ip_list_entries(bearer(
            pb::AddIpListEntriesRequest {
                tenant_id: f.tenant.id.clone(),
                list: pb::IpListKind::Blacklist.into(),
                cidrs: vec!["192.0.2.1".into(), "192.0.2.0/99".into()],
                note: String::new(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap_err();
    assert!(
        refused.message().starts_with("cidrs[1]"),
        "{}",
        refused.message()
    );
    let refused = f
        .server
        .admin()
        .await
        .update_tenant(bearer(
            pb::UpdateTenantRequest {
                tenant_id: f.tenant.id.clone(),
                settings: Some(pb::TenantSettings {
                    blocker: Some(pb::BlockerSettings {
                        blocked_countries: vec!["Germany".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap_err();
    assert!(
        refused
            .message()
            .starts_with("settings.blocker.blocked_countries[0]"),
        "{}",
        refused.message()
    );
    // Nothing was stored by the refused call.
    let listed = f
        .server
        .admin()
        .await
        .list_ip_list_entries(bearer(
            pb::ListIpListEntriesRequest {
                tenant_id: f.tenant.id.clone(),
                list: pb::IpListKind::Blacklist.into(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.entries.is_empty());
}
