//! The connection to a Gatehouse server, with the API key sent on every call.

use std::time::Duration;

use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::ClientError;

/// How long a call may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the server is and how to authenticate.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's gRPC address, for example `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// A publishable (`pk_...`) or secret (`sk_...`) API key.
    pub api_key: String,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the default timeouts.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
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

/// Connects to the server.
pub async fn connect(config: &ClientConfig) -> Result<AuthenticatedChannel, ClientError> {
    let key = config
        .api_key
        .parse::<MetadataValue<Ascii>>()
        .map_err(|_| ClientError::InvalidInput {
            field: Some("api_key".into()),
            message: "api_key: must be printable ASCII, as issued (pk_... or sk_...)".into(),
        })?;
    if config.api_key.trim().is_empty() {
        return Err(ClientError::InvalidInput {
            field: Some("api_key".into()),
            message: "api_key: is required".into(),
        });
    }
    let channel = Endpoint::from_shared(config.endpoint.clone())
        .map_err(|_| ClientError::InvalidInput {
            field: Some("endpoint".into()),
            message: format!(
                "endpoint: {:?} is not a URL; write it as http://host:port",
                config.endpoint
            ),
        })?
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .connect()
        .await?;
    Ok(InterceptedService::new(channel, ApiKeyInterceptor { key }))
}
