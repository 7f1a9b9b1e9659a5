//! `SmartUrlService`: where a smart URL's visitor goes, and JavaScript confirmations.

use std::sync::Arc;

use gatehouse_proto::v1::{self as pb, smart_url_service_server::SmartUrlService};
use tonic::{Request, Response, Status};

use crate::{
    api::{blocker::visitor_query, convert, reply, reply_judged},
    auth::Caller,
    engine::Engine,
    error::ApiError,
    telemetry::Verdict,
    time::now_ms,
};

/// The SmartUrlService adapter.
pub struct SmartUrlApi {
    engine: Arc<Engine>,
    public_url: String,
}

impl SmartUrlApi {
    /// The adapter over `engine`; `public_url` is where the HTTP port is reached from outside.
    pub fn new(engine: Arc<Engine>, public_url: String) -> Self {
        Self { engine, public_url }
    }
}

/// The confirmation step of a keyname on the HTTP port.
pub fn confirm_url(public_url: &str, keyname: &str) -> String {
    format!("{}/r/{keyname}", public_url.trim_end_matches('/'))
}

#[tonic::async_trait]
impl SmartUrlService for SmartUrlApi {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.clone();
        let request = request.into_inner();
        let outcome = async {
            let query = visitor_query(&request.ip, &request.ua, &request.url)?;
            let route = self
                .engine
                .smart_urls
                .route(
                    &self.engine,
                    &tenant.id,
                    &tenant.settings,
                    request.keyname.trim(),
                    query,
                    &confirm_url(&self.public_url, request.keyname.trim()),
                )
                .await?;
            let judged = Verdict::new("smart_url", route.verdict.decision.activity.label());
            let answer = pb::CheckResponse {
                ip: route.verdict.ip.to_string(),
                ip_info: Some(convert::ip_info_to_pb(&route.verdict.ip_facts)),
                ip_status: Some(convert::visitor_status_to_pb(&route.verdict)),
                ua: request.ua.clone(),
                redirect_to: route.redirect_to,
                js_response: route.js_required,
                js_confirmation_pending: route.js_pending,
                time_response_ms: now_ms(),
            };
            Ok((answer, judged))
        }
        .await;
        reply_judged(outcome)
    }

    async fn confirm_java_script(
        &self,
        request: Request<pb::ConfirmJavaScriptRequest>,
    ) -> Result<Response<pb::ConfirmJavaScriptResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.clone();
        let request = request.into_inner();
        let outcome = async {
            if request.js != "1" {
                return Err(ApiError::invalid(
                    "js",
                    "only \"1\" is accepted: send js=\"1\" once JavaScript ran",
                ));
            }
            let ip = request.ip.trim().parse().map_err(|_| {
                ApiError::invalid(
                    "ip",
                    format!("{:?} is not an IPv4 or IPv6 address", request.ip),
                )
            })?;
            let ip = crate::intel::ip_lists::canonical(ip);
            let until = now_ms() + i64::from(tenant.settings.js_confirmation_seconds) * 1000;
            let recorded = self
                .engine
                .smart_urls
                .confirm_js(&tenant.id, request.keyname.trim(), ip, until)
                .await?;
            Ok(pb::ConfirmJavaScriptResponse {
                add_visitor_status: i32::from(recorded),
                confirmed_until_ms: if recorded { until } else { 0 },
                time_response_ms: now_ms(),
            })
        }
        .await;
        reply(outcome)
    }
}
