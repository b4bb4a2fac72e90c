//! A user's own two-factor settings: enrolling a TOTP authenticator,
//! confirming it, turning it off, new backup codes, and the status.
//!
//! Each takes the calling session's user only: nobody enrols, confirms or
//! turns off a second factor for someone else (staff reset one with
//! `reset_user_mfa`).

use super::TOTP_ENROLLMENT_TTL;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::user_mail;
use crate::app::blocks::loads::load_user;
use crate::app::error::{AppError, Reason};
use crate::crypto::{TotpSecret, qr_svg};
use crate::domain::{AuthMethod, FieldViolation, Timestamp};
use crate::mail::{self, MailKind};
use crate::store::{self, ConnectionTrait, mfa::UserTotpRow, users::UserRow};

/// A started TOTP enrolment, shown once.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// The secret in base32.
    pub secret: String,
    /// The Key Uri Format URI.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_code_svg: String,
    /// When the unconfirmed secret is dropped.
    pub expires_at: Timestamp,
}

// Written out so the secret never reaches a log line.
impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A user's two-factor state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaStatus {
    /// When TOTP was turned on; `None` when off.
    pub enabled_at: Option<Timestamp>,
    /// Unused backup codes.
    pub backup_codes_left: u64,
    /// Whether the policy requires the user to have a second factor.
    pub required_by_policy: bool,
}

impl App {
    /// The calling session's user's two-factor state.
    pub async fn mfa_status(&self, principal: &Principal) -> Result<MfaStatus, AppError> {
        let (user_id, _) = principal.session_caller()?;
        let user = load_user(self.reader(), user_id).await?;
        Ok(MfaStatus {
            enabled_at: user.mfa_enabled_at.map(Timestamp::from_micros),
            backup_codes_left: self.backup_codes_left(self.reader(), user_id).await?,
            required_by_policy: self
                .auth_rules()
                .mfa_required
                .covers(user.admin_role_id.is_some()),
        })
    }

    /// Starts a TOTP enrolment for the calling session's user, replacing one
    /// that waits. Refused while one is confirmed (turn it off first).
    pub async fn start_totp_enrollment(
        &self,
        principal: &Principal,
    ) -> Result<TotpEnrollment, AppError> {
        let (user_id, _) = principal.session_caller()?;
        let secret = TotpSecret::generate();
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        let row = UserTotpRow {
            user_id,
            sealed_secret: self.seal_totp(&secret, user_id)?,
            created_at: now.as_micros(),
            confirmed_at: None,
            last_used_step: None,
        };
        if !store::mfa::start(&txn, row).await? {
            return Err(AppError::FailedPrecondition(Reason::MfaAlreadyEnabled));
        }
        record_at(
            &txn,
            principal,
            now,
            Change::new("user.mfa_enrollment_started", "user", user_id),
        )
        .await?;
        store::commit(txn).await?;
        let otpauth_uri = secret.otpauth_uri(&self.product_name(), &user.email);
        let qr_code_svg = qr_svg(&otpauth_uri).map_err(|err| AppError::corrupt(err.to_string()))?;
        Ok(TotpEnrollment {
            secret: secret.base32(),
            otpauth_uri,
            qr_code_svg,
            expires_at: now.plus(TOTP_ENROLLMENT_TTL),
        })
    }

    /// Turns TOTP on for the calling session's user with a first code from
    /// their app and their password (a stolen session token alone must not
    /// lock the user out behind the thief's authenticator); returns their
    /// backup codes, shown once. The session that confirmed counts as signed
    /// in with a second factor from now on.
    pub async fn confirm_totp_enrollment(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
    ) -> Result<Vec<String>, AppError> {
        let (user_id, session_id) = principal.session_caller()?;
        let subject = self.mfa_code_subject(user_id);
        let password_subject = self.password_check_subject(user_id);
        self.reserve_attempt(&[subject.clone(), password_subject.clone()])
            .await?;
        self.check_own_password(principal, user_id, password, "user.mfa_enrollment_failed")
            .await?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        let waiting = store::mfa::find(&txn, user_id)
            .await?
            .filter(|row| row.confirmed_at.is_none())
            .filter(|row| Timestamp::from_micros(row.created_at).plus(TOTP_ENROLLMENT_TTL) > now);
        let Some(row) = waiting else {
            return Err(match user.mfa_enabled_at {
                Some(_) => AppError::FailedPrecondition(Reason::MfaAlreadyEnabled),
                None => AppError::FailedPrecondition(Reason::MfaEnrollmentNotStarted),
            });
        };
        let secret = self.open_totp(&txn, &row).await?;
        let accepted = match self.totp_step(&secret, code, now) {
            Some(step) => store::mfa::use_step(&txn, user_id, step).await?,
            None => false,
        };
        if !accepted {
            drop(txn);
            return Err(self.wrong_code(principal, user_id, "code").await?);
        }
        store::mfa::confirm(&txn, user_id, now.as_micros()).await?;
        let codes = self.issue_backup_codes(&txn, &user).await?;
        store::sessions::add_auth_method(&txn, session_id, AuthMethod::Otp).await?;
        self.settle_success(&txn, &[subject, password_subject], &[])
            .await?;
        self.mail_mfa_notice(&txn, &user, MailKind::MfaEnabled, [])
            .await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("user.mfa_enabled", "user", user_id).detail("method", "totp"),
        )
        .await?;
        self.commit(txn).await?;
        Ok(codes)
    }

    /// Turns two-factor authentication off for the calling session's user,
    /// who proves it is them with their password and a current code.
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
    ) -> Result<(), AppError> {
        let (user_id, _) = principal.session_caller()?;
        let subject = self.mfa_code_subject(user_id);
        let password_subject = self.password_check_subject(user_id);
        self.reserve_attempt(&[subject.clone(), password_subject.clone()])
            .await?;
        let user = load_user(self.reader(), user_id).await?;
        if user.mfa_enabled_at.is_none() {
            return Err(AppError::FailedPrecondition(Reason::MfaNotEnabled));
        }
        self.check_own_password(principal, user_id, password, "user.mfa_disable_failed")
            .await?;
        let txn = store::begin(self.db()).await?;
        if self
            .spend_second_factor(&txn, &user, code, true)
            .await?
            .is_none()
        {
            drop(txn);
            return Err(self.wrong_code(principal, user_id, "code").await?);
        }
        let now = self.now();
        store::mfa::remove(&txn, user_id, now.as_micros()).await?;
        store::user_tokens::delete_for_user(&txn, user_id, super::BACKUP_CODE).await?;
        self.settle_success(&txn, &[subject, password_subject], &[])
            .await?;
        self.mail_mfa_notice(&txn, &user, MailKind::MfaDisabled, [])
            .await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("user.mfa_disabled", "user", user_id),
        )
        .await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// Replaces the calling session's user's backup codes after checking a
    /// current TOTP code (not a backup code: a lost list must not renew
    /// itself); returns the new codes, shown once.
    pub async fn regenerate_backup_codes(
        &self,
        principal: &Principal,
        code: &str,
    ) -> Result<Vec<String>, AppError> {
        let (user_id, _) = principal.session_caller()?;
        let subject = self.mfa_code_subject(user_id);
        self.reserve_attempt(std::slice::from_ref(&subject)).await?;
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        if user.mfa_enabled_at.is_none() {
            return Err(AppError::FailedPrecondition(Reason::MfaNotEnabled));
        }
        if self
            .spend_second_factor(&txn, &user, code, false)
            .await?
            .is_none()
        {
            drop(txn);
            return Err(self.wrong_code(principal, user_id, "code").await?);
        }
        let codes = self.issue_backup_codes(&txn, &user).await?;
        self.settle_success(&txn, std::slice::from_ref(&subject), &[])
            .await?;
        self.mail_mfa_notice(&txn, &user, MailKind::BackupCodesRegenerated, [])
            .await?;
        record_at(
            &txn,
            principal,
            self.now(),
            Change::new("user.backup_codes_regenerated", "user", user_id),
        )
        .await?;
        self.commit(txn).await?;
        Ok(codes)
    }

    /// Checks the calling user's own password (its attempt already
    /// reserved); a wrong one is recorded as `action` and refused on the
    /// `password` field.
    async fn check_own_password(
        &self,
        principal: &Principal,
        user_id: crate::domain::UserId,
        password: &str,
        action: &'static str,
    ) -> Result<(), AppError> {
        let user = load_user(self.reader(), user_id).await?;
        let matches = match &user.password_hash {
            Some(stored) => self.hasher().verify(password, stored).await?,
            None => self.hasher().verify_decoy(password).await?,
        };
        if matches {
            return Ok(());
        }
        let txn = store::begin(self.db()).await?;
        record_at(
            &txn,
            principal,
            self.now(),
            Change::new(action, "user", user_id).detail("reason", "wrong_password"),
        )
        .await?;
        store::commit(txn).await?;
        Err(FieldViolation::new("password", Reason::CurrentPasswordWrong.message()).into())
    }

    /// Records a wrong code (its attempt stays counted against the user)
    /// and returns the error for the field that carried it.
    pub(crate) async fn wrong_code(
        &self,
        principal: &Principal,
        user_id: crate::domain::UserId,
        field: &str,
    ) -> Result<AppError, AppError> {
        let txn = store::begin(self.db()).await?;
        record_at(
            &txn,
            principal,
            self.now(),
            Change::new("user.mfa_code_rejected", "user", user_id).detail("field", field),
        )
        .await?;
        store::commit(txn).await?;
        Ok(FieldViolation::new(field, Reason::MfaCodeInvalid.message()).into())
    }

    /// Mails `user` a two-factor notice of `kind` about now.
    pub(crate) async fn mail_mfa_notice<const C: usize>(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        kind: MailKind,
        extra: [(&str, String); C],
    ) -> Result<(), AppError> {
        let mut mail = user_mail(
            kind,
            user,
            [
                ("recipient_name", user.full_name.clone()),
                ("time", self.now().to_utc_minutes()),
            ],
            [],
        );
        mail.context
            .extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        mail::enqueue_at(conn, self.now(), mail).await?;
        Ok(())
    }
}
