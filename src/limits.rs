//! Server limits that keep one caller, or a crowd, from taking the whole
//! replica: a time limit per call, a limit on calls in progress, and a limit
//! on open connections. A call over a limit gets a proper gRPC status with
//! `ErrorInfo` (through [`crate::error::to_status`]), never a dropped
//! connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};
use tower::{Layer, Service};

use crate::app::AppError;
use crate::telemetry::RequestId;

/// Calls to these paths are never refused for being over the limit of calls
/// in progress: a busy replica is still alive, and an orchestrator that saw
/// its health check fail would restart it and make the overload worse.
const UNLIMITED_PREFIXES: &[&str] = &["/grpc.health.v1.Health/"];

/// The tower layer that bounds each call's time and the calls in progress.
///
/// The time limit covers a call until its response starts: all of a unary
/// call, and the opening of a streaming one (reflection, health watches),
/// whose stream then runs on. A call past it is dropped (its transaction,
/// if any, rolls back) and answers `DEADLINE_EXCEEDED` (`CALL_TIMEOUT`).
/// A call beyond the limit of calls in progress is not started and answers
/// `UNAVAILABLE` (`SERVER_BUSY`) with `RetryInfo` at once, so callers back
/// off instead of queueing without end.
#[derive(Debug, Clone)]
pub struct CallLimitsLayer {
    permits: Option<Arc<Semaphore>>,
    timeout: Option<Duration>,
}

impl CallLimitsLayer {
    /// At most `max_calls` calls at once (0: no limit), each stopped after
    /// `timeout` (zero: no limit).
    pub fn new(max_calls: usize, timeout: Duration) -> Self {
        let max_calls = max_calls.min(Semaphore::MAX_PERMITS);
        Self {
            permits: (max_calls > 0).then(|| Arc::new(Semaphore::new(max_calls))),
            timeout: (!timeout.is_zero()).then_some(timeout),
        }
    }
}

impl<S> Layer<S> for CallLimitsLayer {
    type Service = CallLimits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallLimits {
            inner,
            permits: self.permits.clone(),
            timeout: self.timeout,
        }
    }
}

/// The service made by [`CallLimitsLayer`].
#[derive(Debug, Clone)]
pub struct CallLimits<S> {
    inner: S,
    permits: Option<Arc<Semaphore>>,
    timeout: Option<Duration>,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The response a call over a limit gets, with the request id in its `ErrorInfo`.
fn refusal<B: Default>(err: AppError, request_id: &str) -> Response<B> {
    crate::error::to_status(err, request_id).into_http()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CallLimits<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let exempt = UNLIMITED_PREFIXES
            .iter()
            .any(|prefix| request.uri().path().starts_with(prefix));
        let permit = match &self.permits {
            Some(permits) if !exempt => match Arc::clone(permits).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    // Debug only: under overload a line per refusal would
                    // flood the log; the call's own line records the status.
                    tracing::debug!("refused a call: too many calls in progress");
                    let response = refusal(AppError::Busy, &request_id);
                    return Box::pin(async move { Ok(response) });
                }
            },
            _ => None,
        };
        // The ready service is the one to call; the clone waits for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let timeout = self.timeout;
        Box::pin(async move {
            let _permit = permit;
            let Some(limit) = timeout else {
                return inner.call(request).await;
            };
            match tokio::time::timeout(limit, inner.call(request)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(
                        limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                        "stopped a call that ran past the time limit"
                    );
                    Ok(refusal(AppError::TimedOut, &request_id))
                }
            }
        })
    }
}

/// Accepted connections, at most `max` open at once. When the limit is
/// reached the listener stops accepting until a connection closes: further
/// clients wait in the kernel's listen queue (and time out there if it takes
/// too long) instead of being accepted and cut off, which gRPC clients would
/// see as a broken connection.
pub struct LimitedIncoming {
    incoming: TcpIncoming,
    permits: Option<Arc<Semaphore>>,
    permit: Option<OwnedSemaphorePermit>,
    acquiring: Option<BoxFuture<Option<OwnedSemaphorePermit>>>,
}

impl LimitedIncoming {
    /// Connections from `incoming`, at most `max` at once (0: no limit).
    pub fn new(incoming: TcpIncoming, max: usize) -> Self {
        let max = max.min(Semaphore::MAX_PERMITS);
        Self {
            incoming,
            permits: (max > 0).then(|| Arc::new(Semaphore::new(max))),
            permit: None,
            acquiring: None,
        }
    }
}

impl Stream for LimitedIncoming {
    type Item = io::Result<LimitedConnection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(permits) = &this.permits
            && this.permit.is_none()
        {
            let acquiring = this.acquiring.get_or_insert_with(|| {
                let permits = Arc::clone(permits);
                Box::pin(async move { permits.acquire_owned().await.ok() })
            });
            match acquiring.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(permit) => {
                    this.acquiring = None;
                    // The semaphore is never closed; if it were, stop accepting.
                    let Some(permit) = permit else {
                        return Poll::Ready(None);
                    };
                    this.permit = Some(permit);
                }
            }
        }
        match Pin::new(&mut this.incoming).poll_next(cx) {
            Poll::Ready(Some(Ok(stream))) => Poll::Ready(Some(Ok(LimitedConnection {
                stream,
                _permit: this.permit.take(),
            }))),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An accepted connection that frees its place under the connection limit
/// when it closes.
pub struct LimitedConnection {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Connected for LimitedConnection {
    // The plain TCP connection info, so `Request::remote_addr` keeps working.
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for LimitedConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
