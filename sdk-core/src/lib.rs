//! Gatehouse client core: what every SDK (Node, Python, Kotlin, Swift) exports, implemented once.
//!
//! This crate has no binding concerns; the binding crates wrap it. It holds the device
//! fingerprint, the connection and the typed error every call returns; the request signature and
//! a client per service build on these.

pub mod client;
pub mod error;
pub mod fingerprint;

pub use client::{ClientConfig, connect};
pub use error::ClientError;
