//! The second step of signing in: a user with two-factor authentication
//! who passed the password step gets a challenge, not a session, and
//! answers it with a TOTP code or a backup code.
//!
//! A challenge is a `user_tokens` row (purpose `mfa_challenge`): its token,
//! shown once, is stored as a SHA-256 hash; it works once, for
//! [`MFA_CHALLENGE_TTL`], and dies after [`MFA_CHALLENGE_MAX_ATTEMPTS`]
//! wrong codes. Wrong codes also count against the user (however many
//! challenges an attacker holding the password opens), throttled like
//! wrong passwords.

use std::time::Duration;

use super::{LOGIN_DEVICE, SecondFactorDue, SignInDetails};
use super::{MfaChallenge, SignedIn};
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::token_row;
use crate::app::blocks::loads::{load_user, may_act_for};
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{AuthMethod, AuthMethods, UserStatus};
use crate::mail::MailKind;
use crate::store::{self, DatabaseTransaction, users::UserRow};

/// How long a sign-in challenge waits for its second factor.
pub const MFA_CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);

/// Wrong codes a challenge takes before it stops working.
pub const MFA_CHALLENGE_MAX_ATTEMPTS: i32 = 5;

/// The `user_tokens` purpose of a challenge, by the first factor it
/// continues: the purpose tells CompleteLogin which first factor passed.
const CHALLENGE_PURPOSES: [(AuthMethod, &str); 3] = [
    (AuthMethod::Password, "mfa_challenge"),
    (AuthMethod::Sso, "sso_mfa_challenge"),
    (AuthMethod::External, "external_mfa_challenge"),
];

/// The answer to a sign-in challenge.
#[derive(Clone)]
pub struct SecondStep {
    /// The challenge's token.
    pub challenge_token: String,
    /// A TOTP code or a backup code.
    pub code: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// The device token sent with the password step, if any.
    pub device_token: Option<String>,
}

// Written out so the tokens and the code never reach a log line.
impl std::fmt::Debug for SecondStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondStep")
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl App {
    /// After a first factor of a user with a second one (a right password,
    /// a redeemed SSO token), inside `txn`: forgives the first factor's
    /// failures, stores a new password hash if one was made, and opens a
    /// challenge. A device token the client sent stays valid until the
    /// sign-in completes.
    pub(super) async fn challenge_second_factor(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        user: &UserRow,
        due: SecondFactorDue<'_>,
    ) -> Result<MfaChallenge, AppError> {
        let now = self.now();
        let token = TokenKind::MfaChallenge.generate();
        self.settle_success(txn, due.forgiven, due.released).await?;
        if let Some(hash) = &due.rehashed {
            store::users::set_password_hash(txn, user.id, hash, now.as_micros()).await?;
        }
        let purpose = CHALLENGE_PURPOSES
            .iter()
            .find(|(first, _)| *first == due.first)
            .map_or(CHALLENGE_PURPOSES[0].1, |(_, purpose)| purpose);
        let mut row = token_row(user, purpose, hash_secret(&token), now, MFA_CHALLENGE_TTL);
        row.account_id = due.account;
        store::user_tokens::insert(txn, row).await?;
        let backup_codes_left = self.backup_codes_left(txn, user.id).await?;
        record_at(
            txn,
            principal,
            now,
            Change::new("auth.mfa_challenged", "user", user.id)
                .detail("first_factor", due.first.as_str())
                .detail("rehashed", due.rehashed.is_some()),
        )
        .await?;
        let mut methods = vec!["totp"];
        if backup_codes_left > 0 {
            methods.push("backup_code");
        }
        Ok(MfaChallenge {
            token,
            expires_at: now.plus(MFA_CHALLENGE_TTL),
            methods,
        })
    }

    /// Answers a sign-in challenge with a TOTP code or a backup code and
    /// starts the session. An unknown, used, expired or dead challenge, and
    /// one whose user was suspended meanwhile, get one answer; so does
    /// every wrong code.
    pub async fn complete_login(
        &self,
        principal: &Principal,
        step: SecondStep,
    ) -> Result<SignedIn, AppError> {
        let invalid = || AppError::Unauthenticated(Reason::MfaChallengeInvalid);
        if !TokenKind::MfaChallenge.fits(&step.challenge_token) {
            return Err(invalid());
        }
        let now = self.now();
        let hash = hash_secret(&step.challenge_token);
        let mut found = None;
        for (first, purpose) in CHALLENGE_PURPOSES {
            if let Some(row) =
                store::user_tokens::find_by_hash(self.reader(), purpose, &hash).await?
            {
                found = Some((first, row));
                break;
            }
        }
        let (first, challenge) = found
            .filter(|(_, row)| row.consumed_at.is_none() && row.expires_at > now.as_micros())
            .ok_or_else(invalid)?;
        let user = load_user(self.reader(), challenge.user_id).await?;
        if user.status != UserStatus::Active || user.mfa_enabled_at.is_none() {
            return Err(invalid());
        }
        let subject = self.mfa_code_subject(user.id);
        self.reserve_attempt(std::slice::from_ref(&subject)).await?;
        let txn = store::begin(self.db()).await?;
        let taken =
            store::user_tokens::take_attempt(&txn, &challenge.id, MFA_CHALLENGE_MAX_ATTEMPTS)
                .await?;
        store::commit(txn).await?;
        if taken.is_none() {
            return Err(invalid());
        }

        let txn = store::begin(self.db()).await?;
        let Some(spent) = self
            .spend_second_factor(&txn, &user, &step.code, true)
            .await?
        else {
            drop(txn);
            let txn = store::begin(self.db()).await?;
            record_at(
                &txn,
                principal,
                self.now(),
                Change::new("auth.mfa_failed", "user", user.id),
            )
            .await?;
            store::commit(txn).await?;
            return Err(AppError::Unauthenticated(Reason::MfaCodeInvalid));
        };
        // Two answers racing for one challenge: the first to commit wins.
        if !store::user_tokens::consume(&txn, &challenge.id, now.as_micros()).await? {
            return Err(invalid());
        }
        self.settle_success(&txn, std::slice::from_ref(&subject), &[])
            .await?;
        let used_device = match &step.device_token {
            Some(token) => {
                store::user_tokens::find_by_hash(&txn, LOGIN_DEVICE, &hash_secret(token))
                    .await?
                    .filter(|row| {
                        row.user_id == user.id
                            && row.consumed_at.is_none()
                            && row.expires_at > now.as_micros()
                    })
                    .map(|row| row.id)
            }
            None => None,
        };
        // An account named by the SSO token must still be the user's.
        if let Some(account_id) = challenge.account_id
            && !may_act_for(&txn, user.id, account_id).await?
        {
            return Err(invalid());
        }
        let how = SignInDetails {
            methods: AuthMethods::of([first, spent.method]),
            user_agent: &step.user_agent,
            used_device: used_device.as_deref(),
            rehashed: None,
            account: challenge.account_id,
            device_token: first == AuthMethod::Password,
        };
        let signed_in = self.finish_sign_in(&txn, principal, &user, how).await?;
        if spent.method == AuthMethod::BackupCode {
            self.mail_mfa_notice(
                &txn,
                &user,
                MailKind::BackupCodeUsed,
                [("remaining", spent.backup_codes_left.to_string())],
            )
            .await?;
            record_at(
                &txn,
                principal,
                self.now(),
                Change::new("user.backup_code_used", "user", user.id)
                    .detail("remaining", spent.backup_codes_left),
            )
            .await?;
        }
        store::commit(txn).await?;
        Ok(signed_in)
    }
}
