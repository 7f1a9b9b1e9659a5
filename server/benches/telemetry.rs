//! What the gRPC observer costs per request: the telemetry layer (metrics, access log, error
//! completion) around a service that answers at once, against the same service bare. Run with
//! `cargo bench -p gatehouse-server --bench telemetry`; compare the difference with CheckVisitor's
//! server CPU per request in `bench/results/latest.md`.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::{convert::Infallible, hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_server::{
    telemetry::{AccessLog, CallFacts, Verdict, grpc::GrpcTelemetryLayer, metrics},
    tenancy::TenantId,
};
use tower::{Layer, Service, ServiceExt};

/// A service that answers like a CheckVisitor handler would: a verdict and the gate's facts on
/// the response, the status in the trailers.
#[derive(Clone)]
struct Answer {
    tenant: TenantId,
}

impl Service<http::Request<()>> for Answer {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<()>) -> Self::Future {
        let mut response = http::Response::new(());
        response
            .extensions_mut()
            .insert(Verdict::new("blocker", "VISITOR"));
        response.extensions_mut().insert(CallFacts {
            tenant_id: Some(self.tenant.clone()),
            client: Some("198.51.100.7".parse().unwrap()),
        });
        std::future::ready(Ok(response))
    }
}

fn request() -> http::Request<()> {
    http::Request::builder()
        .uri("/gatehouse.v1.BlockerService/CheckVisitor")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    // The access log as production writes it: JSON lines, here into a sink.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .finish(),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let answer = Answer {
        tenant: TenantId::parse("tn_0123456789abcdef", "tenant_id").unwrap(),
    };
    let mut group = c.benchmark_group("grpc_observer");
    group.bench_function("bare service", |b| {
        b.to_async(&runtime).iter(|| {
            let mut service = answer.clone();
            async move { black_box(service.ready().await.unwrap().call(request()).await) }
        })
    });
    for (name, metrics_on, access_log_on) in [
        ("observer, metrics and access log (default)", true, true),
        ("observer, metrics only", true, false),
        ("observer, both off", false, false),
    ] {
        metrics().configure(metrics_on, false);
        let layer = GrpcTelemetryLayer::new(Arc::new(AccessLog::new(access_log_on, 1.0)));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let mut service = layer.layer(answer.clone());
                async move { black_box(service.ready().await.unwrap().call(request()).await) }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
