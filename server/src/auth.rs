//! The gate every gRPC request passes: who is calling, may they make this call, and are they
//! within their rate limit. It runs as one tower layer in front of all services, so no service
//! can forget it, and it writes the rate-limit headers on every tenant response, refusals included.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderMap, HeaderValue};
use tower::{Layer, Service};

use crate::{
    edge::{ClientAddr, Connection, TrustedProxies, client_ip},
    error::ApiError,
    telemetry::{CallFacts, metrics},
    tenancy::{
        KeyHash, KeyKind, KeyOwner, RateDecision, RateLimiter, SwitchedOff, Tenancy, Tenant,
        TenantId, origins,
    },
};

/// Who made a call, as established by the gate; services read it from the request extensions.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The operator, with the admin token.
    Operator,
    /// A tenant, with one of its API keys.
    Tenant {
        /// The tenant, as read when the call arrived.
        tenant: Box<Tenant>,
        /// The kind of key presented.
        kind: KeyKind,
    },
}

impl Caller {
    /// Reads the caller the gate put on a request.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Caller, ApiError> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| ApiError::Internal("request reached a service without the gate".into()))
    }

    /// Checks that the caller may act on `tenant_id`: the operator may act on any tenant, a
    /// tenant only on itself.
    pub fn authorize_tenant(&self, tenant_id: &TenantId) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Tenant { tenant, .. } if &tenant.id == tenant_id => Ok(()),
            Caller::Tenant { .. } => Err(ApiError::PermissionDenied(format!(
                "this API key belongs to another tenant than {tenant_id}: use that tenant's secret key"
            ))),
        }
    }

    /// The calling tenant, for services that act on the caller's own tenant.
    pub fn tenant(&self) -> Result<&Tenant, ApiError> {
        match self {
            Caller::Tenant { tenant, .. } => Ok(tenant),
            Caller::Operator => Err(ApiError::PermissionDenied(
                "this call acts for a tenant: send the tenant's API key, not the admin token"
                    .into(),
            )),
        }
    }

    /// The calling tenant and the kind of key it used.
    pub fn tenant_and_kind(&self) -> Result<(&Tenant, KeyKind), ApiError> {
        match self {
            Caller::Tenant { tenant, kind } => Ok((tenant, *kind)),
            Caller::Operator => self.tenant().map(|tenant| (tenant, KeyKind::Secret)),
        }
    }

    /// True for the operator.
    pub fn is_operator(&self) -> bool {
        matches!(self, Caller::Operator)
    }
}

/// Which credentials a call accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// None: health checks and reflection.
    Public,
    /// Only the operator's admin token.
    AdminToken,
    /// The admin token, or a tenant's secret key for that tenant's own resources.
    AdminOrSecretKey,
    /// A tenant's secret key.
    SecretKey,
    /// A tenant's secret or publishable key: client signals and SDK calls.
    AnyKey,
}

pub use crate::tenancy::ServiceArea;

/// How the gate treats one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodPolicy {
    /// Which credentials it accepts.
    pub access: Access,
    /// Which service switch applies.
    pub area: ServiceArea,
    /// Whether it counts against the tenant's rate limit.
    pub metered: bool,
}

const fn policy(access: Access, area: ServiceArea) -> MethodPolicy {
    MethodPolicy {
        access,
        area,
        metered: true,
    }
}

/// The policy of every RPC, by its HTTP/2 path. Unknown Gatehouse paths need a secret key, so a
/// new RPC is closed until it is listed here.
pub fn method_policy(path: &str) -> MethodPolicy {
    use Access::*;
    use ServiceArea::*;
    let Some(rest) = path.strip_prefix("/gatehouse.v1.") else {
        return policy(Public, Admin);
    };
    let (service, method) = rest.split_once('/').unwrap_or((rest, ""));
    match (service, method) {
        ("SignalService", "SendSignal") => policy(AnyKey, Identity),
        ("IdentityService", "ResolveApproval") => policy(AnyKey, Identity),
        ("IdentityService", _) => policy(SecretKey, Identity),
        ("DecisionService", "TrackEvent") => policy(AnyKey, Decision),
        ("DecisionService", _) => policy(SecretKey, Decision),
        ("BlockerService", _) => policy(SecretKey, Blocker),
        // JavaScript confirmations are not counted as usage.
        ("SmartUrlService", "ConfirmJavaScript") => MethodPolicy {
            metered: false,
            ..policy(SecretKey, SmartUrl)
        },
        ("SmartUrlService", _) => policy(SecretKey, SmartUrl),
        ("VerifyService", _) => policy(SecretKey, Verify),
        ("AdminService", "CreateTenant" | "ListTenants" | "RotateKey" | "RevokeKey") => {
            policy(AdminToken, Admin)
        }
        ("AdminService", _) => policy(AdminOrSecretKey, Admin),
        _ => policy(SecretKey, Admin),
    }
}

/// What the gate decided for an admitted request.
#[derive(Debug)]
pub struct Admission {
    /// The caller, unless the call is public.
    pub caller: Option<Caller>,
    /// The rate-limit count, for tenant calls that are metered.
    pub rate: Option<RateDecision>,
}

/// A refused request: the error and, when it was counted, the rate-limit headers.
#[derive(Debug)]
pub struct Refusal {
    /// Why.
    pub error: ApiError,
    /// The rate-limit count, when the tenant was identified.
    pub rate: Option<RateDecision>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal { error, rate: None }
    }
}

/// Authentication, authorization and rate limiting for every request.
pub struct Gate {
    tenancy: Tenancy,
    admin_token: KeyHash,
    limiter: RateLimiter,
    trusted_proxies: Arc<TrustedProxies>,
    admin_needs_client_certificate: bool,
}

impl Gate {
    /// A gate that knows the tenants and the operator's admin token; it trusts no proxy and
    /// asks for no client certificate until told otherwise ([`Gate::with_edge`]).
    pub fn new(tenancy: Tenancy, admin_token: &str) -> Self {
        Self {
            tenancy,
            admin_token: KeyHash::of(admin_token),
            limiter: RateLimiter::new(),
            trusted_proxies: Arc::default(),
            admin_needs_client_certificate: false,
        }
    }

    /// Which proxies name the client, and whether the admin token needs a verified client
    /// certificate on its connection (mTLS).
    pub fn with_edge(
        mut self,
        trusted_proxies: Arc<TrustedProxies>,
        admin_needs_client_certificate: bool,
    ) -> Self {
        self.trusted_proxies = trusted_proxies;
        self.admin_needs_client_certificate = admin_needs_client_certificate;
        self
    }

    /// The client of a request that came over `connection`, as the edge decides it.
    pub fn client(&self, connection: &Connection, headers: &HeaderMap) -> ClientAddr {
        ClientAddr(client_ip(connection.peer, headers, &self.trusted_proxies))
    }

    /// Decides on a visit to a smart URL of `tenant` (`/r/{keyname}` and its confirmation), which
    /// carries no key: the tenant's switches, then the link's own budget. The budget is the
    /// tenant's per-minute limit counted for the link alone, so a flood on a public link is
    /// turned away without using up the tenant's API budget.
    pub fn admit_link(&self, tenant: &Tenant, keyname: &str) -> Result<RateDecision, Refusal> {
        tenant
            .settings
            .admits(ServiceArea::SmartUrl)
            .map_err(|off| switched_off(&tenant.id, off))?;
        let rate = self.limiter.check(
            &format!("{}/r/{keyname}", tenant.id),
            tenant.settings.rate_limit_per_minute,
        );
        if !rate.allowed {
            return Err(Refusal {
                error: rate_limited(&rate),
                rate: Some(rate),
            });
        }
        Ok(rate)
    }

    /// Decides on a request from its path, metadata and connection (none in in-process tests).
    pub async fn admit(
        &self,
        path: &str,
        headers: &HeaderMap,
        connection: Option<&Connection>,
    ) -> Result<Admission, Refusal> {
        let policy = method_policy(path);
        if policy.access == Access::Public {
            return Ok(Admission {
                caller: None,
                rate: None,
            });
        }
        let presented = credential(headers)?;
        let is_admin = KeyHash::of(presented).matches(&self.admin_token);
        let origin = headers
            .get(http::header::ORIGIN)
            .map(|origin| origin.to_str().unwrap_or("(not text)"));
        if is_admin {
            if self.admin_needs_client_certificate
                && !connection.is_some_and(|connection| connection.client_certificate)
            {
                return Err(ApiError::Unauthenticated(
                    "the admin token needs a client certificate on this server (mTLS): connect \
                     with a certificate signed by the configured tls_client_ca"
                        .into(),
                )
                .into());
            }
            if origin.is_some() {
                return Err(ApiError::PermissionDenied(
                    "the admin token must never be used in a browser; call from your server".into(),
                )
                .into());
            }
            return match policy.access {
                Access::AdminToken | Access::AdminOrSecretKey => Ok(Admission {
                    caller: Some(Caller::Operator),
                    rate: None,
                }),
                _ => Err(ApiError::PermissionDenied(
                    "the admin token manages tenants; this call needs a tenant's API key".into(),
                )
                .into()),
            };
        }
        let owner = self
            .tenancy
            .authenticate(presented)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "invalid API key: it is unknown or revoked; check the key or issue a new one"
                        .into(),
                )
            })?;
        match (policy.access, owner.kind) {
            (Access::AdminToken, _) => {
                return Err(ApiError::PermissionDenied(
                    "this call needs the operator's admin token, not a tenant API key".into(),
                )
                .into());
            }
            (Access::AdminOrSecretKey | Access::SecretKey, KeyKind::Publishable) => {
                return Err(ApiError::PermissionDenied(
                    "publishable keys (pk_) may only send client signals, click events and \
                     approvals: call this from your server with the secret key (sk_)"
                        .into(),
                )
                .into());
            }
            _ => {}
        }
        if let Some(origin) = origin {
            check_browser(&owner, origin)?;
        }
        let tenant = owner.tenant;
        let rate = policy.metered.then(|| {
            self.limiter
                .check(tenant.id.as_str(), tenant.settings.rate_limit_per_minute)
        });
        if let Some(rate) = rate.filter(|rate| !rate.allowed) {
            return Err(Refusal {
                error: rate_limited(&rate),
                rate: Some(rate),
            });
        }
        if let Err(error) = check_switches(&tenant, policy.area) {
            return Err(Refusal { error, rate });
        }
        Ok(Admission {
            caller: Some(Caller::Tenant {
                tenant: Box::new(tenant),
                kind: owner.kind,
            }),
            rate,
        })
    }
}

/// A call from a web page (it has an `Origin`) must use a publishable key from one of its
/// tenant's allowed origins: secret keys never belong in a browser, and one tenant's key must not
/// work from another tenant's pages.
fn check_browser(owner: &KeyOwner, origin: &str) -> Result<(), ApiError> {
    if owner.kind != KeyKind::Publishable {
        return Err(ApiError::PermissionDenied(
            "secret keys (sk_) must never be used in a browser: use the publishable key (pk_) \
             in web pages and keep the secret key on your server"
                .into(),
        ));
    }
    if !origins::tenant_allows(&owner.tenant, origin) {
        return Err(ApiError::PermissionDenied(format!(
            "origin {origin:?} is not allowed for tenant {}; add it to settings.allowed_origins \
             with UpdateTenant",
            owner.tenant.id
        )));
    }
    Ok(())
}

/// The refusal of a call over its budget.
fn rate_limited(rate: &RateDecision) -> ApiError {
    let now = crate::time::now_ms() / 1000;
    ApiError::RateLimited {
        limit: rate.limit,
        retry_after_seconds: rate
            .reset_unix_seconds
            .saturating_sub(u64::try_from(now).unwrap_or_default()),
    }
}

/// Refuses calls to a service the tenant has switched off. Verify reports this in its own envelope
/// (512/513) and Admin stays open, so both are let through.
fn check_switches(tenant: &Tenant, area: ServiceArea) -> Result<(), ApiError> {
    if area == ServiceArea::Verify {
        return Ok(());
    }
    tenant
        .settings
        .admits(area)
        .map_err(|off| switched_off(&tenant.id, off))
}

/// The refusal of a call the tenant's switches do not let through.
pub fn switched_off(tenant: &crate::tenancy::TenantId, off: SwitchedOff) -> ApiError {
    ApiError::PaymentRequired(match off {
        SwitchedOff::Traffic => {
            format!("traffic of tenant {tenant} is disabled; ask the operator to enable it")
        }
        SwitchedOff::Service => format!(
            "this service is not enabled for tenant {tenant}; ask the operator to enable it"
        ),
    })
}

/// The credential from `x-api-key` or `authorization: Bearer`.
fn credential(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::Unauthenticated(
            "missing API key: send it as `x-api-key` metadata or `authorization: Bearer <key>`"
                .into(),
        )
    };
    if let Some(value) = headers.get("x-api-key") {
        let key = value.to_str().map_err(|_| missing())?.trim();
        return if key.is_empty() {
            Err(missing())
        } else {
            Ok(key)
        };
    }
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| missing())?.trim();
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthenticated("authorization metadata must be `Bearer <key>`".into())
            })?;
        return if key.is_empty() {
            Err(missing())
        } else {
            Ok(key)
        };
    }
    Err(missing())
}

/// Writes `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`.
pub fn write_rate_headers(headers: &mut HeaderMap, rate: &RateDecision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
    headers.insert(
        "x-ratelimit-reset",
        HeaderValue::from(rate.reset_unix_seconds),
    );
}

/// The tower layer that puts a [`Gate`] in front of the gRPC services.
#[derive(Clone)]
pub struct GateLayer {
    gate: Arc<Gate>,
}

impl GateLayer {
    /// A layer around `gate`.
    pub fn new(gate: Arc<Gate>) -> Self {
        Self { gate }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            gate: self.gate.clone(),
            inner,
        }
    }
}

/// The service [`GateLayer`] makes.
#[derive(Clone)]
pub struct GateService<S> {
    gate: Arc<Gate>,
    inner: S,
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for GateService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is not ready; swap so the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let connection = request.extensions().get::<Connection>().copied();
        let client = connection.map(|connection| self.gate.client(&connection, request.headers()));
        let gate = self.gate.clone();
        Box::pin(async move {
            let admission = gate
                .admit(request.uri().path(), request.headers(), connection.as_ref())
                .await;
            match admission {
                Ok(Admission { caller, rate }) => {
                    let tenant_id = match &caller {
                        Some(Caller::Tenant { tenant, .. }) => Some(tenant.id.clone()),
                        _ => None,
                    };
                    if let Some(caller) = caller {
                        request.extensions_mut().insert(caller);
                    }
                    if let Some(client) = client {
                        request.extensions_mut().insert(client);
                    }
                    let mut response = inner.call(request).await?;
                    if let Some(rate) = rate {
                        write_rate_headers(response.headers_mut(), &rate);
                    }
                    response.extensions_mut().insert(CallFacts {
                        tenant_id,
                        client: client.map(|client| client.0),
                    });
                    Ok(response)
                }
                Err(Refusal { error, rate }) => {
                    metrics()
                        .refusals
                        .with_label_values(&[error.reason().as_str()])
                        .inc();
                    let mut response = tonic::Status::from(error).into_http::<tonic::body::Body>();
                    if let Some(rate) = rate {
                        write_rate_headers(response.headers_mut(), &rate);
                    }
                    response.extensions_mut().insert(CallFacts {
                        tenant_id: None,
                        client: client.map(|client| client.0),
                    });
                    Ok(response)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_reach_only_client_calls() {
        for path in [
            "/gatehouse.v1.SignalService/SendSignal",
            "/gatehouse.v1.DecisionService/TrackEvent",
            "/gatehouse.v1.IdentityService/ResolveApproval",
        ] {
            assert_eq!(method_policy(path).access, Access::AnyKey, "{path}");
        }
        for path in [
            "/gatehouse.v1.DecisionService/GetDecision",
            "/gatehouse.v1.BlockerService/CheckVisitor",
            "/gatehouse.v1.VerifyService/Verify",
            "/gatehouse.v1.IdentityService/CreateBan",
            "/gatehouse.v1.NewService/Anything",
        ] {
            assert_eq!(method_policy(path).access, Access::SecretKey, "{path}");
        }
        assert_eq!(
            method_policy("/gatehouse.v1.AdminService/CreateTenant").access,
            Access::AdminToken
        );
        assert_eq!(
            method_policy("/gatehouse.v1.AdminService/GetTenant").access,
            Access::AdminOrSecretKey
        );
        assert_eq!(
            method_policy("/grpc.health.v1.Health/Check").access,
            Access::Public
        );
        assert!(!method_policy("/gatehouse.v1.SmartUrlService/ConfirmJavaScript").metered);
    }

    #[test]
    fn credentials_come_from_either_header() {
        let mut headers = HeaderMap::new();
        assert!(credential(&headers).is_err());
        headers.insert("authorization", HeaderValue::from_static("Bearer sk_abc"));
        assert_eq!(credential(&headers).unwrap(), "sk_abc");
        headers.insert("x-api-key", HeaderValue::from_static("sk_def"));
        assert_eq!(credential(&headers).unwrap(), "sk_def");
        headers.insert("x-api-key", HeaderValue::from_static(" "));
        assert!(credential(&headers).is_err());
    }
}
