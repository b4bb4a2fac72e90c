//! Mail: a transactional outbox, templates, transports and the delivery worker.
//!
//! A use case never sends mail. It writes an outbox row with [`enqueue_at`] in
//! the same transaction as the change that causes it, so a change that rolls
//! back leaves no mail, and a committed change always has its mail. The
//! [`worker`] claims due rows, renders, sends, and records the outcome,
//! retrying with exponential backoff. SMTP being down delays mail; it never
//! loses it and never fails the call that caused it.

pub mod templates;
pub mod transport;
pub mod worker;

use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use crate::domain::{AccountId, MailStatus, REDACTED, Timestamp};
use crate::store::{self, ConnectionTrait, StoreError, mails::MailRow};

/// What a mail is about; each kind has its own templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MailKind {
    /// A code that proves an email address.
    VerificationCode,
    /// An invitation to act for a client account.
    Invitation,
    /// A notice to the inviter that their invitation was accepted.
    InvitationAccepted,
    /// A link to choose a new password.
    PasswordReset,
    /// A link for a user created without a password to set one.
    SetPassword,
    /// A notice that the password was changed.
    PasswordChanged,
    /// A notice that a client account has a new owner.
    AccountOwnerChanged,
    /// A notice that someone tried to sign up with an address already registered.
    SignUpAttempt,
    /// A notice that two-factor authentication was turned on.
    MfaEnabled,
    /// A notice that the user turned two-factor authentication off.
    MfaDisabled,
    /// A notice that staff turned the user's two-factor authentication off.
    MfaReset,
    /// A notice that a backup code was used to sign in.
    BackupCodeUsed,
    /// A notice that new backup codes replaced the old ones.
    BackupCodesRegenerated,
    /// A warning that an inactive account will be deleted.
    AccountInactivityWarning,
}

/// How long mail of a kind is worth delivering late: a code or link until
/// it expires, a notice for a day. A mail that still fails to go out after
/// that is marked failed, not retried for ever.
const CODE_USEFUL: Duration = Duration::from_secs(10 * 60);
const RESET_LINK_USEFUL: Duration = Duration::from_secs(60 * 60);
const LINK_USEFUL: Duration = Duration::from_secs(72 * 60 * 60);
const NOTICE_USEFUL: Duration = Duration::from_secs(24 * 60 * 60);

impl MailKind {
    /// How long after it was queued the mail is still worth sending.
    pub fn useful_for(self) -> Duration {
        match self {
            MailKind::VerificationCode => CODE_USEFUL,
            MailKind::PasswordReset => RESET_LINK_USEFUL,
            MailKind::SetPassword | MailKind::Invitation => LINK_USEFUL,
            _ => NOTICE_USEFUL,
        }
    }

    /// Every kind.
    pub const ALL: [MailKind; 14] = [
        MailKind::VerificationCode,
        MailKind::Invitation,
        MailKind::InvitationAccepted,
        MailKind::PasswordReset,
        MailKind::SetPassword,
        MailKind::PasswordChanged,
        MailKind::AccountOwnerChanged,
        MailKind::SignUpAttempt,
        MailKind::MfaEnabled,
        MailKind::MfaDisabled,
        MailKind::MfaReset,
        MailKind::BackupCodeUsed,
        MailKind::BackupCodesRegenerated,
        MailKind::AccountInactivityWarning,
    ];

    /// The stored name, also the template file name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerificationCode => "verification_code",
            MailKind::Invitation => "invitation",
            MailKind::InvitationAccepted => "invitation_accepted",
            MailKind::PasswordReset => "password_reset",
            MailKind::SetPassword => "set_password",
            MailKind::PasswordChanged => "password_changed",
            MailKind::AccountOwnerChanged => "account_owner_changed",
            MailKind::SignUpAttempt => "sign_up_attempt",
            MailKind::MfaEnabled => "mfa_enabled",
            MailKind::MfaDisabled => "mfa_disabled",
            MailKind::MfaReset => "mfa_reset",
            MailKind::BackupCodeUsed => "backup_code_used",
            MailKind::BackupCodesRegenerated => "backup_codes_regenerated",
            MailKind::AccountInactivityWarning => "account_inactivity_warning",
        }
    }

    /// The kind with this stored name.
    pub fn from_str_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Values for every variable the built-in templates of this kind use, for
    /// checking templates when identityd starts.
    pub fn sample_context(self) -> BTreeMap<String, String> {
        let mut values = vec![
            ("recipient_name", "Ann Lee"),
            ("product_name", "identityd"),
            ("base_url", "https://example.com"),
        ];
        values.extend(match self {
            MailKind::VerificationCode => vec![("code", "123456"), ("expires_minutes", "10")],
            MailKind::Invitation => vec![
                ("inviter_name", "Ben Baker"),
                ("account_name", "Bakery Brot"),
                (
                    "link",
                    "https://example.com/invitations/accept?token=sample",
                ),
                ("expires_days", "7"),
            ],
            MailKind::InvitationAccepted => vec![
                ("account_name", "Bakery Brot"),
                ("member_name", "Dana Designer"),
                ("invited_email", "dana@example.com"),
            ],
            MailKind::PasswordReset => vec![
                ("link", "https://example.com/password/reset?token=sample"),
                ("expires_minutes", "60"),
            ],
            MailKind::SetPassword => vec![
                ("link", "https://example.com/password/set?token=sample"),
                ("expires_hours", "72"),
            ],
            MailKind::PasswordChanged => vec![("time", "2026-11-24 08:00 UTC")],
            MailKind::AccountOwnerChanged => vec![
                ("account_name", "Bakery Brot"),
                ("new_owner_name", "Dana Designer"),
                ("recipient_is_new_owner", ""),
                ("link", "https://example.com/accounts/sample"),
            ],
            MailKind::SignUpAttempt => vec![("link", "https://example.com/password/forgot")],
            MailKind::MfaEnabled
            | MailKind::MfaDisabled
            | MailKind::MfaReset
            | MailKind::BackupCodesRegenerated => vec![("time", "2026-11-24 08:00 UTC")],
            MailKind::BackupCodeUsed => {
                vec![("time", "2026-11-24 08:00 UTC"), ("remaining", "9")]
            }
            MailKind::AccountInactivityWarning => vec![
                ("account_name", "Bakery Brot"),
                ("delete_date", "2026-12-08"),
                ("link", "https://example.com/"),
            ],
        });
        values
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// A mail to put in the outbox. Its `Debug` names the secret template
/// values but never shows them.
#[derive(Clone)]
pub struct OutgoingMail {
    /// What it is about.
    pub kind: MailKind,
    /// The recipient's address.
    pub to: String,
    /// The recipient's locale, for the templates; empty for English.
    pub locale: String,
    /// The client account it concerns, if any.
    pub account_id: Option<AccountId>,
    /// Template values that may be kept after delivery.
    pub context: BTreeMap<String, String>,
    /// Template values that are secrets (codes, links with tokens): stored
    /// only until the mail is sent or given up, then erased.
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            kind,
            to,
            locale,
            account_id,
            context,
            secrets,
        } = self;
        let secrets: BTreeMap<&str, &str> =
            secrets.keys().map(|key| (key.as_str(), REDACTED)).collect();
        f.debug_struct("OutgoingMail")
            .field("kind", kind)
            .field("to", to)
            .field("locale", locale)
            .field("account_id", account_id)
            .field("context", context)
            .field("secrets", &secrets)
            .finish()
    }
}

/// Mails queued by this process since it started, logged with each one. A
/// process-wide counter, like a metrics registry's, because mail is queued
/// from inside use cases that have no worker at hand.
static QUEUED: AtomicU64 = AtomicU64::new(0);

/// Writes `mail` to the outbox on `conn`, which should be the transaction of
/// the change that causes it, as queued at `now` (the use case's time from
/// the app's clock; the worker sends it once its clock reaches that time).
/// Returns the mail's id.
pub async fn enqueue_at(
    conn: &impl ConnectionTrait,
    now: Timestamp,
    mail: OutgoingMail,
) -> Result<String, StoreError> {
    let kind = mail.kind;
    let row = outbox_row(now, mail);
    let id = row.id.clone();
    store::mails::insert(conn, row).await?;
    // Counted when written; a rolled-back transaction can make this count
    // run ahead of the outbox, which the sent/failed counters do not.
    let queued = QUEUED.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::info!(mail_id = %id, kind = kind.as_str(), queued_total = queued, "mail queued");
    Ok(id)
}

/// The outbox row of `mail`, queued at `now`: what [`enqueue_at`] writes.
pub fn outbox_row(now: Timestamp, mail: OutgoingMail) -> MailRow {
    let now = now.as_micros();
    let to_json =
        |map: &BTreeMap<String, String>| serde_json::to_string(map).unwrap_or_else(|_| "{}".into());
    MailRow {
        id: Uuid::now_v7().to_string(),
        kind: mail.kind.as_str().to_owned(),
        recipient: mail.to.clone(),
        recipient_normalized: mail.to.to_lowercase(),
        locale: mail.locale,
        account_id: mail.account_id,
        context: to_json(&mail.context),
        secret_context: Some(to_json(&mail.secrets)),
        status: MailStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        claimed_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_secret_values_but_never_shows_them() {
        let mail = OutgoingMail {
            kind: MailKind::Invitation,
            to: "ann@example.com".to_owned(),
            locale: String::new(),
            account_id: None,
            context: [("account_name".to_owned(), "Acme".to_owned())].into(),
            secrets: [(
                "link".to_owned(),
                "https://id.example/accept/idi_0123456789abcdef".to_owned(),
            )]
            .into(),
        };
        let shown = format!("{mail:?}");
        assert!(!shown.contains("idi_0123456789abcdef"), "{shown}");
        assert!(shown.contains(r#""link": "[redacted]""#), "{shown}");
        assert!(shown.contains("Acme"), "{shown}");
    }

    #[test]
    fn a_stored_mail_row_never_shows_its_secret_context() {
        let row = MailRow {
            id: "m1".to_owned(),
            kind: "verify_email".to_owned(),
            recipient: "ann@example.com".to_owned(),
            recipient_normalized: "ann@example.com".to_owned(),
            locale: String::new(),
            account_id: None,
            context: "{}".to_owned(),
            secret_context: Some(r#"{"code":"493817"}"#.to_owned()),
            status: MailStatus::Queued,
            attempts: 0,
            next_attempt_at: 0,
            claimed_until: None,
            last_error: None,
            created_at: 0,
            sent_at: None,
        };
        let shown = format!("{row:?}");
        assert!(!shown.contains("493817"), "{shown}");
        assert!(shown.contains("ann@example.com"), "{shown}");
    }
}
