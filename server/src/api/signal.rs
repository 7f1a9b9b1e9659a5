//! `SignalService`: apps, browsers and servers report what users do.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use gatehouse_proto::v1::{self as pb, signal_service_server::SignalService};
use tonic::{Request, Response, Status};

use crate::{
    api::{
        bounded_text,
        identity::{ban_to_pb, device_to_pb, identity_to_pb},
        reply,
    },
    auth::Caller,
    engine::{
        Engine,
        identity::{
            SignalInput, SignalSource,
            records::{CarrierInfo, DeviceInfo, EnvRisk, ImmediateKind, SignalOutcome},
        },
    },
    error::ApiError,
    intel::ip_lists::canonical,
    tenancy::KeyKind,
};

/// Limits on what a signal may carry.
pub const MAX_ID_BYTES: usize = 255;
/// The most metadata entries.
pub const MAX_METADATA_ENTRIES: usize = 50;
/// The longest metadata value.
pub const MAX_METADATA_VALUE_BYTES: usize = 1000;

/// The SignalService adapter.
pub struct SignalApi {
    engine: Arc<Engine>,
}

impl SignalApi {
    /// The adapter over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

fn device_from_pb(device: &pb::Device) -> Result<DeviceInfo, ApiError> {
    let env_risks = device
        .env_flags
        .iter()
        .enumerate()
        .map(|(index, flag)| match pb::EnvFlag::try_from(*flag) {
            Ok(pb::EnvFlag::Root) => Ok(EnvRisk::Root),
            Ok(pb::EnvFlag::Hack) => Ok(EnvRisk::Hack),
            Ok(pb::EnvFlag::VirtualEnv) => Ok(EnvRisk::VirtualEnv),
            Ok(pb::EnvFlag::Crawler) => Ok(EnvRisk::Crawler),
            _ => Err(ApiError::invalid(
                format!("device.env_flags[{index}]"),
                "is not an EnvFlag",
            )),
        })
        .collect::<Result<std::collections::BTreeSet<_>, _>>()?
        .into_iter()
        .collect();
    if device.components.len() > MAX_METADATA_ENTRIES {
        return Err(ApiError::invalid(
            "device.components",
            format!("has more than {MAX_METADATA_ENTRIES} entries"),
        ));
    }
    if device.device_id.contains('/') {
        return Err(ApiError::invalid(
            "device.device_id",
            "must not contain '/'",
        ));
    }
    let carrier = match &device.carrier {
        Some(carrier) => Some(CarrierInfo {
            name: bounded_text(&carrier.name, "device.carrier.name", MAX_ID_BYTES)?,
            mcc: bounded_text(&carrier.mcc, "device.carrier.mcc", 8)?,
            mnc: bounded_text(&carrier.mnc, "device.carrier.mnc", 8)?,
            country_code: bounded_text(&carrier.country_code, "device.carrier.country_code", 8)?,
        }),
        None => None,
    };
    let mut components = std::collections::BTreeMap::new();
    for (name, hash) in &device.components {
        let field = format!("device.components[{name:?}]");
        components.insert(
            bounded_text(name, &field, 64)?,
            bounded_text(hash, &field, 256)?,
        );
    }
    Ok(DeviceInfo {
        device_id: bounded_text(&device.device_id, "device.device_id", MAX_ID_BYTES)?,
        platform: device.platform,
        os_name: bounded_text(&device.os_name, "device.os_name", MAX_ID_BYTES)?,
        os_version: bounded_text(&device.os_version, "device.os_version", MAX_ID_BYTES)?,
        manufacturer: bounded_text(&device.manufacturer, "device.manufacturer", MAX_ID_BYTES)?,
        model: bounded_text(&device.model, "device.model", MAX_ID_BYTES)?,
        app_version: bounded_text(&device.app_version, "device.app_version", MAX_ID_BYTES)?,
        locale: bounded_text(&device.locale, "device.locale", MAX_ID_BYTES)?,
        timezone: bounded_text(&device.timezone, "device.timezone", MAX_ID_BYTES)?,
        screen_width: device.screen_width,
        screen_height: device.screen_height,
        env_risks,
        carrier,
        components,
    })
}

/// Checks a signal against the rules of the key that sent it: client (publishable) signals carry
/// only client fields; server-only fields are refused by name rather than silently dropped.
pub fn signal_input(
    request: &pb::SendSignalRequest,
    kind: KeyKind,
    peer: Option<IpAddr>,
) -> Result<SignalInput, ApiError> {
    let source = match (pb::SignalSource::try_from(request.source), kind) {
        (Ok(pb::SignalSource::App), _) => SignalSource::App,
        (Ok(pb::SignalSource::Browser), _) => SignalSource::Browser,
        (Ok(pb::SignalSource::Server | pb::SignalSource::Unspecified), KeyKind::Secret) => {
            SignalSource::Server
        }
        (Ok(pb::SignalSource::Server), KeyKind::Publishable) => {
            return Err(ApiError::invalid(
                "source",
                "SIGNAL_SOURCE_SERVER needs the secret key; apps and browsers send APP or BROWSER",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "source",
                "is required: SIGNAL_SOURCE_APP or SIGNAL_SOURCE_BROWSER",
            ));
        }
    };
    if kind == KeyKind::Publishable {
        let server_only = [
            (!request.ip.is_empty(), "ip"),
            (!request.user_agent.is_empty(), "user_agent"),
            (request.lat.is_some(), "lat"),
            (request.lon.is_some(), "lon"),
            (!request.metadata.is_empty(), "metadata"),
            (request.time_ms.is_some(), "time_ms"),
        ];
        if let Some((_, field)) = server_only.iter().find(|(present, _)| *present) {
            return Err(ApiError::invalid(
                *field,
                "is a server-only field: send it from your server with the secret key, or leave it out",
            ));
        }
    }
    let identifiers = request.identifiers.clone().unwrap_or_default();
    let user_id = bounded_text(
        identifiers.user_id.trim(),
        "identifiers.user_id",
        MAX_ID_BYTES,
    )?;
    let identity_id = bounded_text(
        identifiers.identity_id.trim(),
        "identifiers.identity_id",
        MAX_ID_BYTES,
    )?;
    if user_id.is_empty() && identity_id.is_empty() {
        return Err(ApiError::invalid(
            "identifiers",
            "give identifiers.user_id or identifiers.identity_id",
        ));
    }
    if user_id.contains('/') || identity_id.contains('/') {
        return Err(ApiError::invalid("identifiers", "ids must not contain '/'"));
    }
    let ip = if kind == KeyKind::Secret {
        match request.ip.trim() {
            "" => None,
            raw => Some(canonical(raw.parse::<IpAddr>().map_err(|_| {
                ApiError::invalid("ip", format!("{raw:?} is not an IPv4 or IPv6 address"))
            })?)),
        }
    } else {
        // A client's IP is the address of its connection.
        peer.map(canonical)
    };
    let location = match (request.lat, request.lon) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) {
                return Err(ApiError::invalid("lat", "must be between -90 and 90"));
            }
            if !(-180.0..=180.0).contains(&lon) {
                return Err(ApiError::invalid("lon", "must be between -180 and 180"));
            }
            Some((lat, lon))
        }
        (Some(_), None) => return Err(ApiError::invalid("lon", "is required with lat")),
        (None, Some(_)) => return Err(ApiError::invalid("lat", "is required with lon")),
    };
    if request.metadata.len() > MAX_METADATA_ENTRIES {
        return Err(ApiError::invalid(
            "metadata",
            format!("has more than {MAX_METADATA_ENTRIES} entries"),
        ));
    }
    let mut metadata = BTreeMap::new();
    for (name, value) in &request.metadata {
        let field = format!("metadata[{name:?}]");
        metadata.insert(
            bounded_text(name, &field, MAX_ID_BYTES)?,
            bounded_text(value, &field, MAX_METADATA_VALUE_BYTES)?,
        );
    }
    if request.time_ms.is_some_and(|time| time <= 0) {
        return Err(ApiError::invalid(
            "time_ms",
            "must be a Unix timestamp in milliseconds",
        ));
    }
    Ok(SignalInput {
        idempotency_key: bounded_text(&request.idempotency_key, "idempotency_key", MAX_ID_BYTES)?,
        signal_type: bounded_text(&request.r#type, "type", MAX_ID_BYTES)?,
        source,
        device: request.device.as_ref().map(device_from_pb).transpose()?,
        user_id,
        identity_id,
        ip,
        user_agent: bounded_text(&request.user_agent, "user_agent", 4096)?,
        location,
        metadata,
        time_ms: request.time_ms,
        may_create_identity: kind == KeyKind::Secret,
    })
}

fn immediate_kind_to_pb(kind: ImmediateKind) -> pb::ImmediateResultType {
    match kind {
        ImmediateKind::Banned => pb::ImmediateResultType::Banned,
        ImmediateKind::Tor => pb::ImmediateResultType::Tor,
        ImmediateKind::Vpn => pb::ImmediateResultType::Vpn,
        ImmediateKind::NewDevice => pb::ImmediateResultType::NewDevice,
        ImmediateKind::ImpossibleTravel => pb::ImmediateResultType::ImpossibleTravel,
        ImmediateKind::TooManyAccounts => pb::ImmediateResultType::TooManyAccounts,
        ImmediateKind::Velocity => pb::ImmediateResultType::Velocity,
        ImmediateKind::DeviceRisk => pb::ImmediateResultType::DeviceRisk,
        ImmediateKind::ShadowBanned => pb::ImmediateResultType::ShadowBanned,
    }
}

/// The wire answer of a signal.
pub fn outcome_to_pb(outcome: &SignalOutcome, replayed: bool) -> pb::SendSignalResponse {
    pb::SendSignalResponse {
        started_ms: outcome.started_ms,
        finished_ms: outcome.finished_ms,
        signal_id: outcome.signal_id.clone(),
        device: outcome.device.as_ref().map(device_to_pb),
        identifiers: Some(pb::Identifiers {
            user_id: outcome.user_id.clone(),
            identity_id: outcome.identity.identity_id.clone(),
        }),
        identity: Some(identity_to_pb(&outcome.identity)),
        immediate_results: outcome
            .immediate_results
            .iter()
            .map(|result| pb::ImmediateResult {
                r#type: immediate_kind_to_pb(result.kind).into(),
                details: result.details.clone(),
                event_id: result.event_id.clone().unwrap_or_default(),
                ban: result.ban.as_ref().map(ban_to_pb),
            })
            .collect(),
        replayed,
    }
}

#[tonic::async_trait]
impl SignalService for SignalApi {
    async fn send_signal(
        &self,
        request: Request<pb::SendSignalRequest>,
    ) -> Result<Response<pb::SendSignalResponse>, Status> {
        let (tenant, kind) = Caller::of(&request)?.tenant_and_kind()?;
        let tenant = tenant.clone();
        let peer = request
            .extensions()
            .get::<crate::edge::ClientAddr>()
            .map(|client| client.0);
        let request = request.into_inner();
        let outcome = async {
            let input = signal_input(&request, kind, peer)?;
            let (outcome, replayed) = self
                .engine
                .identities
                .send_signal(&tenant.id, &tenant.settings.identity_rules, input)
                .await?;
            Ok(outcome_to_pb(&outcome, replayed))
        }
        .await;
        reply(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_signal() -> pb::SendSignalRequest {
        pb::SendSignalRequest {
            source: pb::SignalSource::App.into(),
            identifiers: Some(pb::Identifiers {
                user_id: "u1".into(),
                identity_id: String::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn server_only_fields_are_refused_by_name_for_publishable_keys() {
        for (field, request) in [
            (
                "ip",
                pb::SendSignalRequest {
                    ip: "1.2.3.4".into(),
                    ..client_signal()
                },
            ),
            (
                "user_agent",
                pb::SendSignalRequest {
                    user_agent: "x".into(),
                    ..client_signal()
                },
            ),
            (
                "lat",
                pb::SendSignalRequest {
                    lat: Some(1.0),
                    lon: Some(1.0),
                    ..client_signal()
                },
            ),
            (
                "time_ms",
                pb::SendSignalRequest {
                    time_ms: Some(1),
                    ..client_signal()
                },
            ),
            (
                "metadata",
                pb::SendSignalRequest {
                    metadata: [("a".to_string(), "b".to_string())].into(),
                    ..client_signal()
                },
            ),
        ] {
            let error = signal_input(&request, KeyKind::Publishable, None).unwrap_err();
            assert!(
                error.to_string().starts_with(&format!("{field}: ")),
                "{error}"
            );
            assert!(
                signal_input(&request, KeyKind::Secret, None).is_ok(),
                "{field}"
            );
        }
    }

    #[test]
    fn clients_cannot_claim_the_server_source_and_need_an_identifier() {
        let server = pb::SendSignalRequest {
            source: pb::SignalSource::Server.into(),
            ..client_signal()
        };
        assert!(
            signal_input(&server, KeyKind::Publishable, None)
                .unwrap_err()
                .to_string()
                .starts_with("source")
        );
        let anonymous = pb::SendSignalRequest {
            identifiers: None,
            ..client_signal()
        };
        assert!(
            signal_input(&anonymous, KeyKind::Secret, None)
                .unwrap_err()
                .to_string()
                .starts_with("identifiers")
        );
    }

    #[test]
    fn the_client_ip_is_the_connection() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let input = signal_input(&client_signal(), KeyKind::Publishable, Some(peer)).unwrap();
        assert_eq!(input.ip, Some(peer));
        assert!(!input.may_create_identity);
    }
}
