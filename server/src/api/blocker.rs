//! `BlockerService`: should this visitor get in, and who is it?

use std::{net::IpAddr, sync::Arc, time::Instant};

use gatehouse_proto::v1::{self as pb, blocker_service_server::BlockerService};
use tonic::{Request, Response, Status};

use crate::{
    api::{convert, reply_judged},
    auth::Caller,
    engine::{Engine, VisitorQuery},
    error::ApiError,
    telemetry::Verdict,
    time::now_ms,
};

/// The longest user agent accepted.
pub const MAX_USER_AGENT_BYTES: usize = 4096;
/// The longest URL accepted.
pub const MAX_URL_BYTES: usize = 16 * 1024;

/// The BlockerService adapter.
pub struct BlockerApi {
    engine: Arc<Engine>,
}

impl BlockerApi {
    /// The adapter over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// Checks the (ip, ua, url) triple every visitor check takes.
pub fn visitor_query(ip: &str, ua: &str, url: &str) -> Result<VisitorQuery, ApiError> {
    let ip: IpAddr = ip.trim().parse().map_err(|_| {
        if ip.trim().is_empty() {
            ApiError::invalid("ip", "is required: send the visitor's IP address")
        } else {
            ApiError::invalid(
                "ip",
                format!("{ip:?} is not an IPv4 or IPv6 address: send the visitor's address, e.g. 203.0.113.7"),
            )
        }
    })?;
    if ua.trim().is_empty() {
        return Err(ApiError::invalid(
            "ua",
            "is required: send the visitor's User-Agent header",
        ));
    }
    if ua.len() > MAX_USER_AGENT_BYTES {
        return Err(ApiError::invalid(
            "ua",
            format!("is longer than {MAX_USER_AGENT_BYTES} bytes"),
        ));
    }
    if url.len() > MAX_URL_BYTES {
        return Err(ApiError::invalid(
            "url",
            format!("is longer than {MAX_URL_BYTES} bytes"),
        ));
    }
    Ok(VisitorQuery {
        ip,
        user_agent: ua.to_string(),
        url: url.to_string(),
        invalid_keyname: false,
    })
}

#[tonic::async_trait]
impl BlockerService for BlockerApi {
    async fn check_visitor(
        &self,
        request: Request<pb::CheckVisitorRequest>,
    ) -> Result<Response<pb::CheckVisitorResponse>, Status> {
        let started = Instant::now();
        let tenant = Caller::of(&request)?.tenant()?.clone();
        let request = request.into_inner();
        let outcome = async {
            let query = visitor_query(&request.ip, &request.ua, &request.url)?;
            let verdict = self
                .engine
                .check_visitor(&tenant.id, &tenant.settings.blocker, &query)
                .await?;
            let answer = pb::CheckVisitorResponse {
                ip: verdict.ip.to_string(),
                ip_info: Some(convert::ip_info_to_pb(&verdict.ip_facts)),
                ip_status: Some(convert::visitor_status_to_pb(&verdict)),
                ua: request.ua.clone(),
                time_response_ms: now_ms(),
                elapsed_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            };
            Ok((
                answer,
                Verdict::new("blocker", verdict.decision.activity.label()),
            ))
        }
        .await;
        reply_judged(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_visitor_input_names_the_field() {
        for (ip, ua, field) in [
            ("", "Mozilla/5.0", "ip"),
            ("999.1.1.1", "Mozilla/5.0", "ip"),
            ("1.2.3.4", "", "ua"),
            ("1.2.3.4", "   ", "ua"),
        ] {
            let error = visitor_query(ip, ua, "/").unwrap_err();
            assert!(
                error.to_string().starts_with(&format!("{field}: ")),
                "{error}"
            );
        }
        assert!(visitor_query("2001:db8::1", "Mozilla/5.0", "").is_ok());
    }
}
