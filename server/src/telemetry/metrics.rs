//! The Prometheus metrics, in one registry, rendered in the text exposition format at `/metrics`.
//!
//! The families are fixed at start; labels take values from small closed sets (services and
//! methods of the contract, gRPC codes, rule and reason names), so their number stays bounded.
//! Tenant ids appear only in `gatehouse_tenant_requests_total`, and only when the operator opts
//! in (`metrics_tenant_label`). Keys, tokens and addresses never appear.

use std::sync::{
    LazyLock,
    atomic::{AtomicBool, Ordering},
};

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, core::Collector,
};

/// Request latency buckets, in seconds: from the 100 µs a cached check takes to the seconds a
/// durable write may wait for a slow disk.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Store timing buckets, in seconds.
const STORE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    enabled: AtomicBool,
    tenant_label: AtomicBool,
    /// `gatehouse_requests_total{protocol, service, method, code}`: requests answered, by the
    /// gRPC code (gRPC and grpc-web) or HTTP status (the HTTP port; `service` is `http`,
    /// `method` the route).
    pub requests: IntCounterVec,
    /// `gatehouse_request_duration_seconds{protocol, service, method}`: time to the answer.
    pub request_duration: HistogramVec,
    /// `gatehouse_tenant_requests_total{tenant_id, service, code}`: only when opted in.
    pub tenant_requests: IntCounterVec,
    /// `gatehouse_verdicts_total{face, verdict}`: DetectActivity reasons (blocker, smart_url),
    /// decision labels (decision), Verify result codes (verify).
    pub verdicts: IntCounterVec,
    /// `gatehouse_refusals_total{reason}`: calls the gate refused (rate limit, credentials,
    /// switched-off services).
    pub refusals: IntCounterVec,
    /// `gatehouse_store_group_batches`: write batches applied together in one transaction.
    pub store_group_batches: Histogram,
    /// `gatehouse_store_apply_seconds`: time to apply one group.
    pub store_apply_seconds: Histogram,
    /// `gatehouse_store_flush_seconds`: time of one durability flush (shared by its writers).
    pub store_flush_seconds: Histogram,
    /// `gatehouse_webhook_outbox_depth`: deliveries waiting for their next attempt.
    pub webhook_outbox_depth: IntGauge,
    /// `gatehouse_webhook_deliveries_total{outcome}`: delivery attempts by outcome.
    pub webhook_deliveries: IntCounterVec,
    /// `gatehouse_intel_entries{table}`: entries loaded per intelligence table.
    pub intel_entries: IntGaugeVec,
    /// `gatehouse_intel_data_timestamp_seconds{table}`: when the loaded data was written (file
    /// modification time); its age is `time() - this`.
    pub intel_data_timestamp: GaugeVec,
    /// `gatehouse_intel_feed_updates_total{feed, outcome}`: feed updates by outcome
    /// (`updated`, `not_modified`, `failed`, `refused`).
    pub intel_feed_updates: IntCounterVec,
    /// `gatehouse_intel_feed_last_success_timestamp_seconds{feed}`: when the feed's data was
    /// last confirmed current; its age is `time() - this`.
    pub intel_feed_last_success: GaugeVec,
    /// `gatehouse_intel_feed_entries{feed}`: entries in the feed's data in use.
    pub intel_feed_entries: IntGaugeVec,
    /// `gatehouse_intel_feed_failing{feed}`: 1 while the feed's last update failed.
    pub intel_feed_failing: IntGaugeVec,
    /// `gatehouse_tls_reloads_total{outcome}`: certificate reloads.
    pub tls_reloads: IntCounterVec,
    /// `gatehouse_build_info{version}`: always 1.
    pub build_info: IntGaugeVec,
}

/// Registers a metric that construction made; names and labels are constants checked by the
/// tests below, so neither step can fail at run time.
#[allow(clippy::expect_used)]
fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: Result<M, prometheus::Error>,
) -> M {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    register(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())),
    )
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = counter(
            &registry,
            "gatehouse_requests_total",
            "Requests answered, by protocol, service, method and gRPC code or HTTP status.",
            &["protocol", "service", "method", "code"],
        );
        let request_duration = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "gatehouse_request_duration_seconds",
                    "Time from a request's arrival to its answer, in seconds.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["protocol", "service", "method"],
            ),
        );
        let tenant_requests = counter(
            &registry,
            "gatehouse_tenant_requests_total",
            "Requests per tenant, by service and code (only with metrics_tenant_label).",
            &["tenant_id", "service", "code"],
        );
        let verdicts = counter(
            &registry,
            "gatehouse_verdicts_total",
            "Verdicts by face: DetectActivity reason, decision label or Verify result code.",
            &["face", "verdict"],
        );
        let refusals = counter(
            &registry,
            "gatehouse_refusals_total",
            "Calls refused by the gate, by stable reason.",
            &["reason"],
        );
        let store_group_batches = histogram(
            &registry,
            "gatehouse_store_group_batches",
            "Write batches applied together in one store transaction.",
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        );
        let store_apply_seconds = histogram(
            &registry,
            "gatehouse_store_apply_seconds",
            "Time to apply one group of write batches, in seconds.",
            STORE_BUCKETS,
        );
        let store_flush_seconds = histogram(
            &registry,
            "gatehouse_store_flush_seconds",
            "Time of one durability flush shared by the writers waiting for it, in seconds.",
            STORE_BUCKETS,
        );
        let webhook_outbox_depth = register(
            &registry,
            IntGauge::new(
                "gatehouse_webhook_outbox_depth",
                "Webhook deliveries waiting for their next attempt.",
            ),
        );
        let webhook_deliveries = counter(
            &registry,
            "gatehouse_webhook_deliveries_total",
            "Webhook delivery attempts by outcome.",
            &["outcome"],
        );
        let intel_entries = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "gatehouse_intel_entries",
                    "Entries loaded per intelligence table.",
                ),
                &["table"],
            ),
        );
        let intel_data_timestamp = register(
            &registry,
            GaugeVec::new(
                Opts::new(
                    "gatehouse_intel_data_timestamp_seconds",
                    "When the loaded intelligence data was written (file modification time), \
                     in Unix seconds.",
                ),
                &["table"],
            ),
        );
        let intel_feed_updates = counter(
            &registry,
            "gatehouse_intel_feed_updates_total",
            "Intelligence feed updates by feed and outcome (updated, not_modified, failed, refused).",
            &["feed", "outcome"],
        );
        let intel_feed_last_success = register(
            &registry,
            GaugeVec::new(
                Opts::new(
                    "gatehouse_intel_feed_last_success_timestamp_seconds",
                    "When each intelligence feed's data was last confirmed current, in Unix seconds.",
                ),
                &["feed"],
            ),
        );
        let intel_feed_entries = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "gatehouse_intel_feed_entries",
                    "Entries in each intelligence feed's data in use.",
                ),
                &["feed"],
            ),
        );
        let intel_feed_failing = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "gatehouse_intel_feed_failing",
                    "1 while an intelligence feed's last update failed (its last good data stays in use).",
                ),
                &["feed"],
            ),
        );
        let tls_reloads = counter(
            &registry,
            "gatehouse_tls_reloads_total",
            "TLS certificate reloads by outcome.",
            &["outcome"],
        );
        let build_info = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("gatehouse_build_info", "The running build; always 1."),
                &["version"],
            ),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Self {
            registry,
            enabled: AtomicBool::new(true),
            tenant_label: AtomicBool::new(false),
            requests,
            request_duration,
            tenant_requests,
            verdicts,
            refusals,
            store_group_batches,
            store_apply_seconds,
            store_flush_seconds,
            webhook_outbox_depth,
            webhook_deliveries,
            intel_entries,
            intel_data_timestamp,
            intel_feed_updates,
            intel_feed_last_success,
            intel_feed_entries,
            intel_feed_failing,
            tls_reloads,
            build_info,
        }
    }

    /// Turns request metrics on or off (`metrics_enabled`), and per-tenant counters
    /// (`metrics_tenant_label`).
    pub fn configure(&self, enabled: bool, tenant_label: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
        self.tenant_label.store(tenant_label, Ordering::Relaxed);
    }

    /// Whether request metrics are recorded.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Whether per-tenant counters are recorded.
    pub fn tenant_label(&self) -> bool {
        self.tenant_label.load(Ordering::Relaxed)
    }

    /// Counts one answered request and its latency.
    pub fn observe_request(
        &self,
        protocol: &str,
        service: &str,
        method: &str,
        code: &str,
        seconds: f64,
    ) {
        self.requests
            .with_label_values(&[protocol, service, method, code])
            .inc();
        self.request_duration
            .with_label_values(&[protocol, service, method])
            .observe(seconds);
    }

    /// Counts one verdict.
    pub fn observe_verdict(&self, face: &str, verdict: &str) {
        self.verdicts.with_label_values(&[face, verdict]).inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "cannot render metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_once_with_help_and_type() {
        let metrics = Metrics::new();
        metrics.observe_request("grpc", "BlockerService", "CheckVisitor", "OK", 0.0002);
        metrics.observe_verdict("blocker", "VISITOR");
        metrics.refusals.with_label_values(&["RATE_LIMITED"]).inc();
        metrics.store_group_batches.observe(3.0);
        metrics.webhook_deliveries.with_label_values(&["ok"]).inc();
        metrics.intel_entries.with_label_values(&["tor"]).set(12);
        metrics
            .intel_feed_updates
            .with_label_values(&["tor-exits", "updated"])
            .inc();
        metrics
            .intel_feed_last_success
            .with_label_values(&["tor-exits"])
            .set(1.7e9);
        metrics
            .intel_feed_entries
            .with_label_values(&["tor-exits"])
            .set(3);
        metrics
            .intel_feed_failing
            .with_label_values(&["tor-exits"])
            .set(0);
        let text = metrics.render();
        for family in [
            "gatehouse_requests_total",
            "gatehouse_request_duration_seconds",
            "gatehouse_verdicts_total",
            "gatehouse_refusals_total",
            "gatehouse_store_group_batches",
            "gatehouse_webhook_outbox_depth",
            "gatehouse_webhook_deliveries_total",
            "gatehouse_intel_entries",
            "gatehouse_intel_feed_updates_total",
            "gatehouse_intel_feed_last_success_timestamp_seconds",
            "gatehouse_intel_feed_entries",
            "gatehouse_intel_feed_failing",
            "gatehouse_build_info",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family} in\n{text}"
            );
        }
        assert!(text.contains(
            "gatehouse_requests_total{code=\"OK\",method=\"CheckVisitor\",protocol=\"grpc\",service=\"BlockerService\"} 1"
        ));
    }
}
