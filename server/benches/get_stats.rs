//! GetStats over 1 000 000 click events: the events are tracked through the engine (spread over
//! 90 days, 20 000 visitors, with decisions), then the stats of each range are read. Stats come
//! from day counters, so their cost does not grow with the number of events; this shows it.
//!
//! `cargo bench -p gatehouse-server --bench get_stats` (set `GATEHOUSE_BENCH_EVENTS` to change the
//! count).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_server::{
    engine::{
        Engine, VisitorId,
        clicks::{TrackInput, records::ClickKind},
    },
    intel::{Intel, ip_lists::IpListTables},
    store::SledStore,
    tenancy::{ClickRuleSettings, TenantId},
    time::now_ms,
    webhooks::{WebhookSettings, Webhooks},
};

fn bench(c: &mut Criterion) {
    let events: u64 = std::env::var("GATEHOUSE_BENCH_EVENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
    let engine = runtime.block_on(async {
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
        let webhooks = Arc::new(Webhooks::new(store.clone(), WebhookSettings::default()));
        Arc::new(Engine::new(store, intel, webhooks))
    });
    let now = now_ms();
    let started = Instant::now();
    runtime.block_on(async {
        let writers = 256u64;
        let tasks: Vec<_> = (0..writers)
            .map(|writer| {
                let engine = engine.clone();
                let tenant = tenant.clone();
                tokio::spawn(async move {
                    let mut n = writer;
                    while n < events {
                        let input = TrackInput {
                            kind: if n % 3 == 0 {
                                ClickKind::PageView
                            } else {
                                ClickKind::Click
                            },
                            visitor_id: Some(
                                VisitorId::parse(&format!("vis_{}", n % 20_000)).unwrap(),
                            ),
                            url: "https://shop.example/landing".into(),
                            referrer: String::new(),
                            click_ids: BTreeMap::new(),
                            user_agent: String::new(),
                            scroll_depth: None,
                            time_on_page_ms: Some(n % 60_000),
                            honeypot_hit: n % 97 == 0,
                            js_enabled: Some(true),
                            timezone: String::new(),
                            device_id: String::new(),
                            ip: None,
                            // Spread over the last 90 days.
                            time_ms: now - i64::try_from(n % 90).unwrap() * 86_400_000,
                        };
                        engine
                            .clicks
                            .track_event(&tenant, &ClickRuleSettings::default(), input)
                            .await
                            .unwrap();
                        n += writers;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    println!(
        "loaded {events} events in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let mut group = c.benchmark_group(format!("get_stats_{events}_events"));
    for (name, days) in [("today", 1), ("7days", 7), ("30days", 30), ("90days", 90)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { engine.clicks.stats(&tenant, days, now).await.unwrap() });
        });
    }
    group.finish();
    let stats = runtime
        .block_on(engine.clicks.stats(&tenant, 90, now))
        .unwrap();
    let total: i64 = stats.daily.iter().map(|day| day.events).sum();
    println!("90-day total events from counters: {total}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
