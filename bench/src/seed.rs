//! Fills a data dir before the server starts, through the real engine: the tenant is made by
//! `Tenancy::create_tenant`, identities by `IdentityEngine::send_signal` (one signal each, with a
//! device, an address and a user agent) and click events by `ClickEngine::track_event`, which
//! decides on the visitor as each event arrives — the calls the gRPC services make, with the same enrichment, rules,
//! locks and atomic batches. Two things are skipped: the network hop, and the wait for each
//! write to reach the disk — a bulk load has no client waiting for an acknowledgement, so the
//! store is flushed once at the end instead (see `BulkLoad`). That is what makes 1 000 000
//! events take a couple of minutes rather than most of an hour, and keeps sled's log compact.
//!
//! The server must not be running on the data dir (sled holds a lock on it).

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Instant};

use gatehouse_server::{
    config::Config,
    engine::{
        Engine,
        clicks::{TrackInput, records::ClickKind},
        identity::{SignalInput, SignalSource, records::DeviceInfo},
    },
    intel::Intel,
    store::{Entry, Keyspace, SledStore, Store, StoreFuture, WriteBatch, migrate::migrate},
    tenancy::{Tenancy, TenantId, TenantSettings},
    time::now_ms,
    webhooks::Webhooks,
};
use rand::Rng;

use crate::{
    BenchError,
    lists::ListFile,
    population::{
        Addresses, TIME_ZONES, UserAgents, click_id, device, entity_rng, user_id, visitor_id,
    },
};

/// The store as the engine sees it while seeding: reads and atomic batches go to sled as in the
/// server, but [`Store::durable`] returns at once; [`seed`] flushes the database once at the end.
struct BulkLoad(SledStore);

impl Store for BulkLoad {
    fn get<'a>(&'a self, space: Keyspace, key: &'a [u8]) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.0.get(space, key)
    }

    fn scan_prefix<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        start_after: Option<&'a [u8]>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        self.0.scan_prefix(space, prefix, start_after, limit)
    }

    fn scan_range<'a>(
        &'a self,
        space: Keyspace,
        start: &'a [u8],
        end: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        self.0.scan_range(space, start, end, limit)
    }

    fn scan_prefix_last<'a>(
        &'a self,
        space: Keyspace,
        prefix: &'a [u8],
        limit: usize,
    ) -> StoreFuture<'a, Vec<Entry>> {
        self.0.scan_prefix_last(space, prefix, limit)
    }

    fn apply(&self, batch: WriteBatch) -> StoreFuture<'_, ()> {
        self.0.apply(batch)
    }

    fn durable(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// Salts that keep the random streams of identities and visitors apart.
const IDENTITY_SALT: u64 = 0x1d;
const VISITOR_SALT: u64 = 0x7151;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// The tenant's display name.
    pub tenant_name: String,
    /// The tenant's rate limit (the benchmark must not be throttled).
    pub rate_limit_per_minute: u32,
    /// Identities to create, one signal each.
    pub identities: u64,
    /// Click events to track.
    pub clicks: u64,
    /// Visitors the click events belong to.
    pub visitors: u64,
    /// Days the events are spread over, ending now.
    pub days: i64,
    /// Concurrent writers.
    pub writers: u64,
    /// The random seed; the same seed gives the same data.
    pub seed: u64,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The tenant.
    pub tenant_id: String,
    /// Its secret key (`sk_...`).
    pub secret_key: String,
    /// Its publishable key (`pk_...`).
    pub publishable_key: String,
    /// Identities created.
    pub identities: u64,
    /// Click events tracked.
    pub clicks: u64,
    /// Visitors decided (every visitor with an event: decisions are made as events arrive).
    pub decisions: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// Shared, read-only inputs of the writers.
struct World {
    engine: Engine,
    tenant: TenantId,
    settings: TenantSettings,
    addresses: Addresses,
    agents: UserAgents,
    plan: SeedPlan,
    now: i64,
}

/// Seeds `config.data_dir` (with `config`'s intelligence data, reverse DNS off) as `plan` says;
/// `lists` are the list files the server will load, to draw listed addresses from.
pub async fn seed(
    config: &Config,
    lists: &[ListFile],
    plan: SeedPlan,
) -> Result<SeedReport, BenchError> {
    if plan.visitors == 0 && plan.clicks > 0 {
        return Err(BenchError::Invalid(
            "visitors: must be at least 1 when there are clicks".into(),
        ));
    }
    let started = Instant::now();
    std::fs::create_dir_all(&config.data_dir).map_err(crate::io_error(format!(
        "cannot create {}",
        config.data_dir.display()
    )))?;
    let store = SledStore::open(&config.data_dir)?;
    let shared: Arc<dyn Store> = Arc::new(BulkLoad(store.clone()));
    // Records the format, so the server's first start finds nothing to migrate.
    migrate(shared.as_ref()).await?;
    let mut intel_settings = config.intel();
    intel_settings.rdns.enabled = false;
    let intel = Arc::new(Intel::load(&intel_settings)?);
    let webhooks = Arc::new(Webhooks::new(shared.clone(), config.webhooks()));
    let engine = Engine::new(shared.clone(), intel, webhooks);
    let settings = TenantSettings {
        rate_limit_per_minute: plan.rate_limit_per_minute,
        ..TenantSettings::default()
    };
    let (tenant, publishable, secret) = Tenancy::new(shared)
        .await
        .create_tenant(plan.tenant_name.clone(), settings)
        .await?;
    let world = Arc::new(World {
        engine,
        tenant: tenant.id.clone(),
        settings: tenant.settings.clone(),
        addresses: Addresses::new(lists),
        agents: UserAgents::new(plan.seed),
        now: now_ms(),
        plan,
    });

    run_writers(&world, |world, writer| async move {
        let mut n = writer;
        while n < world.plan.identities {
            world
                .engine
                .identities
                .send_signal(
                    &world.tenant,
                    &world.settings.identity_rules,
                    identity_signal(&world, n),
                )
                .await?;
            n += world.plan.writers;
        }
        Ok(0)
    })
    .await?;
    run_writers(&world, |world, writer| async move {
        let mut visitor = writer;
        while visitor < world.plan.visitors {
            track_visitor(&world, visitor).await?;
            visitor += world.plan.writers;
        }
        Ok(0)
    })
    .await?;
    let decisions = world.plan.visitors.min(world.plan.clicks);
    store.flush()?;
    Ok(SeedReport {
        tenant_id: tenant.id.as_str().to_string(),
        secret_key: secret.key,
        publishable_key: publishable.key,
        identities: world.plan.identities,
        clicks: world.plan.clicks,
        decisions,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs `plan.writers` copies of `work` (given the writer's number) and adds up their counts.
async fn run_writers<F, Fut>(world: &Arc<World>, work: F) -> Result<u64, BenchError>
where
    F: Fn(Arc<World>, u64) -> Fut,
    Fut: std::future::Future<Output = Result<u64, BenchError>> + Send + 'static,
{
    let tasks: Vec<_> = (0..world.plan.writers.max(1))
        .map(|writer| tokio::spawn(work(world.clone(), writer)))
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task
            .await
            .map_err(|error| BenchError::Engine(format!("writer failed: {error}")))??;
    }
    Ok(total)
}

/// The first signal of identity `n`: a login from its device, address and browser.
fn identity_signal(world: &World, n: u64) -> SignalInput {
    let mut rng = entity_rng(world.plan.seed, IDENTITY_SALT, n);
    let sketch = device(world.plan.seed, n);
    let ip = world.addresses.draw(&mut rng);
    let user_agent = world.agents.browser(&mut rng).to_string();
    let age_ms = rng.random_range(0..world.plan.days.max(1) * 86_400_000);
    SignalInput {
        idempotency_key: format!("seed-{n}"),
        signal_type: if n % 4 == 0 { "signup" } else { "login" }.to_string(),
        source: SignalSource::Server,
        device: Some(DeviceInfo {
            device_id: sketch.device_id,
            platform: sketch.platform,
            os_name: sketch.os_name.to_string(),
            os_version: sketch.os_version,
            manufacturer: sketch.manufacturer.to_string(),
            model: sketch.model.to_string(),
            app_version: sketch.app_version,
            locale: sketch.locale.to_string(),
            timezone: sketch.timezone.to_string(),
            screen_width: sketch.screen_width,
            screen_height: sketch.screen_height,
            ..DeviceInfo::default()
        }),
        user_id: user_id(n),
        identity_id: String::new(),
        ip: Some(ip),
        user_agent,
        location: None,
        metadata: BTreeMap::from([(
            "plan".to_string(),
            if n % 2 == 0 { "free" } else { "pro" }.to_string(),
        )]),
        time_ms: Some(world.now - age_ms),
        may_create_identity: true,
    }
}

/// Tracks every event of visitor `v`: people read pages and sometimes click and convert; one
/// visitor in ten is a bot that clicks fast from a datacenter, often without JavaScript.
async fn track_visitor(world: &World, v: u64) -> Result<(), BenchError> {
    let plan = &world.plan;
    let mut rng = entity_rng(plan.seed, VISITOR_SALT, v);
    let events = plan.clicks / plan.visitors + u64::from(v < plan.clicks % plan.visitors);
    let bot = v % 10 == 0;
    let ip: IpAddr = if bot {
        world.addresses.datacenter(&mut rng)
    } else {
        world.addresses.draw(&mut rng)
    };
    let user_agent = if bot && rng.random_bool(0.5) {
        world.agents.bot(&mut rng).to_string()
    } else {
        world.agents.browser(&mut rng).to_string()
    };
    let (timezone, _) = TIME_ZONES[rng.random_range(0..TIME_ZONES.len())];
    let mut time_ms = world.now - rng.random_range(3_600_000..plan.days.max(1) * 86_400_000);
    let landing = format!(
        "https://shop.example/landing/c{}",
        rng.random_range(1..200u32)
    );
    let shared_click_id = format!("Cj0KCQbot{}", v % 50);
    for k in 0..events {
        let kind = match (bot, k, rng.random_range(0..10u32)) {
            (false, 0, _) => ClickKind::PageView,
            (false, _, 0) => ClickKind::Conversion,
            (false, _, 1..5) => ClickKind::PageView,
            (true, _, 0) => ClickKind::PageView,
            _ => ClickKind::Click,
        };
        let mut click_ids = BTreeMap::new();
        if kind == ClickKind::Click {
            let gclid = if bot && rng.random_bool(0.3) {
                shared_click_id.clone()
            } else {
                click_id(&mut rng)
            };
            click_ids.insert("gclid".to_string(), gclid);
        }
        time_ms += if bot {
            rng.random_range(500..5_000)
        } else {
            rng.random_range(5_000..180_000)
        };
        world
            .engine
            .clicks
            .track_event(
                &world.tenant,
                &world.settings.click_rules,
                TrackInput {
                    kind,
                    visitor_id: Some(engine_visitor(v)?),
                    url: landing.clone(),
                    referrer: "https://www.google.com/".into(),
                    click_ids,
                    user_agent: user_agent.clone(),
                    scroll_depth: Some(if bot { 0 } else { rng.random_range(10..100) }),
                    time_on_page_ms: Some(if bot {
                        rng.random_range(0..1_500)
                    } else {
                        rng.random_range(2_000..180_000)
                    }),
                    honeypot_hit: bot && rng.random_bool(0.1),
                    js_enabled: Some(!bot || rng.random_bool(0.4)),
                    timezone: timezone.to_string(),
                    device_id: String::new(),
                    ip: Some(ip),
                    time_ms: time_ms.min(world.now),
                },
            )
            .await?;
    }
    Ok(())
}

/// Visitor `n` as the engine takes it.
fn engine_visitor(n: u64) -> Result<gatehouse_server::engine::VisitorId, BenchError> {
    gatehouse_server::engine::VisitorId::parse(&visitor_id(n))
        .map_err(|problem| BenchError::Invalid(format!("visitor id: {problem}")))
}

#[cfg(test)]
mod tests {
    use gatehouse_server::store::Keyspace;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seeds_through_the_engine_and_the_server_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let lists_dir = dir.path().join("lists");
        let lists = crate::lists::generate(1, 0.001);
        crate::lists::write(&lists_dir, &lists).unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ip_lists_dir: Some(lists_dir),
            ..Config::default()
        };
        let plan = SeedPlan {
            tenant_name: "bench".into(),
            rate_limit_per_minute: 1_000_000,
            identities: 40,
            clicks: 300,
            visitors: 30,
            days: 7,
            writers: 8,
            seed: 1,
        };
        let report = seed(&config, &lists, plan).await.unwrap();
        assert_eq!(report.identities, 40);
        assert_eq!(report.decisions, 30);
        assert!(report.secret_key.starts_with("sk_"));

        // Open the data dir as the server would and read what was written.
        let store: Arc<dyn Store> = Arc::new(reopen(&config.data_dir).await);
        let tenant = TenantId::parse(&report.tenant_id, "tenant_id").unwrap();
        let tenancy = Tenancy::new(store.clone()).await;
        assert_eq!(
            tenancy
                .require_tenant(&tenant)
                .await
                .unwrap()
                .settings
                .rate_limit_per_minute,
            1_000_000
        );
        let engine = Engine::new(
            store.clone(),
            Arc::new(Intel::bare(Default::default()).unwrap()),
            Arc::new(Webhooks::new(store.clone(), Default::default())),
        );
        let identity = engine
            .identities
            .find_identity(&tenant, "", &user_id(39))
            .await
            .unwrap();
        assert_eq!(identity.user_ids, vec![user_id(39)]);
        let stats = engine.clicks.stats(&tenant, 8, now_ms()).await.unwrap();
        let events: i64 = stats.daily.iter().map(|day| day.events).sum();
        assert_eq!(events, 300);
        // Every visitor is decided, once for each day its latest event moved to.
        let decisions: i64 = stats.daily.iter().map(|day| day.decisions).sum();
        assert!((30..=300).contains(&decisions), "{decisions}");
        let prefix = gatehouse_server::store::tenant_prefix(tenant.as_str());
        let identities = store
            .scan_prefix(Keyspace::Identities, &prefix, None, usize::MAX)
            .await
            .unwrap();
        assert_eq!(identities.len(), 40);
    }

    async fn reopen(dir: &std::path::Path) -> SledStore {
        // The seeding store's group-commit task lets go of the database shortly after it ends.
        for _ in 0..500 {
            if let Ok(store) = SledStore::open(dir) {
                return store;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the store was never released");
    }
}
