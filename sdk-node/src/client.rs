//! The client: one connection, every RPC by name with JSON in and out.
//!
//! The JavaScript layer gives each RPC its own method (`gh.signals.sendSignal(request)`), which
//! calls [`NativeClient::call`] with the RPC's name and the request as JSON. Timeouts, retries and
//! the error reasons come from the core's [`Gatehouse`].

use std::time::Duration;

use gatehouse_sdk_core::{ClientConfig, Gatehouse, JsonOptions, RetryPolicy, client};
use napi_derive::napi;

use crate::error::from_client_error;

/// How often and how patiently calls that are safe to repeat are retried after a network error.
#[napi(object)]
pub struct RetryOptions {
    /// Attempts in all, the first included; 1 turns retries off. Default 3.
    pub max_attempts: Option<u32>,
    /// Pause before the first retry, in milliseconds; it doubles after each. Default 100.
    pub initial_backoff_ms: Option<u32>,
    /// The longest pause, in milliseconds. Default 2000.
    pub max_backoff_ms: Option<u32>,
}

/// Where the server is and how to call it.
#[napi(object)]
pub struct ConnectOptions {
    /// The server's gRPC address, for example `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// A publishable (`pk_...`) or secret (`sk_...`) key, or the admin token.
    pub api_key: String,
    /// Per-call timeout in milliseconds, each attempt. Default 10 000.
    pub timeout_ms: Option<u32>,
    /// Connect timeout in milliseconds. Default 5 000.
    pub connect_timeout_ms: Option<u32>,
    /// Retries of calls that are safe to repeat.
    pub retry: Option<RetryOptions>,
    /// Connect on the first call instead of now (for apps that start before their network).
    pub lazy: Option<bool>,
}

impl From<ConnectOptions> for ClientConfig {
    fn from(options: ConnectOptions) -> Self {
        let millis = |value: Option<u32>, default: Duration| {
            value.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
        };
        let defaults = RetryPolicy::default();
        let retry = options.retry.map_or(defaults, |retry| RetryPolicy {
            max_attempts: retry.max_attempts.unwrap_or(defaults.max_attempts),
            initial_backoff: millis(retry.initial_backoff_ms, defaults.initial_backoff),
            max_backoff: millis(retry.max_backoff_ms, defaults.max_backoff),
        });
        let mut config = ClientConfig::new(options.endpoint, options.api_key);
        config.timeout = millis(options.timeout_ms, client::DEFAULT_TIMEOUT);
        config.connect_timeout =
            millis(options.connect_timeout_ms, client::DEFAULT_CONNECT_TIMEOUT);
        config.retry = retry;
        config
    }
}

/// A connection to a Gatehouse server. Wrapped by the package's `Gatehouse` class.
#[napi]
pub struct NativeClient {
    inner: Gatehouse,
}

#[napi]
impl NativeClient {
    /// Calls `method` (`Service/Method`, e.g. `SignalService/SendSignal`) with a request in the
    /// protobuf JSON mapping and resolves to the response as JSON text (camelCase names, 64-bit
    /// integers as strings, every field present).
    #[napi]
    pub async fn call(&self, method: String, request_json: String) -> napi::Result<String> {
        self.inner
            .call_json(&method, &request_json, JsonOptions::CAMEL_CASE)
            .await
            .map_err(from_client_error)
    }
}

/// Connects to a server; rejects with a `NETWORK` error if it cannot be reached in time (unless
/// `lazy`), or an `INVALID_REQUEST` error naming a malformed option.
#[napi]
pub async fn connect(options: ConnectOptions) -> napi::Result<NativeClient> {
    let lazy = options.lazy.unwrap_or(false);
    let config = ClientConfig::from(options);
    let inner = if lazy {
        Gatehouse::connect_lazy(config)
    } else {
        Gatehouse::connect(config).await
    }
    .map_err(from_client_error)?;
    Ok(NativeClient { inner })
}

/// Every RPC as `Service/Method`, from the contract compiled into the core.
#[napi]
pub fn methods() -> Vec<String> {
    client::methods()
}
