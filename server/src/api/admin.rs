//! `AdminService`: tenants, API keys and settings.

use gatehouse_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use std::sync::Arc;

use crate::{
    api::{
        convert::{normalize_cidr, validate_destination},
        page_size, reply,
    },
    auth::Caller,
    engine::{
        Engine,
        smart_urls::{BlockerOverride, SmartUrlRecord},
        tenant_lists::{MAX_RANGES_PER_CALL, TenantList, TenantListEntry},
    },
    error::ApiError,
    tenancy::{
        ApiKeyRecord, BlockerSettings, KeyKind, MAX_RATE_LIMIT_PER_MINUTE, MAX_RETENTION_DAYS,
        Tenancy, Tenant, TenantId, TenantSettings,
    },
    webhooks::WebhookEndpoint,
};

/// The AdminService adapter.
pub struct AdminApi {
    tenancy: Tenancy,
    engine: Arc<Engine>,
}

impl AdminApi {
    /// The adapter over `tenancy` and the engine's stores.
    pub fn new(tenancy: Tenancy, engine: Arc<Engine>) -> Self {
        Self { tenancy, engine }
    }

    async fn require_smart_url(
        &self,
        tenant_id: &TenantId,
        keyname: &str,
    ) -> Result<SmartUrlRecord, ApiError> {
        self.engine
            .smart_urls
            .get(tenant_id, keyname.trim())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("smart URL {keyname:?} does not exist")))
    }

    /// The tenant a tenant-scoped call acts on, checked against the caller.
    async fn tenant_for(&self, caller: &Caller, tenant_id: &str) -> Result<TenantId, ApiError> {
        let tenant_id = TenantId::parse(tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        self.tenancy.require_tenant(&tenant_id).await?;
        Ok(tenant_id)
    }

    async fn ip_list_target(
        &self,
        caller: &Caller,
        tenant_id: &str,
        list: i32,
    ) -> Result<(TenantId, TenantList), ApiError> {
        let tenant_id = self.tenant_for(caller, tenant_id).await?;
        let list = match pb::IpListKind::try_from(list) {
            Ok(pb::IpListKind::Whitelist) => TenantList::Whitelist,
            Ok(pb::IpListKind::Blacklist) => TenantList::Blacklist,
            _ => {
                return Err(ApiError::invalid(
                    "list",
                    "must be IP_LIST_KIND_WHITELIST or IP_LIST_KIND_BLACKLIST",
                ));
            }
        };
        Ok((tenant_id, list))
    }

    fn normalized_cidrs(cidrs: &[String]) -> Result<Vec<String>, ApiError> {
        if cidrs.is_empty() {
            return Err(ApiError::invalid(
                "cidrs",
                "is empty: give at least one IP or CIDR range",
            ));
        }
        if cidrs.len() > MAX_RANGES_PER_CALL {
            return Err(ApiError::invalid(
                "cidrs",
                format!("has more than {MAX_RANGES_PER_CALL} entries: split it over several calls"),
            ));
        }
        cidrs
            .iter()
            .enumerate()
            .map(|(index, cidr)| {
                normalize_cidr(cidr, &format!("cidrs[{index}]")).map(|(text, _)| text)
            })
            .collect()
    }

    async fn add_ip_list_entries(
        &self,
        caller: &Caller,
        request: pb::AddIpListEntriesRequest,
    ) -> Result<pb::AddIpListEntriesResponse, ApiError> {
        let (tenant_id, list) = self
            .ip_list_target(caller, &request.tenant_id, request.list)
            .await?;
        let cidrs = Self::normalized_cidrs(&request.cidrs)?;
        if request.note.len() > 500 {
            return Err(ApiError::invalid("note", "is longer than 500 bytes"));
        }
        let entries = self
            .engine
            .tenant_lists
            .add(&tenant_id, list, &cidrs, &request.note)
            .await?;
        Ok(pb::AddIpListEntriesResponse {
            entries: entries.into_iter().map(ip_list_entry_to_pb).collect(),
        })
    }

    async fn remove_ip_list_entries(
        &self,
        caller: &Caller,
        request: pb::RemoveIpListEntriesRequest,
    ) -> Result<pb::RemoveIpListEntriesResponse, ApiError> {
        let (tenant_id, list) = self
            .ip_list_target(caller, &request.tenant_id, request.list)
            .await?;
        let cidrs = Self::normalized_cidrs(&request.cidrs)?;
        let removed = self
            .engine
            .tenant_lists
            .remove(&tenant_id, list, &cidrs)
            .await?;
        Ok(pb::RemoveIpListEntriesResponse {
            removed: i32::try_from(removed).unwrap_or(i32::MAX),
        })
    }

    async fn list_ip_list_entries(
        &self,
        caller: &Caller,
        request: pb::ListIpListEntriesRequest,
    ) -> Result<pb::ListIpListEntriesResponse, ApiError> {
        let (tenant_id, list) = self
            .ip_list_target(caller, &request.tenant_id, request.list)
            .await?;
        let entries = self.engine.tenant_lists.list(&tenant_id, list).await?;
        Ok(pb::ListIpListEntriesResponse {
            entries: entries.into_iter().map(ip_list_entry_to_pb).collect(),
        })
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

    async fn list_tenants(
        &self,
        request: pb::ListTenantsRequest,
    ) -> Result<pb::ListTenantsResponse, ApiError> {
        let limit = page_size(request.page_size, "page_size")?;
        let start_after = match request.page_token.as_str() {
            "" => None,
            token => Some(TenantId::parse(token, "page_token")?),
        };
        // One extra tells whether another page follows.
        let mut tenants = self
            .tenancy
            .list_tenants(start_after.as_ref(), limit + 1)
            .await?;
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

    async fn get_tenant(
        &self,
        caller: &Caller,
        request: pb::GetTenantRequest,
    ) -> Result<pb::GetTenantResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        let tenant = self.tenancy.require_tenant(&tenant_id).await?;
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
        let mut tenant = self.tenancy.require_tenant(&tenant_id).await?;
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

    async fn list_keys(
        &self,
        caller: &Caller,
        request: pb::ListKeysRequest,
    ) -> Result<pb::ListKeysResponse, ApiError> {
        let tenant_id = TenantId::parse(&request.tenant_id, "tenant_id")?;
        caller.authorize_tenant(&tenant_id)?;
        self.tenancy.require_tenant(&tenant_id).await?;
        let mut keys = self.tenancy.list_keys(&tenant_id).await?;
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
    if let Some(blocker) = &changes.blocker {
        apply_blocker_settings(&mut settings.blocker, blocker, "settings.blocker")?;
    }
    if let Some(rules) = &changes.identity_rules {
        let target = &mut settings.identity_rules;
        for (value, field, slot) in [
            (
                rules.max_identities_per_device,
                "max_identities_per_device",
                &mut target.max_identities_per_device,
            ),
            (
                rules.impossible_travel_kmh,
                "impossible_travel_kmh",
                &mut target.impossible_travel_kmh,
            ),
            (
                rules.velocity_max_signals,
                "velocity_max_signals",
                &mut target.velocity_max_signals,
            ),
            (
                rules.velocity_window_seconds,
                "velocity_window_seconds",
                &mut target.velocity_window_seconds,
            ),
        ] {
            if let Some(value) = value {
                if value == 0 {
                    return Err(ApiError::invalid(
                        format!("settings.identity_rules.{field}"),
                        "must be greater than 0",
                    ));
                }
                *slot = value;
            }
        }
        if let Some(enabled) = rules.new_device_events {
            target.new_device_events = enabled;
        }
    }
    if let Some(rules) = &changes.click_rules {
        apply_click_rules(&mut settings.click_rules, rules)?;
    }
    Ok(())
}

/// Applies the blocker fields that are set; `prefix` names the message in errors (smart URLs
/// carry their own blocker settings too).
pub fn apply_blocker_settings(
    settings: &mut BlockerSettings,
    changes: &pb::BlockerSettings,
    prefix: &str,
) -> Result<(), ApiError> {
    if let Some(reasons) = &changes.reasons {
        let switches = &mut settings.reasons;
        for (change, switch) in [
            (reasons.whitelist_ip, &mut switches.whitelist_ip),
            (reasons.blacklist_ip, &mut switches.blacklist_ip),
            (reasons.ip_database, &mut switches.ip_database),
            (reasons.malicious_activity, &mut switches.malicious_activity),
            (reasons.hostname_database, &mut switches.hostname_database),
            (reasons.proxy_vpn_tor, &mut switches.proxy_vpn_tor),
            (reasons.country, &mut switches.country),
            (reasons.ip_non_isp, &mut switches.ip_non_isp),
            (reasons.spider_crawler, &mut switches.spider_crawler),
            (reasons.threat_url, &mut switches.threat_url),
            (reasons.device_desktop, &mut switches.device_desktop),
            (reasons.device_mobile, &mut switches.device_mobile),
        ] {
            if let Some(value) = change {
                *switch = value;
            }
        }
    }
    if changes.replace_blocked_countries || !changes.blocked_countries.is_empty() {
        let mut countries = Vec::with_capacity(changes.blocked_countries.len());
        for (index, code) in changes.blocked_countries.iter().enumerate() {
            let code = code.trim().to_ascii_uppercase();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ApiError::invalid(
                    format!("{prefix}.blocked_countries[{index}]"),
                    format!("{code:?} is not an ISO 3166-1 alpha-2 code: write it like \"DE\""),
                ));
            }
            countries.push(code);
        }
        if !changes.replace_blocked_countries {
            for code in std::mem::take(&mut settings.blocked_countries) {
                if !countries.contains(&code) {
                    countries.insert(0, code);
                }
            }
        }
        countries.sort();
        countries.dedup();
        settings.blocked_countries = countries;
    }
    for (value, field, target) in [
        (
            changes.malicious_threshold,
            "malicious_threshold",
            &mut settings.malicious_threshold,
        ),
        (
            changes.malicious_window_seconds,
            "malicious_window_seconds",
            &mut settings.malicious_window_seconds,
        ),
        (
            changes.malicious_block_seconds,
            "malicious_block_seconds",
            &mut settings.malicious_block_seconds,
        ),
    ] {
        if let Some(value) = value {
            if value == 0 {
                return Err(ApiError::invalid(
                    format!("{prefix}.{field}"),
                    "must be greater than 0",
                ));
            }
            *target = value;
        }
    }
    if let Some(allow) = changes.allow_verified_crawlers {
        settings.allow_verified_crawlers = allow;
    }
    Ok(())
}

fn apply_click_rules(
    target: &mut crate::tenancy::ClickRuleSettings,
    rules: &pb::ClickRuleSettings,
) -> Result<(), ApiError> {
    for (rule, points) in &rules.weights {
        let known = crate::engine::clicks::rules::DEFAULT_WEIGHTS
            .iter()
            .any(|(name, _)| name == rule);
        if !known {
            return Err(ApiError::invalid(
                format!("settings.click_rules.weights[{rule:?}]"),
                "is not a click rule; see the README for the rule names",
            ));
        }
        if !(0..=100).contains(points) {
            return Err(ApiError::invalid(
                format!("settings.click_rules.weights[{rule:?}]"),
                "must be 0-100 points (0 switches the rule off)",
            ));
        }
        target.weights.insert(rule.clone(), *points);
    }
    for (value, field, slot) in [
        (
            rules.rapid_clicks_threshold,
            "rapid_clicks_threshold",
            &mut target.rapid_clicks_threshold,
        ),
        (
            rules.rapid_clicks_window_seconds,
            "rapid_clicks_window_seconds",
            &mut target.rapid_clicks_window_seconds,
        ),
        (
            rules.short_dwell_ms,
            "short_dwell_ms",
            &mut target.short_dwell_ms,
        ),
        (
            rules.repeat_clicks_threshold,
            "repeat_clicks_threshold",
            &mut target.repeat_clicks_threshold,
        ),
        (
            rules.gclid_reuse_threshold,
            "gclid_reuse_threshold",
            &mut target.gclid_reuse_threshold,
        ),
        (
            rules.conversionless_burst_threshold,
            "conversionless_burst_threshold",
            &mut target.conversionless_burst_threshold,
        ),
    ] {
        if let Some(value) = value {
            if value == 0 {
                return Err(ApiError::invalid(
                    format!("settings.click_rules.{field}"),
                    "must be greater than 0",
                ));
            }
            *slot = value;
        }
    }
    Ok(())
}

/// The wire form of blocker settings, every field set.
pub fn blocker_settings_to_pb(settings: &BlockerSettings) -> pb::BlockerSettings {
    let reasons = &settings.reasons;
    pb::BlockerSettings {
        reasons: Some(pb::BlockerReasonSwitches {
            whitelist_ip: Some(reasons.whitelist_ip),
            blacklist_ip: Some(reasons.blacklist_ip),
            ip_database: Some(reasons.ip_database),
            malicious_activity: Some(reasons.malicious_activity),
            hostname_database: Some(reasons.hostname_database),
            proxy_vpn_tor: Some(reasons.proxy_vpn_tor),
            country: Some(reasons.country),
            ip_non_isp: Some(reasons.ip_non_isp),
            spider_crawler: Some(reasons.spider_crawler),
            threat_url: Some(reasons.threat_url),
            device_desktop: Some(reasons.device_desktop),
            device_mobile: Some(reasons.device_mobile),
        }),
        blocked_countries: settings.blocked_countries.clone(),
        replace_blocked_countries: false,
        malicious_threshold: Some(settings.malicious_threshold),
        malicious_window_seconds: Some(settings.malicious_window_seconds),
        malicious_block_seconds: Some(settings.malicious_block_seconds),
        allow_verified_crawlers: Some(settings.allow_verified_crawlers),
    }
}

/// Applies the blocker fields that are set in `changes` to a smart URL's override, checked the
/// same way as the tenant's own settings.
fn blocker_override(
    current: &BlockerOverride,
    changes: &pb::BlockerSettings,
    prefix: &str,
) -> Result<BlockerOverride, ApiError> {
    // Validate through the tenant-settings path, on a scratch copy.
    let mut scratch = BlockerSettings::default();
    apply_blocker_settings(&mut scratch, changes, prefix)?;
    let mut next = current.clone();
    if let Some(reasons) = &changes.reasons {
        for (name, value) in crate::engine::smart_urls::REASON_NAMES.iter().zip([
            reasons.whitelist_ip,
            reasons.blacklist_ip,
            reasons.ip_database,
            reasons.malicious_activity,
            reasons.hostname_database,
            reasons.proxy_vpn_tor,
            reasons.country,
            reasons.ip_non_isp,
            reasons.spider_crawler,
            reasons.threat_url,
            reasons.device_desktop,
            reasons.device_mobile,
        ]) {
            if let Some(value) = value {
                next.reasons.insert(name.to_string(), value);
            }
        }
    }
    if changes.replace_blocked_countries || !changes.blocked_countries.is_empty() {
        next.blocked_countries = Some(scratch.blocked_countries);
    }
    if let Some(allow) = changes.allow_verified_crawlers {
        next.allow_verified_crawlers = Some(allow);
    }
    Ok(next)
}

fn smart_url_to_pb(record: &SmartUrlRecord) -> pb::SmartUrl {
    let switch = |name: &str| record.blocker.reasons.get(name).copied();
    pb::SmartUrl {
        keyname: record.keyname.clone(),
        allowed_destination: record.allowed_destination.clone(),
        blocked_destination: record.blocked_destination.clone(),
        js_confirmation_required: record.js_confirmation_required,
        blocker: Some(pb::BlockerSettings {
            reasons: Some(pb::BlockerReasonSwitches {
                whitelist_ip: switch("whitelist_ip"),
                blacklist_ip: switch("blacklist_ip"),
                ip_database: switch("ip_database"),
                malicious_activity: switch("malicious_activity"),
                hostname_database: switch("hostname_database"),
                proxy_vpn_tor: switch("proxy_vpn_tor"),
                country: switch("country"),
                ip_non_isp: switch("ip_non_isp"),
                spider_crawler: switch("spider_crawler"),
                threat_url: switch("threat_url"),
                device_desktop: switch("device_desktop"),
                device_mobile: switch("device_mobile"),
            }),
            blocked_countries: record.blocker.blocked_countries.clone().unwrap_or_default(),
            replace_blocked_countries: record.blocker.blocked_countries.is_some(),
            allow_verified_crawlers: record.blocker.allow_verified_crawlers,
            ..Default::default()
        }),
        created_ms: record.created_ms,
        updated_ms: record.updated_ms,
    }
}

fn signing_key_to_pb(record: &crate::engine::signing_keys::SigningKeyRecord) -> pb::SigningKey {
    pb::SigningKey {
        key_id: record.key_id.clone(),
        created_ms: record.created_ms,
        revoked_ms: record.revoked_ms,
    }
}

fn webhook_to_pb(endpoint: &WebhookEndpoint) -> pb::Webhook {
    pb::Webhook {
        webhook_id: endpoint.webhook_id.clone(),
        url: endpoint.url.clone(),
        event_types: endpoint.event_types.clone(),
        created_ms: endpoint.created_ms,
    }
}

fn ip_list_entry_to_pb(entry: TenantListEntry) -> pb::IpListEntry {
    pb::IpListEntry {
        cidr: entry.cidr,
        note: entry.note,
        created_ms: entry.created_ms,
    }
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
            blocker: Some(blocker_settings_to_pb(&settings.blocker)),
            identity_rules: Some(pb::IdentityRuleSettings {
                max_identities_per_device: Some(settings.identity_rules.max_identities_per_device),
                impossible_travel_kmh: Some(settings.identity_rules.impossible_travel_kmh),
                velocity_max_signals: Some(settings.identity_rules.velocity_max_signals),
                velocity_window_seconds: Some(settings.identity_rules.velocity_window_seconds),
                new_device_events: Some(settings.identity_rules.new_device_events),
            }),
            click_rules: Some(pb::ClickRuleSettings {
                weights: settings.click_rules.weights.clone().into_iter().collect(),
                rapid_clicks_threshold: Some(settings.click_rules.rapid_clicks_threshold),
                rapid_clicks_window_seconds: Some(settings.click_rules.rapid_clicks_window_seconds),
                short_dwell_ms: Some(settings.click_rules.short_dwell_ms),
                repeat_clicks_threshold: Some(settings.click_rules.repeat_clicks_threshold),
                gclid_reuse_threshold: Some(settings.click_rules.gclid_reuse_threshold),
                conversionless_burst_threshold: Some(
                    settings.click_rules.conversionless_burst_threshold,
                ),
            }),
            ..Default::default()
        }),
    }
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
        reply(self.list_tenants(request.into_inner()).await)
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(self.get_tenant(&caller, request.into_inner()).await)
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
        reply(self.list_keys(&caller, request.into_inner()).await)
    }

    async fn add_ip_list_entries(
        &self,
        request: Request<pb::AddIpListEntriesRequest>,
    ) -> Result<Response<pb::AddIpListEntriesResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(
            self.add_ip_list_entries(&caller, request.into_inner())
                .await,
        )
    }

    async fn remove_ip_list_entries(
        &self,
        request: Request<pb::RemoveIpListEntriesRequest>,
    ) -> Result<Response<pb::RemoveIpListEntriesResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(
            self.remove_ip_list_entries(&caller, request.into_inner())
                .await,
        )
    }

    async fn list_ip_list_entries(
        &self,
        request: Request<pb::ListIpListEntriesRequest>,
    ) -> Result<Response<pb::ListIpListEntriesResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        reply(
            self.list_ip_list_entries(&caller, request.into_inner())
                .await,
        )
    }

    async fn create_webhook(
        &self,
        request: Request<pb::CreateWebhookRequest>,
    ) -> Result<Response<pb::CreateWebhookResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let endpoint = self
                .engine
                .webhooks
                .create_endpoint(&tenant_id, &request.url, request.event_types.clone())
                .await?;
            Ok(pb::CreateWebhookResponse {
                webhook: Some(webhook_to_pb(&endpoint)),
                secret: endpoint.secret,
            })
        }
        .await;
        reply(outcome)
    }

    async fn list_webhooks(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let endpoints = self.engine.webhooks.list_endpoints(&tenant_id).await?;
            Ok(pb::ListWebhooksResponse {
                webhooks: endpoints.iter().map(webhook_to_pb).collect(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn delete_webhook(
        &self,
        request: Request<pb::DeleteWebhookRequest>,
    ) -> Result<Response<pb::DeleteWebhookResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            self.engine
                .webhooks
                .delete_endpoint(&tenant_id, &request.webhook_id)
                .await?;
            Ok(pb::DeleteWebhookResponse {})
        }
        .await;
        reply(outcome)
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let size = usize::try_from(request.page_size)
                .map_err(|_| ApiError::invalid("page_size", "must not be negative"))?;
            let (deliveries, next_page_token) = self
                .engine
                .webhooks
                .list_deliveries(&tenant_id, &request.webhook_id, size, &request.page_token)
                .await?;
            Ok(pb::ListWebhookDeliveriesResponse {
                deliveries: deliveries
                    .into_iter()
                    .map(|delivery| pb::WebhookDelivery {
                        delivery_id: delivery.delivery_id,
                        event_id: delivery.event_id,
                        attempt: delivery.attempt,
                        http_status: u32::from(delivery.http_status),
                        error: delivery.error,
                        attempted_ms: delivery.attempted_ms,
                        delivered: delivery.delivered,
                        next_attempt_ms: delivery.next_attempt_ms,
                    })
                    .collect(),
                next_page_token,
            })
        }
        .await;
        reply(outcome)
    }

    async fn create_smart_url(
        &self,
        request: Request<pb::CreateSmartUrlRequest>,
    ) -> Result<Response<pb::CreateSmartUrlResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let given = request
                .smart_url
                .ok_or_else(|| ApiError::invalid("smart_url", "is required"))?;
            let record = SmartUrlRecord {
                keyname: given.keyname.trim().to_string(),
                allowed_destination: validate_destination(
                    &given.allowed_destination,
                    "smart_url.allowed_destination",
                )?,
                blocked_destination: validate_destination(
                    &given.blocked_destination,
                    "smart_url.blocked_destination",
                )?,
                js_confirmation_required: given.js_confirmation_required,
                blocker: match &given.blocker {
                    Some(blocker) => {
                        blocker_override(&BlockerOverride::default(), blocker, "smart_url.blocker")?
                    }
                    None => BlockerOverride::default(),
                },
                created_ms: 0,
                updated_ms: 0,
            };
            let created = self.engine.smart_urls.create(&tenant_id, record).await?;
            Ok(pb::CreateSmartUrlResponse {
                smart_url: Some(smart_url_to_pb(&created)),
            })
        }
        .await;
        reply(outcome)
    }

    async fn get_smart_url(
        &self,
        request: Request<pb::GetSmartUrlRequest>,
    ) -> Result<Response<pb::GetSmartUrlResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let record = self.require_smart_url(&tenant_id, &request.keyname).await?;
            Ok(pb::GetSmartUrlResponse {
                smart_url: Some(smart_url_to_pb(&record)),
            })
        }
        .await;
        reply(outcome)
    }

    async fn list_smart_urls(
        &self,
        request: Request<pb::ListSmartUrlsRequest>,
    ) -> Result<Response<pb::ListSmartUrlsResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            Ok(pb::ListSmartUrlsResponse {
                smart_urls: self
                    .engine
                    .smart_urls
                    .list(&tenant_id)
                    .await?
                    .iter()
                    .map(smart_url_to_pb)
                    .collect(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn update_smart_url(
        &self,
        request: Request<pb::UpdateSmartUrlRequest>,
    ) -> Result<Response<pb::UpdateSmartUrlResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let mut record = self.require_smart_url(&tenant_id, &request.keyname).await?;
            if let Some(url) = &request.allowed_destination {
                record.allowed_destination = validate_destination(url, "allowed_destination")?;
            }
            if let Some(url) = &request.blocked_destination {
                record.blocked_destination = validate_destination(url, "blocked_destination")?;
            }
            if let Some(required) = request.js_confirmation_required {
                record.js_confirmation_required = required;
            }
            if let Some(blocker) = &request.blocker {
                record.blocker = blocker_override(&record.blocker, blocker, "blocker")?;
            }
            record.updated_ms = crate::time::now_ms();
            self.engine.smart_urls.save(&tenant_id, &record).await?;
            Ok(pb::UpdateSmartUrlResponse {
                smart_url: Some(smart_url_to_pb(&record)),
            })
        }
        .await;
        reply(outcome)
    }

    async fn delete_smart_url(
        &self,
        request: Request<pb::DeleteSmartUrlRequest>,
    ) -> Result<Response<pb::DeleteSmartUrlResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            self.engine
                .smart_urls
                .delete(&tenant_id, request.keyname.trim())
                .await?;
            Ok(pb::DeleteSmartUrlResponse {})
        }
        .await;
        reply(outcome)
    }

    async fn get_smart_url_stats(
        &self,
        request: Request<pb::GetSmartUrlStatsRequest>,
    ) -> Result<Response<pb::GetSmartUrlStatsResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            self.require_smart_url(&tenant_id, &request.keyname).await?;
            let days = match request.days {
                0 => 30,
                days if (1..=365).contains(&days) => days,
                _ => return Err(ApiError::invalid("days", "must be 1-365 (0 means 30)")),
            };
            let daily = self
                .engine
                .smart_urls
                .stats(&tenant_id, request.keyname.trim(), i64::from(days))
                .await?;
            Ok(pb::GetSmartUrlStatsResponse {
                daily: daily
                    .into_iter()
                    .map(|day| pb::SmartUrlDailyStats {
                        day: day.day,
                        allowed: day.allowed,
                        blocked: day.blocked,
                        js_pending: day.js_pending,
                        by_reason: day.by_reason.into_iter().collect(),
                    })
                    .collect(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn create_signing_key(
        &self,
        request: Request<pb::CreateSigningKeyRequest>,
    ) -> Result<Response<pb::CreateSigningKeyResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let record = self.engine.signing_keys.create(&tenant_id).await?;
            let secret = record
                .secret()
                .map(|secret| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
                })
                .ok_or_else(|| ApiError::Internal("a new signing key has no secret".into()))?;
            tracing::info!(tenant_id = %tenant_id, key_id = %record.key_id, "signing key created");
            Ok(pb::CreateSigningKeyResponse {
                key: Some(signing_key_to_pb(&record)),
                secret,
            })
        }
        .await;
        reply(outcome)
    }

    async fn list_signing_keys(
        &self,
        request: Request<pb::ListSigningKeysRequest>,
    ) -> Result<Response<pb::ListSigningKeysResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            Ok(pb::ListSigningKeysResponse {
                keys: self
                    .engine
                    .signing_keys
                    .list(&tenant_id)
                    .await?
                    .iter()
                    .map(signing_key_to_pb)
                    .collect(),
            })
        }
        .await;
        reply(outcome)
    }

    async fn revoke_signing_key(
        &self,
        request: Request<pb::RevokeSigningKeyRequest>,
    ) -> Result<Response<pb::RevokeSigningKeyResponse>, Status> {
        let caller = Caller::of(&request)?.clone();
        let request = request.into_inner();
        let outcome = async {
            let tenant_id = self.tenant_for(&caller, &request.tenant_id).await?;
            let record = self
                .engine
                .signing_keys
                .revoke(&tenant_id, request.key_id.trim())
                .await?;
            Ok(pb::RevokeSigningKeyResponse {
                key: Some(signing_key_to_pb(&record)),
            })
        }
        .await;
        reply(outcome)
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
