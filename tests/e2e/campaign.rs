//! A simulated ad campaign against the real binary: 10 000 visitors, a known share of them click
//! bots (datacenter click bots, honeypot hitters, residential click farms, and a few stealthy bots
//! built to look human), the rest people with realistic noise (VPNs, corporate cloud proxies,
//! quick bounces, shared addresses, JavaScript off). Measures precision and recall of FRAUD.
//!
//! `GATEHOUSE_CAMPAIGN_VISITORS` changes the size (default 10 000).

use std::sync::Arc;

use gatehouse_proto::v1::{self as pb, decision_service_client::DecisionServiceClient};
use tokio::sync::Semaphore;

use crate::harness::{Server, api_key, create_tenant};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                      Gecko) Chrome/124.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/124.0.0.0 Safari/537.36";
const SCRIPT: &str = "python-requests/2.31.0";

/// A small deterministic generator (splitmix64), so every run sees the same campaign.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Human,
    DatacenterBot,
    HoneypotBot,
    ClickFarm,
    StealthBot,
}

struct Visitor {
    id: String,
    kind: Kind,
    events: Vec<pb::TrackEventRequest>,
}

fn ip(a: u64, b: u64, c: u64, d: u64) -> String {
    format!("{a}.{b}.{c}.{d}")
}

fn event(
    kind: pb::ClickEventType,
    visitor: &str,
    address: &str,
    time_ms: i64,
    data: pb::ClickEventData,
) -> pb::TrackEventRequest {
    pb::TrackEventRequest {
        r#type: kind.into(),
        url: "https://shop.example/spring-sale?utm_source=google&utm_medium=cpc".into(),
        visitor_id: visitor.into(),
        ip: address.into(),
        time_ms: Some(time_ms),
        data: Some(data),
        ..Default::default()
    }
}

fn campaign(visitors: usize, start_ms: i64) -> Vec<Visitor> {
    let mut rng = Rng(2026);
    let mut out = Vec::with_capacity(visitors);
    for n in 0..visitors {
        let id = format!("vis_sim{n:05}");
        // 15% bots: 40% datacenter click bots, 25% honeypot hitters, 28% click farms, 7% stealthy.
        let kind = match rng.below(1000) {
            0..=59 => Kind::DatacenterBot,
            60..=96 => Kind::HoneypotBot,
            97..=138 => Kind::ClickFarm,
            139..=149 => Kind::StealthBot,
            _ => Kind::Human,
        };
        let t0 = start_ms + i64::try_from(rng.below(3_600_000)).unwrap_or_default();
        let mut events = Vec::new();
        let browser = |rng: &mut Rng| if rng.chance(60) { CHROME } else { IPHONE };
        match kind {
            Kind::Human => {
                // Mostly unique home addresses; 3% share one (households, carrier NAT).
                let address = if rng.chance(5) {
                    ip(100, 100, rng.below(256), rng.below(256)) // VPN users
                } else if rng.chance(2) {
                    ip(203, 0, 113, rng.below(256)) // corporate proxies in the cloud
                } else if rng.chance(3) {
                    ip(172, 20, 0, rng.below(40))
                } else {
                    ip(172, 16 + rng.below(4), rng.below(256), rng.below(256))
                };
                let dwell = match rng.below(100) {
                    0..=69 => 10_000 + rng.below(170_000),
                    70..=89 => 3_000 + rng.below(7_000),
                    _ => 1_000 + rng.below(2_000),
                };
                let data = pb::ClickEventData {
                    user_agent: browser(&mut rng).into(),
                    js_enabled: Some(!rng.chance(1)),
                    time_on_page_ms: Some(dwell),
                    scroll_depth: Some(u32::try_from(10 + rng.below(91)).unwrap_or(100)),
                    ..Default::default()
                };
                events.push(event(
                    pb::ClickEventType::PageView,
                    &id,
                    &address,
                    t0,
                    data.clone(),
                ));
                let clicks = if rng.chance(10) { 2 } else { 1 };
                for k in 0..clicks {
                    let mut click = event(
                        pb::ClickEventType::Click,
                        &id,
                        &address,
                        t0 + 5_000 + k * 240_000,
                        data.clone(),
                    );
                    click.gclid = format!("Cj0K-{id}-{k}");
                    events.push(click);
                }
                if rng.chance(20) {
                    events.push(event(
                        pb::ClickEventType::Conversion,
                        &id,
                        &address,
                        t0 + 600_000,
                        data,
                    ));
                }
            }
            Kind::DatacenterBot => {
                let address = ip(203, 0, 113, rng.below(256));
                let data = pb::ClickEventData {
                    user_agent: if rng.chance(50) {
                        HEADLESS
                    } else if rng.chance(30) {
                        SCRIPT
                    } else {
                        CHROME
                    }
                    .into(),
                    js_enabled: Some(!rng.chance(50)),
                    time_on_page_ms: Some(rng.below(800)),
                    ..Default::default()
                };
                events.push(event(
                    pb::ClickEventType::PageView,
                    &id,
                    &address,
                    t0,
                    data.clone(),
                ));
                for k in 0..(6 + rng.below(15)) {
                    let mut click = event(
                        pb::ClickEventType::Click,
                        &id,
                        &address,
                        t0 + 500 + i64::try_from(k).unwrap_or(0) * 1_500,
                        data.clone(),
                    );
                    click.gclid = format!("Cj0K-{id}-{k}");
                    events.push(click);
                }
            }
            Kind::HoneypotBot => {
                let address = ip(172, 24, rng.below(256), rng.below(256));
                let data = pb::ClickEventData {
                    user_agent: browser(&mut rng).into(),
                    js_enabled: Some(true),
                    time_on_page_ms: Some(500 + rng.below(1_500)),
                    ..Default::default()
                };
                events.push(event(
                    pb::ClickEventType::PageView,
                    &id,
                    &address,
                    t0,
                    data.clone(),
                ));
                let mut trap = event(
                    pb::ClickEventType::Click,
                    &id,
                    &address,
                    t0 + 800,
                    data.clone(),
                );
                if let Some(data) = trap.data.as_mut() {
                    data.honeypot_hit = true;
                }
                events.push(trap);
            }
            Kind::ClickFarm => {
                // A pool of residential addresses shared by the farm's devices.
                let address = ip(172, 28, 0, rng.below(100));
                let data = pb::ClickEventData {
                    user_agent: browser(&mut rng).into(),
                    time_on_page_ms: Some(rng.below(2_000)),
                    ..Default::default()
                };
                for k in 0..(5 + rng.below(8)) {
                    let mut click = event(
                        pb::ClickEventType::Click,
                        &id,
                        &address,
                        t0 + i64::try_from(k).unwrap_or(0) * 4_000,
                        data.clone(),
                    );
                    click.gclid = format!("Cj0K-{id}-{k}");
                    events.push(click);
                }
            }
            Kind::StealthBot => {
                let address = ip(172, 30, rng.below(256), rng.below(256));
                let data = pb::ClickEventData {
                    user_agent: CHROME.into(),
                    js_enabled: Some(true),
                    time_on_page_ms: Some(4_000 + rng.below(4_000)),
                    scroll_depth: Some(30),
                    ..Default::default()
                };
                events.push(event(
                    pb::ClickEventType::PageView,
                    &id,
                    &address,
                    t0,
                    data.clone(),
                ));
                let mut click = event(pb::ClickEventType::Click, &id, &address, t0 + 3_000, data);
                click.gclid = format!("Cj0K-{id}");
                events.push(click);
            }
        }
        out.push(Visitor { id, kind, events });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_precision_and_recall_on_a_simulated_campaign() {
    let visitors: usize = std::env::var("GATEHOUSE_CAMPAIGN_VISITORS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000);
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(
        lists.path().join("datacenter-cloud.txt"),
        "# label: cloud\n203.0.113.0/24\n",
    )
    .unwrap();
    std::fs::write(lists.path().join("vpn-commercial.txt"), "100.100.0.0/16\n").unwrap();
    let server = Server::start_with(&["--ip-lists-dir", lists.path().to_str().unwrap()], &[]).await;
    let tenant = create_tenant(
        &server,
        "campaign",
        Some(pb::TenantSettings {
            rate_limit_per_minute: Some(10_000_000),
            ..Default::default()
        }),
    )
    .await;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let population = campaign(visitors, now - 2 * 3_600_000);

    let channel = server.channel().await;
    let gate = Arc::new(Semaphore::new(48));
    let mut tasks = Vec::with_capacity(population.len());
    for visitor in population {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let mut client = DecisionServiceClient::new(channel.clone());
        let key = tenant.secret_key.clone();
        tasks.push(tokio::spawn(async move {
            for event in visitor.events {
                client.track_event(api_key(event, &key)).await.unwrap();
            }
            drop(permit);
            (visitor.id, visitor.kind)
        }));
    }
    let mut tracked = Vec::with_capacity(tasks.len());
    for task in tasks {
        tracked.push(task.await.unwrap());
    }
    // Decide once everything is in: shared addresses and click ids are only visible then.
    let mut tasks = Vec::with_capacity(tracked.len());
    for (id, kind) in tracked {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let mut client = DecisionServiceClient::new(channel.clone());
        let key = tenant.secret_key.clone();
        tasks.push(tokio::spawn(async move {
            let decision = client
                .get_decision(api_key(pb::GetDecisionRequest { visitor_id: id }, &key))
                .await
                .unwrap()
                .into_inner();
            drop(permit);
            (kind, decision.label == pb::DecisionLabel::Fraud as i32)
        }));
    }
    let (mut true_positive, mut false_positive, mut false_negative) = (0u32, 0u32, 0u32);
    let mut missed_by_kind = std::collections::BTreeMap::new();
    for task in tasks {
        let (kind, fraud) = task.await.unwrap();
        match (kind != Kind::Human, fraud) {
            (true, true) => true_positive += 1,
            (false, true) => false_positive += 1,
            (true, false) => {
                false_negative += 1;
                *missed_by_kind.entry(format!("{kind:?}")).or_insert(0) += 1;
            }
            (false, false) => {}
        }
    }
    let precision = f64::from(true_positive) / f64::from(true_positive + false_positive);
    let recall = f64::from(true_positive) / f64::from(true_positive + false_negative);
    eprintln!(
        "campaign: {visitors} visitors, {} bots; FRAUD precision {:.2}% ({true_positive} of {}), recall {:.2}% ({true_positive} of {}); missed {missed_by_kind:?}",
        true_positive + false_negative,
        precision * 100.0,
        true_positive + false_positive,
        recall * 100.0,
        true_positive + false_negative,
    );
    assert!(precision >= 0.95, "precision {precision:.4}");
    assert!(recall >= 0.90, "recall {recall:.4}");
}
