//! Gatehouse client core: what every SDK (Node, Python, Kotlin, Swift) exports, implemented once.
//!
//! This crate has no binding concerns; the binding crates wrap it. It holds the device
//! fingerprint, the request signature (format, signer and the verifier the server uses), and,
//! behind the default `client` feature, the connection and the typed error every call returns.
//! The signature and fingerprint never depend on the client, so SDKs that only sign stay small.

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod error;
pub mod fingerprint;
pub mod signature;

#[cfg(feature = "client")]
pub use client::{ClientConfig, Gatehouse, JsonOptions, RetryPolicy, connect};
#[cfg(feature = "client")]
pub use error::ClientError;
