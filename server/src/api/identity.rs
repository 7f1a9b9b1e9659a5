//! `IdentityService`: identities, events, bans and approvals; and the conversions of identity
//! records to wire types that `SignalService` shares.

use std::sync::Arc;

use gatehouse_proto::v1::{self as pb, identity_service_server::IdentityService};
use tonic::{Request, Response, Status};

use crate::{
    api::{page_size, reply},
    auth::Caller,
    engine::{
        Engine,
        identity::{IdentityStanding, records::*},
    },
    error::ApiError,
    time::now_ms,
};

/// The IdentityService adapter.
pub struct IdentityApi {
    engine: Arc<Engine>,
}

impl IdentityApi {
    /// The adapter over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// The wire form of a device.
pub fn device_to_pb(device: &DeviceInfo) -> pb::Device {
    pb::Device {
        device_id: device.device_id.clone(),
        platform: device.platform,
        os_name: device.os_name.clone(),
        os_version: device.os_version.clone(),
        manufacturer: device.manufacturer.clone(),
        model: device.model.clone(),
        app_version: device.app_version.clone(),
        locale: device.locale.clone(),
        timezone: device.timezone.clone(),
        screen_width: device.screen_width,
        screen_height: device.screen_height,
        env_flags: device
            .env_risks
            .iter()
            .map(|risk| {
                i32::from(match risk {
                    EnvRisk::Root => pb::EnvFlag::Root,
                    EnvRisk::Hack => pb::EnvFlag::Hack,
                    EnvRisk::VirtualEnv => pb::EnvFlag::VirtualEnv,
                    EnvRisk::Crawler => pb::EnvFlag::Crawler,
                })
            })
            .collect(),
        carrier: device.carrier.as_ref().map(carrier_to_pb),
        components: device.components.clone().into_iter().collect(),
    }
}

fn carrier_to_pb(carrier: &CarrierInfo) -> pb::Carrier {
    pb::Carrier {
        name: carrier.name.clone(),
        mcc: carrier.mcc.clone(),
        mnc: carrier.mnc.clone(),
        country_code: carrier.country_code.clone(),
    }
}

fn status_to_pb(status: IdentityStatus) -> pb::IdentityStatus {
    match status {
        IdentityStatus::Active => pb::IdentityStatus::Active,
        IdentityStatus::UnderReview => pb::IdentityStatus::UnderReview,
        IdentityStatus::Banned => pb::IdentityStatus::Banned,
        IdentityStatus::Approved => pb::IdentityStatus::Approved,
    }
}

/// The wire form of an identity.
pub fn identity_to_pb(identity: &IdentityRecord) -> pb::Identity {
    pb::Identity {
        identity_id: identity.identity_id.clone(),
        user_ids: identity.user_ids.clone(),
        devices: identity
            .devices
            .iter()
            .map(|seen| pb::SeenDevice {
                device: Some(device_to_pb(&seen.device)),
                first_seen_ms: seen.first_seen_ms,
                last_seen_ms: seen.last_seen_ms,
            })
            .collect(),
        ips: identity
            .ips
            .iter()
            .map(|seen| pb::SeenIp {
                ip: seen.ip.clone(),
                info: Some(pb::IpInfo {
                    asn: seen.asn,
                    company: seen.company.clone(),
                    city: seen.city.clone(),
                    country_code: seen.country_code.clone(),
                    ..Default::default()
                }),
                tor: seen.tor,
                vpn: seen.vpn,
                first_seen_ms: seen.first_seen_ms,
                last_seen_ms: seen.last_seen_ms,
            })
            .collect(),
        locations: identity
            .locations
            .iter()
            .map(|seen| pb::Location {
                latitude: seen.latitude,
                longitude: seen.longitude,
                city: seen.city.clone(),
                region: seen.region.clone(),
                country_code: seen.country_code.clone(),
                source: seen.source.clone(),
                seen_ms: seen.seen_ms,
            })
            .collect(),
        carriers: identity.carriers.iter().map(carrier_to_pb).collect(),
        first_seen_ms: identity.first_seen_ms,
        last_seen_ms: identity.last_seen_ms,
        status: status_to_pb(identity.status).into(),
        risk_score: identity.risk_score,
    }
}

fn ban_action_to_pb(action: BanAction) -> pb::BanAction {
    match action {
        BanAction::Block => pb::BanAction::Block,
        BanAction::Shadow => pb::BanAction::Shadow,
    }
}

/// The wire form of a ban.
pub fn ban_to_pb(ban: &BanRecord) -> pb::Ban {
    pb::Ban {
        ban_id: ban.ban_id.clone(),
        subject_kind: match ban.subject_kind {
            BanSubjectKind::Identity => pb::BanSubjectKind::Identity,
            BanSubjectKind::Device => pb::BanSubjectKind::Device,
            BanSubjectKind::Ip => pb::BanSubjectKind::Ip,
        }
        .into(),
        subject: ban.subject.clone(),
        action: ban_action_to_pb(ban.action).into(),
        reason: ban.reason.clone(),
        created_ms: ban.created_ms,
        expires_ms: ban.expires_ms,
        active: ban.active_at(now_ms()),
    }
}

/// The wire form of an approval.
pub fn approval_to_pb(approval: &ApprovalRecord) -> pb::Approvable {
    let status = match approval.status {
        ApprovalStatus::Pending if approval.expires_ms <= now_ms() => pb::ApprovalStatus::Expired,
        ApprovalStatus::Pending => pb::ApprovalStatus::Pending,
        ApprovalStatus::Approved => pb::ApprovalStatus::Approved,
        ApprovalStatus::Denied => pb::ApprovalStatus::Denied,
    };
    pb::Approvable {
        approval_id: approval.approval_id.clone(),
        event_id: approval.event_id.clone(),
        identity_id: approval.identity_id.clone(),
        status: status.into(),
        message: approval.message.clone(),
        created_ms: approval.created_ms,
        expires_ms: approval.expires_ms,
        resolved_ms: approval.resolved_ms,
    }
}

/// The wire enum of an event type.
pub fn event_type_to_pb(event_type: EventType) -> pb::EventType {
    match event_type {
        EventType::NewDevice => pb::EventType::NewDevice,
        EventType::ImpossibleTravel => pb::EventType::ImpossibleTravel,
        EventType::Tor => pb::EventType::Tor,
        EventType::Vpn => pb::EventType::Vpn,
        EventType::SharedDevice => pb::EventType::SharedDevice,
        EventType::SignalVelocity => pb::EventType::SignalVelocity,
        EventType::BannedActivity => pb::EventType::BannedActivity,
        EventType::ApprovalApproved => pb::EventType::ApprovalApproved,
        EventType::ApprovalDenied => pb::EventType::ApprovalDenied,
        EventType::DeviceRisk => pb::EventType::DeviceRisk,
    }
}

fn event_type_from_pb(value: i32) -> Result<Option<EventType>, ApiError> {
    Ok(Some(match pb::EventType::try_from(value) {
        Ok(pb::EventType::Unspecified) => return Ok(None),
        Ok(pb::EventType::NewDevice) => EventType::NewDevice,
        Ok(pb::EventType::ImpossibleTravel) => EventType::ImpossibleTravel,
        Ok(pb::EventType::Tor) => EventType::Tor,
        Ok(pb::EventType::Vpn) => EventType::Vpn,
        Ok(pb::EventType::SharedDevice) => EventType::SharedDevice,
        Ok(pb::EventType::SignalVelocity) => EventType::SignalVelocity,
        Ok(pb::EventType::BannedActivity) => EventType::BannedActivity,
        Ok(pb::EventType::ApprovalApproved) => EventType::ApprovalApproved,
        Ok(pb::EventType::ApprovalDenied) => EventType::ApprovalDenied,
        Ok(pb::EventType::DeviceRisk) => EventType::DeviceRisk,
        Err(_) => return Err(ApiError::invalid("type", "is not an EventType")),
    }))
}

/// The wire form of an event; `approval` when it was made approvable.
pub fn event_to_pb(event: &EventRecord, approval: Option<&ApprovalRecord>) -> pb::Event {
    let recommendation = match event.recommendation {
        Recommendation::None => pb::Recommendation {
            r#type: pb::RecommendationType::None.into(),
            ban: None,
        },
        Recommendation::Review => pb::Recommendation {
            r#type: pb::RecommendationType::Review.into(),
            ban: None,
        },
        Recommendation::Ban {
            action,
            duration_seconds,
        } => pb::Recommendation {
            r#type: pb::RecommendationType::Ban.into(),
            ban: Some(pb::RecommendedBan {
                action: ban_action_to_pb(action).into(),
                duration_seconds,
            }),
        },
    };
    pb::Event {
        event_id: event.event_id.clone(),
        identity_id: event.identity_id.clone(),
        r#type: event_type_to_pb(event.event_type).into(),
        level: match event.level {
            EventLevel::Low => pb::EventLevel::Low,
            EventLevel::Medium => pb::EventLevel::Medium,
            EventLevel::High => pb::EventLevel::High,
            EventLevel::Critical => pb::EventLevel::Critical,
        }
        .into(),
        signals: event
            .signals
            .iter()
            .map(|signal| pb::EventSignal {
                signal_id: signal.signal_id.clone(),
                r#type: signal.signal_type.clone(),
                time_ms: signal.time_ms,
            })
            .collect(),
        recommendation: Some(recommendation),
        details: event.details.clone(),
        created_ms: event.created_ms,
        approvable: approval.map(approval_to_pb),
    }
}

fn standing_to_pb(standing: &IdentityStanding) -> pb::GetIdentityStatusResponse {
    pb::GetIdentityStatusResponse {
        identity_id: standing.identity.identity_id.clone(),
        status: status_to_pb(standing.identity.status).into(),
        active_bans: standing.active_bans.iter().map(ban_to_pb).collect(),
        pending_approvals: standing
            .pending_approvals
            .iter()
            .map(approval_to_pb)
            .collect(),
        risk_score: standing.identity.risk_score,
    }
}

/// The longest ban reason or approval message.
pub const MAX_TEXT_BYTES: usize = 1000;

impl IdentityApi {
    fn create_ban_request(
        &self,
        request: &pb::CreateBanRequest,
    ) -> Result<(BanSubjectKind, String, BanAction), ApiError> {
        let kind = match pb::BanSubjectKind::try_from(request.subject_kind) {
            Ok(pb::BanSubjectKind::Identity) => BanSubjectKind::Identity,
            Ok(pb::BanSubjectKind::Device) => BanSubjectKind::Device,
            Ok(pb::BanSubjectKind::Ip) => BanSubjectKind::Ip,
            _ => {
                return Err(ApiError::invalid(
                    "subject_kind",
                    "must be BAN_SUBJECT_KIND_IDENTITY, _DEVICE or _IP",
                ));
            }
        };
        let subject = request.subject.trim();
        if subject.is_empty() || subject.len() > 255 || subject.contains('/') {
            return Err(ApiError::invalid(
                "subject",
                "is required: the identity id, device id or IP to ban (at most 255 bytes, no '/')",
            ));
        }
        let subject = if kind == BanSubjectKind::Ip {
            subject
                .parse::<std::net::IpAddr>()
                .map(|ip| crate::intel::ip_lists::canonical(ip).to_string())
                .map_err(|_| {
                    ApiError::invalid("subject", format!("{subject:?} is not an IP address"))
                })?
        } else {
            subject.to_string()
        };
        let action = match pb::BanAction::try_from(request.action) {
            Ok(pb::BanAction::Unspecified | pb::BanAction::Block) => BanAction::Block,
            Ok(pb::BanAction::Shadow) => BanAction::Shadow,
            Err(_) => return Err(ApiError::invalid("action", "is not a BanAction")),
        };
        if request.reason.len() > MAX_TEXT_BYTES {
            return Err(ApiError::invalid(
                "reason",
                format!("is longer than {MAX_TEXT_BYTES} bytes"),
            ));
        }
        if request.duration_seconds < 0 {
            return Err(ApiError::invalid(
                "duration_seconds",
                "must not be negative (0 = until lifted)",
            ));
        }
        Ok((kind, subject, action))
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn get_identity(
        &self,
        request: Request<pb::GetIdentityRequest>,
    ) -> Result<Response<pb::GetIdentityResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        reply(
            self.engine
                .identities
                .standing(&tenant, &request.identity_id, &request.user_id)
                .await
                .map(|standing| pb::GetIdentityResponse {
                    identity: Some(identity_to_pb(&standing.identity)),
                })
                .map_err(ApiError::from),
        )
    }

    async fn get_identity_status(
        &self,
        request: Request<pb::GetIdentityStatusRequest>,
    ) -> Result<Response<pb::GetIdentityStatusResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        reply(
            self.engine
                .identities
                .standing(&tenant, &request.identity_id, &request.user_id)
                .await
                .map(|standing| standing_to_pb(&standing))
                .map_err(ApiError::from),
        )
    }

    async fn list_identities(
        &self,
        request: Request<pb::ListIdentitiesRequest>,
    ) -> Result<Response<pb::ListIdentitiesResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let size = page_size(request.page_size, "page_size")?;
            let status = match pb::IdentityStatus::try_from(request.status) {
                Ok(pb::IdentityStatus::Unspecified) => None,
                Ok(pb::IdentityStatus::Active) => Some(IdentityStatus::Active),
                Ok(pb::IdentityStatus::UnderReview) => Some(IdentityStatus::UnderReview),
                Ok(pb::IdentityStatus::Banned) => Some(IdentityStatus::Banned),
                Ok(pb::IdentityStatus::Approved) => Some(IdentityStatus::Approved),
                Err(_) => return Err(ApiError::invalid("status", "is not an IdentityStatus")),
            };
            let (page, next_page_token) = self
                .engine
                .identities
                .list_identities(&tenant, size, &request.page_token, status)
                .await?;
            Ok(pb::ListIdentitiesResponse {
                identities: page
                    .iter()
                    .map(|standing| identity_to_pb(&standing.identity))
                    .collect(),
                next_page_token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let size = page_size(request.page_size, "page_size")?;
            let event_type = event_type_from_pb(request.r#type)?;
            let (events, next_page_token) = self
                .engine
                .identities
                .list_events(
                    &tenant,
                    &request.identity_id,
                    event_type,
                    size,
                    &request.page_token,
                )
                .await?;
            let mut out = Vec::with_capacity(events.len());
            for event in &events {
                let approval = match &event.approval_id {
                    Some(id) => {
                        self.engine
                            .identities
                            .approval(&tenant, &event.identity_id, id)
                            .await?
                    }
                    None => None,
                };
                out.push(event_to_pb(event, approval.as_ref()));
            }
            Ok(pb::ListEventsResponse {
                events: out,
                next_page_token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn create_ban(
        &self,
        request: Request<pb::CreateBanRequest>,
    ) -> Result<Response<pb::CreateBanResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let (kind, subject, action) = self.create_ban_request(&request)?;
            let ban = self
                .engine
                .identities
                .create_ban(
                    &tenant,
                    kind,
                    subject,
                    action,
                    request.reason.clone(),
                    request.duration_seconds,
                )
                .await?;
            Ok(pb::CreateBanResponse {
                ban: Some(ban_to_pb(&ban)),
            })
        }
        .await;
        reply(outcome)
    }

    async fn delete_ban(
        &self,
        request: Request<pb::DeleteBanRequest>,
    ) -> Result<Response<pb::DeleteBanResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            if request.ban_id.is_empty() {
                return Err(ApiError::invalid("ban_id", "is required"));
            }
            let ban = self
                .engine
                .identities
                .delete_ban(&tenant, &request.ban_id)
                .await?;
            Ok(pb::DeleteBanResponse {
                ban: Some(ban_to_pb(&ban)),
            })
        }
        .await;
        reply(outcome)
    }

    async fn list_bans(
        &self,
        request: Request<pb::ListBansRequest>,
    ) -> Result<Response<pb::ListBansResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let size = page_size(request.page_size, "page_size")?;
            let (bans, next_page_token) = self
                .engine
                .identities
                .list_bans(&tenant, request.include_inactive, size, &request.page_token)
                .await?;
            Ok(pb::ListBansResponse {
                bans: bans.iter().map(ban_to_pb).collect(),
                next_page_token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn create_approval(
        &self,
        request: Request<pb::CreateApprovalRequest>,
    ) -> Result<Response<pb::CreateApprovalResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            if request.event_id.is_empty() {
                return Err(ApiError::invalid("event_id", "is required"));
            }
            if request.message.len() > MAX_TEXT_BYTES {
                return Err(ApiError::invalid(
                    "message",
                    format!("is longer than {MAX_TEXT_BYTES} bytes"),
                ));
            }
            if request.ttl_seconds < 0 {
                return Err(ApiError::invalid(
                    "ttl_seconds",
                    "must not be negative (0 = 15 minutes)",
                ));
            }
            let (approval, token) = self
                .engine
                .identities
                .create_approval(
                    &tenant,
                    &request.event_id,
                    request.message.clone(),
                    request.ttl_seconds,
                )
                .await?;
            Ok(pb::CreateApprovalResponse {
                approvable: Some(approval_to_pb(&approval)),
                approval_token: token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn resolve_approval(
        &self,
        request: Request<pb::ResolveApprovalRequest>,
    ) -> Result<Response<pb::ResolveApprovalResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.id.clone();
        let request = request.into_inner();
        let outcome = async {
            let approve = match pb::ApprovalDecision::try_from(request.decision) {
                Ok(pb::ApprovalDecision::Approve) => true,
                Ok(pb::ApprovalDecision::Deny) => false,
                _ => {
                    return Err(ApiError::invalid(
                        "decision",
                        "must be APPROVAL_DECISION_APPROVE or APPROVAL_DECISION_DENY",
                    ));
                }
            };
            if request.approval_token.is_empty() {
                return Err(ApiError::invalid("approval_token", "is required"));
            }
            let (approval, status) = self
                .engine
                .identities
                .resolve_approval(&tenant, &request.approval_token, approve)
                .await?;
            Ok(pb::ResolveApprovalResponse {
                approvable: Some(approval_to_pb(&approval)),
                identity_status: status_to_pb(status).into(),
            })
        }
        .await;
        reply(outcome)
    }
}
