//! What signing in and checking a session cost: AuthService/Login beside raw
//! argon2id on every core, and AuthService/IntrospectSession beside the gRPC
//! health check, both idle and during a login storm, all measured in the same
//! run on the same machine. It ends with the targets and whether each is met.
//!
//! `cargo bench --bench auth` (SQLite in a temporary directory), or with
//! `IDENTITYD_BENCH_POSTGRES_URL=postgres://user@host/postgres`, an account
//! that may create databases: the run creates `identityd_bench_*` and drops it.
//! `IDENTITYD_BENCH_SECONDS` (default 5) and `IDENTITYD_BENCH_CONCURRENCY`
//! (default 16) shape each scenario. Login runs from twice as many callers as
//! the server has hashing threads and at least 8, or from
//! `IDENTITYD_BENCH_LOGIN_CONCURRENCY`, never more than the hashing threads
//! and their queue hold together.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use identityd::proto::auth_service_client::AuthServiceClient;
use identityd::proto::user_service_client::UserServiceClient;
use identityd::proto::{CreateUserRequest, IntrospectSessionRequest, LoginRequest};
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use common::{Bearer, Bench, Figures};

/// Users created for signing in.
const USERS: usize = 32;

/// Sessions made per user before measuring, for IntrospectSession to resolve.
const SESSIONS_PER_USER: usize = 2;

/// How long the login storm runs before IntrospectSession is measured beside
/// it, so every hashing thread is busy by then.
const STORM_RAMP_UP: Duration = Duration::from_secs(1);

/// How long a login answered "busy" waits before it asks again.
const BUSY_RETRY_DELAY: Duration = Duration::from_millis(10);

/// The user agent every benchmark login reports.
const USER_AGENT: &str = "identityd-bench-auth";

/// Login must reach this share of the raw argon2id verification rate.
const LOGIN_SHARE_OF_ARGON2: f64 = 0.90;

/// IntrospectSession must reach this share of the health check rate.
const INTROSPECT_SHARE_OF_HEALTH: f64 = 0.50;

/// IntrospectSession's p99 during the login storm may be at most this many
/// times its p99 when the server is otherwise idle.
const STORM_P99_FACTOR: f64 = 5.0;

/// The resident size the process (server and client) may reach, in MiB.
const RESIDENT_LIMIT_MIB: f64 = 100.0;

/// The username of the `n`th benchmark user.
fn username(n: usize) -> String {
    format!("bench.signin.{n}")
}

/// The password of the `n`th benchmark user: long and uncommon enough for
/// the password policy.
fn password(n: usize) -> String {
    format!("correct-horse-battery-staple-{n}")
}

/// Runs the benchmark.
fn main() {
    common::block_on(run());
}

/// Measures raw argon2id, starts the server, creates the users and sessions,
/// measures each scenario and prints the table and the targets.
async fn run() {
    let bench = Bench::from_env().await;
    let settings = bench.settings();
    let passwords = &settings.passwords;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // As the server sizes its pool: 0 means one thread per core.
    let hashing_threads = match passwords.hashing_threads {
        0 => cores,
        threads => threads,
    };
    let most_callers = (hashing_threads + passwords.hashing_queue) as u64;
    // Enough callers that a hashing thread never waits for the next login
    // while one finishes its database work, and no more than the pool holds.
    let login_callers = common::env_number(
        "IDENTITYD_BENCH_LOGIN_CONCURRENCY",
        (2 * hashing_threads as u64).max(8),
    )
    .clamp(1, most_callers);
    let params = Params::new(
        passwords.argon2_memory_kib,
        passwords.argon2_iterations,
        passwords.argon2_parallelism,
        None,
    )
    .expect("valid argon2id parameters in the settings");
    let argon2_fact = format!(
        "argon2id m={} KiB t={} p={}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost()
    );

    let seconds = bench.seconds;
    let mut memory = vec![("before the server starts", resident_mib())];
    let application = bench.build().await;
    let server = bench.serve(application).await;
    create_users(
        server.client(UserServiceClient::with_interceptor),
        login_callers,
    )
    .await;
    // Login is public: it goes without the bootstrap credential, as from an app.
    let auth = AuthServiceClient::new(server.channel.clone());
    let setup_logins = Logins::new(auth.clone());
    let tokens = {
        let logins = setup_logins.clone();
        in_parallel(USERS * SESSIONS_PER_USER, login_callers, move |_| {
            let logins = logins.clone();
            async move { logins.login().await }
        })
        .await
    };
    let tokens = Arc::new(tokens);
    println!(
        "created {USERS} users and {} sessions on {} ({} busy answers retried)",
        tokens.len(),
        bench.backend,
        setup_logins.busy()
    );

    let baseline = bench.measure_health(&server).await;

    // Raw hashing right before and right after Login, with the server idle,
    // and Login compared with their mean: the machine's hashing speed drifts
    // by several percent between runs, and this keeps both sides together.
    let raw_params = params.clone();
    let raw_before =
        tokio::task::spawn_blocking(move || raw_argon2(raw_params, cores, seconds, "before Login"))
            .await
            .expect("the argon2id threads");
    let logins = Logins::new(auth.clone());
    let measured_logins = logins.clone();
    let login = bench
        .measure_with(
            format!("AuthService/Login ({login_callers} callers)"),
            login_callers,
            move || {
                let logins = measured_logins.clone();
                async move {
                    logins.login().await;
                }
            },
        )
        .await;

    memory.push(("after Login", resident_mib()));
    let raw_after =
        tokio::task::spawn_blocking(move || raw_argon2(params, cores, seconds, "after Login"))
            .await
            .expect("the argon2id threads");
    let raw_rate = (raw_before.rate() + raw_after.rate()) / 2.0;

    // IntrospectSession needs `sessions.read`, which the bootstrap credential has.
    let introspection = Introspection::new(
        server.client(AuthServiceClient::with_interceptor),
        Arc::clone(&tokens),
    );
    let idle = introspection.clone();
    let introspect = bench
        .measure("AuthService/IntrospectSession", move || {
            let introspection = idle.clone();
            async move { introspection.introspect().await }
        })
        .await;

    let storm_logins = Logins::new(auth.clone());
    let storm = Storm::start(&storm_logins, login_callers);
    tokio::time::sleep(STORM_RAMP_UP).await;
    let stormy = introspection.clone();
    let introspect_in_storm = bench
        .measure(
            "AuthService/IntrospectSession during a login storm",
            move || {
                let introspection = stormy.clone();
                async move { introspection.introspect().await }
            },
        )
        .await;
    memory.push(("during the login storm", resident_mib()));
    let storm = storm
        .stop(format!(
            "AuthService/Login storm ({login_callers} callers, beside the row above)"
        ))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    memory.push(("2 s after the storm", resident_mib()));
    let peak = memory.iter().map(|(_, mib)| *mib).fold(0.0_f64, f64::max);

    let targets = [
        Target::at_least(
            format!(
                "AuthService/Login ≥ {:.0}% of raw argon2id verifications (mean of before and after)",
                100.0 * LOGIN_SHARE_OF_ARGON2
            ),
            login.rate(),
            raw_rate,
            LOGIN_SHARE_OF_ARGON2,
        ),
        Target::at_least(
            format!(
                "AuthService/IntrospectSession ≥ {:.0}% of the health check",
                100.0 * INTROSPECT_SHARE_OF_HEALTH
            ),
            introspect.rate(),
            baseline.rate(),
            INTROSPECT_SHARE_OF_HEALTH,
        ),
        Target::at_most(
            format!(
                "AuthService/IntrospectSession p99 during the storm ≤ {STORM_P99_FACTOR:.0}× idle p99"
            ),
            introspect_in_storm.p99(),
            introspect.p99(),
            STORM_P99_FACTOR,
        ),
        Target::at_most_mib(
            format!("resident memory under load ≤ {RESIDENT_LIMIT_MIB:.0} MiB"),
            peak,
            RESIDENT_LIMIT_MIB,
        ),
    ];

    bench.print_table(
        "identityd auth benchmark",
        &[
            argon2_fact,
            format!("{hashing_threads} hashing threads"),
            format!("{USERS} users"),
        ],
        &[
            baseline,
            raw_before,
            login,
            raw_after,
            introspect,
            introspect_in_storm,
            storm,
        ],
    );
    println!(
        "Login answers RESOURCE_EXHAUSTED (each retried after {} ms): {} while measuring Login, {} during the storm",
        BUSY_RETRY_DELAY.as_millis(),
        logins.busy(),
        storm_logins.busy()
    );
    let readings: Vec<String> = memory
        .iter()
        .map(|(when, mib)| format!("{when} {mib:.0} MiB"))
        .collect();
    println!(
        "resident memory of the process (server and benchmark client together): {}",
        readings.join(", ")
    );
    println!("targets:");
    for target in &targets {
        target.print();
    }
    bench.finish().await;
}

/// Verifies a password against its argon2id hash with `params` on `threads`
/// OS threads at once for `seconds`, outside the (idle) server: the most
/// verifications this machine can do. `when` labels the row.
fn raw_argon2(params: Params, threads: usize, seconds: u64, when: &str) -> Figures {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = password(0);
    let salt = SaltString::encode_b64(b"identityd-bench!").expect("a 16-byte salt");
    let stored = argon2
        .hash_password(password.as_bytes(), &salt)
        .expect("hash the benchmark password")
        .to_string();
    let stored = PasswordHash::new(&stored).expect("a PHC string argon2 just made");
    let expected = stored.hash.expect("the hash part");
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .expect("the salt decodes")
        .to_vec();
    // Each thread keeps its working memory, as the server's hashing threads
    // do, so both sides measure hashing and not the allocator.
    let verify = |memory: &mut Vec<argon2::Block>| {
        let blocks = argon2.params().block_count();
        memory.resize(blocks, argon2::Block::default());
        let mut out = vec![0u8; expected.len()];
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                &raw_salt,
                &mut out,
                &mut memory[..],
            )
            .expect("hash");
        assert!(
            out == expected.as_bytes(),
            "the password matches its own hash"
        );
    };
    // Warm up as `Bench::measure` does, with one call.
    verify(&mut Vec::new());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::new();
                    let mut memory = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        verify(&mut memory);
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("an argon2id thread"))
            .collect()
    });
    Figures::from_latencies(
        format!("argon2id verify, {threads} threads, {when}"),
        started.elapsed(),
        latencies,
    )
}

/// Runs `job(0)` to `job(count - 1)` from `workers` tasks at once and returns
/// the results in that order.
async fn in_parallel<T, F, Fut>(count: usize, workers: u64, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let next = Arc::clone(&next);
            let job = job.clone();
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return done;
                    }
                    done.push((n, job(n).await));
                }
            })
        })
        .collect();
    let mut done = Vec::with_capacity(count);
    for task in tasks {
        done.extend(task.await.expect("a setup task"));
    }
    done.sort_unstable_by_key(|(n, _)| *n);
    done.into_iter().map(|(_, result)| result).collect()
}

/// A client that sends the bootstrap credential with every call.
type Authenticated = InterceptedService<Channel, Bearer>;

/// Creates the benchmark users, active and with passwords, `callers` at once
/// (each one hashes a password on the server).
async fn create_users(users: UserServiceClient<Authenticated>, callers: u64) {
    in_parallel(USERS, callers, move |n| {
        let mut users = users.clone();
        async move {
            users
                .create_user(CreateUserRequest {
                    skip_primary_account: true,
                    full_name: format!("Bench Signin {n}"),
                    username: username(n),
                    email: format!("{}@example.com", username(n)),
                    password: password(n),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("create user {}: {status}", username(n)));
        }
    })
    .await;
}

/// Signs the benchmark users in with their passwords, one after another, and
/// counts the calls answered "busy" (RESOURCE_EXHAUSTED). Clones share the
/// turn and the count.
#[derive(Clone)]
struct Logins {
    /// A client without credentials, as an app signing a person in has.
    client: AuthServiceClient<Channel>,
    /// Counts logins, to choose the next user.
    next: Arc<AtomicUsize>,
    /// Calls answered RESOURCE_EXHAUSTED.
    busy: Arc<AtomicU64>,
}

impl Logins {
    /// Logins through `client`, starting with the first user.
    fn new(client: AuthServiceClient<Channel>) -> Self {
        Self {
            client,
            next: Arc::new(AtomicUsize::new(0)),
            busy: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Signs the next user in and returns the new session's token. A "busy"
    /// answer is counted and the call made again after a short pause, so each
    /// completed login is one session and its latency includes the retries.
    async fn login(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % USERS;
        let mut client = self.client.clone();
        loop {
            let request = LoginRequest {
                identifier: username(n),
                password: password(n),
                user_agent: USER_AGENT.to_owned(),
                device_token: String::new(),
            };
            match client.login(request).await {
                Ok(response) => {
                    let token = response.into_inner().session_token;
                    assert!(token.starts_with("ids_"), "a session token");
                    return token;
                }
                Err(status) if status.code() == Code::ResourceExhausted => {
                    self.busy.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(BUSY_RETRY_DELAY).await;
                }
                Err(status) => panic!("login as {}: {status}", username(n)),
            }
        }
    }

    /// How many calls were answered RESOURCE_EXHAUSTED so far.
    fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }
}

/// Resolves the sessions made before measuring, one after another. Clones
/// share the turn.
#[derive(Clone)]
struct Introspection {
    /// A client with the bootstrap credential, which holds `sessions.read`.
    client: AuthServiceClient<Authenticated>,
    /// The session tokens.
    tokens: Arc<Vec<String>>,
    /// Counts calls, to choose the next token.
    next: Arc<AtomicUsize>,
}

impl Introspection {
    /// Introspection of `tokens` through `client`.
    fn new(client: AuthServiceClient<Authenticated>, tokens: Arc<Vec<String>>) -> Self {
        assert!(!tokens.is_empty(), "sessions to introspect");
        Self {
            client,
            tokens,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Resolves the next token and checks that its session is live.
    async fn introspect(&self) {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let session_token = self.tokens[turn % self.tokens.len()].clone();
        let answer = self
            .client
            .clone()
            .introspect_session(IntrospectSessionRequest { session_token })
            .await
            .expect("introspect a session")
            .into_inner();
        assert!(answer.active, "a live session");
        assert!(answer.user.is_some(), "the session's user");
    }
}

/// Logins from several tasks in a loop, in the background, until stopped.
struct Storm {
    /// Set to end the loops.
    stop: Arc<AtomicBool>,
    /// When the storm began.
    started: Instant,
    /// The looping tasks; each returns its logins' latencies.
    tasks: Vec<JoinHandle<Vec<Duration>>>,
}

impl Storm {
    /// Starts `callers` tasks signing in through `logins` without pause.
    fn start(logins: &Logins, callers: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..callers)
            .map(|_| {
                let logins = logins.clone();
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        logins.login().await;
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        Self {
            stop,
            started: Instant::now(),
            tasks,
        }
    }

    /// Ends the storm once each task's current login completes and returns
    /// its figures under `name`.
    async fn stop(self, name: String) -> Figures {
        self.stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for task in self.tasks {
            latencies.extend(task.await.expect("a login storm task"));
        }
        Figures::from_latencies(name, self.started.elapsed(), latencies)
    }
}

/// A goal for one figure, relative to another measured in the same run.
struct Target {
    /// What is asked, in words.
    goal: String,
    /// Whether the run met it.
    met: bool,
    /// The figures compared, in words.
    detail: String,
}

impl Target {
    /// The goal that the rate `measured` be at least `share` of the rate `base`.
    fn at_least(goal: String, measured: f64, base: f64, share: f64) -> Self {
        let ratio = measured / base;
        Self {
            goal,
            met: ratio >= share,
            detail: format!(
                "{:.1}% ({measured:.1}/s against {base:.1}/s)",
                100.0 * ratio
            ),
        }
    }

    /// The goal that a size of `measured` MiB be at most `limit` MiB.
    fn at_most_mib(goal: String, measured: f64, limit: f64) -> Self {
        Self {
            goal,
            met: measured <= limit,
            detail: format!("peak {measured:.0} MiB"),
        }
    }

    /// The goal that the latency `measured` be at most `factor` times `base`.
    fn at_most(goal: String, measured: Duration, base: Duration, factor: f64) -> Self {
        let ratio = measured.as_secs_f64() / base.as_secs_f64();
        Self {
            goal,
            met: ratio <= factor,
            detail: format!(
                "{ratio:.2}× ({} µs against {} µs)",
                measured.as_micros(),
                base.as_micros()
            ),
        }
    }

    /// Prints `PASS` or `FAIL`, the goal and the figures.
    fn print(&self) {
        let verdict = if self.met { "PASS" } else { "FAIL" };
        println!("  {verdict}  {}: {}", self.goal, self.detail);
    }
}

/// The process's resident set size in MiB (`VmRSS`), or 0 where
/// `/proc/self/status` does not exist.
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
