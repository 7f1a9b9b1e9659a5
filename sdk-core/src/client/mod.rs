//! The connection to a Gatehouse server: the API key on every call, a timeout per call, and
//! retries with backoff for the calls that are safe to repeat.
//!
//! [`Gatehouse`] is the one handle; [`Gatehouse::signals`], [`Gatehouse::identities`] and the
//! other accessors give a typed client per service, and [`Gatehouse::call_json`] reaches every
//! RPC by name with protobuf-JSON, which is what the Node, Python, Kotlin and Swift bindings use.

mod json;
mod services;

use std::time::Duration;

use tonic::{
    client::Grpc,
    codec::Codec,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, ClientTlsConfig, Endpoint},
};

pub use json::{JsonOptions, methods};
pub use services::{
    AdminApi, BlockerApi, DecisionApi, IdentityApi, SignalApi, SmartUrlApi, VerifyApi,
};

use crate::ClientError;

/// How long a call may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the server is, how to authenticate, and how patient to be.
#[derive(Clone)]
pub struct ClientConfig {
    /// The server's gRPC address, for example `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// A publishable (`pk_...`) or secret (`sk_...`) API key.
    pub api_key: String,
    /// Per-call timeout, each attempt.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Retries of calls that are safe to repeat.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("api_key", &"..")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration with the default timeouts and retries.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// How often and how patiently a failed call is repeated.
///
/// Only calls that cannot do harm twice are repeated: reads, checks, and `SendSignal` with an
/// idempotency key (the server answers a repeat with the first response). Only failures that say
/// nothing happened on the server are retried: the server unreachable, or a read timing out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The pause before the first retry; it doubles after each.
    pub initial_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (0-based): exponential, capped, with full jitter so
    /// that many clients failing together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(millis / 2..=millis.max(1)))
    }
}

/// Whether an RPC may be repeated, from its name alone: reads and checks have no effect a repeat
/// could double. `SendSignal` is repeatable only with an idempotency key, decided by the caller.
pub fn is_read_only(method: &str) -> bool {
    ["Get", "List", "Check", "Verify"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// Adds `x-api-key` to every request.
#[derive(Clone)]
pub struct ApiKeyInterceptor {
    key: MetadataValue<Ascii>,
}

impl std::fmt::Debug for ApiKeyInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself never reaches a log.
        f.write_str("ApiKeyInterceptor(..)")
    }
}

impl Interceptor for ApiKeyInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("x-api-key", self.key.clone());
        Ok(request)
    }
}

/// A channel that authenticates every call; wrap it in any generated service client.
pub type AuthenticatedChannel = InterceptedService<Channel, ApiKeyInterceptor>;

/// Connects to the server and returns the raw authenticated channel, for generated clients.
pub async fn connect(config: &ClientConfig) -> Result<AuthenticatedChannel, ClientError> {
    let key = api_key_value(&config.api_key)?;
    let channel = endpoint(config)?.connect().await?;
    Ok(InterceptedService::new(channel, ApiKeyInterceptor { key }))
}

fn api_key_value(api_key: &str) -> Result<MetadataValue<Ascii>, ClientError> {
    if api_key.trim().is_empty() {
        return Err(ClientError::InvalidInput {
            field: Some("api_key".into()),
            message: "api_key: is required; pass the pk_... or sk_... key the tenant was given"
                .into(),
        });
    }
    api_key
        .parse::<MetadataValue<Ascii>>()
        .map_err(|_| ClientError::InvalidInput {
            field: Some("api_key".into()),
            message: "api_key: must be printable ASCII, as issued (pk_... or sk_...)".into(),
        })
}

fn endpoint(config: &ClientConfig) -> Result<Endpoint, ClientError> {
    let invalid = |problem: String| ClientError::InvalidInput {
        field: Some("endpoint".into()),
        message: format!("endpoint: {problem}"),
    };
    let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
        .map_err(|_| {
            invalid(format!(
                "{:?} is not a URL; write it as http://host:port or https://host:port",
                config.endpoint
            ))
        })?
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout);
    if config.endpoint.starts_with("https://") {
        // A server with its own certificate, or behind a TLS proxy: verified against the
        // Mozilla roots.
        endpoint = endpoint
            .tls_config(ClientTlsConfig::new().with_enabled_roots())
            .map_err(|error| invalid(format!("cannot set up TLS: {error}")))?;
    }
    Ok(endpoint)
}

/// A client of every Gatehouse service over one connection. Cheap to clone; clones share the
/// connection.
#[derive(Clone, Debug)]
pub struct Gatehouse {
    channel: AuthenticatedChannel,
    retry: RetryPolicy,
}

impl Gatehouse {
    /// Connects now; fails if the server cannot be reached within the connect timeout.
    pub async fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let channel = connect(&config).await?;
        Ok(Self {
            channel,
            retry: config.retry,
        })
    }

    /// Connects on the first call instead of now; for apps that start before their network.
    pub fn connect_lazy(config: ClientConfig) -> Result<Self, ClientError> {
        let key = api_key_value(&config.api_key)?;
        let channel = endpoint(&config)?.connect_lazy();
        Ok(Self {
            channel: InterceptedService::new(channel, ApiKeyInterceptor { key }),
            retry: config.retry,
        })
    }

    /// The signal service: identity signals from apps, browsers and servers.
    pub fn signals(&self) -> SignalApi {
        SignalApi::new(self.clone())
    }

    /// The identity service: identities, events, bans and approvals.
    pub fn identities(&self) -> IdentityApi {
        IdentityApi::new(self.clone())
    }

    /// The decision service: click tracking, decisions, blocklist and stats.
    pub fn decisions(&self) -> DecisionApi {
        DecisionApi::new(self.clone())
    }

    /// The visitor blocker.
    pub fn blocker(&self) -> BlockerApi {
        BlockerApi::new(self.clone())
    }

    /// Smart URLs.
    pub fn smart_urls(&self) -> SmartUrlApi {
        SmartUrlApi::new(self.clone())
    }

    /// Verification of SDK request signatures.
    pub fn verify(&self) -> VerifyApi {
        VerifyApi::new(self.clone())
    }

    /// Tenant administration (admin token as the API key).
    pub fn admin(&self) -> AdminApi {
        AdminApi::new(self.clone())
    }

    /// One unary call, repeated per the retry policy when `repeatable`.
    async fn unary<C>(
        &self,
        path: &str,
        request: C::Encode,
        codec: C,
        repeatable: bool,
    ) -> Result<C::Decode, ClientError>
    where
        C: Codec + Clone + Send + 'static,
        C::Encode: Clone + Send + Sync + 'static,
        C::Decode: Send + Sync + 'static,
    {
        let path: tonic::codegen::http::uri::PathAndQuery =
            path.parse().map_err(|_| ClientError::InvalidInput {
                field: Some("method".into()),
                message: format!("method: {path:?} is not a valid RPC path"),
            })?;
        let mut retry = 0;
        loop {
            let mut grpc = Grpc::new(self.channel.clone());
            let outcome = match grpc.ready().await {
                Ok(()) => grpc
                    .unary(
                        tonic::Request::new(request.clone()),
                        path.clone(),
                        codec.clone(),
                    )
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(ClientError::from),
                Err(error) => Err(ClientError::Network {
                    message: error.to_string(),
                }),
            };
            match outcome {
                Err(ClientError::Network { .. })
                    if repeatable && retry + 1 < self.retry.max_attempts =>
                {
                    tokio::time::sleep(self.retry.backoff(retry)).await;
                    retry += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_are_repeatable_by_name() {
        for read in ["GetDecision", "ListBans", "CheckVisitor", "Check", "Verify"] {
            assert!(is_read_only(read), "{read}");
        }
        for write in ["SendSignal", "TrackEvent", "CreateBan", "ConfirmJavaScript"] {
            assert!(!is_read_only(write), "{write}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let first = policy.backoff(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let second = policy.backoff(1);
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&second));
            let capped = policy.backoff(10);
            assert!((Duration::from_millis(150)..=Duration::from_millis(300)).contains(&capped));
        }
    }

    #[test]
    fn bad_configuration_names_the_field() {
        let missing_key = Gatehouse::connect_lazy(ClientConfig::new("http://127.0.0.1:1", " "));
        assert_eq!(
            missing_key.unwrap_err(),
            ClientError::InvalidInput {
                field: Some("api_key".into()),
                message: "api_key: is required; pass the pk_... or sk_... key the tenant was given"
                    .into()
            }
        );
        let bad_url = Gatehouse::connect_lazy(ClientConfig::new("not a url", "sk_x"));
        assert!(matches!(
            bad_url.unwrap_err(),
            ClientError::InvalidInput { field: Some(field), .. } if field == "endpoint"
        ));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_network_error_after_the_retries() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .unwrap();
        let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}"), "sk_test");
        config.retry.initial_backoff = Duration::from_millis(1);
        let client = Gatehouse::connect_lazy(config).unwrap();
        let error = client
            .decisions()
            .get_decision(gatehouse_proto::v1::GetDecisionRequest::default())
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "NETWORK");
    }
}
