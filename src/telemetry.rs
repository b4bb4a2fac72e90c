//! Logging setup and the per-call request context: a request id and one span
//! per RPC that records method, caller, status code and latency.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// The metadata key carrying the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of one call, taken from the caller's `x-request-id` when it is
/// sensible and generated otherwise; echoed in the response metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Installs the global tracing subscriber. `RUST_LOG` overrides the configured level.
///
/// Logs go to standard error, so standard output carries only what a command
/// prints on purpose (the bootstrap token): `identityd bootstrap > token` keeps
/// the token alone. Colours are used only when standard error is a terminal
/// (and `NO_COLOR` is unset), so files and log collectors never receive
/// escape sequences.
pub fn init(settings: &LogSettings) {
    use std::io::IsTerminal;

    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // NO_COLOR (https://no-color.org) turns colours off even on a terminal.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false);
    // A second init (as in tests that start several servers) keeps the first.
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// A caller-supplied request id is kept only when it is short and printable,
/// so it cannot forge log lines or bloat them.
fn accept_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let fits = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    fits.then(|| text.to_owned())
}

/// The tower layer that gives every call its request id and span.
#[derive(Debug, Clone, Default)]
pub struct RequestContextLayer;

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContext { inner }
    }
}

/// The service made by [`RequestContextLayer`].
#[derive(Debug, Clone)]
pub struct RequestContext<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestContext<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(accept_request_id)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        request
            .extensions_mut()
            .insert(RequestId(request_id.clone()));
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            method = %request.uri().path(),
            request_id = %request_id,
            caller = tracing::field::Empty,
        );
        // The ready service is the one to call; the clone waits for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let started = Instant::now();
        // The caller's deadline, so work it can no longer use (a password
        // hash queued behind others) is refused instead of done for nobody.
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|timeout| started + timeout);
        Box::pin(
            async move {
                let mut response = crate::crypto::CALL_DEADLINE
                    .scope(deadline, inner.call(request))
                    .await?;
                // tonic answers a body it cannot decode itself, before any
                // handler, with a bare status; give it identityd's code,
                // reason and request id like every other error.
                crate::error::complete_transport_error(&mut response, &request_id);
                // A failed unary call is "trailers only": its grpc-status is a
                // header. Without one, the call succeeded or failed while streaming.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .unwrap_or(0);
                let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                let status = tonic::Code::from_i32(code);
                crate::metrics::metrics().record_call(&method, status, started.elapsed());
                tracing::info!(status = ?status, latency_us, "rpc finished");
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert(REQUEST_ID_HEADER, value);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// A `grpc-timeout` header's value (`100m`, `5S`...): at most 8 digits and
/// a unit, as the gRPC over HTTP/2 protocol defines it.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_are_read_by_the_protocol_rules() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", "5é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_plain_short_request_ids_are_accepted() {
        assert_eq!(
            accept_request_id(&HeaderValue::from_static("req-1.a_b:c")),
            Some("req-1.a_b:c".into())
        );
        assert_eq!(
            accept_request_id(&HeaderValue::from_static("has space")),
            None
        );
        assert_eq!(accept_request_id(&HeaderValue::from_static("")), None);
        let long = "a".repeat(129);
        assert_eq!(
            accept_request_id(&HeaderValue::from_str(&long).unwrap()),
            None
        );
    }
}
