//! Prometheus metrics, served in the text exposition format on their own
//! port (`server.metrics_listen`, off unless set) so the gRPC port never
//! answers plain HTTP and the metrics port can stay inside the cluster.
//!
//! Counters and histograms are updated where things happen (the request
//! layer, the hashing pool, the mail worker, the throttles, the token
//! cache); gauges that describe state (the outbox, the database pools, the
//! hashing queue) are read when Prometheus scrapes. Every metric is listed
//! in `docs/OPERATIONS.md`, and `.ci/smoke.sh` checks each one is served.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::app::App;

/// The longest request head the metrics port reads.
const REQUEST_HEAD_MAX: usize = 8 * 1024;
/// How long a scrape may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A gRPC method and the status code it answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `/package.Service/Method`, or `unknown` for paths identityd does not serve.
    pub method: String,
    /// The gRPC status code name (`OK`, `NOT_FOUND`...).
    pub code: String,
}

/// A gRPC method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `/package.Service/Method`, or `unknown`.
    pub method: String,
}

/// A database connection pool and the state of its connections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `writer` or `reader`.
    pub pool: String,
    /// `in_use` or `idle`.
    pub state: String,
}

/// The build this process runs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: String,
}

/// Every metric identityd exports.
pub struct Metrics {
    registry: Registry,
    /// Calls answered, by method and code.
    pub calls: Family<CallLabels, Counter>,
    /// Call latency until the response starts, by method.
    pub call_seconds: Family<MethodLabels, Histogram, fn() -> Histogram>,
    /// Password hashes refused because the pool and its queue were full.
    pub hash_rejections: Counter,
    /// Queued password hashes dropped unstarted because their caller left.
    pub hash_abandoned: Counter,
    /// Password hashes queued or running now.
    pub hash_in_flight: Gauge,
    /// The most hashes that may be queued or running at once.
    pub hash_capacity: Gauge,
    /// Mails waiting to be sent.
    pub outbox_pending: Gauge,
    /// Age of the oldest mail waiting, in seconds.
    pub outbox_oldest_pending_seconds: Gauge<f64, AtomicU64>,
    /// Mails handed to the transport.
    pub mail_sent: Counter,
    /// Failed delivery attempts (retried or given up).
    pub mail_delivery_failures: Counter,
    /// Mails given up on (marked failed).
    pub mail_failed: Counter,
    /// Attempts refused by a throttle (delayed or locked).
    pub throttle_blocks: Counter,
    /// Bearer tokens answered from the cache.
    pub auth_cache_hits: Counter,
    /// Bearer tokens looked up in the database.
    pub auth_cache_misses: Counter,
    /// Database connections, by pool and state.
    pub db_connections: Family<PoolLabels, Gauge>,
    /// Always 1, labelled with the version.
    pub build_info: Family<BuildLabels, Gauge>,
}

fn call_histogram() -> Histogram {
    // 1 ms to about 15 s.
    Histogram::new(exponential_buckets(0.001, 2.5, 12))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("identityd");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "grpc_calls",
            "gRPC calls answered, by method and status code",
            calls.clone(),
        );
        let call_seconds =
            Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                call_histogram,
            );
        registry.register(
            "grpc_call_duration_seconds",
            "gRPC call latency until the response starts, by method",
            call_seconds.clone(),
        );
        let metrics = Self {
            calls,
            call_seconds,
            hash_rejections: Counter::default(),
            hash_abandoned: Counter::default(),
            hash_in_flight: Gauge::default(),
            hash_capacity: Gauge::default(),
            outbox_pending: Gauge::default(),
            outbox_oldest_pending_seconds: Gauge::default(),
            mail_sent: Counter::default(),
            mail_delivery_failures: Counter::default(),
            mail_failed: Counter::default(),
            throttle_blocks: Counter::default(),
            auth_cache_hits: Counter::default(),
            auth_cache_misses: Counter::default(),
            db_connections: Family::default(),
            build_info: Family::default(),
            registry,
        };
        metrics.register_rest()
    }

    fn register_rest(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "password_hash_rejections",
            "Password hashes refused because every thread and queue place was taken",
            self.hash_rejections.clone(),
        );
        r.register(
            "password_hash_abandoned",
            "Queued password hashes dropped unstarted because their caller had gone",
            self.hash_abandoned.clone(),
        );
        r.register(
            "password_hash_in_flight",
            "Password hashes queued or running now",
            self.hash_in_flight.clone(),
        );
        r.register(
            "password_hash_capacity",
            "The most password hashes that may be queued or running at once",
            self.hash_capacity.clone(),
        );
        r.register(
            "mail_outbox_pending",
            "Mails waiting to be sent",
            self.outbox_pending.clone(),
        );
        r.register(
            "mail_outbox_oldest_pending_age_seconds",
            "Age of the oldest mail waiting to be sent (0 when none waits)",
            self.outbox_oldest_pending_seconds.clone(),
        );
        r.register(
            "mail_sent",
            "Mails handed to the transport",
            self.mail_sent.clone(),
        );
        r.register(
            "mail_delivery_failures",
            "Failed mail delivery attempts, retried or given up",
            self.mail_delivery_failures.clone(),
        );
        r.register(
            "mail_failed",
            "Mails given up on after their last attempt",
            self.mail_failed.clone(),
        );
        r.register(
            "throttle_blocks",
            "Attempts refused by a throttle (delayed or locked)",
            self.throttle_blocks.clone(),
        );
        r.register(
            "auth_cache_hits",
            "Bearer tokens answered from the token cache",
            self.auth_cache_hits.clone(),
        );
        r.register(
            "auth_cache_misses",
            "Bearer tokens looked up in the database",
            self.auth_cache_misses.clone(),
        );
        r.register(
            "db_connections",
            "Database connections by pool (writer, reader) and state (in_use, idle)",
            self.db_connections.clone(),
        );
        r.register(
            "build_info",
            "Always 1; the label says which version runs",
            self.build_info.clone(),
        );
        self.build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        self
    }

    /// Records one answered call.
    pub fn record_call(&self, path: &str, code: tonic::Code, elapsed: Duration) {
        // Only methods identityd serves become labels: a caller sending
        // made-up paths must not grow the series without bound.
        let method = if crate::authz::is_served_method(path) {
            path.to_owned()
        } else {
            "unknown".to_owned()
        };
        self.calls
            .get_or_create(&CallLabels {
                method: method.clone(),
                code: code_name(code).to_owned(),
            })
            .inc();
        self.call_seconds
            .get_or_create(&MethodLabels { method })
            .observe(elapsed.as_secs_f64());
    }

    /// Reads the state gauges from `app` and renders every metric.
    pub async fn render(&self, app: &App) -> String {
        let (in_flight, capacity) = app.hashing_load();
        self.hash_in_flight.set(gauge_value(in_flight));
        self.hash_capacity.set(gauge_value(capacity));
        match app.mail_backlog().await {
            Ok((pending, oldest_age)) => {
                self.outbox_pending.set(gauge_value(pending));
                self.outbox_oldest_pending_seconds
                    .set(oldest_age.map_or(0.0, |age| age.as_secs_f64()));
            }
            Err(error) => tracing::warn!(%error, "metrics: the outbox could not be read"),
        }
        for (pool, in_use, idle) in app.pool_load() {
            for (state, value) in [("in_use", in_use), ("idle", idle)] {
                self.db_connections
                    .get_or_create(&PoolLabels {
                        pool: pool.to_owned(),
                        state: state.to_owned(),
                    })
                    .set(gauge_value(value));
            }
        }
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::error!(%error, "metrics: encoding failed");
        }
        text
    }
}

fn gauge_value(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The metrics of this process.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The gRPC name of `code`, as alert rules match it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves `GET /metrics` on `listener` until `stop` turns true. Anything
/// else gets 404; each connection answers one request and closes.
pub async fn serve(listener: TcpListener, app: App, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let app = app.clone();
                tokio::spawn(async move {
                    if let Err(error) = answer(stream, &app).await {
                        tracing::debug!(%error, "metrics: a scrape failed");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and answers it.
async fn answer(mut stream: TcpStream, app: &App) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < REQUEST_HEAD_MAX {
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read_head)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow request"))??;
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        (b"GET", b"/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics().render(app).await,
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
