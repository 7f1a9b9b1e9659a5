//! What an operator sees: Prometheus metrics and the access log, for both ports.
//!
//! The faces report what they decided by putting a [`Verdict`] on their response, and the gate
//! reports whom it admitted as [`CallFacts`]; the port's observer ([`grpc`], [`http`]) reads both
//! once the answer is ready, so no face writes metrics or log lines of its own.

pub mod grpc;
pub mod http;
pub mod metrics;

use std::{borrow::Cow, net::IpAddr};

pub use metrics::{Metrics, metrics};

use crate::tenancy::TenantId;

/// What a face decided, put on its response for the metrics and the access log.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The face: `blocker`, `smart_url`, `decision`, `verify`.
    pub face: &'static str,
    /// Its verdict: a DetectActivity reason, a decision label, a Verify result code.
    pub verdict: Cow<'static, str>,
}

impl Verdict {
    /// A verdict of `face`.
    pub fn new(face: &'static str, verdict: impl Into<Cow<'static, str>>) -> Self {
        Self {
            face,
            verdict: verdict.into(),
        }
    }
}

/// Whom the gate admitted, put on the response for the metrics and the access log.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    /// The tenant, for tenant-authenticated calls.
    pub tenant_id: Option<TenantId>,
    /// The client, as the edge decided it.
    pub client: Option<IpAddr>,
}

/// The access log: one structured line per request (target `gatehouse::access`), never a key,
/// token or signature: only names, codes, times, the tenant id, the client IP and the verdict.
#[derive(Debug, Clone)]
pub struct AccessLog {
    enabled: bool,
    sample: f64,
}

/// One request, as the access log writes it.
pub struct AccessLine<'a> {
    /// `grpc`, `grpc-web` or `http`.
    pub protocol: &'static str,
    /// The service (`http` on the HTTP port).
    pub service: &'a str,
    /// The method (the route on the HTTP port).
    pub method: &'a str,
    /// The gRPC code name or HTTP status.
    pub code: &'a str,
    /// Time to the answer.
    pub seconds: f64,
    /// Whom the gate admitted.
    pub facts: Option<&'a CallFacts>,
    /// What the face decided.
    pub verdict: Option<&'a Verdict>,
}

impl AccessLog {
    /// `enabled` writes lines; `sample` (0.0-1.0) is the share of successful requests written.
    /// Failures are always written.
    pub fn new(enabled: bool, sample: f64) -> Self {
        Self {
            enabled,
            sample: if sample.is_finite() {
                sample.clamp(0.0, 1.0)
            } else {
                1.0
            },
        }
    }

    /// Whether to write the line of a request that succeeded or not.
    pub fn wants(&self, succeeded: bool) -> bool {
        self.enabled && (!succeeded || self.sample >= 1.0 || rand::random::<f64>() < self.sample)
    }

    /// Writes one line.
    pub fn write(&self, line: AccessLine<'_>) {
        let tenant_id = line
            .facts
            .and_then(|facts| facts.tenant_id.as_ref())
            .map_or("-", |tenant| tenant.as_str());
        let client_ip = line
            .facts
            .and_then(|facts| facts.client)
            .map(|ip| ip.to_string());
        tracing::info!(
            target: "gatehouse::access",
            protocol = line.protocol,
            service = line.service,
            method = line.method,
            code = line.code,
            latency_ms = (line.seconds * 1_000_000.0).round() / 1000.0,
            tenant_id,
            client_ip = client_ip.as_deref().unwrap_or("-"),
            verdict = line.verdict.map_or("-", |verdict| &verdict.verdict),
            "request"
        );
    }
}

/// The name of a gRPC code as gRPC's own tools print it (`OK`, `InvalidArgument`, ...).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}
