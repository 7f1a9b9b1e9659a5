//! ListEvents as the tenant's history grows: a page of 50 events, unfiltered, of one identity,
//! of one type, and of one identity and type, over 1 000 and 60 000 stored events. The wanted
//! identity holds one event in a hundred, so a scan that filters would read the whole history
//! for one page; the indexes make each page cost what it holds.
//!
//! `cargo bench -p gatehouse-server --bench list_events`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gatehouse_server::{
    engine::{
        Engine,
        identity::records::{EventLevel, EventRecord, EventType, Recommendation, new_id},
    },
    intel::{Intel, ip_lists::IpListTables},
    store::{SledStore, Store, WriteBatch, repositories::EventLog},
    tenancy::TenantId,
    webhooks::{WebhookSettings, Webhooks},
};

const KINDS: [EventType; 4] = [
    EventType::NewDevice,
    EventType::Tor,
    EventType::Vpn,
    EventType::SharedDevice,
];

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tenant = TenantId::parse("tn_0123456789abcdef", "tenant").unwrap();
    let mut group = c.benchmark_group("list_events_page_50");
    for history in [1_000_usize, 60_000] {
        let dir = tempfile::tempdir().unwrap();
        let engine = runtime.block_on(async {
            let store: Arc<SledStore> = Arc::new(SledStore::open(dir.path()).unwrap());
            let mut batch = WriteBatch::new();
            for n in 0..history {
                // One event in a hundred is the wanted identity's.
                let identity_id = if n % 100 == 0 {
                    "idt_wanted".to_string()
                } else {
                    format!("idt_{}", n % 997)
                };
                let event = EventRecord {
                    event_id: new_id("evt", 1_700_000_000_000 + i64::try_from(n).unwrap()),
                    identity_id,
                    event_type: KINDS[n % KINDS.len()],
                    level: EventLevel::Medium,
                    signals: Vec::new(),
                    recommendation: Recommendation::Review,
                    details: "{}".into(),
                    created_ms: 1_700_000_000_000,
                    approval_id: None,
                };
                EventLog::put(&mut batch, &tenant, &event).unwrap();
                if batch.ops().len() >= 4_000 {
                    store.apply(std::mem::take(&mut batch)).await.unwrap();
                }
            }
            store.apply(batch).await.unwrap();
            store.durable().await.unwrap();
            let intel = Arc::new(Intel::bare(IpListTables::empty()).unwrap());
            let webhooks = Arc::new(Webhooks::new(store.clone(), WebhookSettings::default()));
            Arc::new(Engine::new(store, intel, webhooks))
        });
        let filters = [
            ("all", "", None),
            ("identity", "idt_wanted", None),
            ("type", "", Some(EventType::Tor)),
            (
                "identity_and_type",
                "idt_wanted",
                Some(EventType::NewDevice),
            ),
        ];
        for (name, identity_id, event_type) in filters {
            group.bench_with_input(BenchmarkId::new(name, history), &history, |b, _| {
                b.to_async(&runtime).iter(|| async {
                    engine
                        .identities
                        .list_events(&tenant, identity_id, event_type, 50, "")
                        .await
                        .unwrap()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
