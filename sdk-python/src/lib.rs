//! uniffi bindings of the Gatehouse client core (`gatehouse-sdk-core`), one crate for three
//! languages: the Python package `gatehouse-sdk` (built with maturin), and the Kotlin and Swift
//! sources that `uniffi-bindgen generate --library` writes from the built library.
//!
//! This crate is thin on purpose: records that mirror the core's types (uniffi cannot carry the
//! core's `BTreeMap` and borrowed requests, and the mirrors give every field a default so callers
//! in other languages name only what they collected), one-line functions and methods, and one
//! error mapping. Anything that decides something lives in `gatehouse-sdk-core`.

mod client;
mod error;
mod fingerprint;
mod signature;

pub use client::{ClientOptions, GatehouseClient, methods};
pub use error::GatehouseError;
pub use fingerprint::{DeviceAttributes, EnvRisks, Fingerprint, fingerprint};
pub use signature::{RequestSigner, SignableRequest, canonical_query};

uniffi::setup_scaffolding!();
