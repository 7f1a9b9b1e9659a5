//! The HTTP port: `/healthz` for load balancers, `/metrics` for Prometheus (unless it has a
//! listener of its own), and `/r/{keyname}`, the smart URL redirect a user can put in an ad without
//! writing code. Every request first learns who its client is from the edge, then passes the
//! observer that counts and logs it.

use std::sync::Arc;

use axum::{
    Extension, Json, Router,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderMap, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::{
    api::smart_url::confirm_url,
    auth::{Gate, Refusal, write_rate_headers},
    edge::{ClientAddr, Connection, TrustedProxies, client_ip},
    engine::{Engine, VisitorQuery},
    telemetry::{AccessLog, CallFacts, Verdict},
    tenancy::{RateDecision, Tenancy, Tenant},
    time::now_ms,
};

/// What the HTTP handlers need.
#[derive(Clone)]
pub struct HttpState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Tenants, to find a link's settings.
    pub tenancy: Tenancy,
    /// Where the HTTP port is reached from outside.
    pub public_url: String,
    /// Which peers may name the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// The access log.
    pub access_log: Arc<AccessLog>,
    /// Whether `/metrics` is served here (it is not when it has a listener of its own).
    pub serve_metrics: bool,
    /// The gate: the tenant's switches and the link's budget.
    pub gate: Arc<Gate>,
}

/// The HTTP routes.
pub fn router(state: HttpState) -> Router {
    let mut routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/r/{keyname}", get(redirect))
        .route("/r/{keyname}/confirm", post(confirm));
    if state.serve_metrics {
        routes = routes.route("/metrics", get(crate::telemetry::http::render_metrics));
    }
    routes
        .layer(middleware::from_fn_with_state(
            state.access_log.clone(),
            crate::telemetry::http::observe,
        ))
        .layer(middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            identify_client,
        ))
        .with_state(state)
}

/// The routes of a listener that serves only `/metrics` (`metrics_listen`).
pub fn metrics_router() -> Router {
    Router::new().route("/metrics", get(crate::telemetry::http::render_metrics))
}

/// Puts the edge's answer to "who is the client" on the request, for every route.
async fn identify_client(
    State(trusted_proxies): State<Arc<TrustedProxies>>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = ClientAddr(client_ip(
        connection.peer,
        request.headers(),
        &trusted_proxies,
    ));
    request.extensions_mut().insert(client);
    next.run(request).await
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], text).into_response()
}

/// Why a link cannot be served.
enum Unavailable {
    /// No such keyname.
    Missing,
    /// The tenant's traffic or smart URLs are switched off.
    Inactive,
    /// The link's budget for this minute is spent.
    Busy(RateDecision),
}

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        match self {
            Unavailable::Missing => plain(StatusCode::NOT_FOUND, "This link does not exist.\n"),
            Unavailable::Inactive => {
                plain(StatusCode::PAYMENT_REQUIRED, "This link is not active.\n")
            }
            Unavailable::Busy(rate) => {
                let retry_after = rate
                    .reset_unix_seconds
                    .saturating_sub(u64::try_from(now_ms() / 1000).unwrap_or_default())
                    .max(1);
                let mut response = plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    "This link is busy; please try again in a moment.\n",
                );
                let headers = response.headers_mut();
                headers.insert(header::RETRY_AFTER, retry_after.into());
                write_rate_headers(headers, &rate);
                response
            }
        }
    }
}

/// The link's tenant, if the link exists and the gate lets a visit through.
async fn link_owner(state: &HttpState, keyname: &str) -> Result<Tenant, Unavailable> {
    let lookup = match state.engine.smart_urls.owner(keyname).await {
        Ok(Some(tenant_id)) => state.tenancy.get_tenant(&tenant_id).await.ok().flatten(),
        _ => None,
    };
    let Some(tenant) = lookup else {
        return Err(Unavailable::Missing);
    };
    match state.gate.admit_link(&tenant, keyname) {
        Ok(_) => Ok(tenant),
        Err(Refusal {
            rate: Some(rate), ..
        }) => Err(Unavailable::Busy(rate)),
        Err(_) => Err(Unavailable::Inactive),
    }
}

/// The page that proves JavaScript runs: it confirms for this visitor, then comes back.
fn confirmation_page(keyname: &str) -> String {
    // The keyname is `[A-Za-z0-9_-]` only (checked when the link is made), so it is safe here.
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>One moment…</title></head>
<body><p id="status">One moment…</p>
<noscript><p>Please enable JavaScript to continue.</p></noscript>
<script>
fetch("/r/{keyname}/confirm", {{method: "POST", credentials: "omit"}})
  .then(function (response) {{
    if (!response.ok) throw new Error("confirmation failed");
    document.getElementById("status").textContent = "Continuing…";
    window.location.replace("/r/{keyname}");
  }})
  .catch(function () {{ document.getElementById("status").textContent = "Please reload."; }});
</script></body></html>
"#
    )
}

async fn redirect(
    State(state): State<HttpState>,
    Extension(client): Extension<ClientAddr>,
    Path(keyname): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let tenant = match link_owner(&state, &keyname).await {
        Ok(tenant) => tenant,
        Err(unavailable) => return unavailable.into_response(),
    };
    let query = VisitorQuery {
        ip: client.0,
        // A missing user agent is itself a bot signal; the engine sees it as empty.
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(4096)
            .collect(),
        url: uri.to_string(),
        invalid_keyname: false,
    };
    let route = state
        .engine
        .smart_urls
        .route(
            &state.engine,
            &tenant.id,
            &tenant.settings,
            &keyname,
            query,
            &confirm_url(&state.public_url, &keyname),
        )
        .await;
    let facts = CallFacts {
        tenant_id: Some(tenant.id.clone()),
        client: Some(client.0),
    };
    let mut response = match route {
        Ok(route) if route.js_pending => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Html(confirmation_page(&keyname)),
        )
            .into_response(),
        Ok(route) if !route.redirect_to.is_empty() => {
            let mut response = (
                StatusCode::FOUND,
                [
                    (header::LOCATION, route.redirect_to),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
            )
                .into_response();
            response.extensions_mut().insert(Verdict::new(
                "smart_url",
                route.verdict.decision.activity.label(),
            ));
            response
        }
        Ok(_) => Unavailable::Missing.into_response(),
        Err(error) => {
            tracing::error!(%error, keyname, "smart URL redirect failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.\n")
        }
    };
    response.extensions_mut().insert(facts);
    response
}

async fn confirm(
    State(state): State<HttpState>,
    Extension(client): Extension<ClientAddr>,
    Path(keyname): Path<String>,
) -> Response {
    let tenant = match link_owner(&state, &keyname).await {
        Ok(tenant) => tenant,
        Err(unavailable) => return unavailable.into_response(),
    };
    let until = now_ms() + i64::from(tenant.settings.js_confirmation_seconds) * 1000;
    let ip = crate::intel::ip_lists::canonical(client.0);
    match state
        .engine
        .smart_urls
        .confirm_js(&tenant.id, &keyname, ip, until)
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => Unavailable::Missing.into_response(),
        Err(error) => {
            tracing::error!(%error, keyname, "JavaScript confirmation failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.\n")
        }
    }
}
