//! The use cases and the mail worker, built from the settings.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::{Databases, StartupError, create_private_dir};
use crate::app::{App, AppParts, Retention, Rules};
use crate::config::Settings;
use crate::crypto::{HashingParams, PasswordHasher, ServerKey};
use crate::domain::TrustedProxies;
use crate::mail::templates::Templates;
use crate::mail::worker::MailWorker;
use crate::oidc::OidcClient;
use crate::runtime::{LiveSettings, LiveSettingsError, RuntimeSettings};

/// The use cases over `databases` with the configured rules and hasher.
pub async fn build_app(settings: &Settings, databases: Databases) -> Result<App, StartupError> {
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
        .map_err(StartupError::Passwords)?
        .with_max_wait(Duration::from_millis(passwords.hashing_max_wait_ms));
    let server_key = match &settings.security.server_secret {
        Some(secret) if !secret.expose_secret().is_empty() => {
            ServerKey::from_setting(secret.expose_secret())
        }
        _ => {
            create_private_dir(&settings.data_dir)?;
            ServerKey::load_or_create(&settings.data_dir)
        }
    }
    .map_err(StartupError::ServerKey)?
    .with_previous(
        settings
            .security
            .previous_server_secrets
            .iter()
            .map(|secret| secret.expose_secret()),
    );
    let trusted_proxies = TrustedProxies::parse(&settings.server.trusted_proxies)
        .map_err(StartupError::TrustedProxies)?;
    let live = load_live_settings(settings, &databases, server_key.clone()).await?;
    let rules = Rules {
        cache_ttl: Duration::from_millis(settings.auth.cache_ttl_ms),
        retention: Retention {
            request_ids: Duration::from_secs(settings.retention.request_ids_secs),
            mail: Duration::from_secs(settings.retention.mail_secs),
            invitations: Duration::from_secs(settings.retention.invitations_secs),
        },
        trusted_proxies,
    };
    Ok(App::new(
        databases.writer,
        databases.reader,
        AppParts {
            hasher,
            server_key,
            rules,
            settings: live,
            oidc: OidcClient::new().map_err(StartupError::Oidc)?,
        },
    ))
}

/// The run-time settings: the settings file's values, checked by the same
/// rules UpdateSettings applies, with the stored ones on top; and the mail
/// templates (checked now, so a broken one stops the start, not a send).
async fn load_live_settings(
    settings: &Settings,
    databases: &Databases,
    server_key: ServerKey,
) -> Result<LiveSettings, StartupError> {
    let configured = RuntimeSettings::from_startup(settings);
    let violations = configured.violations();
    if !violations.is_empty() {
        let listed: Vec<String> = violations
            .iter()
            .map(|v| format!("{} {}", v.field, v.description))
            .collect();
        return Err(StartupError::Settings(listed.join("; ")));
    }
    let built_in = Settings::built_in()
        .map(|defaults| RuntimeSettings::from_startup(&defaults))
        .map_err(|e| StartupError::Settings(e.to_string()))?;
    let templates = Templates::load(settings.mail.templates_dir.as_deref())
        .map_err(|e| StartupError::Mail(e.to_string()))?;
    let file_dir = settings
        .mail
        .file_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("mail"));
    LiveSettings::load(
        &databases.writer,
        configured,
        built_in,
        templates,
        file_dir,
        server_key,
    )
    .await
    .map_err(|e| match e {
        LiveSettingsError::Store(e) => StartupError::Database(e),
        LiveSettingsError::Transport(e) => StartupError::Mail(e),
    })
}

/// The mail delivery worker, reading templates and transport from the live
/// settings for each mail.
pub fn build_mail_worker(settings: &Settings, app: &App) -> MailWorker {
    MailWorker::new(
        app.db().clone(),
        app.live_settings().clone(),
        settings.mail.clone(),
        app.clock().clone(),
    )
}
