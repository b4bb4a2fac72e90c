//! `identityd health`: one grpc.health.v1 Check against a running server.

use std::path::Path;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long the probe waits to connect and for the answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the probe got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The address is not `host:port`.
    #[error("{0:?} is not an address (host:port)")]
    Address(String),
    /// The server could not be reached in time.
    #[error("cannot reach {addr}")]
    Connect {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// The server's certificate file cannot be read.
    #[error("cannot read {}", path.display())]
    Certificate {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server answered the check with an error.
    #[error("the health check failed: {0}")]
    Check(#[from] tonic::Status),
}

/// The serving status of the whole server at `addr` (`SERVING`,
/// `NOT_SERVING`, …), over plain-text HTTP/2, or over TLS when `tls` names
/// the server's certificate file (whose certificates are trusted: a
/// self-signed certificate or a full chain) and the name it carries. The
/// health check needs no client certificate, even with mutual TLS.
pub async fn check_health(
    addr: &str,
    tls: Option<(&Path, &str)>,
) -> Result<&'static str, ProbeError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
        .map_err(|_| ProbeError::Address(addr.to_owned()))?
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT);
    if let Some((cert, name)) = tls {
        let pem = std::fs::read(cert).map_err(|source| ProbeError::Certificate {
            path: cert.to_owned(),
            source,
        })?;
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(pem))
            .domain_name(name);
        endpoint = endpoint
            .tls_config(config)
            .map_err(|source| ProbeError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| ProbeError::Connect {
            addr: addr.to_owned(),
            source,
        })?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    Ok(match answer.status() {
        ServingStatus::Serving => "SERVING",
        ServingStatus::NotServing => "NOT_SERVING",
        ServingStatus::ServiceUnknown => "SERVICE_UNKNOWN",
        ServingStatus::Unknown => "UNKNOWN",
    })
}
