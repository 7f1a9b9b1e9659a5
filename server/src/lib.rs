//! The Gatehouse server: one detection engine behind seven gRPC services.
//!
//! See ARCHITECTURE.md at the repository root for how the pieces fit.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod edge;
pub mod engine;
pub mod error;
pub mod http;
pub mod intel;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod webhooks;
