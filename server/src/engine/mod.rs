//! The engine: one pipeline behind every face. `enrich` builds a context from the request and the
//! intelligence, `rules` decide, and what must be remembered is recorded. Detection logic lives
//! here and in `intel`, nowhere else.

pub mod clicks;
pub mod counters;
pub mod detect_activity;
pub mod error;
pub mod identity;
pub mod ids;
pub mod locks;
pub mod malicious;
pub mod signing_keys;
pub mod smart_urls;
pub mod tenant_lists;
pub mod verification;

pub use error::EngineError;
pub use ids::{InvalidId, VisitorId};

use std::{net::IpAddr, sync::Arc};

use crate::{
    intel::{Intel, IpFacts, ip_lists::canonical, threat_url::UrlFacts, user_agent::UaFacts},
    store::{Store, StoreError, repositories::IpActivity},
    tenancy::{BlockerSettings, TenantId, TenantSettings},
    time::now_ms,
    webhooks::Webhooks,
};

use self::{
    clicks::ClickEngine,
    detect_activity::{CrawlerCheck, Decision, VisitorContext, decide},
    identity::IdentityEngine,
    signing_keys::SigningKeys,
    smart_urls::SmartUrls,
    tenant_lists::TenantListStore,
    verification::{SignedRequest, Verification, Verifier},
};

/// One visitor to check.
#[derive(Debug, Clone)]
pub struct VisitorQuery {
    /// The visitor's IP.
    pub ip: IpAddr,
    /// The visitor's user agent.
    pub user_agent: String,
    /// The URL the visitor opened.
    pub url: String,
    /// True when the visitor came through a smart URL keyname that does not exist.
    pub invalid_keyname: bool,
}

/// The outcome of a visitor check.
#[derive(Debug, Clone)]
pub struct VisitorVerdict {
    /// The IP, canonical.
    pub ip: IpAddr,
    /// What is known of the IP.
    pub ip_facts: IpFacts,
    /// What the user agent says.
    pub ua: UaFacts,
    /// What the URL says.
    pub url: UrlFacts,
    /// Whether a crawler claim was confirmed.
    pub crawler: CrawlerCheck,
    /// The deciding reason.
    pub decision: Decision,
}

impl VisitorVerdict {
    /// True when the visitor is a bot (verified crawlers included).
    pub fn is_bot(&self) -> bool {
        self.ua.is_bot || self.crawler != CrawlerCheck::NotClaimed
    }

    /// True when the visitor should be kept out.
    pub fn block_access(&self) -> bool {
        self.decision.activity.blocks()
    }

    /// True when the URL is an attack or probe.
    pub fn threat_url(&self) -> bool {
        self.url.threat.is_some()
    }
}

/// The engine and what it needs.
pub struct Engine {
    store: Arc<dyn Store>,
    ip_activity: IpActivity,
    /// Tenant-independent intelligence.
    pub intel: Arc<Intel>,
    /// Tenants' own black- and whitelists.
    pub tenant_lists: TenantListStore,
    /// Identities, signals, events, bans and approvals.
    pub identities: IdentityEngine,
    /// Webhook endpoints and deliveries.
    pub webhooks: Arc<Webhooks>,
    /// Click events, decisions, blocklist and stats.
    pub clicks: ClickEngine,
    /// Smart URLs.
    pub smart_urls: SmartUrls,
    /// SDK signing keys.
    pub signing_keys: SigningKeys,
    /// Verification of signed requests: replay and velocity memory.
    pub verifier: Verifier,
}

impl Engine {
    /// An engine over `store` and `intel`; events go out through `webhooks`.
    pub fn new(store: Arc<dyn Store>, intel: Arc<Intel>, webhooks: Arc<Webhooks>) -> Self {
        Self {
            tenant_lists: TenantListStore::new(store.clone()),
            identities: IdentityEngine::new(store.clone(), intel.clone(), webhooks.clone()),
            clicks: ClickEngine::new(store.clone(), intel.clone()),
            smart_urls: SmartUrls::new(store.clone()),
            signing_keys: SigningKeys::new(store.clone()),
            verifier: Verifier::new(store.clone()),
            webhooks,
            ip_activity: IpActivity::new(store.clone()),
            store,
            intel,
        }
    }

    /// Checks a visitor for `tenant`: enrich, decide, record.
    pub async fn check_visitor(
        &self,
        tenant: &TenantId,
        settings: &BlockerSettings,
        query: &VisitorQuery,
    ) -> Result<VisitorVerdict, StoreError> {
        let now = now_ms();
        let ip = canonical(query.ip);
        // enrich
        let ua = self.intel.user_agents.classify(&query.user_agent);
        let url = self.intel.threats.inspect(&query.url);
        let ip_facts = self.intel.ip_facts(ip, true).await;
        let crawler = self.check_crawler(&ua, &ip_facts).await;
        let lists = self.tenant_lists.tables(tenant).await?;
        let whitelisted = lists.whitelist.get(ip).is_some();
        let context = VisitorContext {
            whitelisted,
            blacklisted: lists.blacklist.get(ip).is_some(),
            malicious_until_ms: malicious::blocked_until(&self.ip_activity, tenant, ip, now)
                .await?,
            invalid_keyname: query.invalid_keyname,
            ip: ip_facts,
            ua,
            url,
            crawler,
        };
        // rules
        let decision = decide(&context, settings);
        // record: probes count toward a block, unless the tenant vouches for the IP or does not
        // block for malicious activity at all (then nothing is written)
        if context.url.threat.is_some() && !whitelisted && settings.reasons.malicious_activity {
            let started = malicious::record_threat_hit(
                &*self.store,
                &self.ip_activity,
                tenant,
                ip,
                now,
                settings,
            )
            .await?;
            if started {
                tracing::info!(tenant_id = %tenant, %ip, "IP blocked for malicious activity");
            }
        }
        Ok(VisitorVerdict {
            ip,
            ip_facts: context.ip,
            ua: context.ua,
            url: context.url,
            crawler: context.crawler,
            decision,
        })
    }

    /// Verifies a request the client SDK signed for `tenant`, now.
    pub async fn verify_request(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
        request: &SignedRequest<'_>,
    ) -> Result<Verification, StoreError> {
        self.verifier
            .verify(&self.signing_keys, tenant, settings, request, now_ms())
            .await
    }

    /// A user agent that claims a known crawler is verified only when the IP's hostname belongs
    /// to that crawler and resolves back to the IP (forward-confirmed reverse DNS).
    async fn check_crawler(&self, ua: &UaFacts, ip: &IpFacts) -> CrawlerCheck {
        let Some(claimed) = ua.claimed_crawler else {
            return CrawlerCheck::NotClaimed;
        };
        let address = ip.ip;
        let Some(hostname) = ip.hostname.clone() else {
            return CrawlerCheck::Unverified;
        };
        let owned = claimed.hostname_suffixes.iter().any(|suffix| {
            let domain = suffix.trim_start_matches('.');
            hostname.as_ref() == domain
                || hostname
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        if owned && self.intel.rdns.confirms(address, hostname).await {
            CrawlerCheck::Verified
        } else {
            CrawlerCheck::Unverified
        }
    }
}
