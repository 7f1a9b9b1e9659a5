//! End-to-end tests: each starts the real `gatehouse` binary on free ports with its own temporary
//! data dir and talks to it over the wire, as users do.

// A failed assumption in a test should fail loudly, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod dns;
mod harness;

mod admin;
mod blocker;
mod campaign;
mod decisions;
mod durability;
mod edge;
mod errors;
mod intel;
mod observability;
mod rate_limit;
mod sdk_client;
mod signals;
mod smart_urls;
mod transport;
mod upgrade;
mod verify;
mod webhooks;
