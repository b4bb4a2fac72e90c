//! Mailed codes and links: email verification codes, password reset and
//! set-password links, and the mails that carry them. Each is stored only
//! as a digest, and goes only to the mailbox it proves.

use std::time::Duration;

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::AppError;
use crate::crypto::{KeyPurpose, TokenKind, hash_secret, verification_code};
use crate::domain::{Timestamp, UserId};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{self, ConnectionTrait, users::UserRow};

/// How long an email verification code works.
pub const VERIFICATION_CODE_TTL: Duration = Duration::from_secs(10 * 60);

/// How many wrong guesses a verification code survives.
pub const VERIFICATION_CODE_MAX_ATTEMPTS: i32 = 5;

/// How long a password reset link works.
pub const PASSWORD_RESET_TTL: Duration = Duration::from_secs(60 * 60);

/// How long the link to set a first password works (a user created by
/// staff without one may not read their mail within the hour).
pub const SET_PASSWORD_TTL: Duration = Duration::from_secs(72 * 60 * 60);

/// Which single-use password link to mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordLink {
    /// "Reset your password", valid for [`PASSWORD_RESET_TTL`].
    Reset,
    /// "Set your password" for a new user, valid for [`SET_PASSWORD_TTL`].
    Set,
}

pub(crate) const EMAIL_VERIFICATION: &str = "email_verification";

pub(crate) const PASSWORD_RESET: &str = "password_reset";

impl App {
    pub(crate) async fn notify_sign_up_attempt(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        user: &UserRow,
    ) -> Result<(), AppError> {
        let context = [
            ("recipient_name", user.full_name.clone()),
            ("link", self.link("/password/forgot")),
        ];
        mail::enqueue_at(
            conn,
            self.now(),
            user_mail(MailKind::SignUpAttempt, user, context, []),
        )
        .await?;
        let change = Change::new("auth.sign_up_attempted", "user", user.id);
        record_at(conn, principal, self.now(), change).await?;
        Ok(())
    }

    /// Replaces a user's verification codes with a fresh one and mails it.
    pub(crate) async fn issue_verification_code(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<(), AppError> {
        let now = self.now();
        store::user_tokens::consume_all_for_user(
            conn,
            user.id,
            EMAIL_VERIFICATION,
            now.as_micros(),
        )
        .await?;
        let code = verification_code();
        let secret_hash =
            self.keyed_digest(KeyPurpose::VerificationCode, &code_input(user.id, &code));
        let row = token_row(
            user,
            EMAIL_VERIFICATION,
            secret_hash,
            now,
            VERIFICATION_CODE_TTL,
        );
        store::user_tokens::insert(conn, row).await?;
        let context = [
            ("recipient_name", user.full_name.clone()),
            (
                "expires_minutes",
                (VERIFICATION_CODE_TTL.as_secs() / 60).to_string(),
            ),
        ];
        let mail = user_mail(MailKind::VerificationCode, user, context, [("code", code)]);
        mail::enqueue_at(conn, self.now(), mail).await?;
        Ok(())
    }

    /// Mails `user` a single-use link to choose a password: a reset link, or
    /// a longer-lived welcome link for a user created without a password.
    /// Both are redeemed with ResetPassword.
    pub(crate) async fn issue_password_link(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        user: &UserRow,
        kind: PasswordLink,
    ) -> Result<(), AppError> {
        let token = TokenKind::PasswordReset.generate();
        let now = self.now();
        let (ttl, path, mail_kind, action) = match kind {
            PasswordLink::Reset => (
                PASSWORD_RESET_TTL,
                "/password/reset",
                MailKind::PasswordReset,
                "auth.password_reset_requested",
            ),
            PasswordLink::Set => (
                SET_PASSWORD_TTL,
                "/password/set",
                MailKind::SetPassword,
                "auth.set_password_sent",
            ),
        };
        let row = token_row(user, PASSWORD_RESET, hash_secret(&token), now, ttl);
        store::user_tokens::insert(conn, row).await?;
        let lifetime = match kind {
            PasswordLink::Reset => ("expires_minutes", (ttl.as_secs() / 60).to_string()),
            PasswordLink::Set => ("expires_hours", (ttl.as_secs() / 3600).to_string()),
        };
        let context = [("recipient_name", user.full_name.clone()), lifetime];
        let link = self.link(&format!("{path}?token={token}"));
        let mail = user_mail(mail_kind, user, context, [("link", link)]);
        mail::enqueue_at(conn, self.now(), mail).await?;
        record_at(
            conn,
            principal,
            self.now(),
            Change::new(action, "user", user.id),
        )
        .await?;
        Ok(())
    }
}

/// What a verification code's stored hash is made from: the user id and the
/// code, so equal codes of different users hash differently.
pub(crate) fn code_input(user_id: UserId, code: &str) -> String {
    format!("{user_id}:{code}")
}

/// A fresh, unused token of `user` for `purpose`, living `ttl` from `now`.
pub(crate) fn token_row(
    user: &UserRow,
    purpose: &str,
    secret_hash: String,
    now: Timestamp,
    ttl: Duration,
) -> store::user_tokens::UserTokenRow {
    store::user_tokens::UserTokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id,
        purpose: purpose.to_owned(),
        secret_hash,
        attempts: 0,
        created_at: now.as_micros(),
        expires_at: now.plus(ttl).as_micros(),
        consumed_at: None,
        account_id: None,
    }
}

/// A mail of `kind` to `user`, in their language.
pub(crate) fn user_mail<const C: usize, const S: usize>(
    kind: MailKind,
    user: &UserRow,
    context: [(&str, String); C],
    secrets: [(&str, String); S],
) -> OutgoingMail {
    OutgoingMail {
        kind,
        to: user.email.clone(),
        locale: user.locale.clone().unwrap_or_default(),
        account_id: None,
        context: context
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        secrets: secrets
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    }
}
