//! RPC throughput and latency of identityd, beside the gRPC health check as a
//! baseline measured in the same run on the same server.
//!
//! `cargo bench --bench rpc` (SQLite in a temporary directory), or with
//! `IDENTITYD_BENCH_POSTGRES_URL=postgres://user@host/postgres`, an account
//! that may create databases: the run creates `identityd_bench_*` and drops it. `IDENTITYD_BENCH_SECONDS` (default 5) and
//! `IDENTITYD_BENCH_CONCURRENCY` (default 16) shape each scenario.

use std::future::Future;
use std::time::{Duration, Instant};

use identityd::config::{
    DatabaseSettings, LogFormat, LogSettings, PasswordSettings, ServerSettings, Settings,
};
use identityd::proto::admin_service_client::AdminServiceClient;
use identityd::proto::{CreateRoleRequest, GetRoleRequest, ListPermissionsRequest, RoleKind};
use identityd::startup::Application;
use secrecy::SecretString;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    name: &'static str,
    calls: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

/// Runs `call` from `concurrency` tasks for `duration` and collects latencies.
async fn measure<F, Fut>(
    name: &'static str,
    concurrency: u64,
    duration: Duration,
    call: F,
) -> Figures
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    // Warm up connections and caches.
    for _ in 0..200 {
        call().await;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    call().await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("benchmark task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        name,
        calls: latencies.len(),
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// A PostgreSQL database made for one run and dropped after it.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    async fn create(admin_url: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let name = format!("identityd_bench_{}", uuid::Uuid::now_v7().simple());
        let admin = sea_orm::Database::connect(admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the benchmark database");
        let (server, _) = admin_url
            .rsplit_once('/')
            .expect("a URL with a database path");
        Self {
            admin_url: admin_url.to_owned(),
            url: format!("{server}/{name}"),
            name,
        }
    }

    async fn drop_database(self) {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(&self.admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop the benchmark database");
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let seconds = env_number("IDENTITYD_BENCH_SECONDS", 5);
    let concurrency = env_number("IDENTITYD_BENCH_CONCURRENCY", 16);
    let duration = Duration::from_secs(seconds);
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let admin_url = std::env::var("IDENTITYD_BENCH_POSTGRES_URL").ok();
    let scratch = match &admin_url {
        Some(url) => Some(ScratchDatabase::create(url).await),
        None => None,
    };
    let postgres = scratch.as_ref().map(|db| db.url.clone());
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let settings = Settings {
        data_dir: data_dir.path().join("data"),
        server: ServerSettings {
            listen: "127.0.0.1:0".parse().expect("an address"),
            max_request_bytes: 1 << 20,
            shutdown_grace_secs: 5,
            health_check_interval_secs: 5,
        },
        database: DatabaseSettings {
            url: postgres.map(SecretString::from),
            max_connections: 10,
            connect_timeout_secs: 5,
        },
        log: LogSettings {
            format: LogFormat::Human,
            level: "error".into(),
        },
        passwords: PasswordSettings {
            min_length: 8,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hashing_threads: 0,
            hashing_queue: 64,
        },
    };
    let application = Application::build(settings).await.expect("start identityd");
    let addr = application.local_addr();
    tokio::spawn(application.run_until_stopped());
    let token = std::fs::read_to_string(data_dir.path().join("data/bootstrap-token"))
        .expect("the bootstrap token")
        .trim()
        .to_owned();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("a URI")
        .connect()
        .await
        .expect("connect");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("ASCII");
    let admin = AdminServiceClient::with_interceptor(
        channel.clone(),
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            Ok(request)
        },
    );
    let role_id = admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Benchmark".into(),
            kind: RoleKind::Api.into(),
            permissions: vec!["users.read".into()],
            ..Default::default()
        })
        .await
        .expect("create a role")
        .into_inner()
        .role
        .expect("a role")
        .id;

    let health = HealthClient::new(channel.clone());
    let baseline = measure(
        "grpc.health.v1.Health/Check (baseline)",
        concurrency,
        duration,
        move || {
            let mut health = health.clone();
            async move {
                health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("health check");
            }
        },
    )
    .await;
    let client = admin.clone();
    let listed = measure(
        "AdminService/ListPermissions (authenticated)",
        concurrency,
        duration,
        move || {
            let mut client = client.clone();
            async move {
                client
                    .list_permissions(ListPermissionsRequest {})
                    .await
                    .expect("list permissions");
            }
        },
    )
    .await;
    let client = admin.clone();
    let fetched = measure(
        "AdminService/GetRole (authenticated + 1 read)",
        concurrency,
        duration,
        move || {
            let mut client = client.clone();
            let role_id = role_id.clone();
            async move {
                client
                    .get_role(GetRoleRequest { role_id })
                    .await
                    .expect("get role");
            }
        },
    )
    .await;

    println!(
        "identityd RPC benchmark: {backend}, {concurrency} concurrent callers, {seconds} s per scenario, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>9}",
        "scenario", "calls/s", "p50 µs", "p99 µs", "vs base"
    );
    let base_rate = baseline.calls as f64 / baseline.elapsed.as_secs_f64();
    for figures in [&baseline, &listed, &fetched] {
        let rate = figures.calls as f64 / figures.elapsed.as_secs_f64();
        println!(
            "{:<48} {:>10.0} {:>10} {:>10} {:>8.0}%",
            figures.name,
            rate,
            figures.p50.as_micros(),
            figures.p99.as_micros(),
            100.0 * rate / base_rate
        );
    }
    if let Some(scratch) = scratch {
        scratch.drop_database().await;
    }
}
