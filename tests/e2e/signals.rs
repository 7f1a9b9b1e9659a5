//! SignalService and IdentityService against the real binary: field rules by key, identities on
//! the fly, idempotency under concurrent retries, each event type, bans and approvals.

use std::time::{Duration, Instant};

use gatehouse_proto::v1::{
    self as pb, identity_service_client::IdentityServiceClient,
    signal_service_client::SignalServiceClient,
};
use tonic::Code;

use crate::harness::{Server, TestTenant, api_key, create_tenant, reason};

const TOR_IP: &str = "198.51.100.10";
const VPN_IP: &str = "198.51.100.20";

struct Fixture {
    server: Server,
    tenant: TestTenant,
    _lists: tempfile::TempDir,
}

async fn fixture(rules: pb::IdentityRuleSettings) -> Fixture {
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(lists.path().join("tor-exits.txt"), format!("{TOR_IP}\n")).unwrap();
    std::fs::write(lists.path().join("vpn-example.txt"), format!("{VPN_IP}\n")).unwrap();
    let server = Server::start_with(&["--ip-lists-dir", lists.path().to_str().unwrap()], &[]).await;
    let tenant = create_tenant(
        &server,
        "app",
        Some(pb::TenantSettings {
            identity_rules: Some(rules),
            ..Default::default()
        }),
    )
    .await;
    Fixture {
        server,
        tenant,
        _lists: lists,
    }
}

fn server_signal(user: &str) -> pb::SendSignalRequest {
    pb::SendSignalRequest {
        r#type: "login".into(),
        source: pb::SignalSource::Server.into(),
        identifiers: Some(pb::Identifiers {
            user_id: user.into(),
            identity_id: String::new(),
        }),
        ip: "192.0.2.10".into(),
        user_agent: "Mozilla/5.0".into(),
        ..Default::default()
    }
}

fn device(id: &str) -> pb::Device {
    pb::Device {
        device_id: id.into(),
        platform: pb::DevicePlatform::Android.into(),
        os_name: "Android".into(),
        os_version: "14".into(),
        manufacturer: "Google".into(),
        model: "Pixel 8".into(),
        ..Default::default()
    }
}

fn kinds(response: &pb::SendSignalResponse) -> Vec<pb::ImmediateResultType> {
    response
        .immediate_results
        .iter()
        .map(|result| pb::ImmediateResultType::try_from(result.r#type).unwrap())
        .collect()
}

impl Fixture {
    async fn signal(
        &self,
        request: pb::SendSignalRequest,
        key: &str,
    ) -> Result<pb::SendSignalResponse, tonic::Status> {
        SignalServiceClient::new(self.server.channel().await)
            .send_signal(api_key(request, key))
            .await
            .map(|response| response.into_inner())
    }

    async fn events(&self, identity_id: &str) -> Vec<pb::Event> {
        IdentityServiceClient::new(self.server.channel().await)
            .list_events(api_key(
                pb::ListEventsRequest {
                    identity_id: identity_id.into(),
                    page_size: 500,
                    ..Default::default()
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
            .events
    }

    async fn status(&self, identity_id: &str) -> pb::GetIdentityStatusResponse {
        IdentityServiceClient::new(self.server.channel().await)
            .get_identity_status(api_key(
                pb::GetIdentityStatusRequest {
                    identity_id: identity_id.into(),
                    user_id: String::new(),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

#[tokio::test]
async fn client_and_server_fields_and_identities_on_the_fly() {
    let f = fixture(pb::IdentityRuleSettings::default()).await;
    let client = pb::SendSignalRequest {
        r#type: "open".into(),
        source: pb::SignalSource::App.into(),
        identifiers: Some(pb::Identifiers {
            user_id: "alice".into(),
            identity_id: String::new(),
        }),
        device: Some(device("dev_alice")),
        ..Default::default()
    };
    // A publishable key cannot create identities: the user is unknown so far.
    let unknown = f
        .signal(client.clone(), &f.tenant.publishable_key)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(
        unknown.message().starts_with("identifiers.user_id"),
        "{}",
        unknown.message()
    );

    // The server's signal creates the identity on the fly.
    let created = f
        .signal(server_signal("alice"), &f.tenant.secret_key)
        .await
        .unwrap();
    let identity = created.identity.clone().unwrap();
    assert!(identity.identity_id.starts_with("idt_"));
    assert_eq!(identity.user_ids, vec!["alice".to_string()]);
    assert_eq!(identity.ips[0].ip, "192.0.2.10");
    assert!(created.started_ms <= created.finished_ms && created.started_ms > 0);

    // Now the app's signal lands on the same identity, with the connection's address.
    let from_app = f
        .signal(client.clone(), &f.tenant.publishable_key)
        .await
        .unwrap();
    let identity = from_app.identity.unwrap();
    assert_eq!(
        from_app.identifiers.unwrap().identity_id,
        identity.identity_id
    );
    assert_eq!(
        identity.devices[0].device.as_ref().unwrap().device_id,
        "dev_alice"
    );
    assert!(
        identity.ips.iter().any(|ip| ip.ip == "127.0.0.1"),
        "{:?}",
        identity.ips
    );

    // Server-only fields from a client are refused by name.
    for (field, request) in [
        (
            "ip",
            pb::SendSignalRequest {
                ip: "1.2.3.4".into(),
                ..client.clone()
            },
        ),
        (
            "lat",
            pb::SendSignalRequest {
                lat: Some(1.0),
                lon: Some(2.0),
                ..client.clone()
            },
        ),
        (
            "metadata",
            pb::SendSignalRequest {
                metadata: [("k".into(), "v".into())].into(),
                ..client.clone()
            },
        ),
        (
            "source",
            pb::SendSignalRequest {
                source: pb::SignalSource::Server.into(),
                ..client.clone()
            },
        ),
    ] {
        let refused = f
            .signal(request, &f.tenant.publishable_key)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{field}");
        assert_eq!(reason(&refused), "INVALID_REQUEST");
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
    // A client may not link a new user id to an identity (it could then read that user's data).
    let link = pb::SendSignalRequest {
        identifiers: Some(pb::Identifiers {
            user_id: "mallory-target".into(),
            identity_id: identity.identity_id.clone(),
        }),
        ..client.clone()
    };
    let refused = f.signal(link, &f.tenant.publishable_key).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The secret key may send them.
    let full = pb::SendSignalRequest {
        lat: Some(52.5),
        lon: Some(13.4),
        metadata: [("plan".into(), "pro".into())].into(),
        time_ms: Some(1_700_000_000_000),
        ..server_signal("alice")
    };
    f.signal(full, &f.tenant.secret_key).await.unwrap();
    let looked_up = IdentityServiceClient::new(f.server.channel().await)
        .get_identity(api_key(
            pb::GetIdentityRequest {
                identity_id: String::new(),
                user_id: "alice".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .identity
        .unwrap();
    assert_eq!(looked_up.locations.len(), 1);
    // Another tenant does not see alice.
    let other = create_tenant(&f.server, "other", None).await;
    let hidden = IdentityServiceClient::new(f.server.channel().await)
        .get_identity(api_key(
            pb::GetIdentityRequest {
                identity_id: looked_up.identity_id.clone(),
                user_id: String::new(),
            },
            &other.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
}

#[tokio::test]
async fn twenty_concurrent_retries_store_one_signal() {
    // With a velocity limit of 1, a second stored signal would raise SIGNAL_VELOCITY.
    let f = fixture(pb::IdentityRuleSettings {
        velocity_max_signals: Some(1),
        velocity_window_seconds: Some(3600),
        ..Default::default()
    })
    .await;
    let request = pb::SendSignalRequest {
        idempotency_key: "checkout-42".into(),
        ..server_signal("bob")
    };
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let url = f.server.grpc_url.clone();
            let key = f.tenant.secret_key.clone();
            let request = request.clone();
            tokio::spawn(async move {
                let channel = tonic::transport::Endpoint::from_shared(url)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                SignalServiceClient::new(channel)
                    .send_signal(api_key(request, &key))
                    .await
                    .unwrap()
                    .into_inner()
            })
        })
        .collect();
    let mut responses = Vec::new();
    for call in calls {
        responses.push(call.await.unwrap());
    }
    let first = responses
        .iter()
        .find(|response| !response.replayed)
        .expect("one original")
        .clone();
    assert_eq!(
        responses
            .iter()
            .filter(|response| !response.replayed)
            .count(),
        1
    );
    for response in &responses {
        let mut same = response.clone();
        same.replayed = first.replayed;
        assert_eq!(same, first, "every retry gets the first answer");
    }
    let identity_id = first.identity.unwrap().identity_id;
    let events = f.events(&identity_id).await;
    assert!(
        events
            .iter()
            .all(|event| event.r#type != pb::EventType::SignalVelocity as i32),
        "more than one signal was stored: {events:?}"
    );
    // The same key for another signal (another user) is refused, not answered with bob's identity.
    let reused = f
        .signal(
            pb::SendSignalRequest {
                idempotency_key: "checkout-42".into(),
                ..server_signal("eve")
            },
            &f.tenant.secret_key,
        )
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert!(
        reused.message().starts_with("idempotency_key"),
        "{}",
        reused.message()
    );
    // A new key is a new signal, and now velocity fires.
    let next = f
        .signal(
            pb::SendSignalRequest {
                idempotency_key: "checkout-43".into(),
                ..server_signal("bob")
            },
            &f.tenant.secret_key,
        )
        .await
        .unwrap();
    assert!(!next.replayed);
    assert!(kinds(&next).contains(&pb::ImmediateResultType::Velocity));
}

#[tokio::test]
async fn each_event_type_is_raised_by_the_signals_that_should_raise_it() {
    use pb::EventType as E;
    let f = fixture(pb::IdentityRuleSettings {
        max_identities_per_device: Some(2),
        velocity_max_signals: Some(5),
        velocity_window_seconds: Some(3600),
        ..Default::default()
    })
    .await;
    let key = f.tenant.secret_key.clone();
    let carol = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_c1")),
                ..server_signal("carol")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(
        kinds(&carol).is_empty(),
        "a first signal raises nothing: {:?}",
        kinds(&carol)
    );
    let carol_id = carol.identity.unwrap().identity_id;

    // NEW_DEVICE
    let second = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_c2")),
                ..server_signal("carol")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&second).contains(&pb::ImmediateResultType::NewDevice));
    // TOR and VPN
    let tor = f
        .signal(
            pb::SendSignalRequest {
                ip: TOR_IP.into(),
                ..server_signal("carol")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&tor).contains(&pb::ImmediateResultType::Tor));
    let vpn = f
        .signal(
            pb::SendSignalRequest {
                ip: VPN_IP.into(),
                ..server_signal("carol")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&vpn).contains(&pb::ImmediateResultType::Vpn));
    // IMPOSSIBLE_TRAVEL: Berlin, then Sydney ten minutes later.
    let t0 = 1_800_000_000_000;
    f.signal(
        pb::SendSignalRequest {
            lat: Some(52.52),
            lon: Some(13.40),
            time_ms: Some(t0),
            ..server_signal("dave")
        },
        &key,
    )
    .await
    .unwrap();
    let travel = f
        .signal(
            pb::SendSignalRequest {
                lat: Some(-33.87),
                lon: Some(151.21),
                time_ms: Some(t0 + 600_000),
                ..server_signal("dave")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&travel).contains(&pb::ImmediateResultType::ImpossibleTravel));
    let dave_id = travel.identity.clone().unwrap().identity_id;
    // SHARED_DEVICE: a third identity on carol's device.
    f.signal(
        pb::SendSignalRequest {
            device: Some(device("dev_c1")),
            ..server_signal("erin")
        },
        &key,
    )
    .await
    .unwrap();
    let shared = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_c1")),
                ..server_signal("frank")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&shared).contains(&pb::ImmediateResultType::TooManyAccounts));
    // DEVICE_RISK: a rooted emulator.
    let mut rooted = device("dev_g");
    rooted.env_flags = vec![pb::EnvFlag::Root.into(), pb::EnvFlag::VirtualEnv.into()];
    let risky = f
        .signal(
            pb::SendSignalRequest {
                device: Some(rooted),
                ..server_signal("gina")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&risky).contains(&pb::ImmediateResultType::DeviceRisk));
    // SIGNAL_VELOCITY: carol's sixth signal within the hour.
    let mut fired = false;
    for _ in 0..3 {
        let more = f.signal(server_signal("carol"), &key).await.unwrap();
        fired |= kinds(&more).contains(&pb::ImmediateResultType::Velocity);
    }
    assert!(fired);

    let carol_events: Vec<i32> = f
        .events(&carol_id)
        .await
        .iter()
        .map(|event| event.r#type)
        .collect();
    for expected in [E::NewDevice, E::Tor, E::Vpn, E::SignalVelocity] {
        assert!(
            carol_events.contains(&(expected as i32)),
            "{expected:?} missing from {carol_events:?}"
        );
    }
    let travel_events = f.events(&dave_id).await;
    let travel_event = travel_events
        .iter()
        .find(|event| event.r#type == E::ImpossibleTravel as i32)
        .unwrap();
    assert_eq!(travel_event.level, pb::EventLevel::High as i32);
    assert_eq!(
        travel_event.recommendation.as_ref().unwrap().r#type,
        pb::RecommendationType::Review as i32
    );
    assert!(
        travel_event.details.contains("km in 10 min"),
        "{}",
        travel_event.details
    );
    assert_eq!(travel_event.signals.len(), 1);
    assert_eq!(
        f.status(&dave_id).await.status,
        pb::IdentityStatus::UnderReview as i32
    );

    // Five identities so far (carol, dave, erin, frank, gina); list them two at a time.
    let mut identities = IdentityServiceClient::new(f.server.channel().await);
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = identities
            .list_identities(api_key(
                pb::ListIdentitiesRequest {
                    page_size: 2,
                    page_token,
                    ..Default::default()
                },
                &key,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.identities.len() <= 2);
        seen.extend(
            page.identities
                .into_iter()
                .map(|identity| identity.identity_id),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no identity listed twice");
    let under_review = identities
        .list_identities(api_key(
            pb::ListIdentitiesRequest {
                status: pb::IdentityStatus::UnderReview.into(),
                ..Default::default()
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .identities;
    assert!(
        under_review
            .iter()
            .any(|identity| identity.identity_id == dave_id)
    );
    assert!(
        under_review
            .iter()
            .all(|identity| identity.status == pb::IdentityStatus::UnderReview as i32)
    );
}

#[tokio::test]
async fn bans_apply_at_once_and_stop_when_lifted_or_expired() {
    let f = fixture(pb::IdentityRuleSettings::default()).await;
    let key = f.tenant.secret_key.clone();
    let first = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_h")),
                ..server_signal("hank")
            },
            &key,
        )
        .await
        .unwrap();
    let identity_id = first.identity.unwrap().identity_id;
    let mut identities = IdentityServiceClient::new(f.server.channel().await);
    let ban = identities
        .create_ban(api_key(
            pb::CreateBanRequest {
                subject_kind: pb::BanSubjectKind::Identity.into(),
                subject: identity_id.clone(),
                action: pb::BanAction::Block.into(),
                reason: "chargeback fraud".into(),
                duration_seconds: 0,
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .ban
        .unwrap();
    // An IP ban also catches the IPv4-mapped IPv6 form of the address.
    identities
        .create_ban(api_key(
            pb::CreateBanRequest {
                subject_kind: pb::BanSubjectKind::Ip.into(),
                subject: "192.0.2.77".into(),
                action: pb::BanAction::Block.into(),
                reason: "abuse".into(),
                duration_seconds: 0,
            },
            &key,
        ))
        .await
        .unwrap();
    let mapped = f
        .signal(
            pb::SendSignalRequest {
                ip: "::ffff:192.0.2.77".into(),
                ..server_signal("someone-else")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&mapped).contains(&pb::ImmediateResultType::Banned));
    let banned = f.signal(server_signal("hank"), &key).await.unwrap();
    assert_eq!(kinds(&banned)[0], pb::ImmediateResultType::Banned);
    assert_eq!(
        banned.immediate_results[0].ban.as_ref().unwrap().ban_id,
        ban.ban_id
    );
    assert_eq!(
        banned.identity.unwrap().status,
        pb::IdentityStatus::Banned as i32
    );
    let status = f.status(&identity_id).await;
    assert_eq!(status.status, pb::IdentityStatus::Banned as i32);
    assert_eq!(status.active_bans.len(), 1);
    let banned_event = f
        .events(&identity_id)
        .await
        .into_iter()
        .find(|event| event.r#type == pb::EventType::BannedActivity as i32)
        .expect("BANNED_ACTIVITY raised");
    assert!(
        banned_event.details.contains(&identity_id),
        "{}",
        banned_event.details
    );

    identities
        .delete_ban(api_key(
            pb::DeleteBanRequest {
                ban_id: ban.ban_id.clone(),
            },
            &key,
        ))
        .await
        .unwrap();
    let free = f.signal(server_signal("hank"), &key).await.unwrap();
    assert!(!kinds(&free).contains(&pb::ImmediateResultType::Banned));
    assert_ne!(
        f.status(&identity_id).await.status,
        pb::IdentityStatus::Banned as i32
    );

    // A one-second shadow ban on the device: applies now, and stops by itself.
    identities
        .create_ban(api_key(
            pb::CreateBanRequest {
                subject_kind: pb::BanSubjectKind::Device.into(),
                subject: "dev_h".into(),
                action: pb::BanAction::Shadow.into(),
                reason: "suspicious".into(),
                duration_seconds: 1,
            },
            &key,
        ))
        .await
        .unwrap();
    let shadow = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_h")),
                ..server_signal("hank")
            },
            &key,
        )
        .await
        .unwrap();
    assert!(kinds(&shadow).contains(&pb::ImmediateResultType::ShadowBanned));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let later = f
            .signal(
                pb::SendSignalRequest {
                    device: Some(device("dev_h")),
                    ..server_signal("hank")
                },
                &key,
            )
            .await
            .unwrap();
        if !kinds(&later).contains(&pb::ImmediateResultType::ShadowBanned) {
            break;
        }
        assert!(Instant::now() < deadline, "the ban never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let bans = identities
        .list_bans(api_key(
            pb::ListBansRequest {
                include_inactive: true,
                ..Default::default()
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .bans;
    assert_eq!(bans.len(), 3);
    assert_eq!(
        bans.iter().filter(|ban| ban.active).count(),
        1,
        "only the IP ban is left"
    );
    let refused = identities
        .create_ban(api_key(
            pb::CreateBanRequest {
                subject_kind: pb::BanSubjectKind::Ip.into(),
                subject: "not-an-ip".into(),
                ..Default::default()
            },
            &key,
        ))
        .await
        .unwrap_err();
    assert!(
        refused.message().starts_with("subject"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn the_user_approves_or_denies_from_the_app() {
    let f = fixture(pb::IdentityRuleSettings::default()).await;
    let key = f.tenant.secret_key.clone();
    f.signal(
        pb::SendSignalRequest {
            device: Some(device("dev_i1")),
            ..server_signal("ivy")
        },
        &key,
    )
    .await
    .unwrap();
    let risky = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_i2")),
                ..server_signal("ivy")
            },
            &key,
        )
        .await
        .unwrap();
    let event_id = risky.immediate_results[0].event_id.clone();
    let identity_id = risky.identity.unwrap().identity_id;
    let mut identities = IdentityServiceClient::new(f.server.channel().await);
    let created = identities
        .create_approval(api_key(
            pb::CreateApprovalRequest {
                event_id: event_id.clone(),
                message: "Was this you?".into(),
                ttl_seconds: 600,
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.approval_token.starts_with("apt_"));
    assert_eq!(f.status(&identity_id).await.pending_approvals.len(), 1);

    // The app answers with the publishable key.
    let answered = identities
        .resolve_approval(api_key(
            pb::ResolveApprovalRequest {
                approval_token: created.approval_token.clone(),
                decision: pb::ApprovalDecision::Approve.into(),
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answered.identity_status,
        pb::IdentityStatus::Approved as i32
    );
    assert_eq!(
        answered.approvable.unwrap().status,
        pb::ApprovalStatus::Approved as i32
    );
    let events = f.events(&identity_id).await;
    assert!(
        events
            .iter()
            .any(|event| event.r#type == pb::EventType::ApprovalApproved as i32)
    );
    let asked = events
        .iter()
        .find(|event| event.event_id == event_id)
        .unwrap();
    assert_eq!(
        asked.approvable.as_ref().unwrap().status,
        pb::ApprovalStatus::Approved as i32
    );
    // A token works once.
    let again = identities
        .resolve_approval(api_key(
            pb::ResolveApprovalRequest {
                approval_token: created.approval_token,
                decision: pb::ApprovalDecision::Deny.into(),
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    // Denying puts the identity under review and raises APPROVAL_DENIED.
    let third = f
        .signal(
            pb::SendSignalRequest {
                device: Some(device("dev_i3")),
                ..server_signal("ivy")
            },
            &key,
        )
        .await
        .unwrap();
    let denial = identities
        .create_approval(api_key(
            pb::CreateApprovalRequest {
                event_id: third.immediate_results[0].event_id.clone(),
                ..Default::default()
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner();
    let denied = identities
        .resolve_approval(api_key(
            pb::ResolveApprovalRequest {
                approval_token: denial.approval_token,
                decision: pb::ApprovalDecision::Deny.into(),
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        denied.identity_status,
        pb::IdentityStatus::UnderReview as i32
    );
    // A made-up token is unknown, and the publishable key may not read identities.
    let unknown = identities
        .resolve_approval(api_key(
            pb::ResolveApprovalRequest {
                approval_token: "apt_nope".into(),
                decision: pb::ApprovalDecision::Approve.into(),
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let denied_read = identities
        .get_identity_status(api_key(
            pb::GetIdentityStatusRequest {
                identity_id,
                user_id: String::new(),
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied_read.code(), Code::PermissionDenied);
}
