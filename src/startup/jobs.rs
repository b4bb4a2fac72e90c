//! The work that runs beside the server until it stops: mail delivery, the
//! sweep of ended records, the refresh of run-time settings, and health
//! that follows the database.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::app::App;
use crate::config::Settings;
use crate::mail::worker::MailWorker;
use crate::store;

/// The gRPC services whose health follows the database's: the server as a
/// whole (`""`) and every service of the public API, read from its
/// descriptor so a new service cannot be left out.
fn health_services() -> Vec<String> {
    use prost::Message as _;
    let mut services = vec![String::new()];
    if let Ok(descriptors) = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET) {
        for file in descriptors.file {
            let package = file.package().to_owned();
            services.extend(
                file.service
                    .iter()
                    .map(|service| format!("{package}.{}", service.name())),
            );
        }
    }
    services
}

/// The health name that answers SERVING for as long as the process serves,
/// whatever the database does: for liveness probes, which should restart a
/// stuck process but not every replica during a database outage.
pub const LIVENESS_SERVICE: &str = "liveness";

/// Publishes the database's health once, then starts the health watch, the
/// mail worker and the sweep; each ends when `stop` turns true.
pub(super) async fn start(
    app: &App,
    mail_worker: MailWorker,
    settings: &Settings,
    health: HealthReporter,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let health_interval = Duration::from_secs(settings.server.health_check_interval_secs.max(1));
    // The first check happens before serving, so no caller ever sees
    // "service not registered" from a service that is up.
    health
        .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
        .await;
    let initial = check_database(app, &health, None).await;
    let health_task = tokio::spawn(watch_database(
        app.clone(),
        health,
        initial,
        health_interval,
        stop.clone(),
    ));
    let mail_task = tokio::spawn(mail_worker.run(stop.clone()));
    let sweep_interval = Duration::from_secs(settings.auth.sweep_interval_secs.max(1));
    let sweep_task = tokio::spawn(sweep(app.clone(), sweep_interval, stop.clone()));
    let refresh_interval = Duration::from_millis(settings.server.settings_refresh_ms.max(10));
    let refresh_task = tokio::spawn(refresh_settings(
        app.clone(),
        refresh_interval,
        stop.clone(),
    ));
    let retention_task = tokio::spawn(schedule_retention(app.clone(), stop.clone()));
    vec![
        health_task,
        mail_task,
        sweep_task,
        refresh_task,
        retention_task,
    ]
}

/// How often each replica asks whether the daily retention run is due; the
/// lease in the database lets one of them run it.
const RETENTION_CHECK: Duration = Duration::from_secs(60);

/// Runs retention pruning when its daily time comes, until `stop`.
async fn schedule_retention(app: App, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RETENTION_CHECK) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if let Err(err) = app.run_scheduled_retention().await {
            tracing::warn!(error = %err, "scheduled retention run failed; trying again later");
        }
    }
}

/// Picks up settings and templates changed through another replica, every
/// `interval` until `stop`.
async fn refresh_settings(app: App, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match app.refresh_settings_from_store().await {
            Ok(true) => tracing::info!(
                generation = app.settings().generation,
                "applied settings changed through another replica"
            ),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not look for changed settings; trying again")
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
                mail_budgets = swept.mail_budgets,
                totp_enrollments = swept.totp_enrollments,
                sso_tokens = swept.sso_tokens,
                external_sign_ins = swept.external_sign_ins,
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
    let status = match tokio::time::timeout(PROBE_TIMEOUT, store::ping(app.db())).await {
        Ok(Ok(())) => {
            app.database_state().mark_up();
            ServingStatus::Serving
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "database health check failed");
            app.database_state().mark_down();
            ServingStatus::NotServing
        }
        Err(_) => {
            tracing::warn!("database health check timed out");
            app.database_state().mark_down();
            ServingStatus::NotServing
        }
    };
    if last != Some(status) {
        for service in health_services() {
            reporter.set_service_status(&service, status).await;
        }
    }
    status
}

/// How often the database is probed while it is down.
const DOWN_PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long one probe may take before the database counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the health service in step with the database: NOT_SERVING while it
/// does not answer. A call that meets an unreachable database wakes it at
/// once; while down it probes every [`DOWN_PROBE_INTERVAL`], so calls fail
/// fast only as long as the outage lasts.
async fn watch_database(
    app: App,
    reporter: HealthReporter,
    mut last: ServingStatus,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let state = app.database_state().clone();
    loop {
        let wait = if state.is_down() {
            DOWN_PROBE_INTERVAL
        } else {
            interval
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.wait_for_change() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        last = check_database(&app, &reporter, Some(last)).await;
    }
}
