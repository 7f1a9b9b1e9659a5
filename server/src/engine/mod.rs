//! The engine: one pipeline behind every face. `enrich` builds a context from the request and the
//! intelligence, `rules` decide, and what must be remembered is recorded. Detection logic lives
//! here and in `intel`, nowhere else.

pub mod clicks;
pub mod context;
pub mod counters;
pub mod detect_activity;
pub mod error;
pub mod identity;
pub mod ids;
pub mod locks;
pub mod malicious;
pub mod reason;
pub mod signing_keys;
pub mod smart_urls;
pub mod tenant_lists;
pub mod verification;

pub use error::EngineError;
pub use ids::{InvalidId, VisitorId};
pub use reason::Reason;

use std::{net::IpAddr, sync::Arc};

use crate::{
    intel::{Intel, IpFacts, ip_lists::canonical, threat_url::UrlFacts, user_agent::UaFacts},
    store::repositories::IpActivity,
    store::{Store, StoreError},
    tenancy::{BlockerSettings, TenantId, TenantSettings},
    time::now_ms,
    webhooks::Webhooks,
};

use self::{
    clicks::ClickEngine,
    context::Enricher,
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
    enricher: Enricher,
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
            enricher: Enricher::new(intel.clone()),
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
        let facts = self
            .enricher
            .visitor(ip, &query.user_agent, &query.url)
            .await;
        let lists = self.tenant_lists.tables(tenant).await?;
        let whitelisted = lists.whitelist.get(ip).is_some();
        let context = VisitorContext {
            whitelisted,
            blacklisted: lists.blacklist.get(ip).is_some(),
            malicious_until_ms: malicious::blocked_until(&self.ip_activity, tenant, ip, now)
                .await?,
            invalid_keyname: query.invalid_keyname,
            ip: facts.ip,
            ua: facts.ua,
            url: facts.url,
            crawler: facts.crawler,
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
}
