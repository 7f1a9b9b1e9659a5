//! The gRPC port's observer: one tower layer, outside the gate, that counts every request in the
//! metrics, writes the access log line, and gives statuses that tonic made itself (an undecodable
//! body, an unknown method) the error details every Gatehouse error carries.
//!
//! Every RPC of the contract is unary, and a unary call that fails answers with its status in the
//! response headers ("trailers-only"), so the status is read there; a response without one is a
//! success whose `grpc-status: 0` follows in the trailers.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Instant,
};

use prost::Message;
use tonic::Status;
use tower::{Layer, Service};

use super::{AccessLog, CallFacts, Verdict, code_name, metrics};

/// Service and method names of every RPC the server has, by request path. Anything else is
/// counted as `unknown`, so a client sending random paths cannot grow the label sets.
static METHODS: LazyLock<HashMap<String, (String, String)>> = LazyLock::new(|| {
    let mut methods = HashMap::new();
    for encoded in [
        gatehouse_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
            continue;
        };
        for file in set.file {
            for service in &file.service {
                let service_name = service.name().to_string();
                for method in &service.method {
                    let full = format!("/{}.{}/{}", file.package(), service_name, method.name());
                    methods.insert(full, (service_name.clone(), method.name().to_string()));
                }
            }
        }
    }
    for version in ["v1", "v1alpha"] {
        methods.insert(
            format!("/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"),
            (
                "ServerReflection".to_string(),
                "ServerReflectionInfo".to_string(),
            ),
        );
    }
    methods
});

/// The service and method labels of a request path.
pub fn method_labels(path: &str) -> (&'static str, &'static str) {
    METHODS
        .get(path)
        .map(|(service, method)| (service.as_str(), method.as_str()))
        .unwrap_or(("unknown", "unknown"))
}

/// The layer in front of the gRPC services.
#[derive(Clone)]
pub struct GrpcTelemetryLayer {
    access_log: Arc<AccessLog>,
}

impl GrpcTelemetryLayer {
    /// A layer writing to `access_log`.
    pub fn new(access_log: Arc<AccessLog>) -> Self {
        Self { access_log }
    }
}

impl<S> Layer<S> for GrpcTelemetryLayer {
    type Service = GrpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTelemetry {
            inner,
            access_log: self.access_log.clone(),
        }
    }
}

/// The service [`GrpcTelemetryLayer`] makes.
#[derive(Clone)]
pub struct GrpcTelemetry<S> {
    inner: S,
    access_log: Arc<AccessLog>,
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> Service<http::Request<B>> for GrpcTelemetry<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let access_log = self.access_log.clone();
        let started = Instant::now();
        let (service, method) = method_labels(request.uri().path());
        let protocol = if request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|content_type| content_type.starts_with("application/grpc-web"))
        {
            "grpc-web"
        } else {
            "grpc"
        };
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let status = Status::from_header_map(response.headers());
            if let Some(completed) = status.as_ref().and_then(crate::error::complete_status) {
                let headers = response.headers_mut();
                for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                    headers.remove(name);
                }
                if completed.add_header(headers).is_err() {
                    tracing::warn!("cannot write the completed error status");
                }
            }
            let code = status.map_or(tonic::Code::Ok, |status| status.code());
            let seconds = started.elapsed().as_secs_f64();
            let facts = response.extensions().get::<CallFacts>();
            let verdict = response.extensions().get::<Verdict>();
            let metrics = metrics();
            if metrics.enabled() {
                metrics.observe_request(protocol, service, method, code_name(code), seconds);
                if let Some(verdict) = verdict {
                    metrics.observe_verdict(verdict.face, &verdict.verdict);
                }
                if metrics.tenant_label() {
                    if let Some(tenant) = facts.and_then(|facts| facts.tenant_id.as_ref()) {
                        metrics
                            .tenant_requests
                            .with_label_values(&[tenant.as_str(), service, code_name(code)])
                            .inc();
                    }
                }
            }
            if access_log.wants(code == tonic::Code::Ok) {
                access_log.write(super::AccessLine {
                    protocol,
                    service,
                    method,
                    code: code_name(code),
                    seconds,
                    facts,
                    verdict,
                });
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_contract_are_labelled_and_others_are_unknown() {
        assert_eq!(
            method_labels("/gatehouse.v1.BlockerService/CheckVisitor"),
            ("BlockerService", "CheckVisitor")
        );
        assert_eq!(
            method_labels("/grpc.health.v1.Health/Check"),
            ("Health", "Check")
        );
        assert_eq!(
            method_labels("/gatehouse.v1.BlockerService/Nope"),
            ("unknown", "unknown")
        );
        assert_eq!(method_labels("/random/garbage"), ("unknown", "unknown"));
    }
}
