//! The HTTP port: `/healthz` for load balancers and orchestrators (and, with the smart URL
//! issue, the `/r/{keyname}` redirects).

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

/// The HTTP routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
