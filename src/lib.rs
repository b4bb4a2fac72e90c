//! identityd: a gRPC identity service. Users (logins) are separate from client
//! accounts (billable parties); staff and machine callers are limited by roles;
//! every change is recorded in the activity log.
//!
//! Data flows one way: `grpc` → `app` → `store` and `domain`.

#![warn(missing_docs)]

pub mod app;
pub mod authz;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod files;
pub mod grpc;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod runtime;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;

/// The generated protobuf types, clients and servers of `identity.v1`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("identity.v1");
}

/// The encoded descriptors of every identityd proto file, for reflection and
/// for checking the policy table against the API.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/identity_descriptor.bin"));
