//! The use cases and the mail worker, built from the settings.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{Databases, StartupError, create_private_dir};
use crate::app::{App, AuthRules, Retention, Rules};
use crate::config::Settings;
use crate::crypto::{HashingParams, PasswordHasher, ServerKey};
use crate::domain::{ThrottleRule, TrustedProxies};
use crate::mail::templates::Templates;
use crate::mail::transport::Transport;
use crate::mail::worker::MailWorker;

/// The use cases over `databases` with the configured rules and hasher.
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
        product_name: settings.mail.product_name.clone(),
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
            mfa_required: auth.mfa_required,
            sso_token_ttl: Duration::from_secs(auth.sso_token_ttl_secs.clamp(1, 60)),
            sso_bypasses_mfa: auth.sso_bypasses_mfa,
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
