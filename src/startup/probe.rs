//! `identityd health`: one grpc.health.v1 Check against a running server.

use std::time::Duration;

use tonic::transport::Endpoint;
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
    /// The server answered the check with an error.
    #[error("the health check failed: {0}")]
    Check(#[from] tonic::Status),
}

/// The serving status of the whole server at `addr` (`SERVING`,
/// `NOT_SERVING`, …), over plain-text HTTP/2.
pub async fn check_health(addr: &str) -> Result<&'static str, ProbeError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|_| ProbeError::Address(addr.to_owned()))?
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT);
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
