//! [`Application`]: the service built, bound, and run until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{
    StartupError, TokenFile, build_app, build_mail_worker, create_private_dir, jobs, open_database,
    services, shutdown_signal,
};
use crate::app::App;
use crate::config::Settings;
use crate::domain::Clock;
use crate::mail::worker::MailWorker;
use crate::tls::{TlsError, TlsFiles, TlsReloader};

/// The TLS configuration the settings ask for, loaded; none for plain HTTP/2.
fn tls_from(settings: &Settings) -> Result<Option<TlsReloader>, StartupError> {
    let server = &settings.server;
    let incomplete = |what: &str| {
        StartupError::Tls(TlsError::Config(format!(
            "{what}: set server.tls_cert_path and server.tls_key_path together"
        )))
    };
    match (&server.tls_cert_path, &server.tls_key_path) {
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: server.tls_client_ca_path.clone(),
            };
            TlsReloader::load(files)
                .map(Some)
                .map_err(StartupError::Tls)
        }
        (None, None) if server.tls_client_ca_path.is_some() => Err(incomplete(
            "server.tls_client_ca_path needs a server certificate",
        )),
        (None, None) => Ok(None),
        _ => Err(incomplete("only one of the certificate and key is set")),
    }
}

/// A built service, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    tls: Option<Arc<TlsReloader>>,
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
        super::tune_allocator();
        let db = open_database(&settings).await?;
        let app = build_app(&settings, db).await?.with_clock(clock);
        let mail_worker = build_mail_worker(&settings, &app);

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

        let tls = tls_from(&settings)?.map(Arc::new);
        let address = settings.server.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?;
        let metrics_listener = match settings.server.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| StartupError::Bind { address, source })?,
            ),
            None => None,
        };
        Ok(Self {
            listener,
            metrics_listener,
            tls,
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

    /// The address `GET /metrics` is served on, if metrics are on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
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
            metrics_listener,
            tls,
            local_addr,
            app,
            mail_worker,
            settings,
        } = self;

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut jobs = jobs::start(&app, mail_worker, &settings, health_reporter, &stop_rx).await;
        if let Some(metrics_listener) = metrics_listener {
            if let Ok(address) = metrics_listener.local_addr() {
                tracing::info!(%address, "serving Prometheus metrics at /metrics");
            }
            jobs.push(tokio::spawn(crate::metrics::serve(
                metrics_listener,
                app.clone(),
                stop_rx.clone(),
            )));
        }
        if let Some(tls) = &tls {
            let every = Duration::from_secs(settings.server.tls_reload_secs.max(1));
            jobs.push(tokio::spawn(tls.clone().watch(every, stop_rx.clone())));
        }
        let server = services::serve(listener, tls, &app, &settings, health_service, stop_rx)?;
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
        for job in jobs {
            let _ = job.await;
        }
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
