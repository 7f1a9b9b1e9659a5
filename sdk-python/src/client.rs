//! The client: one object over one connection, every RPC by name with snake_case JSON.

use std::{
    future::Future,
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use gatehouse_sdk_core::{ClientConfig, Gatehouse, JsonOptions};
use uniffi::deps::async_compat::Compat;

use crate::GatehouseError;

/// How patient the client is; unset fields keep the core's defaults (10 s per call, 5 s to
/// connect, 3 attempts of calls that are safe to repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ClientOptions {
    /// Per-call timeout in milliseconds, each attempt.
    #[uniffi(default)]
    pub timeout_ms: Option<u64>,
    /// Connect timeout in milliseconds.
    #[uniffi(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Attempts in all for calls that are safe to repeat (reads, checks, signals with an
    /// idempotency key); 1 turns retries off.
    #[uniffi(default)]
    pub max_attempts: Option<u32>,
}

/// A client of every Gatehouse service over one connection, made on the first call. Share one
/// per process: calls may run concurrently.
#[derive(Debug, uniffi::Object)]
pub struct GatehouseClient {
    client: Gatehouse,
}

#[uniffi::export(async_runtime = "tokio")]
impl GatehouseClient {
    /// A client of the server at `endpoint` (`http://host:port`) with a publishable (`pk_...`),
    /// secret (`sk_...`) or admin key.
    #[uniffi::constructor]
    pub fn new(endpoint: String, api_key: String) -> Result<Arc<Self>, GatehouseError> {
        Self::with_options(endpoint, api_key, ClientOptions::default())
    }

    /// Like `new`, with timeouts and retries of your own.
    #[uniffi::constructor]
    pub fn with_options(
        endpoint: String,
        api_key: String,
        options: ClientOptions,
    ) -> Result<Arc<Self>, GatehouseError> {
        let mut config = ClientConfig::new(endpoint, api_key);
        if let Some(millis) = options.timeout_ms {
            config.timeout = Duration::from_millis(millis);
        }
        if let Some(millis) = options.connect_timeout_ms {
            config.connect_timeout = Duration::from_millis(millis);
        }
        if let Some(attempts) = options.max_attempts {
            config.retry.max_attempts = attempts;
        }
        let client = in_call_runtime(|| Gatehouse::connect_lazy(config))?;
        Ok(Arc::new(Self { client }))
    }

    /// Calls `method` (`Service/Method`, for example `SignalService/SendSignal`) with a request
    /// in JSON (snake_case or camelCase field names) and returns the response in JSON with the
    /// `.proto` field names, every field present, 64-bit integers as numbers.
    pub async fn call_json(
        &self,
        method: String,
        request_json: String,
    ) -> Result<String, GatehouseError> {
        Ok(self
            .client
            .call_json(&method, &request_json, JsonOptions::SNAKE_CASE)
            .await?)
    }
}

/// Runs `make` inside the Tokio runtime that uniffi runs the async calls on: making a client
/// spawns the connection's worker task, which needs a runtime, and a constructor called from
/// Python, Kotlin or Swift has none. `Compat` enters that runtime while it is polled.
fn in_call_runtime<T>(make: impl FnOnce() -> T) -> T {
    let mut future = pin!(Compat::new(async move { make() }));
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("an async block without an await is ready on its first poll"),
    }
}

/// Every RPC as `Service/Method`, in the order of the contract.
#[uniffi::export]
pub fn methods() -> Vec<String> {
    gatehouse_sdk_core::client::methods()
}
