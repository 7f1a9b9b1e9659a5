//! `AdminService`: tenants, API keys and settings.

use gatehouse_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use crate::{
    api::{page_size, reply},
    auth::Caller,
    error::ApiError,
    tenancy::{
        ApiKeyRecord, KeyKind, MAX_RATE_LIMIT_PER_MINUTE, MAX_RETENTION_DAYS, Tenancy, Tenant,
        TenantId, TenantSettings,
    },
};

/// The AdminService adapter.
pub struct AdminApi {
    tenancy: Tenancy,
}

impl AdminApi {
    /// The adapter over `tenancy`.
    pub fn new(tenancy: Tenancy) -> Self {
        Self { tenancy }
    }

    async fn create_tenant(
        &self,
        request: pb::CreateTenantRequest,
    ) -> Result<pb::CreateTenantResponse, ApiError> {
        let name = Tenancy::validate_name(&request.name, "name")?;
        let mut settings = TenantSettings::default();
        if let Some(changes) = &request.settings {
            apply_settings(&mut settings, changes, true)?;
        }
        let (tenant, publishable, secret) = self.tenancy.create_tenant(name, settings).await?;
        tracing::info!(tenant_id = %tenant.id, "tenant created");
        Ok(pb::CreateTenantResponse {
            tenant: Some(tenant_to_pb(&tenant)),
            publishable_key: publishable.key,
            secret_key: secret.key,
        })
    }

    fn list_tenants(
        &self,
        request: pb::ListTenantsRequest,
    ) -> Result<pb::ListTenantsResponse, ApiError> {
        let limit = page_size(request.page_size, "page_size")?;
        let start_after = match request.page_token.as_str() {
            "" => None,
            token => Some(TenantId::parse(token, "page_token")?),
        };
        // One extra tells whether another page follows.
        let mut tenants = self.tenancy.list_tenants(start_after.as_ref(), limit + 1)?;
        let next_page_token = if tenants.len() > limit {
            tenants.truncate(limit);
            tenants
                .last()
                .map(|tenant| tenant.id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListTenantsResponse {
            tenants: tenants.iter().map(tenant_to_pb).collect(),
            next_page_token,
        })
    }

    fn get_tenant(
        &self,
        caller: &Caller,
        request: pb::GetTenantRequest,
    ) -> Result<pb::GetTenantResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        let tenant = self.tenancy.require_tenant(&tenant_id)?;
        Ok(pb::GetTenantResponse {
            tenant: Some(tenant_to_pb(&tenant)),
        })
    }

    async fn update_tenant(
        &self,
        caller: &Caller,
        request: pb::UpdateTenantRequest,
    ) -> Result<pb::UpdateTenantResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        let mut tenant = self.tenancy.require_tenant(&tenant_id)?;
        if let Some(name) = &request.name {
            tenant.name = Tenancy::validate_name(name, "name")?;
        }
        if let Some(changes) = &request.settings {
            apply_settings(&mut tenant.settings, changes, caller.is_operator())?;
        }
        self.tenancy.save_tenant(&tenant).await?;
        Ok(pb::UpdateTenantResponse {
            tenant: Some(tenant_to_pb(&tenant)),
        })
    }

    async fn rotate_key(
        &self,
        request: pb::RotateKeyRequest,
    ) -> Result<pb::RotateKeyResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        let kind = key_kind_from_pb(request.kind)?;
        let (issued, revoked_key_ids) = self
            .tenancy
            .rotate_key(&tenant_id, kind, request.revoke_previous)
            .await?;
        tracing::info!(tenant_id = %tenant_id, key_id = %issued.record.key_id, "api key issued");
        Ok(pb::RotateKeyResponse {
            key: Some(key_to_pb(&issued.record)),
            api_key: issued.key,
            revoked_key_ids,
        })
    }

    async fn revoke_key(
        &self,
        request: pb::RevokeKeyRequest,
    ) -> Result<pb::RevokeKeyResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        if request.key_id.is_empty() {
            return Err(ApiError::invalid(
                "key_id",
                "is required: give the key's id (key_...)",
            ));
        }
        let record = self.tenancy.revoke_key(&tenant_id, &request.key_id).await?;
        tracing::info!(tenant_id = %tenant_id, key_id = %record.key_id, "api key revoked");
        Ok(pb::RevokeKeyResponse {
            key: Some(key_to_pb(&record)),
        })
    }

    fn list_keys(
        &self,
        caller: &Caller,
        request: pb::ListKeysRequest,
    ) -> Result<pb::ListKeysResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        self.tenancy.require_tenant(&tenant_id)?;
        let mut keys = self.tenancy.list_keys(&tenant_id)?;
        keys.sort_by_key(|key| key.created_ms);
        Ok(pb::ListKeysResponse {
            keys: keys.iter().map(key_to_pb).collect(),
        })
    }
}

/// Applies the fields that are set in `changes`. Rate limit, traffic and service switches are the
/// operator's (they are what a tenant pays for), so a tenant's own key may not change them.
fn apply_settings(
    settings: &mut TenantSettings,
    changes: &pb::TenantSettings,
    by_operator: bool,
) -> Result<(), ApiError> {
    let operator_only = |field: &str| {
        ApiError::PermissionDenied(format!(
            "settings.{field} is set by the operator: use the admin token"
        ))
    };
    if let Some(limit) = changes.rate_limit_per_minute {
        if !by_operator {
            return Err(operator_only("rate_limit_per_minute"));
        }
        if limit == 0 || limit > MAX_RATE_LIMIT_PER_MINUTE {
            return Err(ApiError::invalid(
                "settings.rate_limit_per_minute",
                format!("must be between 1 and {MAX_RATE_LIMIT_PER_MINUTE}"),
            ));
        }
        settings.rate_limit_per_minute = limit;
    }
    if let Some(enabled) = changes.traffic_enabled {
        if !by_operator {
            return Err(operator_only("traffic_enabled"));
        }
        settings.traffic_enabled = enabled;
    }
    if let Some(services) = &changes.services {
        if !by_operator {
            return Err(operator_only("services"));
        }
        let switches = &mut settings.services;
        for (change, switch) in [
            (services.identity, &mut switches.identity),
            (services.decision, &mut switches.decision),
            (services.blocker, &mut switches.blocker),
            (services.smart_url, &mut switches.smart_url),
            (services.verify, &mut switches.verify),
        ] {
            if let Some(value) = change {
                *switch = value;
            }
        }
    }
    if let Some(days) = changes.retention_days {
        if days == 0 || days > MAX_RETENTION_DAYS {
            return Err(ApiError::invalid(
                "settings.retention_days",
                format!("must be between 1 and {MAX_RETENTION_DAYS}"),
            ));
        }
        settings.retention_days = days;
    }
    if changes.replace_allowed_origins || !changes.allowed_origins.is_empty() {
        let mut origins = Vec::with_capacity(changes.allowed_origins.len());
        for (index, origin) in changes.allowed_origins.iter().enumerate() {
            origins.push(validate_origin(origin, index)?);
        }
        if changes.replace_allowed_origins {
            settings.allowed_origins = origins;
        } else {
            for origin in origins {
                if !settings.allowed_origins.contains(&origin) {
                    settings.allowed_origins.push(origin);
                }
            }
        }
    }
    for (value, field, target) in [
        (
            changes.js_confirmation_seconds,
            "js_confirmation_seconds",
            &mut settings.js_confirmation_seconds,
        ),
        (
            changes.signature_validity_seconds,
            "signature_validity_seconds",
            &mut settings.signature_validity_seconds,
        ),
        (
            changes.verify_velocity_per_minute,
            "verify_velocity_per_minute",
            &mut settings.verify_velocity_per_minute,
        ),
    ] {
        if let Some(value) = value {
            if value == 0 {
                return Err(ApiError::invalid(
                    format!("settings.{field}"),
                    "must be greater than 0",
                ));
            }
            *target = value;
        }
    }
    // These groups arrive with the services that use them; refusing them beats silently dropping
    // a setting the caller believes is in force.
    for (present, field) in [
        (changes.blocker.is_some(), "blocker"),
        (changes.identity_rules.is_some(), "identity_rules"),
        (changes.click_rules.is_some(), "click_rules"),
    ] {
        if present {
            return Err(ApiError::invalid(
                format!("settings.{field}"),
                "is not supported by this server version yet: leave it unset",
            ));
        }
    }
    Ok(())
}

/// Checks a browser origin: `scheme://host[:port]`, no path.
fn validate_origin(raw: &str, index: usize) -> Result<String, ApiError> {
    let field = format!("settings.allowed_origins[{index}]");
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, host)) = origin.split_once("://") else {
        return Err(ApiError::invalid(
            field,
            format!("{raw:?} is not an origin: write it as https://shop.example"),
        ));
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !matches!(scheme, "http" | "https") || !host_ok {
        return Err(ApiError::invalid(
            field,
            format!("{raw:?} is not an origin: write it as https://shop.example (no path)"),
        ));
    }
    Ok(origin)
}

fn key_kind_from_pb(kind: i32) -> Result<KeyKind, ApiError> {
    match pb::KeyKind::try_from(kind) {
        Ok(pb::KeyKind::Publishable) => Ok(KeyKind::Publishable),
        Ok(pb::KeyKind::Secret) => Ok(KeyKind::Secret),
        _ => Err(ApiError::invalid(
            "kind",
            "must be KEY_KIND_PUBLISHABLE or KEY_KIND_SECRET",
        )),
    }
}

fn key_kind_to_pb(kind: KeyKind) -> pb::KeyKind {
    match kind {
        KeyKind::Publishable => pb::KeyKind::Publishable,
        KeyKind::Secret => pb::KeyKind::Secret,
    }
}

fn key_to_pb(record: &ApiKeyRecord) -> pb::ApiKey {
    pb::ApiKey {
        key_id: record.key_id.clone(),
        kind: key_kind_to_pb(record.kind).into(),
        prefix: record.prefix.clone(),
        created_ms: record.created_ms,
        revoked_ms: record.revoked_ms.unwrap_or_default(),
    }
}

fn tenant_to_pb(tenant: &Tenant) -> pb::Tenant {
    let settings = &tenant.settings;
    pb::Tenant {
        tenant_id: tenant.id.to_string(),
        name: tenant.name.clone(),
        created_ms: tenant.created_ms,
        settings: Some(pb::TenantSettings {
            rate_limit_per_minute: Some(settings.rate_limit_per_minute),
            traffic_enabled: Some(settings.traffic_enabled),
            services: Some(pb::ServiceSwitches {
                identity: Some(settings.services.identity),
                decision: Some(settings.services.decision),
                blocker: Some(settings.services.blocker),
                smart_url: Some(settings.services.smart_url),
                verify: Some(settings.services.verify),
            }),
            retention_days: Some(settings.retention_days),
            allowed_origins: settings.allowed_origins.clone(),
            js_confirmation_seconds: Some(settings.js_confirmation_seconds),
            signature_validity_seconds: Some(settings.signature_validity_seconds),
            verify_velocity_per_minute: Some(settings.verify_velocity_per_minute),
            ..Default::default()
        }),
    }
}

// RPCs of the contract that later work serves. `async_trait` does not see through
// `macro_rules!`, so these spell out the signature it would generate.
macro_rules! later_issue {
    ($($method:ident($request:ty) -> $response:ty),* $(,)?) => {
        $(
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                _request: Request<$request>,
            ) -> std::pin::Pin<Box<
                dyn std::future::Future<Output = Result<Response<$response>, Status>>
                    + Send
                    + 'async_trait,
            >>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async {
                    Err(ApiError::Unavailable(concat!("AdminService.", stringify!($method))).into())
                })
            }
        )*
    };
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        reply(self.create_tenant(request.into_inner()).await)
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        reply(self.list_tenants(request.into_inner()))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(self.get_tenant(&caller, request.into_inner()))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::UpdateTenantResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(self.update_tenant(&caller, request.into_inner()).await)
    }

    async fn rotate_key(
        &self,
        request: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        reply(self.rotate_key(request.into_inner()).await)
    }

    async fn revoke_key(
        &self,
        request: Request<pb::RevokeKeyRequest>,
    ) -> Result<Response<pb::RevokeKeyResponse>, Status> {
        reply(self.revoke_key(request.into_inner()).await)
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(self.list_keys(&caller, request.into_inner()))
    }

    later_issue! {
        add_ip_list_entries(pb::AddIpListEntriesRequest) -> pb::AddIpListEntriesResponse,
        remove_ip_list_entries(pb::RemoveIpListEntriesRequest) -> pb::RemoveIpListEntriesResponse,
        list_ip_list_entries(pb::ListIpListEntriesRequest) -> pb::ListIpListEntriesResponse,
        create_signing_key(pb::CreateSigningKeyRequest) -> pb::CreateSigningKeyResponse,
        list_signing_keys(pb::ListSigningKeysRequest) -> pb::ListSigningKeysResponse,
        revoke_signing_key(pb::RevokeSigningKeyRequest) -> pb::RevokeSigningKeyResponse,
        create_smart_url(pb::CreateSmartUrlRequest) -> pb::CreateSmartUrlResponse,
        get_smart_url(pb::GetSmartUrlRequest) -> pb::GetSmartUrlResponse,
        list_smart_urls(pb::ListSmartUrlsRequest) -> pb::ListSmartUrlsResponse,
        update_smart_url(pb::UpdateSmartUrlRequest) -> pb::UpdateSmartUrlResponse,
        delete_smart_url(pb::DeleteSmartUrlRequest) -> pb::DeleteSmartUrlResponse,
        get_smart_url_stats(pb::GetSmartUrlStatsRequest) -> pb::GetSmartUrlStatsResponse,
        create_webhook(pb::CreateWebhookRequest) -> pb::CreateWebhookResponse,
        list_webhooks(pb::ListWebhooksRequest) -> pb::ListWebhooksResponse,
        delete_webhook(pb::DeleteWebhookRequest) -> pb::DeleteWebhookResponse,
        list_webhook_deliveries(pb::ListWebhookDeliveriesRequest) -> pb::ListWebhookDeliveriesResponse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_cannot_change_what_the_operator_sets() {
        let mut settings = TenantSettings::default();
        let changes = pb::TenantSettings {
            rate_limit_per_minute: Some(5),
            ..Default::default()
        };
        let error = apply_settings(&mut settings, &changes, false).unwrap_err();
        assert!(error.to_string().contains("settings.rate_limit_per_minute"));
        apply_settings(&mut settings, &changes, true).unwrap();
        assert_eq!(settings.rate_limit_per_minute, 5);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let mut settings = TenantSettings::default();
        for (changes, field) in [
            (
                pb::TenantSettings {
                    retention_days: Some(0),
                    ..Default::default()
                },
                "settings.retention_days",
            ),
            (
                pb::TenantSettings {
                    allowed_origins: vec!["https://ok.example".into(), "shop.example/x".into()],
                    ..Default::default()
                },
                "settings.allowed_origins[1]",
            ),
            (
                pb::TenantSettings {
                    rate_limit_per_minute: Some(0),
                    ..Default::default()
                },
                "settings.rate_limit_per_minute",
            ),
        ] {
            let error = apply_settings(&mut settings, &changes, true).unwrap_err();
            assert!(error.to_string().starts_with(field), "{error}");
        }
        assert_eq!(
            settings,
            TenantSettings::default(),
            "a refused change changes nothing"
        );
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            validate_origin("HTTPS://Shop.Example:8443/", 0).unwrap(),
            "https://shop.example:8443"
        );
    }
}
