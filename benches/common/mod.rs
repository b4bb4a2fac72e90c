//! What the benchmark programs share: the run's settings from the environment,
//! a scratch PostgreSQL database, starting the real server, authenticated
//! clients, measuring a scenario and printing the table of figures.
//!
//! Each program includes it with `mod common;`; cargo does not treat
//! `benches/common/mod.rs` as a benchmark of its own.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use identityd::config::{LogFormat, Settings};
use identityd::startup::Application;
use secrecy::SecretString;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A whole-number environment variable, or `default` when unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a benchmark's `main` future on a multi-threaded tokio runtime.
pub fn block_on(run: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run);
}

/// What one scenario measured.
pub struct Figures {
    /// The scenario, as printed in the table.
    name: String,
    /// Calls completed while measuring.
    calls: usize,
    /// From the first call's start to the last call's end.
    elapsed: Duration,
    /// The median latency.
    p50: Duration,
    /// The 99th percentile latency.
    p99: Duration,
}

impl Figures {
    /// The figures of `name` from the latency of every call completed in
    /// `elapsed`, in any order; there must be at least one.
    pub fn from_latencies(
        name: impl Into<String>,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
    ) -> Self {
        assert!(!latencies.is_empty(), "no call completed while measuring");
        latencies.sort_unstable();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        Figures {
            name: name.into(),
            calls: latencies.len(),
            elapsed,
            p50: at(0.50),
            p99: at(0.99),
        }
    }

    /// Calls completed per second.
    pub fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// The median latency.
    pub fn p50(&self) -> Duration {
        self.p50
    }

    /// The 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.p99
    }
}

/// A PostgreSQL database made for one run and dropped after it.
struct ScratchDatabase {
    /// The URL of the database the scratch one was created from.
    admin_url: String,
    /// The scratch database's name, `identityd_bench_*`.
    name: String,
    /// The URL of the scratch database.
    url: String,
}

impl ScratchDatabase {
    /// Creates a fresh `identityd_bench_*` database next to the one `admin_url` names.
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

    /// Drops the database, closing any connection still open to it.
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

/// Server settings for a benchmark: the compiled-in defaults, as the binary
/// has them, with an ephemeral port on 127.0.0.1, errors-only logging, and
/// PostgreSQL at `postgres` or else SQLite under `<dir>/data`. `IDENTITYD__*`
/// environment variables apply; an `identityd.toml` in the working directory
/// does not.
fn settings(dir: &Path, postgres: Option<String>) -> Settings {
    let no_file = dir.join("empty.toml");
    std::fs::write(&no_file, "").expect("an empty settings file");
    let mut settings = Settings::load(Some(&no_file)).expect("the default settings");
    settings.data_dir = dir.join("data");
    settings.server.listen = "127.0.0.1:0".parse().expect("an address");
    settings.database.url = postgres.map(SecretString::from);
    settings.database.max_connections = 10;
    settings.log.format = LogFormat::Human;
    settings.log.level = "error".into();
    settings
}

/// Adds the bootstrap bearer token to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A connection to the running server.
pub struct Server {
    /// One HTTP/2 connection, shared by every client.
    pub channel: Channel,
    /// The bootstrap credential, which grants full access.
    bearer: Bearer,
}

impl Server {
    /// A client that authenticates with the bootstrap credential, made by a
    /// generated `with_interceptor`, e.g. `server.client(AdminServiceClient::with_interceptor)`.
    pub fn client<C>(&self, with_interceptor: impl FnOnce(Channel, Bearer) -> C) -> C {
        with_interceptor(self.channel.clone(), self.bearer.clone())
    }
}

/// One benchmark run: its shape from the environment, its data directory and,
/// with `IDENTITYD_BENCH_POSTGRES_URL`, its scratch PostgreSQL database.
pub struct Bench {
    /// `SQLite` or `PostgreSQL`.
    pub backend: &'static str,
    /// Concurrent callers per scenario (`IDENTITYD_BENCH_CONCURRENCY`, default 16).
    pub concurrency: u64,
    /// Seconds per scenario (`IDENTITYD_BENCH_SECONDS`, default 5).
    pub seconds: u64,
    /// Holds the SQLite database and the bootstrap token; removed when dropped.
    data_dir: tempfile::TempDir,
    /// The PostgreSQL database, when the run uses one.
    scratch: Option<ScratchDatabase>,
}

impl Bench {
    /// Reads the environment and creates the scratch database if PostgreSQL is asked for.
    pub async fn from_env() -> Self {
        let scratch = match std::env::var("IDENTITYD_BENCH_POSTGRES_URL") {
            Ok(url) => Some(ScratchDatabase::create(&url).await),
            Err(_) => None,
        };
        Self {
            backend: if scratch.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            concurrency: env_number("IDENTITYD_BENCH_CONCURRENCY", 16),
            seconds: env_number("IDENTITYD_BENCH_SECONDS", 5),
            data_dir: tempfile::tempdir().expect("a temporary directory"),
            scratch,
        }
    }

    /// Builds the real service: connects, migrates, bootstraps and binds, but
    /// does not serve yet, so a benchmark may fill the database first.
    pub async fn build(&self) -> Application {
        Application::build(self.settings())
            .await
            .expect("start identityd")
    }

    /// The settings [`Bench::build`] starts the service with.
    pub fn settings(&self) -> Settings {
        let postgres = self.scratch.as_ref().map(|db| db.url.clone());
        settings(self.data_dir.path(), postgres)
    }

    /// Serves `application` in the background and connects to it.
    pub async fn serve(&self, application: Application) -> Server {
        let addr = application.local_addr();
        tokio::spawn(application.run_until_stopped());
        let token = std::fs::read_to_string(self.data_path().join("bootstrap-token"))
            .expect("the bootstrap token");
        let bearer = format!("Bearer {}", token.trim())
            .parse()
            .expect("an ASCII token");
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("a URI")
            .connect()
            .await
            .expect("connect");
        Server {
            channel,
            bearer: Bearer(bearer),
        }
    }

    /// The service's data directory.
    fn data_path(&self) -> std::path::PathBuf {
        self.data_dir.path().join("data")
    }

    /// Runs `call` from `concurrency` tasks for `seconds` and collects latencies.
    pub async fn measure<F, Fut>(&self, name: impl Into<String>, call: F) -> Figures
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        self.measure_with(name, self.concurrency, call).await
    }

    /// Measures the baseline every table starts with: the gRPC health check.
    pub async fn measure_health(&self, server: &Server) -> Figures {
        let health = HealthClient::new(server.channel.clone());
        self.measure("grpc.health.v1.Health/Check (baseline)", move || {
            let mut health = health.clone();
            async move {
                health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("health check");
            }
        })
        .await
    }

    /// Like [`Bench::measure`], from `callers` tasks instead of `concurrency`.
    pub async fn measure_with<F, Fut>(
        &self,
        name: impl Into<String>,
        callers: u64,
        call: F,
    ) -> Figures
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        // Warm up connections and caches: 200 calls, or half a second of
        // them when calls are slow.
        let warm_until = Instant::now() + Duration::from_millis(500);
        for _ in 0..200 {
            call().await;
            if Instant::now() >= warm_until {
                break;
            }
        }
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.seconds);
        let tasks: Vec<_> = (0..callers)
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
        Figures::from_latencies(name, started.elapsed(), latencies)
    }

    /// Prints the header line `<title>: <backend>, <facts>, <callers>, <seconds>, <cores>`
    /// and one row per scenario, the first being the baseline.
    pub fn print_table(&self, title: &str, facts: &[String], figures: &[Figures]) {
        let base_rate = figures.first().map_or(1.0, Figures::rate);
        let rows: Vec<_> = figures.iter().map(|f| (f, base_rate)).collect();
        self.print_rows(title, facts, &rows);
    }

    /// Prints the header and one row per scenario, each with the baseline
    /// rate its ratio is taken against.
    fn print_rows(&self, title: &str, facts: &[String], rows: &[(&Figures, f64)]) {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut header = format!("{title}: {}", self.backend);
        for fact in facts {
            header.push_str(", ");
            header.push_str(fact);
        }
        println!(
            "{header}, {} concurrent callers, {} s per scenario, {cores} cores",
            self.concurrency, self.seconds
        );
        let width = rows
            .iter()
            .map(|(f, _)| f.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(48);
        println!(
            "{:<width$} {:>10} {:>10} {:>10} {:>9}",
            "scenario", "calls/s", "p50 µs", "p99 µs", "vs base"
        );
        for (figures, base_rate) in rows {
            let rate = figures.rate();
            println!(
                "{:<width$} {:>10.0} {:>10} {:>10} {:>8.0}%",
                figures.name,
                rate,
                figures.p50().as_micros(),
                figures.p99().as_micros(),
                100.0 * rate / base_rate
            );
        }
    }

    /// Prints, for scenarios measured in several rounds (each round a list
    /// of figures in the same order, its baseline first), one row per
    /// scenario from the round whose ratio to that round's baseline is the
    /// median; the baseline row is its median-rate round. So every ratio
    /// printed compares two figures of one round.
    #[allow(
        dead_code,
        reason = "each benchmark compiles this module; not all run rounds"
    )]
    pub fn print_median_table(&self, title: &str, facts: &[String], rounds: &[Vec<Figures>]) {
        let Some(first) = rounds.first() else {
            return;
        };
        let mut facts = facts.to_vec();
        facts.push(format!("median of {} rounds", rounds.len()));
        let mut chosen = Vec::with_capacity(first.len());
        for scenario in 0..first.len() {
            let mut by_ratio: Vec<(f64, &Figures, f64)> = rounds
                .iter()
                .map(|round| {
                    let base = round[0].rate();
                    let figures = &round[scenario];
                    let key = if scenario == 0 {
                        base
                    } else {
                        figures.rate() / base
                    };
                    (key, figures, base)
                })
                .collect();
            by_ratio.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (_, figures, base) = by_ratio[by_ratio.len() / 2];
            chosen.push((figures, base));
        }
        self.print_rows(title, &facts, &chosen);
    }

    /// Drops the scratch database (or removes the SQLite directory) unless
    /// `IDENTITYD_BENCH_KEEP_DATABASE` is set: then it stays, and where it is
    /// is printed, for looking at query plans on the data the run measured.
    pub async fn finish(self) {
        let keep = std::env::var_os("IDENTITYD_BENCH_KEEP_DATABASE").is_some();
        match self.scratch {
            Some(scratch) if keep => println!("kept the benchmark database: {}", scratch.url),
            Some(scratch) => scratch.drop_database().await,
            None if keep => {
                let dir = self.data_dir.keep();
                println!("kept the benchmark database under {}", dir.display());
            }
            None => {}
        }
    }
}
