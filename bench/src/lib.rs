//! The benchmark's helpers (`bench/run.sh` drives them through the `gatehouse-bench` binary).
//!
//! Everything here is deterministic for a given seed, so two runs measure the same data:
//!
//! - [`lists`]: IP list files of realistic size (datacenter, proxy, VPN, Tor, reputation);
//! - [`population`]: the visitors, users, devices, addresses and user agents the data is made of;
//! - [`seed`]: fills a data dir with a tenant, identities and click events **through the real
//!   engine** (the same calls the gRPC services make), before the server starts;
//! - [`requests`]: the request files `ghz` cycles through, one per RPC;
//! - [`admin`]: what needs the running server: a smart URL and signed Verify tokens, made through
//!   AdminService and `gatehouse_sdk_core::signature`.

pub mod admin;
pub mod lists;
pub mod population;
pub mod requests;
pub mod seed;

/// What can make a benchmark helper fail.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or folder could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON could not be written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The server's configuration could not be read.
    #[error(transparent)]
    Config(#[from] gatehouse_server::config::ConfigError),
    /// The intelligence data could not be loaded.
    #[error(transparent)]
    Intel(#[from] gatehouse_server::intel::IntelError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] gatehouse_server::store::StoreError),
    /// The data dir could not be brought to the server's format.
    #[error(transparent)]
    Migrate(#[from] gatehouse_server::store::migrate::MigrateError),
    /// The engine refused or failed a call.
    #[error("engine: {0}")]
    Engine(String),
    /// The server could not be reached.
    #[error("cannot reach the server at {server}: {source}")]
    Connect {
        /// The address tried.
        server: String,
        /// The cause.
        source: tonic::transport::Error,
    },
    /// The server refused or failed a call.
    #[error("{}: {}", .0.code(), .0.message())]
    Rpc(#[from] tonic::Status),
    /// A token could not be signed.
    #[error("signing: {0}")]
    Signature(#[from] gatehouse_sdk_core::signature::SignatureError),
    /// An argument is unusable.
    #[error("{0}")]
    Invalid(String),
}

impl From<gatehouse_server::error::ApiError> for BenchError {
    fn from(error: gatehouse_server::error::ApiError) -> Self {
        BenchError::Engine(error.to_string())
    }
}

impl From<gatehouse_server::engine::EngineError> for BenchError {
    fn from(error: gatehouse_server::engine::EngineError) -> Self {
        BenchError::Engine(error.to_string())
    }
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Io { context, source }
}
