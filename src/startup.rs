//! The running service: binds the listener, connects and migrates the
//! database, bootstraps a fresh installation, builds the tower stack and
//! serves until told to stop.

use std::fs;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;

use crate::app::{App, AppError, AuthRules, Retention, Rules, TokenSink};
use crate::authz::AuthzLayer;
use crate::config::Settings;
use crate::crypto::{HashingParams, PasswordHashError, PasswordHasher, ServerKey, ServerKeyError};
use crate::domain::{BadNetwork, Clock, ThrottleRule, TrustedProxies};
use crate::grpc::{AccountApi, AdminApi, AuthApi, InvitationApi, UserApi};
use crate::limits::{CallLimitsLayer, LimitedIncoming};
use crate::mail::templates::Templates;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;
use crate::proto::account_service_server::AccountServiceServer;
use crate::proto::admin_service_server::AdminServiceServer;
use crate::proto::auth_service_server::AuthServiceServer;
use crate::proto::invitation_service_server::InvitationServiceServer;
use crate::proto::user_service_server::UserServiceServer;
use crate::store::{self, StoreError};
use crate::telemetry::RequestContextLayer;

/// The gRPC services whose health follows the database's.
const HEALTH_SERVICES: &[&str] = &[
    "",
    "identity.v1.AdminService",
    "identity.v1.UserService",
    "identity.v1.AccountService",
];

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

/// The use cases over `databases` with the configured password policy and hasher.
pub fn build_app(settings: &Settings, databases: Databases) -> Result<App, StartupError> {
    let passwords = &settings.passwords;
    let threads = match passwords.hashing_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let params = HashingParams {
        memory_kib: passwords.argon2_memory_kib,
        iterations: passwords.argon2_iterations,
        parallelism: passwords.argon2_parallelism,
    };
    let hasher = PasswordHasher::new(params, threads, passwords.hashing_queue)
        .map_err(StartupError::Passwords)?;
    let server_key = match &settings.security.server_secret {
        Some(secret) if !secret.expose_secret().is_empty() => {
            ServerKey::from_setting(secret.expose_secret())
        }
        _ => {
            create_private_dir(&settings.data_dir)?;
            ServerKey::load_or_create(&settings.data_dir)
        }
    }
    .map_err(StartupError::ServerKey)?;
    let trusted_proxies = TrustedProxies::parse(&settings.server.trusted_proxies)
        .map_err(StartupError::TrustedProxies)?;
    let auth = &settings.auth;
    let throttle = |free_failures| ThrottleRule {
        free_failures,
        base_delay: Duration::from_millis(auth.throttle_base_delay_ms.max(1)),
        max_delay: Duration::from_secs(auth.throttle_max_delay_secs.max(1)),
    };
    let rules = Rules {
        password_min_chars: passwords.min_length.max(1),
        client_user_management: settings.accounts.client_user_management,
        public_base_url: settings.mail.public_base_url.clone(),
        auth: AuthRules {
            session_idle_timeout: Duration::from_secs(auth.session_idle_timeout_secs.max(60)),
            session_absolute_timeout: Duration::from_secs(
                auth.session_absolute_timeout_secs.max(60),
            ),
            per_user: throttle(auth.user_free_failures),
            per_user_total: throttle(auth.user_total_free_failures),
            per_address: throttle(auth.address_free_failures),
            forget_failures_after: Duration::from_secs(auth.throttle_forget_after_secs.max(1)),
            cache_ttl: Duration::from_millis(auth.cache_ttl_ms),
        },
        invitation_ttl: Duration::from_secs(settings.invitations.ttl_secs.max(60)),
        retention: Retention {
            request_ids: Duration::from_secs(settings.retention.request_ids_secs),
            mail: Duration::from_secs(settings.retention.mail_secs),
            invitations: Duration::from_secs(settings.retention.invitations_secs),
        },
        invitation_mails_per_hour: settings.invitations.mails_per_hour.max(1),
        trusted_proxies,
    };
    Ok(App::new(
        databases.writer,
        databases.reader,
        hasher,
        server_key,
        rules,
    ))
}

/// The mail delivery worker: templates checked and transport built now, so a
/// broken template or SMTP setting stops the start, not a send.
pub fn build_mail_worker(settings: &Settings, app: &App) -> Result<MailWorker, StartupError> {
    let templates = Templates::load(settings.mail.templates_dir.as_deref())
        .map_err(|e| StartupError::Mail(e.to_string()))?;
    let transport = Transport::from_settings(&settings.mail, &settings.data_dir)
        .map_err(|e| StartupError::Mail(e.to_string()))?;
    Ok(MailWorker::new(
        app.db().clone(),
        Arc::new(templates),
        Arc::new(transport),
        settings.mail.clone(),
        app.clock().clone(),
    ))
}

/// The writing and reading pools of one database.
#[derive(Debug, Clone)]
pub struct Databases {
    /// Writes and transactions.
    pub writer: store::DatabaseConnection,
    /// Reads outside transactions.
    pub reader: store::DatabaseConnection,
}

/// Opens the configured database, applies pending migrations, then opens the
/// reading pool (which on SQLite needs the migrated file).
///
/// The SQLite database and its `-wal`/`-shm` files hold password hashes and
/// token hashes, so they are made mode 0600 (tightened if they existed
/// looser) in a directory of mode 0700.
pub async fn open_database(settings: &Settings) -> Result<Databases, StartupError> {
    let sqlite_file = settings.sqlite_path();
    if let Some(file) = &sqlite_file {
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        // SQLite gives the -wal and -shm files the database file's mode, so a
        // private database file made before SQLite opens it keeps them private.
        restrict_sqlite_files(file, true)?;
    }
    let connect = store::ConnectSettings {
        url: settings.database_url(),
        max_connections: settings.database.max_connections,
        connect_timeout: settings.connect_timeout(),
    };
    let db = store::connect(&connect).await?;
    store::migrate(&db).await?;
    let reader = store::connect_reader(&connect, &db, settings.database.sqlite_readers).await?;
    if let Some(file) = &sqlite_file {
        restrict_sqlite_files(file, false)?;
    }
    Ok(Databases { writer: db, reader })
}

/// Makes the database file (created empty when `create` and missing) and its
/// companions mode 0600.
fn restrict_sqlite_files(file: &Path, create: bool) -> Result<(), StartupError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| StartupError::DataDir { path, source }
    };
    if create {
        crate::files::create_private_file(file).map_err(failed(file))?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        crate::files::restrict_file(&path).map_err(failed(&path))?;
    }
    Ok(())
}

fn create_private_dir(path: &Path) -> Result<(), StartupError> {
    crate::files::private_dir(path).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })
}

/// A built service, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: App,
    mail_worker: MailWorker,
    settings: Settings,
}

impl Application {
    /// Connects and migrates the database, bootstraps a fresh installation
    /// and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// Like [`Application::build`], reading the time from `clock`: tests
    /// move a clock forward to reach expiry without waiting for it.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let db = open_database(&settings).await?;
        let app = build_app(&settings, db)?.with_clock(clock);
        let mail_worker = build_mail_worker(&settings, &app)?;

        create_private_dir(&settings.data_dir)?;
        let token_path = settings.bootstrap_token_path();
        let mut sink = TokenFile::new(token_path.clone());
        match app.bootstrap_if_needed(&mut sink).await {
            Ok(Some(created)) => tracing::warn!(
                path = %token_path.display(),
                staff_user_id = %created.staff_user_id,
                credential_id = %created.credential_id,
                "first start: wrote a full-access bootstrap API credential; keep it safe, create real staff and revoke it"
            ),
            Ok(None) => {}
            Err(err) => return Err(StartupError::Bootstrap(err)),
        }

        let address = settings.server.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?;
        Ok(Self {
            listener,
            local_addr,
            app,
            mail_worker,
            settings,
        })
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The use cases, for tests and commands that act without a call.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight calls.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then drains in-flight calls for at
    /// most the configured grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Self {
            listener,
            local_addr,
            app,
            mail_worker,
            settings,
        } = self;

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let (stop_tx, stop_rx) = watch::channel(false);
        let health_interval =
            Duration::from_secs(settings.server.health_check_interval_secs.max(1));
        // The first check happens before serving, so no caller ever sees
        // "service not registered" from a service that is up.
        let initial = check_database(&app, &health_reporter, None).await;
        let health_task = tokio::spawn(watch_database(
            app.clone(),
            health_reporter,
            initial,
            health_interval,
            stop_rx.clone(),
        ));

        let mail_task = tokio::spawn(mail_worker.run(stop_rx.clone()));
        let sweep_interval = Duration::from_secs(settings.auth.sweep_interval_secs.max(1));
        let sweep_task = tokio::spawn(sweep(app.clone(), sweep_interval, stop_rx.clone()));

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        // grpcurl 1.8 and Python's reflection client speak only v1alpha.
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let admin = AdminServiceServer::new(AdminApi::new(app.clone()))
            .max_decoding_message_size(settings.server.max_request_bytes);
        let users = UserServiceServer::new(UserApi::new(app.clone()))
            .max_decoding_message_size(settings.server.max_request_bytes);
        let accounts = AccountServiceServer::new(AccountApi::new(app.clone()))
            .max_decoding_message_size(settings.server.max_request_bytes);
        let auth = AuthServiceServer::new(AuthApi::new(app.clone()))
            .max_decoding_message_size(settings.server.max_request_bytes);
        let invitations = InvitationServiceServer::new(InvitationApi::new(app.clone()))
            .max_decoding_message_size(settings.server.max_request_bytes);

        let server_settings = &settings.server;
        let layers = ServiceBuilder::new()
            .layer(RequestContextLayer)
            .layer(CallLimitsLayer::new(
                server_settings.max_concurrent_calls,
                Duration::from_millis(server_settings.call_timeout_ms),
            ))
            .layer(AuthzLayer::new(app.clone()))
            .into_inner();
        // Without TCP_NODELAY a response written in two segments waits for
        // the client's delayed ACK: about 40 ms per call.
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(Duration::from_secs(60)));
        let incoming = LimitedIncoming::new(incoming, server_settings.max_connections);
        let keepalive_interval = (server_settings.http2_keepalive_interval_secs > 0)
            .then(|| Duration::from_secs(server_settings.http2_keepalive_interval_secs));
        let mut serve_stop = stop_rx.clone();
        let server = Server::builder()
            .max_concurrent_streams(server_settings.max_concurrent_streams.max(1))
            .http2_keepalive_interval(keepalive_interval)
            .http2_keepalive_timeout(Some(Duration::from_secs(
                server_settings.http2_keepalive_timeout_secs.max(1),
            )))
            .layer(layers)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(admin)
            .add_service(users)
            .add_service(accounts)
            .add_service(auth)
            .add_service(invitations)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = serve_stop.wait_for(|stop| *stop).await;
            });
        tracing::info!(address = %local_addr, "identityd listening");

        let mut server = tokio::spawn(server);
        let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
        let result = tokio::select! {
            finished = &mut server => finished,
            () = shutdown => {
                tracing::info!(grace_secs = grace.as_secs(), "shutting down: draining in-flight calls");
                let _ = stop_tx.send(true);
                match tokio::time::timeout(grace, &mut server).await {
                    Ok(finished) => finished,
                    Err(_) => {
                        tracing::warn!("grace period over; stopping with calls still in flight");
                        server.abort();
                        Ok(Ok(()))
                    }
                }
            }
        };
        let _ = stop_tx.send(true);
        let _ = health_task.await;
        let _ = mail_task.await;
        let _ = sweep_task.await;
        tracing::info!("identityd stopped");
        match result {
            Ok(served) => served.map_err(StartupError::from),
            Err(join_error) => {
                tracing::error!(error = %join_error, "the server task failed");
                Ok(())
            }
        }
    }
}

/// Sweeps ended sessions and spent tokens every `interval` until `stop`.
async fn sweep(app: App, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match app.sweep().await {
            Ok(swept) if swept != Default::default() => tracing::info!(
                sessions = swept.sessions,
                user_tokens = swept.user_tokens,
                throttles = swept.throttles,
                request_ids = swept.request_ids,
                mails = swept.mails,
                invitations = swept.invitations,
                "swept ended sessions, spent tokens, forgotten failures and old records"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "sweep failed; trying again next time"),
        }
    }
}

/// Checks the database once and publishes the result if it changed.
async fn check_database(
    app: &App,
    reporter: &HealthReporter,
    last: Option<ServingStatus>,
) -> ServingStatus {
    let status = match store::ping(app.db()).await {
        Ok(()) => ServingStatus::Serving,
        Err(err) => {
            tracing::warn!(error = %err, "database health check failed");
            ServingStatus::NotServing
        }
    };
    if last != Some(status) {
        for service in HEALTH_SERVICES {
            reporter.set_service_status(*service, status).await;
        }
    }
    status
}

/// Keeps the health service in step with the database: NOT_SERVING while it
/// does not answer.
async fn watch_database(
    app: App,
    reporter: HealthReporter,
    mut last: ServingStatus,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        last = check_database(&app, &reporter, Some(last)).await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Writes the bootstrap token, alone on one line, to a file only its owner can read.
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// A sink writing to `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl TokenSink for TokenFile {
    fn keep(&mut self, bearer: &str) -> std::io::Result<()> {
        // Write a private temporary file and rename it over the target, so
        // the token is never readable by others, not even for an instant.
        let temporary = self.path.with_extension("tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        writeln!(file, "{bearer}")?;
        file.sync_all()?;
        fs::rename(&temporary, &self.path)
    }

    fn discard(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
