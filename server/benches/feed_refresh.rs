//! Does a feed refresh of one million entries move CheckVisitor's latency? The in-process
//! visitor check (reverse DNS off) is timed call by call, first with nothing else running, then
//! while a feed of 1 M CIDR lines is fetched again and again from a local publisher, parsed,
//! written atomically into the list folder and picked up by the server's own list reloader
//! (which rebuilds the range tables and swaps them in). Prints p50 / p99 / p99.9 of both runs.
//!
//! Run with `cargo bench -p gatehouse-server --bench feed_refresh`. `FEED_REFRESH_SECONDS`
//! sets each run's length (default 20).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use gatehouse_server::{
    engine::{Engine, VisitorQuery},
    intel::{
        Intel, IntelSettings,
        feeds::{self, FeedFormat, FeedKind, FeedSettings},
        geo::GeoPaths,
        hosting::HostingSettings,
        rdns::RdnsSettings,
    },
    store::SledStore,
    tenancy::{BlockerSettings, TenantId},
    webhooks::{WebhookSettings, Webhooks},
};

const ENTRIES: u32 = 1_000_000;

/// A million distinct ranges: /24s and single addresses over the IPv4 space.
fn feed_body() -> Vec<u8> {
    let mut out = String::with_capacity(ENTRIES as usize * 16);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..ENTRIES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let ip = std::net::Ipv4Addr::from((state >> 16) as u32);
        if n % 3 == 0 {
            out.push_str(&format!("{ip}\n"));
        } else {
            let net = std::net::Ipv4Addr::from(u32::from(ip) & 0xffff_ff00);
            out.push_str(&format!("{net}/24\n"));
        }
    }
    out.into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    let p99 = percentile(&samples, 0.99);
    println!(
        "{name}: {} calls, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        percentile(&samples, 0.999).as_secs_f64() * 1e6,
        samples.last().unwrap().as_secs_f64() * 1e6,
    );
    p99
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: then run briefly.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let seconds: u64 = std::env::var("FEED_REFRESH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if quick { 1 } else { 20 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lists_dir = dir.path().join("lists");
    std::fs::create_dir_all(&lists_dir).unwrap();
    let body = Arc::new(feed_body());

    runtime.block_on(async {
        // The publisher, on a runtime of its own: it stands for a server elsewhere.
        let (addr_sender, addr_receiver) = std::sync::mpsc::channel();
        let served = body.clone();
        std::thread::spawn(move || {
            let publisher = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            publisher.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_sender.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move || {
                    let served = served.clone();
                    async move { served.as_ref().clone() }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = addr_receiver.recv().unwrap();

        let intel = Arc::new(
            Intel::load(&IntelSettings {
                geo: GeoPaths::default(),
                geo_fallback: GeoPaths::default(),
                hosting: HostingSettings {
                    builtin: true,
                    ..Default::default()
                },
                ip_lists_dir: Some(lists_dir.clone()),
                ip_lists_reload: Duration::from_secs(1),
                rdns: RdnsSettings {
                    enabled: false,
                    timeout: Duration::from_millis(1),
                    nameservers: Vec::new(),
                    cache_entries: 1,
                },
                hostname_patterns_file: None,
            })
            .unwrap(),
        );
        let _reloader = intel.spawn_list_reloader(Duration::from_millis(200));
        let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
        let engine = Arc::new(Engine::new(
            store.clone(),
            intel.clone(),
            Arc::new(Webhooks::new(store, WebhookSettings::default())),
        ));
        let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
        let settings = BlockerSettings::default();
        let queries: Vec<VisitorQuery> = (0..1000u32)
            .map(|n| VisitorQuery {
                ip: IpAddr::from([100 + (n % 100) as u8, (n / 100) as u8, 7, 9]),
                user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                             (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
                    .into(),
                url: "/shop/shoes?size=42".into(),
                invalid_keyname: false,
            })
            .collect();

        let measure = |label: &'static str| {
            let engine = engine.clone();
            let tenant = tenant.clone();
            let settings = settings.clone();
            let queries = queries.clone();
            async move {
                let mut samples = Vec::new();
                let until = Instant::now() + Duration::from_secs(seconds);
                let mut next = 0;
                while Instant::now() < until {
                    let started = Instant::now();
                    engine
                        .check_visitor(&tenant, &settings, &queries[next])
                        .await
                        .unwrap();
                    samples.push(started.elapsed());
                    next = (next + 1) % queries.len();
                }
                report(label, samples)
            }
        };

        // Warm up, then the quiet run.
        for query in &queries {
            engine.check_visitor(&tenant, &settings, query).await.unwrap();
        }
        let quiet = measure("check_visitor, no refresh").await;

        // The refresh, over and over: fetch, parse, atomic write; the reloader rebuilds.
        let feed_settings = FeedSettings {
            feeds: vec![feeds::FeedDefinition {
                name: "bench".into(),
                url: format!("http://{addr}/bench"),
                format: FeedFormat::PlainCidr,
                kind: FeedKind::Datacenter,
                label: "Bench".into(),
                interval: Duration::from_secs(1),
                enabled: true,
                licence: "generated".into(),
            }],
            lists_dir: lists_dir.clone(),
            geoip_dir: dir.path().join("geoip"),
            hosting_asns_dir: dir.path().join("hosting-asns"),
            state_file: dir.path().join("feeds-state.json"),
            max_download_bytes: 1 << 30,
            max_unpacked_bytes: 1 << 30,
            timeout: Duration::from_secs(120),
            // Each round rewrites the same feed, never a shrink.
            max_shrink: 1.0,
            maxmind_license_key: None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let refreshes = Arc::new(AtomicUsize::new(0));
        let refresher = {
            let stop = stop.clone();
            let refreshes = refreshes.clone();
            let state_file = feed_settings.state_file.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    // No validators: every round is a full download and rewrite.
                    let _ = std::fs::remove_file(&state_file);
                    let reports = feeds::update_all(&feed_settings, None).await.unwrap();
                    assert_eq!(reports[0].entries, ENTRIES as usize, "{reports:?}");
                    refreshes.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let busy = measure("check_visitor, 1 M-entry feed refreshing").await;
        stop.store(true, Ordering::Relaxed);
        refresher.await.unwrap();
        println!(
            "refreshes completed during the run: {} (each: download, parse, write, reload of {ENTRIES} entries); tables now hold {} ranges",
            refreshes.load(Ordering::Relaxed),
            intel.lists().entries()
        );
        println!(
            "p99 change: {:+.1}%",
            (busy.as_secs_f64() / quiet.as_secs_f64() - 1.0) * 100.0
        );
    });
}
