//! `DecisionService`: click tracking, fraud decisions, the blocklist and stats.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use gatehouse_proto::v1::{self as pb, decision_service_server::DecisionService};
use tonic::{Request, Response, Status};

use crate::{
    api::{bounded_text, page_size, reply, reply_judged},
    auth::Caller,
    engine::{
        Engine, InvalidId, VisitorId,
        clicks::{
            Action, ClickDecision, TrackInput,
            blocklist::{BlocklistFormat, render},
            records::{ClickEvent, ClickKind, Label},
        },
    },
    error::ApiError,
    telemetry::Verdict,
    tenancy::KeyKind,
    time::now_ms,
};

/// The longest URL or referrer accepted.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// The longest click id or visitor id accepted.
pub const MAX_ID_BYTES: usize = 512;
/// The longest blocklist period, in days.
pub const MAX_BLOCKLIST_DAYS: i32 = 365;

/// The DecisionService adapter.
pub struct DecisionApi {
    engine: Arc<Engine>,
}

impl DecisionApi {
    /// The adapter over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// Checks a tracked event: ip and time may only come from the server (secret key); a browser's IP
/// is its connection's.
pub fn track_input(
    request: &pb::TrackEventRequest,
    kind: KeyKind,
    peer: Option<IpAddr>,
    now: i64,
) -> Result<TrackInput, ApiError> {
    let event_kind = match pb::ClickEventType::try_from(request.r#type) {
        Ok(pb::ClickEventType::PageView) => ClickKind::PageView,
        Ok(pb::ClickEventType::Click) => ClickKind::Click,
        Ok(pb::ClickEventType::Conversion) => ClickKind::Conversion,
        _ => {
            return Err(ApiError::invalid(
                "type",
                "is required: CLICK_EVENT_TYPE_PAGE_VIEW, _CLICK or _CONVERSION",
            ));
        }
    };
    let visitor_id = match VisitorId::parse(&request.visitor_id) {
        Ok(id) => Some(id),
        Err(InvalidId::Empty) => None,
        Err(InvalidId::Malformed { .. }) => {
            return Err(ApiError::invalid(
                "visitor_id",
                "must be 1-64 letters, digits, '_' or '-' (or empty for a new visitor)",
            ));
        }
    };
    if kind == KeyKind::Publishable {
        if !request.ip.is_empty() {
            return Err(ApiError::invalid(
                "ip",
                "is a server-only field: browsers are identified by their connection",
            ));
        }
        if request.time_ms.is_some() {
            return Err(ApiError::invalid("time_ms", "is a server-only field"));
        }
    }
    let ip = if kind == KeyKind::Secret {
        match request.ip.trim() {
            "" => None,
            raw => Some(raw.parse::<IpAddr>().map_err(|_| {
                ApiError::invalid("ip", format!("{raw:?} is not an IPv4 or IPv6 address"))
            })?),
        }
    } else {
        peer
    };
    let time_ms = match request.time_ms {
        Some(time) if time <= 0 || time > now + 300_000 => {
            return Err(ApiError::invalid(
                "time_ms",
                "must be a Unix timestamp in milliseconds, not in the future",
            ));
        }
        Some(time) => time,
        None => now,
    };
    let mut click_ids = BTreeMap::new();
    for (name, value) in [
        ("gclid", &request.gclid),
        ("gbraid", &request.gbraid),
        ("wbraid", &request.wbraid),
        ("msclkid", &request.msclkid),
        ("fbclid", &request.fbclid),
    ] {
        let value = bounded_text(value.trim(), name, MAX_ID_BYTES)?;
        if !value.is_empty() {
            click_ids.insert(name.to_string(), value);
        }
    }
    let data = request.data.clone().unwrap_or_default();
    if data.scroll_depth.is_some_and(|depth| depth > 100) {
        return Err(ApiError::invalid(
            "data.scroll_depth",
            "must be 0-100 (percent)",
        ));
    }
    Ok(TrackInput {
        kind: event_kind,
        visitor_id,
        url: bounded_text(&request.url, "url", MAX_URL_BYTES)?,
        referrer: bounded_text(&request.referrer, "referrer", MAX_URL_BYTES)?,
        click_ids,
        user_agent: bounded_text(&data.user_agent, "data.user_agent", 4096)?,
        scroll_depth: data.scroll_depth,
        time_on_page_ms: data.time_on_page_ms,
        honeypot_hit: data.honeypot_hit,
        js_enabled: data.js_enabled,
        timezone: bounded_text(&data.timezone, "data.timezone", 64)?,
        device_id: bounded_text(&data.device_id, "data.device_id", MAX_ID_BYTES)?,
        ip,
        time_ms,
    })
}

fn label_to_pb(label: Label) -> pb::DecisionLabel {
    match label {
        Label::Clean => pb::DecisionLabel::Clean,
        Label::Suspicious => pb::DecisionLabel::Suspicious,
        Label::Fraud => pb::DecisionLabel::Fraud,
    }
}

fn click_event_to_pb(event: &ClickEvent) -> pb::ClickEvent {
    let click_id = |name: &str| event.click_ids.get(name).cloned().unwrap_or_default();
    pb::ClickEvent {
        event_id: event.event_id.clone(),
        visitor_id: event.visitor_id.clone(),
        r#type: match event.kind {
            ClickKind::PageView => pb::ClickEventType::PageView,
            ClickKind::Click => pb::ClickEventType::Click,
            ClickKind::Conversion => pb::ClickEventType::Conversion,
        }
        .into(),
        url: event.url.clone(),
        referrer: event.referrer.clone(),
        gclid: click_id("gclid"),
        gbraid: click_id("gbraid"),
        wbraid: click_id("wbraid"),
        msclkid: click_id("msclkid"),
        fbclid: click_id("fbclid"),
        data: Some(pb::ClickEventData {
            user_agent: event.user_agent.clone(),
            scroll_depth: event.scroll_depth,
            time_on_page_ms: event.time_on_page_ms,
            honeypot_hit: event.honeypot_hit,
            js_enabled: event.js_enabled,
            timezone: event.timezone.clone(),
            device_id: event.device_id.clone(),
        }),
        ip: event.ip.clone(),
        time_ms: event.time_ms,
    }
}

fn decision_to_pb(decision: &ClickDecision) -> pb::GetDecisionResponse {
    pb::GetDecisionResponse {
        visitor_id: decision.visitor_id.clone(),
        score: decision.score,
        label: label_to_pb(decision.label).into(),
        action: match decision.action {
            Action::Allow => pb::DecisionAction::Allow,
            Action::Challenge => pb::DecisionAction::Challenge,
            Action::Block => pb::DecisionAction::Block,
        }
        .into(),
        reasons: decision
            .reasons
            .iter()
            .map(|reason| pb::Reason {
                rule: reason.rule.to_string(),
                score: reason.score,
                details: reason.details.clone(),
            })
            .collect(),
        ip: decision.ip.clone(),
        decided_ms: decision.decided_ms,
    }
}

#[tonic::async_trait]
impl DecisionService for DecisionApi {
    async fn list_click_events(
        &self,
        request: Request<pb::ListClickEventsRequest>,
    ) -> Result<Response<pb::ListClickEventsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let size = page_size(request.page_size, "page_size")?;
            let visitor_id = match VisitorId::parse(&request.visitor_id) {
                Ok(id) => Some(id),
                Err(InvalidId::Empty) => None,
                Err(problem) => return Err(ApiError::invalid("visitor_id", problem.to_string())),
            };
            let (events, next_page_token) = self
                .engine
                .clicks
                .list_events(
                    &tenant,
                    visitor_id.as_ref(),
                    size,
                    request.page_token.trim(),
                )
                .await?;
            Ok(pb::ListClickEventsResponse {
                events: events.iter().map(click_event_to_pb).collect(),
                next_page_token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn track_event(
        &self,
        request: Request<pb::TrackEventRequest>,
    ) -> Result<Response<pb::TrackEventResponse>, Status> {
        let (tenant, kind) = Caller::of(&request)?.tenant_and_kind()?;
        let tenant = tenant.clone();
        let peer = request
            .extensions()
            .get::<crate::edge::ClientAddr>()
            .map(|client| client.0);
        let request = request.into_inner();
        let outcome = async {
            let input = track_input(&request, kind, peer, now_ms())?;
            let (event_id, visitor_id) = self
                .engine
                .clicks
                .track_event(&tenant.id, &tenant.settings.click_rules, input)
                .await?;
            Ok(pb::TrackEventResponse {
                success: true,
                event_id,
                visitor_id: visitor_id.into(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn get_decision(
        &self,
        request: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::GetDecisionResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.clone();
        let request = request.into_inner();
        let outcome = async {
            let visitor_id =
                VisitorId::parse(&request.visitor_id).map_err(|problem| match problem {
                    InvalidId::Empty => ApiError::invalid(
                        "visitor_id",
                        "is required: the vis_... id TrackEvent returned",
                    ),
                    malformed => ApiError::invalid("visitor_id", malformed.to_string()),
                })?;
            let decision = self
                .engine
                .clicks
                .decision(&tenant.id, &tenant.settings.click_rules, &visitor_id)
                .await?;
            Ok((
                decision_to_pb(&decision),
                Verdict::new("decision", decision.label.name()),
            ))
        }
        .await;
        reply_judged(outcome)
    }

    async fn get_blocklist(
        &self,
        request: Request<pb::GetBlocklistRequest>,
    ) -> Result<Response<pb::GetBlocklistResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let format = match pb::BlocklistFormat::try_from(request.format) {
                Ok(pb::BlocklistFormat::Unspecified | pb::BlocklistFormat::Json) => {
                    BlocklistFormat::Json
                }
                Ok(pb::BlocklistFormat::Csv) => BlocklistFormat::Csv,
                Ok(pb::BlocklistFormat::GoogleAds) => BlocklistFormat::GoogleAds,
                Err(_) => return Err(ApiError::invalid("format", "is not a BlocklistFormat")),
            };
            let days = match request.days {
                0 => 30,
                days if (1..=MAX_BLOCKLIST_DAYS).contains(&days) => days,
                _ => {
                    return Err(ApiError::invalid(
                        "days",
                        format!("must be 1-{MAX_BLOCKLIST_DAYS} (0 means 30)"),
                    ));
                }
            };
            let now = now_ms();
            let entries = self
                .engine
                .clicks
                .blocklist(&tenant, i64::from(days), request.include_suspicious, now)
                .await?;
            let rendered = render(&entries, format, now);
            Ok(pb::GetBlocklistResponse {
                entries: entries
                    .iter()
                    .map(|entry| pb::BlocklistEntry {
                        ip: entry.ip.to_string(),
                        score: entry.score,
                        last_seen_ms: entry.last_seen_ms,
                        reason: entry.reason.clone(),
                        label: if entry.fraud {
                            pb::DecisionLabel::Fraud
                        } else {
                            pb::DecisionLabel::Suspicious
                        }
                        .into(),
                    })
                    .collect(),
                total: i32::try_from(rendered.total).unwrap_or(i32::MAX),
                generated_ms: now,
                content: rendered.content,
                content_type: rendered.content_type.to_string(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let days = match pb::StatsRange::try_from(request.range) {
                Ok(pb::StatsRange::Unspecified | pb::StatsRange::Today) => 1,
                Ok(pb::StatsRange::Last7Days) => 7,
                Ok(pb::StatsRange::Last30Days) => 30,
                Ok(pb::StatsRange::Last90Days) => 90,
                Err(_) => return Err(ApiError::invalid("range", "is not a StatsRange")),
            };
            let as_of = match request.as_of_ms {
                Some(time) if time <= 0 => {
                    return Err(ApiError::invalid(
                        "as_of_ms",
                        "must be a Unix timestamp in milliseconds",
                    ));
                }
                Some(time) => time,
                None => now_ms(),
            };
            let stats = self.engine.clicks.stats(&tenant, days, as_of).await?;
            let sum = |pick: fn(&crate::engine::clicks::DayStats) -> i64| {
                stats.daily.iter().map(pick).sum::<i64>()
            };
            let decisions = sum(|day| day.decisions);
            let fraud = sum(|day| day.fraud);
            let fraud_rate = if decisions > 0 {
                fraud as f64 * 100.0 / decisions as f64
            } else {
                0.0
            };
            Ok(pb::GetStatsResponse {
                total_events: sum(|day| day.events),
                total_decisions: decisions,
                clean_count: sum(|day| day.clean),
                suspicious_count: sum(|day| day.suspicious),
                fraud_count: fraud,
                fraud_rate,
                fraud_rate_text: format!("{fraud_rate:.1}%"),
                top_rules: stats
                    .top_rules
                    .iter()
                    .map(|(rule, count)| pb::RuleCount {
                        rule: rule.clone(),
                        count: *count,
                    })
                    .collect(),
                daily: stats
                    .daily
                    .iter()
                    .map(|day| pb::DailyStats {
                        day: day.day.clone(),
                        events: day.events,
                        decisions: day.decisions,
                        clean: day.clean,
                        suspicious: day.suspicious,
                        fraud: day.fraud,
                    })
                    .collect(),
            })
        }
        .await;
        reply(outcome)
    }
}
