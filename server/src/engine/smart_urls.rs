//! Smart URLs: per-keyname links that send people to the real page and bots elsewhere. This face
//! adds no detection of its own: it runs the visitor check with the link's blocker settings and
//! picks the destination from the verdict.

use std::{collections::BTreeMap, sync::Arc};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{
    engine::EngineError,
    engine::{Engine, VisitorQuery, VisitorVerdict},
    store::{Store, StoreError, WriteBatch, repositories::SmartUrlLinks},
    tenancy::{BlockerSettings, TenantId, TenantSettings},
    time::{day_label, day_number, now_ms},
};

/// A smart URL's own blocker settings: only what it changes from the tenant's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockerOverride {
    /// Reason switches by name (`country`, `device_mobile`, ...).
    pub reasons: BTreeMap<String, bool>,
    /// Blocked countries, replacing the tenant's when set.
    pub blocked_countries: Option<Vec<String>>,
    /// Whether verified crawlers get in, when set.
    pub allow_verified_crawlers: Option<bool>,
}

/// The names of the reason switches, as in `BlockerReasonSwitches`.
pub const REASON_NAMES: &[&str] = &[
    "whitelist_ip",
    "blacklist_ip",
    "ip_database",
    "malicious_activity",
    "hostname_database",
    "proxy_vpn_tor",
    "country",
    "ip_non_isp",
    "spider_crawler",
    "threat_url",
    "device_desktop",
    "device_mobile",
];

impl BlockerOverride {
    /// The tenant's settings with this override applied.
    pub fn apply(&self, tenant: &BlockerSettings) -> BlockerSettings {
        let mut settings = tenant.clone();
        let reasons = &mut settings.reasons;
        for (name, value) in &self.reasons {
            let switch = match name.as_str() {
                "whitelist_ip" => &mut reasons.whitelist_ip,
                "blacklist_ip" => &mut reasons.blacklist_ip,
                "ip_database" => &mut reasons.ip_database,
                "malicious_activity" => &mut reasons.malicious_activity,
                "hostname_database" => &mut reasons.hostname_database,
                "proxy_vpn_tor" => &mut reasons.proxy_vpn_tor,
                "country" => &mut reasons.country,
                "ip_non_isp" => &mut reasons.ip_non_isp,
                "spider_crawler" => &mut reasons.spider_crawler,
                "threat_url" => &mut reasons.threat_url,
                "device_desktop" => &mut reasons.device_desktop,
                "device_mobile" => &mut reasons.device_mobile,
                _ => continue,
            };
            *switch = *value;
        }
        if let Some(countries) = &self.blocked_countries {
            settings.blocked_countries = countries.clone();
        }
        if let Some(allow) = self.allow_verified_crawlers {
            settings.allow_verified_crawlers = allow;
        }
        settings
    }
}

/// A smart URL as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartUrlRecord {
    /// URL-safe keyname, unique across the server (it is the path of `/r/{keyname}`).
    pub keyname: String,
    /// Where allowed visitors go.
    pub allowed_destination: String,
    /// Where blocked visitors go.
    pub blocked_destination: String,
    /// Whether visitors must prove JavaScript runs.
    pub js_confirmation_required: bool,
    /// What this link changes of the tenant's blocker settings.
    pub blocker: BlockerOverride,
    /// Created.
    pub created_ms: i64,
    /// Last changed.
    pub updated_ms: i64,
}

/// Where a visitor goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The visitor check.
    pub verdict: VisitorVerdict,
    /// The destination, or the confirmation step.
    pub redirect_to: String,
    /// JavaScript confirmation is switched on for this link.
    pub js_required: bool,
    /// The visitor is sent to the confirmation step.
    pub js_pending: bool,
}

/// One day's visits of a smart URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmartUrlDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Sent to the allowed destination.
    pub allowed: i64,
    /// Sent to the blocked destination.
    pub blocked: i64,
    /// Sent to the confirmation step.
    pub js_pending: i64,
    /// Visits by deciding reason label.
    pub by_reason: BTreeMap<String, i64>,
}

/// Checks a keyname: `[A-Za-z0-9_-]{3,64}`.
pub fn valid_keyname(keyname: &str) -> bool {
    (3..=64).contains(&keyname.len())
        && keyname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Smart URLs over the store.
pub struct SmartUrls {
    store: Arc<dyn Store>,
    links: SmartUrlLinks,
}

impl SmartUrls {
    /// Smart URLs over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            links: SmartUrlLinks::new(store.clone()),
            store,
        }
    }

    /// Reads a tenant's smart URL.
    pub async fn get(
        &self,
        tenant: &TenantId,
        keyname: &str,
    ) -> Result<Option<SmartUrlRecord>, StoreError> {
        self.links.get(tenant, keyname).await
    }

    /// The tenant that owns `keyname`, for `/r/{keyname}`.
    pub async fn owner(&self, keyname: &str) -> Result<Option<TenantId>, StoreError> {
        self.links.owner(keyname).await
    }

    /// Creates a smart URL; the keyname is generated when empty. Durable.
    pub async fn create(
        &self,
        tenant: &TenantId,
        mut record: SmartUrlRecord,
    ) -> Result<SmartUrlRecord, EngineError> {
        if record.keyname.is_empty() {
            const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            let mut rng = rand::rng();
            record.keyname = (0..10)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
        } else if !valid_keyname(&record.keyname) {
            return Err(EngineError::KeynameInvalid);
        }
        if self.owner(&record.keyname).await?.is_some() {
            return Err(EngineError::KeynameTaken(record.keyname.clone()));
        }
        let now = now_ms();
        record.created_ms = now;
        record.updated_ms = now;
        let mut batch = WriteBatch::new();
        SmartUrlLinks::put(&mut batch, tenant, &record, true)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(record)
    }

    /// Stores a changed smart URL. Durable.
    pub async fn save(
        &self,
        tenant: &TenantId,
        record: &SmartUrlRecord,
    ) -> Result<(), EngineError> {
        let mut batch = WriteBatch::new();
        SmartUrlLinks::put(&mut batch, tenant, record, false)?;
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(())
    }

    /// Deletes a smart URL; its keyname then answers BLOCK BY INVALID KEYNAME. Durable.
    pub async fn delete(&self, tenant: &TenantId, keyname: &str) -> Result<(), EngineError> {
        if self.get(tenant, keyname).await?.is_none() {
            return Err(EngineError::SmartUrlMissing(keyname.to_string()));
        }
        let mut batch = WriteBatch::new();
        SmartUrlLinks::remove(&mut batch, tenant, keyname);
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(())
    }

    /// The tenant's smart URLs, by keyname.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<SmartUrlRecord>, StoreError> {
        self.links.list(tenant).await
    }

    /// Records that `ip` ran JavaScript for `keyname` until `until_ms`. Durable. False when the
    /// keyname does not exist.
    pub async fn confirm_js(
        &self,
        tenant: &TenantId,
        keyname: &str,
        ip: std::net::IpAddr,
        until_ms: i64,
    ) -> Result<bool, EngineError> {
        if self.get(tenant, keyname).await?.is_none() {
            return Ok(false);
        }
        let mut batch = WriteBatch::new();
        SmartUrlLinks::put_confirmation(&mut batch, tenant, keyname, ip, until_ms);
        self.store.apply(batch).await?;
        self.store.durable().await?;
        Ok(true)
    }

    async fn js_confirmed(
        &self,
        tenant: &TenantId,
        keyname: &str,
        ip: std::net::IpAddr,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .links
            .confirmed_until(tenant, keyname, ip)
            .await?
            .is_some_and(|until| until > now))
    }

    /// Decides where a visitor of `keyname` goes, and counts the visit.
    pub async fn route(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        settings: &TenantSettings,
        keyname: &str,
        mut query: VisitorQuery,
        confirm_url: &str,
    ) -> Result<Route, EngineError> {
        let smart_url = if valid_keyname(keyname) {
            self.get(tenant, keyname).await?
        } else {
            None
        };
        query.invalid_keyname = smart_url.is_none();
        let blocker = match &smart_url {
            Some(smart_url) => smart_url.blocker.apply(&settings.blocker),
            None => settings.blocker.clone(),
        };
        let verdict = engine.check_visitor(tenant, &blocker, &query).await?;
        let now = now_ms();
        let Some(smart_url) = smart_url else {
            return Ok(Route {
                verdict,
                redirect_to: String::new(),
                js_required: false,
                js_pending: false,
            });
        };
        let js_pending = !verdict.block_access()
            && smart_url.js_confirmation_required
            && !self.js_confirmed(tenant, keyname, verdict.ip, now).await?;
        let redirect_to = if verdict.block_access() {
            smart_url.blocked_destination.clone()
        } else if js_pending {
            confirm_url.to_string()
        } else {
            smart_url.allowed_destination.clone()
        };
        self.count(tenant, keyname, now, &verdict, js_pending)
            .await?;
        Ok(Route {
            verdict,
            redirect_to,
            js_required: smart_url.js_confirmation_required,
            js_pending,
        })
    }

    async fn count(
        &self,
        tenant: &TenantId,
        keyname: &str,
        now: i64,
        verdict: &VisitorVerdict,
        js_pending: bool,
    ) -> Result<(), StoreError> {
        let day = day_number(now);
        let outcome = if verdict.block_access() {
            "blocked"
        } else if js_pending {
            "js_pending"
        } else {
            "allowed"
        };
        let mut batch = WriteBatch::new();
        for name in [
            outcome.to_string(),
            format!("reason:{}", verdict.decision.activity.label()),
        ] {
            SmartUrlLinks::count(&mut batch, tenant, keyname, day, &name);
        }
        // Counts are statistics: a crash may lose the last few, never a link or a confirmation.
        self.store.apply(batch).await
    }

    /// Visits per day for the `days` days ending today, days with visits only.
    pub async fn stats(
        &self,
        tenant: &TenantId,
        keyname: &str,
        days: i64,
    ) -> Result<Vec<SmartUrlDay>, StoreError> {
        let last = day_number(now_ms());
        let mut out = Vec::new();
        for day in (last - days + 1)..=last {
            let mut figures = SmartUrlDay {
                day: day_label(day),
                ..SmartUrlDay::default()
            };
            for (name, value) in self.links.counters(tenant, keyname, day).await? {
                match name.as_str() {
                    "allowed" => figures.allowed = value,
                    "blocked" => figures.blocked = value,
                    "js_pending" => figures.js_pending = value,
                    other => {
                        if let Some(label) = other.strip_prefix("reason:") {
                            figures.by_reason.insert(label.to_string(), value);
                        }
                    }
                }
            }
            if figures.allowed + figures.blocked + figures.js_pending > 0 {
                out.push(figures);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_what_they_set() {
        let tenant = BlockerSettings {
            blocked_countries: vec!["DE".into()],
            ..BlockerSettings::default()
        };
        let mut change = BlockerOverride::default();
        change.reasons.insert("device_mobile".into(), true);
        let effective = change.apply(&tenant);
        assert!(effective.reasons.device_mobile);
        assert_eq!(effective.blocked_countries, vec!["DE".to_string()]);
        change.blocked_countries = Some(Vec::new());
        assert!(change.apply(&tenant).blocked_countries.is_empty());
    }

    #[test]
    fn keynames_and_destinations_are_checked() {
        assert!(valid_keyname("spring-sale_2026"));
        for bad in ["ab", "has space", "slash/x", "dot.x", &"x".repeat(65)] {
            assert!(!valid_keyname(bad), "{bad}");
        }
    }
}
