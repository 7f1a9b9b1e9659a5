//! The HTTP port's observer: an axum middleware that counts every request in the metrics (by
//! route template, never the raw path, so the label set stays bounded) and writes its access log
//! line. `/metrics` itself is rendered here too.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{AccessLine, AccessLog, CallFacts, Verdict, metrics};
use crate::edge::ClientAddr;

/// Counts and logs one HTTP request.
pub async fn observe(
    State(access_log): State<Arc<AccessLog>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map(|client| client.0);
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status();
    let code = status.as_str();
    let verdict = response.extensions().get::<Verdict>();
    let metrics = metrics();
    if metrics.enabled() {
        metrics.observe_request("http", "http", &route, code, seconds);
        if let Some(verdict) = verdict {
            metrics.observe_verdict(verdict.face, &verdict.verdict);
        }
    }
    let succeeded = !(status.is_client_error() || status.is_server_error());
    if access_log.wants(succeeded) {
        let facts = CallFacts {
            tenant_id: response
                .extensions()
                .get::<CallFacts>()
                .and_then(|facts| facts.tenant_id.clone()),
            client,
        };
        access_log.write(AccessLine {
            protocol: "http",
            service: "http",
            method: &route,
            code,
            seconds,
            facts: Some(&facts),
            verdict,
        });
    }
    response
}

/// `GET /metrics`: the Prometheus text exposition format.
pub async fn render_metrics() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().render(),
    )
        .into_response()
}
