//! DecisionService against the real binary: each rule from a realistic event sequence, the label
//! thresholds, the blocklist in every format, and stats over ranges that straddle days.

use gatehouse_proto::v1::{self as pb, decision_service_client::DecisionServiceClient};
use tonic::Code;

use crate::harness::{Server, TestTenant, api_key, create_tenant, now_ms, test_mmdb};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                      Gecko) Chrome/124.0.0.0 Safari/537.36";
const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/124.0.0.0 Safari/537.36";
const HOME_IP: &str = "192.0.2.44";
const AWS_IP: &str = "203.0.113.50";
const TOR_IP: &str = "198.51.100.10";
// London in MaxMind's GeoIP2-City test database (time zone Europe/London).
const LONDON_IP: &str = "81.2.69.160";
const DAY_MS: i64 = 86_400_000;

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
    std::fs::write(lists.path().join("tor-exits.txt"), format!("{TOR_IP}\n")).unwrap();
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
    let tenant = create_tenant(&server, "ads", None).await;
    Fixture {
        server,
        tenant,
        _lists: lists,
    }
}

/// A server-side event builder.
fn event(kind: pb::ClickEventType, visitor: &str, ip: &str, time_ms: i64) -> pb::TrackEventRequest {
    pb::TrackEventRequest {
        r#type: kind.into(),
        url: "https://shop.example/landing?utm_source=google".into(),
        visitor_id: visitor.into(),
        ip: ip.into(),
        time_ms: Some(time_ms),
        data: Some(pb::ClickEventData {
            user_agent: CHROME.into(),
            js_enabled: Some(true),
            time_on_page_ms: Some(45_000),
            scroll_depth: Some(70),
            timezone: "Europe/London".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Fixture {
    async fn track(&self, request: pb::TrackEventRequest) -> pb::TrackEventResponse {
        DecisionServiceClient::new(self.server.channel().await)
            .track_event(api_key(request, &self.tenant.secret_key))
            .await
            .unwrap()
            .into_inner()
    }

    async fn decide(&self, visitor: &str) -> pb::GetDecisionResponse {
        DecisionServiceClient::new(self.server.channel().await)
            .get_decision(api_key(
                pb::GetDecisionRequest {
                    visitor_id: visitor.into(),
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// A visitor who viewed the page and clicked once, like a person: modified by `change`.
    async fn visit(
        &self,
        visitor: &str,
        ip: &str,
        change: impl Fn(&mut pb::TrackEventRequest),
    ) -> pb::GetDecisionResponse {
        let start = now_ms() - 120_000;
        let mut view = event(pb::ClickEventType::PageView, visitor, ip, start);
        change(&mut view);
        self.track(view).await;
        let mut click = event(pb::ClickEventType::Click, visitor, ip, start + 40_000);
        click.gclid = format!("gclid-{visitor}");
        change(&mut click);
        self.track(click).await;
        self.decide(visitor).await
    }

    async fn set_weights(&self, weights: &[(&str, i32)]) {
        self.server
            .admin()
            .await
            .update_tenant(api_key(
                pb::UpdateTenantRequest {
                    tenant_id: self.tenant.id.clone(),
                    settings: Some(pb::TenantSettings {
                        click_rules: Some(pb::ClickRuleSettings {
                            weights: weights
                                .iter()
                                .map(|(rule, points)| (rule.to_string(), *points))
                                .collect(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &self.tenant.secret_key,
            ))
            .await
            .unwrap();
    }
}

fn reason<'a>(decision: &'a pb::GetDecisionResponse, rule: &str) -> &'a pb::Reason {
    decision
        .reasons
        .iter()
        .find(|reason| reason.rule == rule)
        .unwrap_or_else(|| panic!("{rule} did not fire: {:?}", decision.reasons))
}

fn only(decision: &pb::GetDecisionResponse, rule: &str, score: i32, details: &str) {
    assert_eq!(decision.reasons.len(), 1, "{:?}", decision.reasons);
    let fired = reason(decision, rule);
    assert_eq!(fired.score, score);
    assert_eq!(fired.details, details);
    assert_eq!(decision.score, score);
}

#[tokio::test]
async fn each_rule_fires_on_the_sequence_that_should_fire_it() {
    use pb::{DecisionAction as Act, DecisionLabel as L};
    let f = fixture().await;
    let person = f.visit("vis_person", LONDON_IP, |_| {}).await;
    assert_eq!(
        (person.score, person.label, person.action),
        (0, L::Clean as i32, Act::Allow as i32)
    );

    only(
        &f.visit("vis_dc", AWS_IP, |_| {}).await,
        "datacenter_ip",
        25,
        "AWS IP range",
    );
    only(
        &f.visit("vis_tor", TOR_IP, |_| {}).await,
        "tor_or_vpn",
        30,
        "Tor exit (exits)",
    );
    only(
        &f.visit("vis_dwell", "192.0.2.45", |event| {
            event.data.as_mut().unwrap().time_on_page_ms = Some(3_000 - 1)
        })
        .await,
        "short_dwell",
        20,
        "2s on page",
    );
    only(
        &f.visit("vis_nojs", "192.0.2.46", |event| {
            event.data.as_mut().unwrap().js_enabled = Some(false)
        })
        .await,
        "no_js",
        25,
        "JavaScript did not run",
    );
    let headless = f
        .visit("vis_headless", "192.0.2.47", |event| {
            event.data.as_mut().unwrap().user_agent = HEADLESS.into()
        })
        .await;
    assert_eq!(reason(&headless, "bot_user_agent").score, 40);
    let mismatch = f
        .visit("vis_geo", LONDON_IP, |event| {
            event.data.as_mut().unwrap().timezone = "America/New_York".into()
        })
        .await;
    only(
        &mismatch,
        "geo_mismatch",
        15,
        "Browser time zone America/New_York, IP in GB (Europe/London)",
    );

    // Honeypot: the hidden link is followed.
    let mut trap = event(
        pb::ClickEventType::Click,
        "vis_trap",
        "192.0.2.48",
        now_ms() - 1_000,
    );
    trap.data.as_mut().unwrap().honeypot_hit = true;
    f.track(event(
        pb::ClickEventType::PageView,
        "vis_trap",
        "192.0.2.48",
        now_ms() - 60_000,
    ))
    .await;
    f.track(trap).await;
    only(
        &f.decide("vis_trap").await,
        "honeypot",
        70,
        "Clicked hidden link",
    );

    // Clicks on one ad from one IP add up across visitors: a shared address clicking again and again.
    for n in 0..3 {
        f.track(event(
            pb::ClickEventType::Click,
            &format!("vis_shared{n}"),
            "192.0.2.90",
            now_ms() - 10_000 + n,
        ))
        .await;
    }
    assert_eq!(
        reason(&f.decide("vis_shared2").await, "repeat_clicks").details,
        "3 clicks on the same ad"
    );

    // A click straight from the ad with no page view.
    let direct = event(
        pb::ClickEventType::Click,
        "vis_direct",
        "192.0.2.49",
        now_ms() - 1_000,
    );
    f.track(direct).await;
    only(
        &f.decide("vis_direct").await,
        "click_without_page_view",
        20,
        "Click without a page view",
    );

    // One gclid from two visitors on two IPs.
    let mut first = event(
        pb::ClickEventType::PageView,
        "vis_g1",
        "192.0.2.61",
        now_ms() - 5_000,
    );
    first.gclid = "Cj0KCQ-shared".into();
    f.track(first.clone()).await;
    let mut second = first.clone();
    second.visitor_id = "vis_g2".into();
    second.ip = "192.0.2.62".into();
    f.track(second).await;
    only(
        &f.decide("vis_g2").await,
        "gclid_reuse",
        30,
        "Click id seen from 2 visitors or IPs",
    );

    // A click bot: a page view, then 15 clicks in 45 s from a datacenter, without reading.
    let start = now_ms() - 100_000;
    let mut view = event(
        pb::ClickEventType::PageView,
        "vis_bot",
        "203.0.113.60",
        start,
    );
    view.data.as_mut().unwrap().time_on_page_ms = Some(400);
    f.track(view).await;
    for n in 0..15 {
        let mut click = event(
            pb::ClickEventType::Click,
            "vis_bot",
            "203.0.113.60",
            start + 1_000 + n * 3_000,
        );
        click.data.as_mut().unwrap().time_on_page_ms = Some(400);
        f.track(click).await;
    }
    let bot = f.decide("vis_bot").await;
    assert_eq!(reason(&bot, "rapid_clicks").details, "15 clicks in 60s");
    assert_eq!(
        reason(&bot, "repeat_clicks").details,
        "15 clicks on the same ad"
    );
    assert_eq!(reason(&bot, "datacenter_ip").details, "AWS IP range");
    assert_eq!(
        reason(&bot, "conversionless_burst").details,
        "15 clicks in a day without a conversion"
    );
    assert_eq!(reason(&bot, "short_dwell").details, "0s on page");
    assert_eq!(bot.score, 100, "capped at 100");
    assert_eq!(
        (bot.label, bot.action),
        (L::Fraud as i32, Act::Block as i32)
    );
    assert!(
        bot.reasons
            .windows(2)
            .all(|pair| pair[0].score >= pair[1].score),
        "most points first"
    );

    // Unknown visitors and bad input.
    let mut client = DecisionServiceClient::new(f.server.channel().await);
    let missing = client
        .get_decision(api_key(
            pb::GetDecisionRequest {
                visitor_id: "vis_nobody".into(),
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad = client
        .track_event(api_key(
            pb::TrackEventRequest {
                url: "/".into(),
                ..Default::default()
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap_err();
    assert!(bad.message().starts_with("type"), "{}", bad.message());
}

#[tokio::test]
async fn visitors_are_decided_when_their_events_arrive() {
    let f = fixture().await;
    // A click bot nobody asks about: TrackEvent decides, so it is on the blocklist at once.
    let start = now_ms() - 60_000;
    for k in 0..8 {
        let mut click = event(
            pb::ClickEventType::Click,
            "vis_unasked",
            AWS_IP,
            start + k * 2_000,
        );
        click.data.as_mut().unwrap().time_on_page_ms = Some(0);
        f.track(click).await;
    }
    let blocklist = DecisionServiceClient::new(f.server.channel().await)
        .get_blocklist(api_key(
            pb::GetBlocklistRequest {
                format: pb::BlocklistFormat::Json.into(),
                days: 0,
                include_suspicious: false,
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(blocklist.total, 1, "{blocklist:?}");
    assert_eq!(blocklist.entries[0].ip, AWS_IP);
    let stats = DecisionServiceClient::new(f.server.channel().await)
        .get_stats(api_key(
            pb::GetStatsRequest {
                range: pb::StatsRange::Today.into(),
                as_of_ms: None,
            },
            &f.tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (stats.total_decisions, stats.fraud_count),
        (1, 1),
        "{stats:?}"
    );

    // GetDecision reads what TrackEvent decided; asking twice changes nothing.
    let first = f.decide("vis_unasked").await;
    let again = f.decide("vis_unasked").await;
    assert_eq!(first, again);
    assert_eq!(first.label, pb::DecisionLabel::Fraud as i32);

    // A click id shared later counts for the visitor who had it first, too.
    let mut first_view = event(
        pb::ClickEventType::PageView,
        "vis_first",
        "192.0.2.71",
        now_ms() - 5_000,
    );
    first_view.gclid = "Cj0KCQ-later".into();
    f.track(first_view.clone()).await;
    assert!(f.decide("vis_first").await.reasons.is_empty());
    let mut later = first_view;
    later.visitor_id = "vis_later".into();
    later.ip = "192.0.2.72".into();
    f.track(later).await;
    only(
        &f.decide("vis_first").await,
        "gclid_reuse",
        30,
        "Click id seen from 2 visitors or IPs",
    );
}

#[tokio::test]
async fn labels_change_at_39_40_69_and_70() {
    use pb::{DecisionAction as Act, DecisionLabel as L};
    let f = fixture().await;
    let mut trap = event(
        pb::ClickEventType::PageView,
        "vis_edge",
        HOME_IP,
        now_ms() - 1_000,
    );
    trap.data.as_mut().unwrap().honeypot_hit = true;
    f.track(trap).await;
    for (points, label, action) in [
        (39, L::Clean, Act::Allow),
        (40, L::Suspicious, Act::Challenge),
        (69, L::Suspicious, Act::Challenge),
        (70, L::Fraud, Act::Block),
    ] {
        f.set_weights(&[("honeypot", points)]).await;
        let decision = f.decide("vis_edge").await;
        assert_eq!(decision.score, points);
        assert_eq!(
            (decision.label, decision.action),
            (label as i32, action as i32),
            "at {points}"
        );
    }
}

#[tokio::test]
async fn blocklist_in_json_csv_and_google_ads() {
    let f = fixture().await;
    let start = now_ms() - 100_000;
    // Three click bots in one /24 and one elsewhere.
    for (n, ip) in [
        "203.0.113.50",
        "203.0.113.51",
        "203.0.113.52",
        "198.51.100.10",
    ]
    .iter()
    .enumerate()
    {
        let visitor = format!("vis_b{n}");
        for k in 0..8 {
            let mut click = event(pb::ClickEventType::Click, &visitor, ip, start + k * 2_000);
            click.data.as_mut().unwrap().time_on_page_ms = Some(0);
            f.track(click).await;
        }
        assert_eq!(
            f.decide(&visitor).await.label,
            pb::DecisionLabel::Fraud as i32
        );
    }
    f.visit("vis_human", HOME_IP, |_| {}).await;
    let client = DecisionServiceClient::new(f.server.channel().await);
    let blocklist = |format: pb::BlocklistFormat| {
        let request = api_key(
            pb::GetBlocklistRequest {
                format: format.into(),
                days: 0,
                include_suspicious: false,
            },
            &f.tenant.secret_key,
        );
        let mut client = client.clone();
        async move { client.get_blocklist(request).await.unwrap().into_inner() }
    };
    let json = blocklist(pb::BlocklistFormat::Json).await;
    assert_eq!(json.total, 4);
    assert_eq!(json.content_type, "application/json");
    let parsed: serde_json::Value = serde_json::from_str(&json.content).unwrap();
    assert_eq!(parsed["total"], 4);
    assert_eq!(parsed["blocklist"].as_array().unwrap().len(), 4);
    assert!(
        parsed["blocklist"][0]["lastSeen"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(json.entries.iter().all(|entry| entry.ip != HOME_IP));

    let csv = blocklist(pb::BlocklistFormat::Csv).await;
    assert_eq!(csv.content_type, "text/csv");
    assert!(csv.content.starts_with("ip,score,last_seen,reason"));
    assert_eq!(csv.content.trim_end().lines().count(), 5);

    let ads = blocklist(pb::BlocklistFormat::GoogleAds).await;
    let lines: Vec<&str> = ads.content.lines().collect();
    assert!(
        lines.contains(&"203.0.113.0/24"),
        "three bad IPs in one /24 collapse: {lines:?}"
    );
    assert!(lines.contains(&"198.51.100.10"));
    assert_eq!(lines.len(), 2);
}

#[tokio::test]
async fn stats_follow_the_days_the_events_happened_on() {
    let f = fixture().await;
    let today_start = now_ms().div_euclid(DAY_MS) * DAY_MS;
    let yesterday_late = today_start - 1_000; // 23:59:59 yesterday
    let today_early = today_start + 1_000; // 00:00:01 today, if that is not in the future
    let today_early = today_early.min(now_ms() - 1_000);
    // Yesterday: a person. Today: a bot (a lone honeypot hit without a page view).
    f.track(event(
        pb::ClickEventType::PageView,
        "vis_y",
        HOME_IP,
        yesterday_late,
    ))
    .await;
    f.decide("vis_y").await;
    let mut trap = event(pb::ClickEventType::Click, "vis_t", AWS_IP, today_early);
    trap.data.as_mut().unwrap().honeypot_hit = true;
    f.track(trap).await;
    let bot = f.decide("vis_t").await;
    assert_eq!(bot.label, pb::DecisionLabel::Fraud as i32, "{bot:?}");
    // Deciding again the same day does not count the visitor twice.
    f.decide("vis_t").await;

    let client = DecisionServiceClient::new(f.server.channel().await);
    let stats = |range: pb::StatsRange, as_of: i64| {
        let mut client = client.clone();
        let request = api_key(
            pb::GetStatsRequest {
                range: range.into(),
                as_of_ms: Some(as_of),
            },
            &f.tenant.secret_key,
        );
        async move { client.get_stats(request).await.unwrap().into_inner() }
    };
    let today = stats(pb::StatsRange::Today, now_ms()).await;
    assert_eq!(
        (today.total_events, today.total_decisions, today.fraud_count),
        (1, 1, 1)
    );
    assert_eq!(today.fraud_rate_text, "100.0%");
    assert_eq!(today.daily.len(), 1);
    let week = stats(pb::StatsRange::Last7Days, now_ms()).await;
    assert_eq!((week.total_events, week.total_decisions), (2, 2));
    assert_eq!((week.clean_count, week.fraud_count), (1, 1));
    assert_eq!(week.fraud_rate_text, "50.0%");
    assert_eq!(week.daily.len(), 7);
    assert_eq!(week.daily[5].events, 1, "yesterday");
    assert_eq!(week.daily[6].events, 1, "today");
    assert!(
        week.top_rules
            .iter()
            .any(|rule| rule.rule == "honeypot" && rule.count == 1)
    );
    // As of yesterday, today's bot has not happened yet.
    let as_of_yesterday = stats(pb::StatsRange::Today, yesterday_late).await;
    assert_eq!(
        (as_of_yesterday.total_events, as_of_yesterday.fraud_count),
        (1, 0)
    );
    let month = stats(pb::StatsRange::Last30Days, now_ms()).await;
    assert_eq!(month.daily.len(), 30);
    assert_eq!(
        stats(pb::StatsRange::Last90Days, now_ms())
            .await
            .daily
            .len(),
        90
    );
}

#[tokio::test]
async fn browsers_track_with_the_publishable_key_and_their_own_address() {
    let f = fixture().await;
    let mut client = DecisionServiceClient::new(f.server.channel().await);
    let tracked = client
        .track_event(api_key(
            pb::TrackEventRequest {
                r#type: pb::ClickEventType::PageView.into(),
                url: "https://shop.example/landing?gclid=abc".into(),
                gclid: "abc".into(),
                data: Some(pb::ClickEventData {
                    user_agent: CHROME.into(),
                    js_enabled: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(tracked.success);
    assert!(tracked.visitor_id.starts_with("vis_"));
    assert!(tracked.event_id.starts_with("cev_"));
    assert_eq!(f.decide(&tracked.visitor_id).await.ip, "127.0.0.1");
    for (field, request) in [
        (
            "ip",
            pb::TrackEventRequest {
                r#type: pb::ClickEventType::Click.into(),
                ip: "1.2.3.4".into(),
                ..Default::default()
            },
        ),
        (
            "time_ms",
            pb::TrackEventRequest {
                r#type: pb::ClickEventType::Click.into(),
                time_ms: Some(1),
                ..Default::default()
            },
        ),
    ] {
        let refused = client
            .track_event(api_key(request, &f.tenant.publishable_key))
            .await
            .unwrap_err();
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }
    let denied = client
        .get_decision(api_key(
            pb::GetDecisionRequest {
                visitor_id: tracked.visitor_id,
            },
            &f.tenant.publishable_key,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn tracked_events_read_back_with_their_click_ids_and_measurements() {
    let fixture = fixture().await;
    let start = now_ms() - 60_000;
    let mut view = event(pb::ClickEventType::PageView, "vis_reader", HOME_IP, start);
    view.gclid = "gclid-abc".into();
    view.fbclid = "fb-123".into();
    fixture.track(view).await;
    let mut click = event(
        pb::ClickEventType::Click,
        "vis_reader",
        HOME_IP,
        start + 1_000,
    );
    click.data.as_mut().unwrap().device_id = "dev_browser".into();
    fixture.track(click).await;
    fixture
        .track(event(
            pb::ClickEventType::PageView,
            "vis_other",
            HOME_IP,
            start + 2_000,
        ))
        .await;

    let list = |visitor: &str, size: i32, token: String, key: String| {
        let channel = fixture.server.channel();
        let visitor = visitor.to_string();
        async move {
            DecisionServiceClient::new(channel.await)
                .list_click_events(api_key(
                    pb::ListClickEventsRequest {
                        visitor_id: visitor,
                        page_size: size,
                        page_token: token,
                    },
                    &key,
                ))
                .await
        }
    };
    let secret = fixture.tenant.secret_key.clone();
    let own = list("vis_reader", 0, String::new(), secret.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.events.len(), 2);
    assert!(own.next_page_token.is_empty());
    let first = &own.events[0];
    assert_eq!(first.r#type, pb::ClickEventType::PageView as i32);
    assert_eq!(first.gclid, "gclid-abc");
    assert_eq!(first.fbclid, "fb-123");
    assert_eq!(first.ip, HOME_IP);
    let data = first.data.as_ref().unwrap();
    assert_eq!(data.scroll_depth, Some(70));
    assert_eq!(data.time_on_page_ms, Some(45_000));
    assert_eq!(
        own.events[1].data.as_ref().unwrap().device_id,
        "dev_browser"
    );

    // The whole tenant, one event a page, in time order.
    let mut token = String::new();
    let mut visitors = Vec::new();
    loop {
        let page = list("", 1, token, secret.clone())
            .await
            .unwrap()
            .into_inner();
        visitors.extend(page.events.iter().map(|event| event.visitor_id.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(visitors, ["vis_reader", "vis_reader", "vis_other"]);

    let bad = list("", 0, "zz".into(), secret.clone()).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("page_token"), "{}", bad.message());
    // Reading events back is for the server: a publishable key is refused.
    let browser = list("", 0, String::new(), fixture.tenant.publishable_key.clone())
        .await
        .unwrap_err();
    assert_eq!(browser.code(), Code::PermissionDenied);
    // Another tenant sees none of them.
    let other = create_tenant(&fixture.server, "other", None).await;
    let theirs = list("vis_reader", 0, String::new(), other.secret_key)
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.events.is_empty());
}
