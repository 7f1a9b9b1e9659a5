//! Browser origins: which web pages may call Gatehouse over grpc-web.
//!
//! Each tenant lists its origins in its settings. A CORS preflight carries no API key, so it can
//! only be answered against every tenant's origins together; the gate then checks the actual
//! request against the key's own tenant. The union is kept in memory, rebuilt whenever a tenant
//! is created or changed, so a preflight never touches the store.

use std::{collections::HashSet, sync::Arc};

use arc_swap::ArcSwap;

use super::Tenant;

/// The origins any tenant allows, shared by the CORS layer and the tenancy that changes them.
#[derive(Clone, Default)]
pub struct BrowserOrigins(Arc<ArcSwap<HashSet<String>>>);

impl std::fmt::Debug for BrowserOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BrowserOrigins")
            .field(&self.0.load().len())
            .finish()
    }
}

impl BrowserOrigins {
    /// Replaces the set with the origins of `tenants`.
    pub fn rebuild<'a>(&self, tenants: impl IntoIterator<Item = &'a Tenant>) {
        let origins = tenants
            .into_iter()
            .flat_map(|tenant| tenant.settings.allowed_origins.iter().cloned())
            .collect();
        self.0.store(Arc::new(origins));
    }

    /// True when some tenant allows `origin` (as the browser sends it: `scheme://host[:port]`).
    pub fn allowed_anywhere(&self, origin: &str) -> bool {
        self.0.load().contains(&normalize(origin))
    }
}

/// Origins compare without case and without a trailing slash, as they are stored.
pub fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// True when `tenant` allows `origin`.
pub fn tenant_allows(tenant: &Tenant, origin: &str) -> bool {
    tenant.settings.allowed_origins.contains(&normalize(origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{TenantId, TenantSettings};

    fn tenant(origins: &[&str]) -> Tenant {
        Tenant {
            id: TenantId::generate(),
            name: "t".into(),
            created_ms: 0,
            settings: TenantSettings {
                allowed_origins: origins.iter().map(|origin| origin.to_string()).collect(),
                ..TenantSettings::default()
            },
        }
    }

    #[test]
    fn the_union_answers_preflights_and_the_tenant_answers_requests() {
        let shop = tenant(&["https://shop.example"]);
        let blog = tenant(&["http://127.0.0.1:8080"]);
        let origins = BrowserOrigins::default();
        assert!(!origins.allowed_anywhere("https://shop.example"));
        origins.rebuild([&shop, &blog]);
        assert!(origins.allowed_anywhere("https://SHOP.example/"));
        assert!(origins.allowed_anywhere("http://127.0.0.1:8080"));
        assert!(!origins.allowed_anywhere("https://evil.example"));
        assert!(!origins.allowed_anywhere("http://shop.example"));
        assert!(tenant_allows(&shop, "https://shop.example"));
        assert!(!tenant_allows(&shop, "http://127.0.0.1:8080"));
    }
}
