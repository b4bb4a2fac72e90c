//! AdminService messages about run-time settings, mail templates and test mail.

use secrecy::SecretString;

use crate::app::{
    MailTemplateView, NewMailTemplate, SettingOrigin, SettingsUpdate, SettingsView,
    TemplatePreview, TestMail, TestMailOutcome,
};
use crate::config::{MailTransportKind, SmtpTls};
use crate::domain::{Email, MfaRequirement, ValidationError, Validator};
use crate::mail::templates::{TemplateParts, TemplateSource};
use crate::proto as pb;
use crate::runtime::{RuntimeSettings, SETTINGS, Setting, SettingValue, Stamp};

use super::{UPDATE_MASK_PATHS_MAX, actor, bounded, quote, timestamp};

/// The most paths `reset_paths` may hold.
const RESET_PATHS_MAX: usize = 64;

fn stamp_parts(stamp: Option<Stamp>) -> (Option<prost_types::Timestamp>, Option<pb::Actor>) {
    match stamp {
        Some(stamp) => (
            Some(timestamp(stamp.at)),
            Some(actor(&stamp.by_kind, stamp.by_id)),
        ),
        None => (None, None),
    }
}

fn mfa_to_proto(requirement: MfaRequirement) -> pb::MfaRequirement {
    match requirement {
        MfaRequirement::None => pb::MfaRequirement::None,
        MfaRequirement::Clients => pb::MfaRequirement::Clients,
        MfaRequirement::Staff => pb::MfaRequirement::Staff,
        MfaRequirement::All => pb::MfaRequirement::All,
    }
}

fn transport_to_proto(kind: MailTransportKind) -> pb::MailTransport {
    match kind {
        MailTransportKind::Log => pb::MailTransport::Log,
        MailTransportKind::File => pb::MailTransport::File,
        MailTransportKind::Smtp => pb::MailTransport::Smtp,
    }
}

fn tls_to_proto(tls: SmtpTls) -> pb::SmtpTls {
    match tls {
        SmtpTls::None => pb::SmtpTls::None,
        SmtpTls::Starttls => pb::SmtpTls::Starttls,
        SmtpTls::Tls => pb::SmtpTls::Tls,
    }
}

/// The settings as the API shows them: every value but secrets.
fn settings_to_proto(values: &RuntimeSettings) -> pb::RuntimeSettings {
    pb::RuntimeSettings {
        accounts: Some(pb::AccountPolicy {
            client_user_management: values.client_user_management,
        }),
        sign_up: Some(pb::SignUpPolicy {
            open: values.sign_up_open,
            allowed_email_domains: values.sign_up_allowed_email_domains.clone(),
            blocked_email_domains: values.sign_up_blocked_email_domains.clone(),
        }),
        auth: Some(pb::AuthPolicy {
            session_idle_timeout_secs: values.session_idle_timeout_secs,
            session_absolute_timeout_secs: values.session_absolute_timeout_secs,
            user_free_failures: values.user_free_failures,
            address_free_failures: values.address_free_failures,
            user_total_free_failures: values.user_total_free_failures,
            throttle_base_delay_ms: values.throttle_base_delay_ms,
            throttle_max_delay_secs: values.throttle_max_delay_secs,
            throttle_forget_after_secs: values.throttle_forget_after_secs,
            mfa_required: mfa_to_proto(values.mfa_required).into(),
            sso_token_ttl_secs: values.sso_token_ttl_secs,
            sso_bypasses_mfa: values.sso_bypasses_mfa,
        }),
        passwords: Some(pb::PasswordPolicy {
            min_length: u32::try_from(values.password_min_length).unwrap_or(u32::MAX),
        }),
        invitations: Some(pb::InvitationPolicy {
            ttl_secs: values.invitation_ttl_secs,
            mails_per_hour: values.invitation_mails_per_hour,
        }),
        mail: Some(pb::MailPolicy {
            transport: transport_to_proto(values.mail_transport).into(),
            from: values.mail_from.clone(),
            public_base_url: values.public_base_url.clone(),
            product_name: values.product_name.clone(),
            smtp: Some(pb::SmtpServer {
                host: values.smtp_host.clone(),
                port: u32::from(values.smtp_port),
                tls: tls_to_proto(values.smtp_tls).into(),
                username: values.smtp_username.clone(),
                // Write-only: never returned.
                password: String::new(),
                timeout_secs: values.smtp_timeout_secs,
            }),
        }),
        pruning: Some(pb::PruningPolicy {
            closed_accounts_after_days: values.prune_closed_after_days,
            inactive_accounts_after_months: values.prune_inactive_after_months,
            delete_orphan_users: values.prune_orphan_users,
            unverified_users_after_days: values.prune_unverified_after_days,
            warning_days: values.prune_warning_days,
            run_at: values.prune_run_at.clone(),
        }),
    }
}

/// The view as GetSettings and UpdateSettings answer it.
pub fn settings_view(view: SettingsView) -> (pb::RuntimeSettings, Vec<pb::SettingInfo>, String) {
    let info = view
        .info
        .into_iter()
        .map(|info| {
            let (update_time, updated_by) = stamp_parts(info.stamp);
            let source = match info.origin {
                SettingOrigin::Default => pb::SettingSource::Default,
                SettingOrigin::File => pb::SettingSource::File,
                SettingOrigin::Stored => pb::SettingSource::Stored,
            };
            pb::SettingInfo {
                path: info.setting.key.to_owned(),
                source: source.into(),
                update_time,
                updated_by,
                secret: info.setting.is_secret(),
                secret_set: info.secret_set,
            }
        })
        .collect();
    (settings_to_proto(&view.values), info, view.etag)
}

/// A name for an enum value the API sent, as the settings catalogue names it.
fn choice<E: TryFrom<i32>>(value: i32, name: impl Fn(E) -> Option<&'static str>) -> Option<String> {
    E::try_from(value).ok().and_then(name).map(str::to_owned)
}

/// The value the request carries for `setting`, or why it cannot be one.
fn requested_value(
    settings: &pb::RuntimeSettings,
    setting: &Setting,
) -> Result<SettingValue, String> {
    let accounts = settings.accounts.unwrap_or_default();
    let sign_up = settings.sign_up.clone().unwrap_or_default();
    let auth = settings.auth.unwrap_or_default();
    let passwords = settings.passwords.unwrap_or_default();
    let invitations = settings.invitations.unwrap_or_default();
    let mail = settings.mail.clone().unwrap_or_default();
    let smtp = mail.smtp.clone().unwrap_or_default();
    let pruning = settings.pruning.clone().unwrap_or_default();
    let unset = || "must be set to a known value".to_owned();
    let number = |n: u64| SettingValue::Number(n);
    Ok(match setting.key {
        "accounts.client_user_management" => SettingValue::Bool(accounts.client_user_management),
        "sign_up.open" => SettingValue::Bool(sign_up.open),
        "sign_up.allowed_email_domains" => SettingValue::List(sign_up.allowed_email_domains),
        "sign_up.blocked_email_domains" => SettingValue::List(sign_up.blocked_email_domains),
        "auth.session_idle_timeout_secs" => number(auth.session_idle_timeout_secs),
        "auth.session_absolute_timeout_secs" => number(auth.session_absolute_timeout_secs),
        "auth.user_free_failures" => number(u64::from(auth.user_free_failures)),
        "auth.address_free_failures" => number(u64::from(auth.address_free_failures)),
        "auth.user_total_free_failures" => number(u64::from(auth.user_total_free_failures)),
        "auth.throttle_base_delay_ms" => number(auth.throttle_base_delay_ms),
        "auth.throttle_max_delay_secs" => number(auth.throttle_max_delay_secs),
        "auth.throttle_forget_after_secs" => number(auth.throttle_forget_after_secs),
        "auth.mfa_required" => SettingValue::Text(
            choice(auth.mfa_required, |m: pb::MfaRequirement| match m {
                pb::MfaRequirement::Unspecified => None,
                pb::MfaRequirement::None => Some("none"),
                pb::MfaRequirement::Clients => Some("clients"),
                pb::MfaRequirement::Staff => Some("staff"),
                pb::MfaRequirement::All => Some("all"),
            })
            .ok_or_else(unset)?,
        ),
        "auth.sso_token_ttl_secs" => number(auth.sso_token_ttl_secs),
        "auth.sso_bypasses_mfa" => SettingValue::Bool(auth.sso_bypasses_mfa),
        "passwords.min_length" => number(u64::from(passwords.min_length)),
        "invitations.ttl_secs" => number(invitations.ttl_secs),
        "invitations.mails_per_hour" => number(u64::from(invitations.mails_per_hour)),
        "mail.transport" => SettingValue::Text(
            choice(mail.transport, |t: pb::MailTransport| match t {
                pb::MailTransport::Unspecified => None,
                pb::MailTransport::Log => Some("log"),
                pb::MailTransport::File => Some("file"),
                pb::MailTransport::Smtp => Some("smtp"),
            })
            .ok_or_else(unset)?,
        ),
        "mail.from" => SettingValue::Text(mail.from),
        "mail.public_base_url" => SettingValue::Text(mail.public_base_url),
        "mail.product_name" => SettingValue::Text(mail.product_name),
        "mail.smtp.host" => SettingValue::Text(smtp.host),
        "mail.smtp.port" => number(u64::from(smtp.port)),
        "mail.smtp.tls" => SettingValue::Text(
            choice(smtp.tls, |t: pb::SmtpTls| match t {
                pb::SmtpTls::Unspecified => None,
                pb::SmtpTls::None => Some("none"),
                pb::SmtpTls::Starttls => Some("starttls"),
                pb::SmtpTls::Tls => Some("tls"),
            })
            .ok_or_else(unset)?,
        ),
        "mail.smtp.username" => SettingValue::Text(smtp.username),
        "mail.smtp.password" => SettingValue::Secret(Some(SecretString::from(smtp.password))),
        "mail.smtp.timeout_secs" => number(smtp.timeout_secs),
        "pruning.closed_accounts_after_days" => number(pruning.closed_accounts_after_days),
        "pruning.inactive_accounts_after_months" => number(pruning.inactive_accounts_after_months),
        "pruning.delete_orphan_users" => SettingValue::Bool(pruning.delete_orphan_users),
        "pruning.unverified_users_after_days" => number(pruning.unverified_users_after_days),
        "pruning.warning_days" => number(pruning.warning_days),
        "pruning.run_at" => SettingValue::Text(pruning.run_at),
        // Every catalogue key is listed above; a new one fails this test:
        // `every_setting_can_be_read_from_a_request`.
        other => return Err(format!("{other} cannot be set through the API yet")),
    })
}

/// The settings a mask path names: the one with that key, or every one
/// below it (`mail.smtp` names all six SMTP settings).
fn settings_under(path: &str) -> Vec<&'static Setting> {
    let prefix = format!("{path}.");
    SETTINGS
        .iter()
        .filter(|setting| setting.key == path || setting.key.starts_with(&prefix))
        .collect()
}

/// The update an UpdateSettings request asks for.
pub fn update_settings(
    request: pb::UpdateSettingsRequest,
) -> Result<SettingsUpdate, ValidationError> {
    let pb::UpdateSettingsRequest {
        settings,
        update_mask,
        reset_paths,
        etag,
    } = request;
    let mut v = Validator::new();
    let settings = settings.unwrap_or_default();
    let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
    let mut update = SettingsUpdate {
        etag: (!etag.trim().is_empty()).then(|| etag.trim().to_owned()),
        ..SettingsUpdate::default()
    };
    let named = |v: &mut Validator, field: String, path: &str| {
        let found = settings_under(path.trim());
        if found.is_empty() {
            v.violation(
                field,
                format!("{} is not a run-time setting; see GetSettings", quote(path)),
            );
        }
        found
    };
    for (i, path) in bounded(&mut v, "update_mask.paths", &paths, UPDATE_MASK_PATHS_MAX)
        .iter()
        .enumerate()
    {
        for setting in named(&mut v, format!("update_mask.paths[{i}]"), path) {
            if update.changes.iter().any(|(s, _)| s.key == setting.key) {
                continue;
            }
            match requested_value(&settings, setting) {
                Ok(value) => update.changes.push((setting, value)),
                Err(why) => v.violation(format!("settings.{}", setting.key), why),
            }
        }
    }
    for (i, path) in bounded(&mut v, "reset_paths", &reset_paths, RESET_PATHS_MAX)
        .iter()
        .enumerate()
    {
        for setting in named(&mut v, format!("reset_paths[{i}]"), path) {
            if !update.resets.iter().any(|s| s.key == setting.key) {
                update.resets.push(setting);
            }
        }
    }
    v.finish()?;
    Ok(update)
}

fn template_source(source: TemplateSource) -> pb::MailTemplateSource {
    match source {
        TemplateSource::BuiltIn => pb::MailTemplateSource::BuiltIn,
        TemplateSource::File => pb::MailTemplateSource::File,
        TemplateSource::Stored => pb::MailTemplateSource::Stored,
    }
}

impl From<MailTemplateView> for pb::MailTemplate {
    fn from(view: MailTemplateView) -> Self {
        let (update_time, updated_by) = stamp_parts(view.stamp);
        pb::MailTemplate {
            kind: view.kind.as_str().to_owned(),
            locale: view.locale,
            subject: view.parts.subject,
            text: view.parts.text,
            html: view.parts.html,
            source: template_source(view.source).into(),
            variables: view.variables,
            etag: view.etag,
            update_time,
            updated_by,
        }
    }
}

/// The template an UpdateMailTemplate request stores (checked by the use case).
pub fn update_mail_template(request: pb::UpdateMailTemplateRequest) -> NewMailTemplate {
    let pb::UpdateMailTemplateRequest {
        kind,
        locale,
        subject,
        text,
        html,
        etag,
    } = request;
    NewMailTemplate {
        kind,
        locale,
        parts: TemplateParts {
            subject,
            text,
            html,
        },
        etag: (!etag.trim().is_empty()).then(|| etag.trim().to_owned()),
    }
}

/// The preview a PreviewMailTemplate request asks for.
pub fn preview_mail_template(request: pb::PreviewMailTemplateRequest) -> TemplatePreview {
    let pb::PreviewMailTemplateRequest {
        kind,
        locale,
        subject,
        text,
        html,
    } = request;
    let proposed = !(subject.is_empty() && text.is_empty() && html.is_empty());
    TemplatePreview {
        kind,
        locale,
        parts: proposed.then_some(TemplateParts {
            subject,
            text,
            html,
        }),
    }
}

/// The mail a SendTestMail request sends.
pub fn send_test_mail(request: pb::SendTestMailRequest) -> Result<TestMail, ValidationError> {
    let pb::SendTestMailRequest { to, kind, locale } = request;
    let to = Email::parse("to", &to)?;
    Ok(TestMail { to, kind, locale })
}

impl From<TestMailOutcome> for pb::SendTestMailResponse {
    fn from(outcome: TestMailOutcome) -> Self {
        pb::SendTestMailResponse {
            delivered: outcome.delivered,
            transport: outcome.transport.to_owned(),
            reply: outcome.reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_can_be_read_from_a_request() {
        let request = pb::RuntimeSettings {
            auth: Some(pb::AuthPolicy {
                mfa_required: pb::MfaRequirement::Staff.into(),
                ..Default::default()
            }),
            mail: Some(pb::MailPolicy {
                transport: pb::MailTransport::Smtp.into(),
                smtp: Some(pb::SmtpServer {
                    tls: pb::SmtpTls::Tls.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        for setting in SETTINGS {
            assert!(
                requested_value(&request, setting).is_ok(),
                "{} is not read from requests",
                setting.key
            );
        }
    }

    #[test]
    fn a_section_path_names_every_setting_below_it() {
        let smtp: Vec<&str> = settings_under("mail.smtp").iter().map(|s| s.key).collect();
        assert_eq!(smtp.len(), 6);
        assert!(settings_under("mail.smt").is_empty());
        assert_eq!(settings_under("auth.mfa_required").len(), 1);
    }
}
