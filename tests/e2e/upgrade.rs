//! A data dir written by the previous release opens in this one and answers the same.
//!
//! `tests/fixtures/upgrade/` holds a data dir written by the release before the store's format
//! changed (`data-dir.tar.gz`), the tenant it holds (`tenant.txt`) and what that release
//! answered to a fixed list of questions (`answers.txt`, one `question<TAB>answer` a line, the
//! answer as the message's `Debug` form). The test starts this build on a copy of the data dir,
//! which migrates it, and asks the same questions. `write_upgrade_fixture` (ignored; run it by
//! hand with the previous release's tests) writes the fixture.

use std::{fmt::Debug, path::PathBuf, process::Command};

use gatehouse_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient,
    decision_service_client::DecisionServiceClient, identity_service_client::IdentityServiceClient,
    signal_service_client::SignalServiceClient,
};

use crate::harness::{ADMIN_TOKEN, Server, api_key, bearer, create_tenant};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/upgrade")
}

const TOR_IP: &str = "198.51.100.10";
const VPN_IP: &str = "198.51.100.20";

fn lists_dir() -> tempfile::TempDir {
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(lists.path().join("tor-exits.txt"), format!("{TOR_IP}\n")).unwrap();
    std::fs::write(lists.path().join("vpn-example.txt"), format!("{VPN_IP}\n")).unwrap();
    lists
}

fn signal(user: &str, device: &str, ip: &str, time_ms: i64) -> pb::SendSignalRequest {
    pb::SendSignalRequest {
        r#type: "login".into(),
        source: pb::SignalSource::Server.into(),
        identifiers: Some(pb::Identifiers {
            user_id: user.into(),
            identity_id: String::new(),
        }),
        device: Some(pb::Device {
            device_id: device.into(),
            platform: pb::DevicePlatform::Android.into(),
            os_name: "Android".into(),
            os_version: "14".into(),
            ..Default::default()
        }),
        ip: ip.into(),
        user_agent: "Mozilla/5.0".into(),
        time_ms: Some(time_ms),
        ..Default::default()
    }
}

/// Writes a little of everything through the wire: identities with events of several types,
/// bans, a resolved approval, click events, a smart URL and a tenant list entry.
async fn write_history(server: &Server, tenant: &crate::harness::TestTenant) {
    let key = &tenant.secret_key;
    let mut signals = SignalServiceClient::new(server.channel().await);
    // Fixed times in the past, kept by a ten-year retention, so the answers never age.
    let t0 = 1_790_000_000_000;
    let mut risky_event = String::new();
    for (n, (user, device, ip)) in [
        ("carol", "dev_1", "192.0.2.10"),
        ("carol", "dev_2", "192.0.2.10"),
        ("carol", "dev_2", TOR_IP),
        ("dave", "dev_3", VPN_IP),
        ("erin", "dev_1", "192.0.2.11"),
        ("frank", "dev_1", "192.0.2.12"),
        ("dave", "dev_3", TOR_IP),
        ("gina", "dev_4", "192.0.2.13"),
    ]
    .into_iter()
    .enumerate()
    {
        let time = t0 + i64::try_from(n).unwrap() * 60_000;
        let answer = signals
            .send_signal(api_key(signal(user, device, ip, time), key))
            .await
            .unwrap()
            .into_inner();
        if let Some(result) = answer.immediate_results.first() {
            risky_event.clone_from(&result.event_id);
        }
    }
    assert!(!risky_event.is_empty(), "the history raised no event");

    let mut identities = IdentityServiceClient::new(server.channel().await);
    let created = identities
        .create_approval(api_key(
            pb::CreateApprovalRequest {
                event_id: risky_event,
                message: "Was this you?".into(),
                ttl_seconds: 600,
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    identities
        .resolve_approval(api_key(
            pb::ResolveApprovalRequest {
                approval_token: created.approval_token,
                decision: pb::ApprovalDecision::Approve.into(),
            },
            &tenant.publishable_key,
        ))
        .await
        .unwrap();
    for (kind, subject) in [
        (pb::BanSubjectKind::Device, "dev_4"),
        (pb::BanSubjectKind::Ip, "192.0.2.200"),
    ] {
        identities
            .create_ban(api_key(
                pb::CreateBanRequest {
                    subject_kind: kind.into(),
                    subject: subject.into(),
                    reason: "upgrade fixture".into(),
                    ..Default::default()
                },
                key,
            ))
            .await
            .unwrap();
    }

    let mut decisions = DecisionServiceClient::new(server.channel().await);
    for n in 0..6_i64 {
        decisions
            .track_event(api_key(
                pb::TrackEventRequest {
                    r#type: pb::ClickEventType::Click.into(),
                    url: format!("https://shop.example/landing?gclid=g{n}"),
                    visitor_id: format!("vis_{}", n % 2),
                    gclid: format!("g{n}"),
                    ip: "203.0.113.7".into(),
                    time_ms: Some(t0 + n * 1_000),
                    ..Default::default()
                },
                key,
            ))
            .await
            .unwrap();
    }

    let mut admin = AdminServiceClient::new(server.channel().await);
    admin
        .create_smart_url(api_key(
            pb::CreateSmartUrlRequest {
                tenant_id: tenant.id.clone(),
                smart_url: Some(pb::SmartUrl {
                    keyname: "upgrade-sale".into(),
                    allowed_destination: "https://shop.example/".into(),
                    blocked_destination: "https://example.com/".into(),
                    ..Default::default()
                }),
            },
            key,
        ))
        .await
        .unwrap();
    admin
        .add_ip_list_entries(api_key(
            pb::AddIpListEntriesRequest {
                tenant_id: tenant.id.clone(),
                list: pb::IpListKind::Blacklist.into(),
                cidrs: vec!["203.0.113.0/24".into()],
                note: "upgrade fixture".into(),
            },
            key,
        ))
        .await
        .unwrap();
}

fn line(question: &str, answer: impl Debug) -> String {
    format!("{question}\t{answer:?}")
}

/// Asks the questions whose answers must not change across an upgrade; one line each.
async fn answers(server: &Server, tenant_id: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut identities = IdentityServiceClient::new(server.channel().await);
    let listed = identities
        .list_identities(api_key(
            pb::ListIdentitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("ListIdentities", &listed));
    for identity in &listed.identities {
        let id = &identity.identity_id;
        let status = identities
            .get_identity_status(api_key(
                pb::GetIdentityStatusRequest {
                    identity_id: id.clone(),
                    ..Default::default()
                },
                key,
            ))
            .await
            .unwrap()
            .into_inner();
        out.push(line(&format!("GetIdentityStatus {id}"), status));
    }
    // Every filter ListEvents offers, and pages of two.
    let mut filters = vec![(String::new(), pb::EventType::Unspecified)];
    for identity in &listed.identities {
        filters.push((identity.identity_id.clone(), pb::EventType::Unspecified));
        for event_type in [pb::EventType::Tor, pb::EventType::NewDevice] {
            filters.push((identity.identity_id.clone(), event_type));
        }
    }
    for event_type in [
        pb::EventType::Tor,
        pb::EventType::Vpn,
        pb::EventType::NewDevice,
        pb::EventType::SharedDevice,
    ] {
        filters.push((String::new(), event_type));
    }
    for (identity_id, event_type) in filters {
        for page_size in [100, 2] {
            let mut token = String::new();
            loop {
                let page = identities
                    .list_events(api_key(
                        pb::ListEventsRequest {
                            identity_id: identity_id.clone(),
                            r#type: event_type.into(),
                            page_size,
                            page_token: token.clone(),
                        },
                        key,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                out.push(line(
                    &format!("ListEvents {identity_id} {event_type:?} {page_size} {token}"),
                    &page.events,
                ));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
    }
    let bans = identities
        .list_bans(api_key(
            pb::ListBansRequest {
                include_inactive: true,
                page_size: 100,
                ..Default::default()
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("ListBans", bans));

    let mut decisions = DecisionServiceClient::new(server.channel().await);
    for visitor in ["vis_0", "vis_1"] {
        let events = decisions
            .list_click_events(api_key(
                pb::ListClickEventsRequest {
                    visitor_id: visitor.into(),
                    page_size: 100,
                    ..Default::default()
                },
                key,
            ))
            .await
            .unwrap()
            .into_inner();
        out.push(line(&format!("ListClickEvents {visitor}"), events));
    }

    let mut admin = AdminServiceClient::new(server.channel().await);
    let tenant = admin
        .get_tenant(bearer(
            pb::GetTenantRequest {
                tenant_id: tenant_id.into(),
            },
            ADMIN_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("GetTenant", tenant));
    let keys = admin
        .list_keys(api_key(
            pb::ListKeysRequest {
                tenant_id: tenant_id.into(),
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("ListKeys", keys));
    let urls = admin
        .list_smart_urls(api_key(
            pb::ListSmartUrlsRequest {
                tenant_id: tenant_id.into(),
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("ListSmartUrls", urls));
    let entries = admin
        .list_ip_list_entries(api_key(
            pb::ListIpListEntriesRequest {
                tenant_id: tenant_id.into(),
                list: pb::IpListKind::Blacklist.into(),
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    out.push(line("ListIpListEntries", entries));
    out
}

/// Writes `tests/fixtures/upgrade/` with the build under test. Run it with the release whose
/// data dirs the next one must read: `cargo test -p gatehouse-server --test e2e -- --ignored
/// write_upgrade_fixture`.
#[tokio::test]
#[ignore = "writes the fixture; run by hand with the previous release"]
async fn write_upgrade_fixture() {
    let lists = lists_dir();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let mut server = Server::spawn(
        &data_dir,
        Some(ADMIN_TOKEN),
        &["--ip-lists-dir", lists.path().to_str().unwrap()],
    );
    server.wait_ready().await;
    let tenant = create_tenant(
        &server,
        "upgrade",
        Some(pb::TenantSettings {
            retention_days: Some(3650),
            identity_rules: Some(pb::IdentityRuleSettings {
                max_identities_per_device: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
    .await;
    write_history(&server, &tenant).await;
    let answers = answers(&server, &tenant.id, &tenant.secret_key).await;
    assert!(server.terminate().await.success());

    let out = fixture_dir();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("tenant.txt"),
        format!("{}\n{}\n", tenant.id, tenant.secret_key),
    )
    .unwrap();
    std::fs::write(out.join("answers.txt"), answers.join("\n") + "\n").unwrap();
    let packed = Command::new("tar")
        .arg("-czf")
        .arg(out.join("data-dir.tar.gz"))
        .arg("-C")
        .arg(data.path())
        .arg("data")
        .status()
        .unwrap();
    assert!(packed.success());
}

#[tokio::test]
async fn a_data_dir_from_the_previous_release_opens_and_answers_the_same() {
    let fixture = fixture_dir();
    let tenant = std::fs::read_to_string(fixture.join("tenant.txt")).unwrap();
    let mut tenant = tenant.lines();
    let (tenant_id, key) = (tenant.next().unwrap(), tenant.next().unwrap());
    let expected = std::fs::read_to_string(fixture.join("answers.txt")).unwrap();

    let lists = lists_dir();
    let data = tempfile::tempdir().unwrap();
    let unpacked = Command::new("tar")
        .arg("-xzf")
        .arg(fixture.join("data-dir.tar.gz"))
        .arg("-C")
        .arg(data.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let data_dir = data.path().join("data");
    // Twice: the first start migrates, the second finds nothing left to do.
    for start in ["first", "second"] {
        let mut server = Server::spawn(
            &data_dir,
            Some(ADMIN_TOKEN),
            &["--ip-lists-dir", lists.path().to_str().unwrap()],
        );
        server.wait_ready().await;
        let got = answers(&server, tenant_id, key).await;
        let expected: Vec<&str> = expected.lines().collect();
        assert_eq!(
            got.len(),
            expected.len(),
            "{start} start: the questions differ"
        );
        for (got, expected) in got.iter().zip(&expected) {
            assert_eq!(got, expected, "{start} start answers differently");
        }
        // That release decided visitors only when asked, and nobody asked: the migration
        // decides them from their events, so they are answered (and on the blocklist when bad).
        let mut decisions = DecisionServiceClient::new(server.channel().await);
        for visitor in ["vis_0", "vis_1"] {
            let decision = decisions
                .get_decision(api_key(
                    pb::GetDecisionRequest {
                        visitor_id: visitor.into(),
                    },
                    key,
                ))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(decision.visitor_id, visitor);
            assert_eq!(decision.ip, "203.0.113.7", "{start} start: {decision:?}");
            assert!(
                decision
                    .reasons
                    .iter()
                    .any(|reason| reason.rule == "click_without_page_view"),
                "{start} start: three clicks without a page view: {decision:?}"
            );
        }
        assert!(server.terminate().await.success(), "{}", server.log());
        let decided = server
            .log()
            .matches("click visitors decided from their events")
            .count();
        assert_eq!(decided, 1, "{start} start: decided once: {}", server.log());
        let migrated = server
            .log()
            .matches("migrated to this build's format")
            .count();
        // The log file is appended to across starts.
        assert_eq!(migrated, 1, "{start} start: {}", server.log());
    }
}
