//! The in-process visitor check with full-size lists: 1 M generated CIDR entries across the five
//! list kinds (IPv4 and IPv6), reverse DNS off. Run with `cargo bench -p gatehouse-server --bench
//! check_visitor`; it also prints the memory the loaded tables take.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::{net::IpAddr, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_server::{
    engine::{Engine, VisitorQuery},
    intel::{
        Intel,
        ip_lists::{IpListTables, IpRange, ListKind},
    },
    store::SledStore,
    tenancy::{BlockerSettings, TenantId},
    webhooks::{WebhookSettings, Webhooks},
};

/// Entries generated for the lists.
const ENTRIES: u32 = 1_000_000;

/// Resident memory of this process, from /proc (Linux), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or_default()
}

/// A deterministic spread of ranges: /24s and single addresses over the whole IPv4 space, every
/// tenth entry an IPv6 /48.
fn generated_lists() -> IpListTables {
    let mut tables = IpListTables::empty();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..ENTRIES {
        // xorshift: cheap, repeatable
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let kind = ListKind::ALL[(n % 5) as usize];
        let range = if n % 10 == 9 {
            let base = u128::from(state) << 80 | 0x2001_0db8 << 96;
            IpRange::V6(base, base | ((1u128 << 80) - 1))
        } else if n % 3 == 0 {
            let ip = (state >> 16) as u32;
            IpRange::V4(ip, ip)
        } else {
            let net = ((state >> 16) as u32) & 0xffff_ff00;
            IpRange::V4(net, net | 0xff)
        };
        tables.insert(kind, range, kind.tag());
    }
    tables
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let before = rss_kib();
    let tables = generated_lists();
    let after = rss_kib();
    println!(
        "lists: {ENTRIES} entries loaded; resident memory grew by {} MiB (process now {} MiB)",
        (after.saturating_sub(before)) / 1024,
        after / 1024
    );
    let dir = tempfile::tempdir().unwrap();
    let (engine, tenant) = runtime.block_on(async {
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let intel = Arc::new(Intel::bare(tables).unwrap());
        (
            Engine::new(
                store.clone(),
                intel,
                Arc::new(Webhooks::new(store, WebhookSettings::default())),
            ),
            TenantId::parse("tn_0123456789abcdef", "tenant").unwrap(),
        )
    });
    let settings = BlockerSettings::default();
    let visitors = [
        (
            "clean_browser",
            "192.0.2.200",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/124.0.0.0 Safari/537.36",
            "/shop/shoes?size=42&utm_source=google",
        ),
        ("bot", "198.51.100.7", "python-requests/2.31.0", "/"),
        (
            "ipv6_browser",
            "2001:db8::1",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "/",
        ),
    ];
    let mut group = c.benchmark_group("check_visitor_1m_entries");
    for (name, ip, ua, url) in visitors {
        let query = VisitorQuery {
            ip: ip.parse::<IpAddr>().unwrap(),
            user_agent: ua.to_string(),
            url: url.to_string(),
            invalid_keyname: false,
        };
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| engine.check_visitor(&tenant, &settings, &query));
        });
    }
    // Distinct user agents, more than the classifier's memo holds, so most calls classify anew:
    // the figure for traffic where every visitor sends a different user agent.
    let distinct: Vec<VisitorQuery> = (0..20_000u32)
        .map(|n| VisitorQuery {
            ip: IpAddr::from([192, 0, 2, (n % 250) as u8]),
            user_agent: format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/{}.0.{}.{} Safari/537.36",
                100 + n % 30,
                n / 30,
                n % 7
            ),
            url: format!("/shop/item-{n}?utm_source=google"),
            invalid_keyname: false,
        })
        .collect();
    let mut next = 0usize;
    group.bench_function("distinct_user_agents", |b| {
        b.to_async(&runtime).iter(|| {
            next = (next + 1) % distinct.len();
            engine.check_visitor(&tenant, &settings, &distinct[next])
        });
    });

    // Real traffic: user agents drawn by weight from the `user-agents` corpus (real browser
    // sessions), installed by `npm install` at the repository root, each with its own IP.
    if let Some(mix) = weighted_corpus_visitors(10_000) {
        let mut next = 0usize;
        group.bench_function("real_user_agent_mix", |b| {
            b.to_async(&runtime).iter(|| {
                next = (next + 1) % mix.len();
                engine.check_visitor(&tenant, &settings, &mix[next])
            });
        });
    } else {
        println!(
            "node_modules/user-agents missing: run `npm install` for the real_user_agent_mix case"
        );
    }
    group.finish();
}

/// `count` visitors whose user agents are drawn by weight from the `user-agents` corpus.
fn weighted_corpus_visitors(count: usize) -> Option<Vec<VisitorQuery>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node_modules/user-agents/dist/user-agents.json");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let weighted: Vec<(String, f64)> = entries
        .iter()
        .filter_map(|entry| {
            Some((
                entry.get("userAgent")?.as_str()?.to_string(),
                entry.get("weight")?.as_f64()?,
            ))
        })
        .collect();
    let total: f64 = weighted.iter().map(|(_, weight)| weight).sum();
    let mut state: u64 = 42;
    let mut visitors = Vec::with_capacity(count);
    for n in 0..count {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut pick = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
        let user_agent = weighted
            .iter()
            .find(|(_, weight)| {
                pick -= weight;
                pick <= 0.0
            })
            .map(|(ua, _)| ua.clone())
            .unwrap_or_else(|| weighted[0].0.clone());
        visitors.push(VisitorQuery {
            ip: IpAddr::from([
                (state >> 40) as u8,
                (state >> 32) as u8,
                (state >> 24) as u8,
                n as u8,
            ]),
            user_agent,
            url: format!("/landing?gclid=abc{n}"),
            invalid_keyname: false,
        });
    }
    Some(visitors)
}

criterion_group!(benches, bench);
criterion_main!(benches);
