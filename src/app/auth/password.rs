//! Changing, resetting and setting passwords.

use super::LOGIN_DEVICE;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::*;
use crate::app::blocks::loads::load_user;
use crate::app::blocks::throttle::{LoginTarget, Subject};
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{Email, FieldViolation, Password, SessionId, Timestamp, UserId, UserStatus};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{self, ConnectionTrait, DatabaseTransaction, users::UserRow};

/// A user id no user has: unknown addresses run the same queries with it.
pub(super) const DECOY_USER_ID: UserId = UserId::NOBODY;

/// A token id no token has, for the same reason.
pub(super) const DECOY_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000000";

/// A stored digest no code has: unknown addresses compare against it.
pub(super) const DECOY_DIGEST: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

impl App {
    /// Replaces the caller's password after checking the current one, ends
    /// their other sessions and mails a notice. Wrong current passwords count
    /// as failed sign-ins. A user with two-factor authentication also gives
    /// a current code (`mfa_code`): a session left open on a shared computer
    /// is not enough to take the account over.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
        mfa_code: &str,
    ) -> Result<(), AppError> {
        let (user_id, session_id) = principal.session_caller()?;
        let user = store::users::find(self.reader(), user_id)
            .await?
            .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
        let new_password = self.check_new_password("new_password", new_password, &user)?;
        let subjects = [self.password_check_subject(user.id)];
        self.reserve_attempt(&subjects).await?;
        let matches = match &user.password_hash {
            Some(stored) => self.hasher().verify(current_password, stored).await?,
            None => self.hasher().verify_decoy(current_password).await?,
        };
        if !matches {
            let txn = store::begin(self.db()).await?;
            record_at(
                &txn,
                principal,
                self.now(),
                Change::new("auth.password_change_failed", "user", user_id),
            )
            .await?;
            self.commit(txn).await?;
            return Err(FieldViolation::new(
                "current_password",
                Reason::CurrentPasswordWrong.message(),
            )
            .into());
        }
        let mfa_subject = self.mfa_code_subject(user.id);
        if user.mfa_enabled_at.is_some() {
            if mfa_code.trim().is_empty() {
                return Err(
                    FieldViolation::new("mfa_code", Reason::MfaCodeRequired.message()).into(),
                );
            }
            self.reserve_attempt(std::slice::from_ref(&mfa_subject))
                .await?;
        }
        let hash = self.hasher().hash(new_password.expose()).await?;
        let txn = store::begin(self.db()).await?;
        if user.mfa_enabled_at.is_some() {
            if self
                .spend_second_factor(&txn, &user, mfa_code, true)
                .await?
                .is_none()
            {
                drop(txn);
                return Err(self.wrong_code(principal, user.id, "mfa_code").await?);
            }
            self.settle_success(&txn, std::slice::from_ref(&mfa_subject), &[])
                .await?;
        }
        let now = self.now();
        let ended = self
            .replace_password(
                &txn,
                &user,
                &hash,
                Some(session_id),
                "password_changed",
                now,
            )
            .await?;
        self.settle_success(&txn, &subjects, &[]).await?;
        let change =
            Change::new("user.password_changed", "user", user_id).detail("sessions_ended", ended);
        record_at(&txn, principal, self.now(), change).await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// Checks a new password against the policy, with the user's own details
    /// as the first guesses an attacker would make.
    pub(super) fn check_new_password(
        &self,
        field: &str,
        password: &str,
        user: &UserRow,
    ) -> Result<Password, AppError> {
        let hints = [
            user.full_name.as_str(),
            user.username.as_str(),
            user.email.as_str(),
        ];
        Ok(Password::parse(
            field,
            password,
            self.password_min_chars(),
            &hints,
        )?)
    }

    /// Stores a new password hash, ends the user's sessions but `keep`,
    /// retires their reset links and, when it replaces a password, mails a
    /// notice (a first password changes nothing the user should worry
    /// about). Returns how many sessions ended.
    pub(super) async fn replace_password(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        hash: &str,
        keep: Option<SessionId>,
        why: &str,
        now: Timestamp,
    ) -> Result<u64, AppError> {
        store::users::set_password_hash(conn, user.id, hash, now.as_micros()).await?;
        let ended =
            store::sessions::revoke_all_for_user(conn, user.id, keep, now.as_micros(), why).await?;
        store::user_tokens::consume_all_for_user(conn, user.id, PASSWORD_RESET, now.as_micros())
            .await?;
        if user.password_hash.is_some() {
            let context = [
                ("recipient_name", user.full_name.clone()),
                ("time", now.to_utc_minutes()),
            ];
            mail::enqueue_at(
                conn,
                self.now(),
                user_mail(MailKind::PasswordChanged, user, context, []),
            )
            .await?;
        }
        Ok(ended)
    }

    /// Mails a reset link to the user with this address, if there is one who
    /// may sign in. Always OK.
    ///
    /// Past the per-address mail limit the answer is still OK, and a new
    /// link goes out only when the user has no live one: a stranger who
    /// floods requests neither fills the mailbox nor keeps the user from
    /// getting a working link.
    pub async fn request_password_reset(
        &self,
        principal: &Principal,
        email: &Email,
    ) -> Result<(), AppError> {
        let subjects = self.mail_subjects(principal, email.as_str());
        let [typed, rest @ ..] = subjects.as_slice() else {
            return Err(AppError::corrupt(
                "no throttling subject for a typed address",
            ));
        };
        // The caller's own address being throttled says nothing about the
        // user, so that one is answered as such.
        self.reserve_attempt(rest).await?;
        let over_limit = match self.reserve_attempt(std::slice::from_ref(typed)).await {
            Ok(_) => false,
            Err(AppError::Throttled(_)) => true,
            Err(err) => return Err(err),
        };
        let txn = store::begin(self.db()).await?;
        let now = self.now();
        let user = store::users::find_by_email(&txn, &email.normalized()).await?;
        let user_id = user.as_ref().map_or(DECOY_USER_ID, |user| user.id);
        let live =
            store::user_tokens::find_live_for_user(&txn, user_id, PASSWORD_RESET, now.as_micros())
                .await?;
        match &user {
            Some(user)
                if user.status != UserStatus::Suspended && !(over_limit && live.is_some()) =>
            {
                self.issue_password_reset(&txn, principal, user).await?;
            }
            // Every other request makes (and undoes) the same writes and is
            // recorded too: staff see who asks for what, and no path is
            // quicker than the one that mails.
            _ => {
                let (target_type, target_id) = match &user {
                    Some(user) => ("user", user.id.to_string()),
                    None => ("identifier", typed.key.clone()),
                };
                self.decoy_mail_writes(&txn, PASSWORD_RESET, MailKind::PasswordReset, email)
                    .await?;
                let change = Change::new("auth.password_reset_not_sent", target_type, target_id)
                    .detail("over_limit", over_limit);
                record_at(&txn, principal, self.now(), change).await?;
            }
        }
        self.commit(txn).await?;
        Ok(())
    }

    /// Mails a user a reset link on staff's behalf; a user who never had a
    /// password gets the link to set a first one instead, as from CreateUser.
    pub async fn send_password_reset(
        &self,
        principal: &Principal,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        if user.status == UserStatus::Suspended {
            return Err(AppError::FailedPrecondition(Reason::UserNotActive));
        }
        if user.password_hash.is_none() {
            self.issue_password_link(&txn, principal, &user, PasswordLink::Set)
                .await?;
        } else {
            self.issue_password_reset(&txn, principal, &user).await?;
        }
        self.commit(txn).await?;
        Ok(())
    }

    pub(super) async fn issue_password_reset(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        user: &UserRow,
    ) -> Result<(), AppError> {
        self.issue_password_link(conn, principal, user, PasswordLink::Reset)
            .await
    }

    /// Sets a new password with a reset link's token. The token works once;
    /// the user's other reset links and every session end. The link proved
    /// the mailbox, so an unverified address counts as verified.
    pub async fn reset_password(
        &self,
        principal: &Principal,
        token: &str,
        new_password: &str,
    ) -> Result<(), AppError> {
        let subjects: Vec<Subject> = self
            .address_subject("reset", principal.client_ip)
            .into_iter()
            .collect();
        self.ensure_not_throttled(&subjects).await?;
        let now = self.now();
        let row = if TokenKind::PasswordReset.fits(token) {
            store::user_tokens::find_by_hash(self.reader(), PASSWORD_RESET, &hash_secret(token))
                .await?
                .filter(|row| row.consumed_at.is_none() && row.expires_at > now.as_micros())
        } else {
            None
        };
        let user = match &row {
            Some(row) => store::users::find(self.reader(), row.user_id)
                .await?
                .filter(|user| user.status != UserStatus::Suspended),
            None => None,
        };
        let (Some(row), Some(user)) = (row, user) else {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, &subjects).await?;
            self.commit(txn).await?;
            return Err(FieldViolation::new("token", Reason::ResetTokenInvalid.message()).into());
        };
        let new_password = self.check_new_password("new_password", new_password, &user)?;
        let hash = self.hasher().hash(new_password.expose()).await?;
        let txn = store::begin(self.db()).await?;
        let now = self.now();
        // Consuming is the atomic step: of two concurrent resets with one
        // token, exactly one gets here with `true`.
        if !store::user_tokens::consume(&txn, &row.id, now.as_micros()).await? {
            return Err(FieldViolation::new("token", Reason::ResetTokenInvalid.message()).into());
        }
        let ended = self
            .replace_password(&txn, &user, &hash, None, "password_reset", now)
            .await?;
        let activated = store::users::mark_email_verified(&txn, user.id, now.as_micros()).await?;
        // The link proved the mailbox: forget the user's failed sign-ins from
        // everywhere, and retire device tokens a thief may have copied.
        let target = LoginTarget::User(user.id);
        self.forgive(&txn, &self.login_total_subject(&target))
            .await?;
        store::throttles::clear_prefix(&txn, &self.login_pair_prefix(&target)).await?;
        store::user_tokens::consume_all_for_user(&txn, user.id, LOGIN_DEVICE, now.as_micros())
            .await?;
        let change = Change::new("auth.password_reset", "user", user.id)
            .detail("sessions_ended", ended)
            .detail("activated", activated);
        record_at(&txn, principal, self.now(), change).await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// The writes of mailing `email` a one-time secret for `purpose`, made
    /// inside a savepoint and undone, for requests that mail nothing: the
    /// same inserts as the path that mails, so the answer's timing does not
    /// say whether the address belongs to anyone.
    pub(super) async fn decoy_mail_writes(
        &self,
        txn: &DatabaseTransaction,
        purpose: &str,
        kind: MailKind,
        email: &Email,
    ) -> Result<(), AppError> {
        let Some(stand_in) = store::user_tokens::stand_in_user_id(txn).await? else {
            return Ok(());
        };
        let now = self.now();
        let secret = TokenKind::PasswordReset.generate();
        let token = store::user_tokens::UserTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: stand_in,
            purpose: purpose.to_owned(),
            secret_hash: hash_secret(&secret),
            attempts: 0,
            created_at: now.as_micros(),
            expires_at: now.as_micros(),
            consumed_at: Some(now.as_micros()),
            account_id: None,
        };
        let mail = mail::outbox_row(
            now,
            OutgoingMail {
                kind,
                to: email.as_str().to_owned(),
                locale: String::new(),
                account_id: None,
                context: [
                    ("recipient_name".to_owned(), email.as_str().to_owned()),
                    ("expires_minutes".to_owned(), "60".to_owned()),
                ]
                .into(),
                secrets: [(
                    "link".to_owned(),
                    self.link(&format!("/password/reset?token={secret}")),
                )]
                .into(),
            },
        );
        store::user_tokens::insert_and_undo(txn, token, mail).await?;
        Ok(())
    }
}
