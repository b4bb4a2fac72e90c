//! The running service: binds the listener, connects and migrates the
//! database, bootstraps a fresh installation, builds the tower stack and
//! serves until told to stop.

mod allocator;
mod app;
mod database;
mod jobs;
mod probe;
mod server;
mod services;
mod signal;
mod token_file;

pub use allocator::tune_allocator;
pub use app::{build_app, build_mail_worker};
pub use database::{Databases, open_database};
pub use jobs::LIVENESS_SERVICE;
pub use probe::{ProbeError, check_health};
pub use server::Application;
pub use signal::shutdown_signal;
pub use token_file::TokenFile;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::app::AppError;
use crate::crypto::{PasswordHashError, ServerKeyError};
use crate::domain::BadNetwork;
use crate::store::StoreError;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory or a file in it could not be created or made private.
    #[error("cannot create or make private {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open or migrate the database")]
    Database(#[from] StoreError),
    /// The password hashing settings are invalid.
    #[error("invalid password hashing settings")]
    Passwords(#[source] PasswordHashError),
    /// The server secret could not be loaded, created or accepted.
    #[error("invalid server secret")]
    ServerKey(#[source] ServerKeyError),
    /// A `server.trusted_proxies` entry is not a CIDR block.
    #[error("invalid server.trusted_proxies")]
    TrustedProxies(#[source] BadNetwork),
    /// The TLS settings name files that cannot be used, or only some of them.
    #[error("TLS on the gRPC port")]
    Tls(#[source] crate::tls::TlsError),
    /// The HTTP client for external sign-in providers cannot be built.
    #[error("external sign-in")]
    Oidc(#[source] crate::oidc::OidcError),
    /// A run-time setting's value in the settings file is not accepted.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The mail templates or transport are invalid.
    #[error("invalid mail settings: {0}")]
    Mail(String),
    /// First-start bootstrap failed.
    #[error("cannot bootstrap the first staff credential")]
    Bootstrap(#[source] AppError),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The server failed while running.
    #[error("the gRPC server failed")]
    Serve(#[from] tonic::transport::Error),
}

/// Creates `path` (and its parents) as a directory only its owner can enter.
fn create_private_dir(path: &Path) -> Result<(), StartupError> {
    crate::files::private_dir(path).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })
}
