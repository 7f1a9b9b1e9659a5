//! The edge: what happens to a connection before any face sees a request. The listeners set up
//! connections (PROXY protocol, TLS), and one function decides who the client is, for every
//! face: the gRPC gate and the HTTP port both ask [`client_ip()`].

pub mod client_ip;
pub mod listener;
pub mod tls;

pub use client_ip::{ClientAddr, TrustedProxies, TrustedProxyError, client_ip};
pub use listener::{Connection, EdgeListener, EdgeStream, ListenerOptions};
pub use tls::{TlsConfig, TlsError, TlsSettings};
