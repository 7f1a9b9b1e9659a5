//! Node.js bindings of the Gatehouse client core (`gatehouse-sdk-core`), built with napi-rs.
//!
//! Thin by design: every function converts JavaScript values into the core's types, calls the
//! core, and converts the answer or the error back. The fingerprint, the signature format and
//! the client (timeouts, retries, error reasons) live in the core, once for every language.
//!
//! The npm package `gatehouse-sdk` wraps this addon in a small JavaScript layer that gives every
//! RPC its own camelCase method (generated from `proto/`) and turns the errors raised here into
//! `Error` subclasses; see [`error`] for how errors cross the boundary.

mod client;
pub mod error;
mod fingerprint;
mod signature;

pub use client::{ConnectOptions, NativeClient, RetryOptions, connect, methods};
pub use fingerprint::{DeviceAttributes, EnvRisks, Fingerprint, fingerprint};
pub use signature::{
    EnvFlags, ParsedToken, SignInput, VerifyTokenInput, VerifyTokenResult, parse_token, sign,
    sign_at, verify_token,
};
