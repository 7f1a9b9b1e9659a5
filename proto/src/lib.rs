//! The Gatehouse gRPC contract, package `gatehouse.v1`.
//!
//! One crate owns the generated types so that the server and every SDK agree on the wire format.
//! The `.proto` files under `proto/gatehouse/v1/` are the source of truth; the code is generated
//! at build time and never committed.

#![allow(missing_docs)] // generated code carries the .proto comments as its docs
#![allow(clippy::all)]

pub mod codec;

/// Version 1 of the contract.
pub mod v1 {
    tonic::include_proto!("gatehouse.v1");
}

/// The encoded `FileDescriptorSet` of every Gatehouse service, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gatehouse_descriptor");
