//! `gatehouse serve`: opens the store, and serves gRPC (with grpc-web, health and reflection) and
//! HTTP until SIGINT or SIGTERM, then flushes the store.

use std::{io::Write, path::Path, sync::Arc};

use gatehouse_proto::v1::{
    admin_service_server::AdminServiceServer, blocker_service_server::BlockerServiceServer,
    decision_service_server::DecisionServiceServer, identity_service_server::IdentityServiceServer,
    signal_service_server::SignalServiceServer, smart_url_service_server::SmartUrlServiceServer,
    verify_service_server::VerifyServiceServer,
};
use tokio::{net::TcpListener, sync::watch};
use tonic::transport::Server;
use tower_http::cors::CorsLayer;

use crate::{
    api::{
        admin::AdminApi, blocker::BlockerApi, decision::DecisionApi, identity::IdentityApi,
        signal::SignalApi, smart_url::SmartUrlApi, verify::VerifyApi,
    },
    auth::{Gate, GateLayer},
    config::Config,
    edge::{Connection, EdgeListener, ListenerOptions, TlsConfig, TlsError},
    engine::Engine,
    intel::{Intel, IntelError},
    store::{SledStore, Store, migrate::migrate},
    telemetry::{AccessLog, grpc::GrpcTelemetryLayer, metrics},
    tenancy::{Tenancy, generate_admin_token},
    webhooks::Webhooks,
};

/// How long shutdown waits for requests in flight and open connections.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The data dir could not be brought to this build's format.
    #[error(transparent)]
    Migrate(#[from] crate::store::migrate::MigrateError),
    /// A port could not be bound, or a file could not be written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Intelligence data could not be loaded.
    #[error(transparent)]
    Intel(#[from] IntelError),
    /// The task loading the intelligence data was cancelled (the runtime is shutting down).
    #[error("loading the intelligence data was cancelled: {0}")]
    IntelTask(tokio::task::JoinError),
    /// Reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The TLS certificate, key or client CA could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Data a migration left for the engine could not be rebuilt.
    #[error("rebuilding after the data dir's migration failed: {0}")]
    Rebuild(crate::engine::EngineError),
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let context = context.into();
    move |source| ServeError::Io { context, source }
}

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    metrics().configure(config.metrics_enabled, config.metrics_tenant_label);
    // Bad TLS material stops the start, before anything is opened.
    let tls = config.tls().map(TlsConfig::load).transpose()?;
    // SIGHUP reloads the certificate; without TLS it must still not end the process (its
    // default action), since `systemctl reload` sends it.
    let _reloader = match &tls {
        Some(tls) => tls.spawn_reloader(),
        None => spawn_hangup_ignorer(),
    };
    let trusted_proxies = Arc::new(config.trusted_proxies());
    let access_log = Arc::new(AccessLog::new(config.access_log, config.access_log_sample));
    std::fs::create_dir_all(&config.data_dir).map_err(io_error(format!(
        "cannot create the data dir {}",
        config.data_dir.display()
    )))?;
    // The intelligence data (GeoIP databases, IP lists) loads on a blocking thread while the
    // store opens on this one: both take a while and share nothing, so start-up waits for the
    // longer of the two rather than their sum. The load is awaited where it used to run, so
    // errors still come in the same order: the store's, the admin token's, then the data's.
    let intel_settings = config.intel();
    // The default list folder is the feeds' own; it must exist to be watched.
    if config.ip_lists_dir.is_none() {
        let lists_dir = config.lists_dir();
        std::fs::create_dir_all(&lists_dir).map_err(io_error(format!(
            "cannot create the IP list folder {}",
            lists_dir.display()
        )))?;
    }
    let feed_settings = config.feeds().map_err(|error| ServeError::Io {
        context: "intel_feeds".into(),
        source: std::io::Error::other(error.to_string()),
    })?;
    let intel_loading = tokio::task::spawn_blocking({
        let settings = intel_settings.clone();
        move || Intel::load(&settings)
    });
    let store = SledStore::open_with_cache(&config.data_dir, config.store_cache_mb)?;
    let admin_token = resolve_admin_token(&config)?;
    let shared_store: Arc<dyn Store> = Arc::new(store.clone());
    let migration = migrate(shared_store.as_ref()).await?;
    if migration.from != migration.to {
        tracing::info!(
            from = migration.from,
            to = migration.to,
            "the data dir was migrated to this build's format"
        );
    }
    let tenancy = Tenancy::new(shared_store.clone()).await;
    let gate = Arc::new(Gate::new(tenancy.clone(), &admin_token).with_edge(
        trusted_proxies.clone(),
        tls.as_ref().is_some_and(|tls| tls.verifies_clients()),
    ));
    let intel = match intel_loading.await {
        Ok(loaded) => Arc::new(loaded?),
        // A panic while loading is raised here, as it was when the load ran on this thread.
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => return Err(ServeError::IntelTask(error)),
        },
    };
    let _list_reloader = intel.spawn_list_reloader(intel_settings.ip_lists_reload);
    let _data_reloader = intel.spawn_data_reloader(intel_settings.ip_lists_reload);
    let _feeds = if config.intel_update {
        crate::intel::feeds::schedule::spawn(feed_settings)
    } else {
        None
    };
    let webhooks = Arc::new(Webhooks::new(shared_store.clone(), config.webhooks()));
    let _dispatcher = webhooks.spawn_dispatcher();
    let engine = Arc::new(Engine::new(shared_store.clone(), intel, webhooks));
    rebuild_after_migration(shared_store.as_ref(), &tenancy, &engine).await?;
    let _retention = spawn_retention(tenancy.clone(), engine.clone());
    let _verify_sweep = spawn_verify_sweep(engine.clone());

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AdminServiceServer<AdminApi>>()
        .await;
    health_reporter
        .set_serving::<BlockerServiceServer<BlockerApi>>()
        .await;
    health_reporter
        .set_serving::<SignalServiceServer<SignalApi>>()
        .await;
    health_reporter
        .set_serving::<DecisionServiceServer<DecisionApi>>()
        .await;
    health_reporter
        .set_serving::<SmartUrlServiceServer<SmartUrlApi>>()
        .await;
    health_reporter
        .set_serving::<IdentityServiceServer<IdentityApi>>()
        .await;
    health_reporter
        .set_serving::<VerifyServiceServer<VerifyApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gatehouse_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // Python's grpcio-reflection speaks only v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gatehouse_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let grpc_listener = TcpListener::bind(config.listen)
        .await
        .map_err(io_error(format!(
            "cannot listen on {} (--listen)",
            config.listen
        )))?;
    let http_listener = TcpListener::bind(config.http_listen)
        .await
        .map_err(io_error(format!(
            "cannot listen on {} (--http-listen)",
            config.http_listen
        )))?;
    let metrics_listener = match config.metrics_listen {
        Some(address) => Some(TcpListener::bind(address).await.map_err(io_error(format!(
            "cannot listen on {address} (metrics_listen)"
        )))?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        grpc = %local_addr(&grpc_listener),
        http = %local_addr(&http_listener),
        tls = tls.is_some(),
        trusted_proxies = config.trusted_proxies.len(),
        data_dir = %config.data_dir.display(),
        "gatehouse is serving"
    );

    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}", local_addr(&http_listener)));
    let grpc_edge = EdgeListener::new(
        grpc_listener,
        ListenerOptions {
            tls: tls.clone(),
            proxy_protocol: config.proxy_protocol,
            trusted_proxies: trusted_proxies.clone(),
        },
    )
    .map_err(io_error("cannot read the gRPC listener's address"))?;
    let http_edge = EdgeListener::new(
        http_listener,
        ListenerOptions {
            tls,
            proxy_protocol: config.http_proxy_protocol,
            trusted_proxies: trusted_proxies.clone(),
        },
    )
    .map_err(io_error("cannot read the HTTP listener's address"))?;
    let tenancy_for_http = tenancy.clone();
    let (stop_sender, stop) = watch::channel(false);
    let grpc = Server::builder()
        .accept_http1(true)
        .layer(cors(tenancy.origins()))
        .layer(GrpcTelemetryLayer::new(access_log.clone()))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(GateLayer::new(gate.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AdminServiceServer::new(AdminApi::new(
            tenancy,
            engine.clone(),
        )))
        .add_service(BlockerServiceServer::new(BlockerApi::new(engine.clone())))
        .add_service(SignalServiceServer::new(SignalApi::new(engine.clone())))
        .add_service(DecisionServiceServer::new(DecisionApi::new(engine.clone())))
        .add_service(SmartUrlServiceServer::new(SmartUrlApi::new(
            engine.clone(),
            public_url.clone(),
        )))
        .add_service(IdentityServiceServer::new(IdentityApi::new(engine.clone())))
        .add_service(VerifyServiceServer::new(VerifyApi::new(engine.clone())))
        .serve_with_incoming_shutdown(grpc_edge.into_stream(), wait_for_stop(stop.clone()));
    let http_state = crate::http::HttpState {
        engine,
        tenancy: tenancy_for_http,
        public_url,
        trusted_proxies,
        access_log,
        serve_metrics: metrics_listener.is_none(),
        gate,
    };
    let http = axum::serve(
        http_edge,
        crate::http::router(http_state).into_make_service_with_connect_info::<Connection>(),
    )
    .with_graceful_shutdown(wait_for_stop(stop.clone()));
    let metrics_http = async {
        match metrics_listener {
            Some(listener) => {
                axum::serve(listener, crate::http::metrics_router())
                    .with_graceful_shutdown(wait_for_stop(stop))
                    .await
            }
            None => Ok(()),
        }
    };
    let servers = async { tokio::join!(grpc, http, metrics_http) };
    tokio::pin!(servers);
    let stopping = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_sender.send(true);
        // Idle clients may keep connections open forever; do not wait for them past the grace.
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        (grpc_result, http_result, metrics_result) = &mut servers => {
            grpc_result?;
            http_result.map_err(io_error("HTTP server failed"))?;
            metrics_result.map_err(io_error("metrics server failed"))?;
        }
        () = stopping => {
            tracing::warn!(
                grace_seconds = SHUTDOWN_GRACE.as_secs(),
                "connections still open after the shutdown grace; closing them"
            );
        }
    }
    store.flush()?;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Answers SIGHUP when there is nothing to reload, so that it does not stop the server.
fn spawn_hangup_ignorer() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        #[cfg(unix)]
        if let Ok(mut hangup) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload (no TLS certificate configured)");
            }
        }
    })
}

/// How often old click events are removed.
pub const RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long after start-up retention first runs.
pub const RETENTION_FIRST_DELAY: std::time::Duration = std::time::Duration::from_secs(60);

/// Rebuilds what a migration left for the engine (see [`crate::store::migrate::Rebuild`]),
/// before the server serves; marked done only once complete, so a crash runs it again.
async fn rebuild_after_migration(
    store: &dyn Store,
    tenancy: &Tenancy,
    engine: &Engine,
) -> Result<(), ServeError> {
    use crate::store::migrate::{Rebuild, pending, rebuilt};
    if !pending(store, Rebuild::ClickDecisions).await? {
        return Ok(());
    }
    let mut after: Option<crate::tenancy::TenantId> = None;
    let mut decided = 0;
    loop {
        let page = tenancy.list_tenants(after.as_ref(), 100).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for tenant in &page {
            decided += engine
                .clicks
                .decide_undecided(&tenant.id, &tenant.settings.click_rules)
                .await
                .map_err(ServeError::Rebuild)?;
        }
    }
    rebuilt(store, Rebuild::ClickDecisions).await?;
    tracing::info!(
        visitors = decided,
        "click visitors decided from their events"
    );
    Ok(())
}

/// Removes click events older than each tenant's retention, hourly, off the request path.
fn spawn_retention(tenancy: Tenancy, engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Not at once: a restart serves its first requests before it reads through old records.
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + RETENTION_FIRST_DELAY,
            RETENTION_INTERVAL,
        );
        loop {
            ticker.tick().await;
            let mut after: Option<crate::tenancy::TenantId> = None;
            loop {
                let page = match tenancy.list_tenants(after.as_ref(), 100).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::warn!(%error, "retention: cannot list tenants");
                        break;
                    }
                };
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                for tenant in &page {
                    let keep_ms = i64::from(tenant.settings.retention_days) * 86_400_000;
                    let before = crate::time::now_ms() - keep_ms;
                    let id = &tenant.id;
                    // Each pass reads a page at a time and awaits its deletions, so it never
                    // holds a worker thread for long.
                    let removed = async {
                        let window = crate::engine::identity::IDEMPOTENCY_WINDOW_MS;
                        let expired = crate::time::now_ms() - window;
                        engine
                            .identities
                            .purge_idempotency_before(id, expired)
                            .await?;
                        engine.identities.purge_signals_before(id, before).await?;
                        engine
                            .identities
                            .unindex_expired_bans(id, crate::time::now_ms())
                            .await?;
                        engine.clicks.purge_events_before(id, before).await
                    }
                    .await;
                    match removed {
                        Ok(0) => {}
                        Ok(count) => {
                            tracing::info!(tenant_id = %tenant.id, removed = count, "retention: old click events removed")
                        }
                        Err(error) => tracing::warn!(%error, "retention failed"),
                    }
                }
            }
        }
    })
}

/// How often expired Verify nonces and quiet device counters are forgotten.
pub const VERIFY_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Forgets expired Verify nonces every minute, so their number follows the traffic of one
/// validity window rather than all traffic ever.
fn spawn_verify_sweep(engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(VERIFY_SWEEP_INTERVAL);
        loop {
            ticker.tick().await;
            if let Err(error) = engine.verifier.sweep(crate::time::now_ms()).await {
                tracing::warn!(%error, "verify sweep failed");
            }
        }
    })
}

/// CORS for grpc-web. A preflight carries no API key, so it is answered for the origins any tenant
/// allows; the gate then holds each request to its own tenant's origins and to publishable keys.
/// Calls authenticate with an API key header, never cookies, so no credentials are allowed.
fn cors(origins: crate::tenancy::BrowserOrigins) -> CorsLayer {
    const EXPOSED: [&str; 6] = [
        "grpc-status",
        "grpc-message",
        "x-gatehouse-reason",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ];
    CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::predicate(
            move |origin: &http::HeaderValue, _request: &http::request::Parts| {
                origin
                    .to_str()
                    .is_ok_and(|origin| origins.allowed_anywhere(origin))
            },
        ))
        .allow_methods([http::Method::POST])
        .allow_headers(tower_http::cors::Any)
        .expose_headers(EXPOSED.map(http::HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(600))
}

fn local_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map(|addr| addr.to_string())
        .unwrap_or_else(|_| "?".into())
}

async fn wait_for_stop(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The admin token: from the configuration, else from `<data-dir>/admin-token`, else a new one
/// written there with mode 0600. The token itself is never logged.
fn resolve_admin_token(config: &Config) -> Result<String, ServeError> {
    if let Some(token) = &config.admin_token {
        return Ok(token.trim().to_string());
    }
    let path = config.admin_token_path();
    if path.is_file() {
        let token = std::fs::read_to_string(&path)
            .map_err(io_error(format!("cannot read {}", path.display())))?;
        let token = token.trim().to_string();
        if !token.is_empty() {
            tracing::info!(path = %path.display(), "admin token read from file");
            return Ok(token);
        }
    }
    let token = generate_admin_token();
    write_private_file(&path, &token)?;
    tracing::info!(
        path = %path.display(),
        "generated an admin token; the CLI reads it from this file (or set GATEHOUSE_ADMIN_TOKEN)"
    );
    Ok(token)
}

fn write_private_file(path: &Path, contents: &str) -> Result<(), ServeError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(io_error(format!("cannot write {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(format!("cannot write {}", path.display())))
}
