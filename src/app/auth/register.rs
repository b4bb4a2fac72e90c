//! Signing up and proving an email address.

use super::password::{DECOY_DIGEST, DECOY_TOKEN_ID, DECOY_USER_ID};
use super::*;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::*;
use crate::app::blocks::loads::load_user;
use crate::app::blocks::new_account::create_primary_account;
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::error::{AppError, Reason};
use crate::crypto::KeyPurpose;
use crate::domain::{Email, FieldViolation, UserId, UserStatus};
use crate::mail::MailKind;
use crate::store::{self, ConnectionTrait, users::UserRow};

impl App {
    /// Signs a person up. See the module docs for why a known email address
    /// gets the same answer.
    pub async fn register(&self, principal: &Principal, reg: Registration) -> Result<(), AppError> {
        // The operator's sign-up policy depends on nothing but the address's
        // domain, so refusing tells a caller nothing about who is registered.
        let settings = self.settings();
        let policy = &settings.values;
        if !policy.sign_up_open {
            return Err(AppError::FailedPrecondition(Reason::SignUpClosed));
        }
        if !policy.sign_up_accepts_domain(&reg.email.domain()) {
            return Err(AppError::FailedPrecondition(Reason::SignUpDomainRefused));
        }
        // Counted (and committed) before anything else, so every outcome,
        // a taken username included, counts against the address.
        let subjects = self.mail_subjects(principal, reg.email.as_str());
        self.reserve_attempt(&subjects).await?;
        // Hash first, whatever happens next, so both outcomes cost the same.
        let password_hash = self.hasher().hash(reg.password.expose()).await?;
        let txn = store::begin(self.db()).await?;
        // The username is checked before the email address: the other order
        // would tell whether an address is registered to anyone who pairs it
        // with a taken username.
        if store::users::find_by_username(&txn, &reg.username.normalized())
            .await?
            .is_some()
        {
            return Err(AppError::AlreadyExists(Reason::UsernameTaken));
        }
        if let Some(existing) = store::users::find_by_email(&txn, &reg.email.normalized()).await? {
            self.notify_sign_up_attempt(&txn, principal, &existing)
                .await?;
            self.commit(txn).await?;
            return Ok(());
        }
        let user_id = UserId::generate();
        let draft = UserDraft {
            email: reg.email.clone(),
            username: reg.username.clone(),
            full_name: reg.full_name.clone(),
            photo_url: None,
            locale: reg.locale,
            status: UserStatus::PendingVerification,
            password_hash: Some(password_hash),
            admin_role_id: None,
        };
        let user = match self
            .sign_up_user(&txn, principal, user_id, draft, None)
            .await
        {
            Ok(user) => user,
            // Another sign-up with this address committed first: answer as
            // for any known address.
            Err(AppError::AlreadyExists(Reason::EmailTaken)) => {
                drop(txn);
                return self.register_existing(principal, &reg.email).await;
            }
            Err(err) => return Err(err),
        };
        self.issue_verification_code(&txn, &user).await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// Creates a user who signs themselves up, with their primary account
    /// (named after the username) and both activity events, inside `txn`.
    /// `via` names the external provider they came through, if any.
    pub(super) async fn sign_up_user(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        user_id: UserId,
        draft: UserDraft,
        via: Option<&str>,
    ) -> Result<UserRow, AppError> {
        let user = insert_user_at(txn, user_id, draft, self.now()).await?;
        let account_id = create_primary_account(txn, principal, self.now(), &user).await?;
        let mut registered = Change::new("user.registered", "user", user_id)
            .account(account_id)
            .detail("username", &user.username);
        if let Some(provider) = via {
            registered = registered.detail("provider", provider);
        }
        record_at(txn, principal, self.now(), registered).await?;
        load_user(txn, user_id).await
    }

    pub(super) async fn register_existing(
        &self,
        principal: &Principal,
        email: &Email,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        if let Some(existing) = store::users::find_by_email(&txn, &email.normalized()).await? {
            self.notify_sign_up_attempt(&txn, principal, &existing)
                .await?;
        }
        self.commit(txn).await?;
        Ok(())
    }

    /// Checks a verification code; a user waiting for verification becomes
    /// active. Unknown addresses, wrong, expired and used-up codes all get
    /// the same answer, after the same queries and writes.
    ///
    /// Both the throttles and the code's own guess counter are taken with
    /// one atomic statement each before the code is compared, so however
    /// many guesses arrive at once, at most
    /// [`VERIFICATION_CODE_MAX_ATTEMPTS`] of them are ever evaluated.
    pub async fn verify_email(
        &self,
        principal: &Principal,
        email: &Email,
        code: &str,
    ) -> Result<(), AppError> {
        let subjects = self.typed_subjects("verify", principal, email.as_str());
        self.reserve_attempt(&subjects).await?;
        let invalid = || {
            AppError::from(FieldViolation::new(
                "code",
                Reason::VerificationCodeInvalid.message(),
            ))
        };
        let txn = store::begin(self.db()).await?;
        let now = self.now();
        let user = store::users::find_by_email(&txn, &email.normalized()).await?;
        // An unknown address runs the same statements against an id that
        // matches nothing, so it takes as long as a known one.
        let user_id = user.as_ref().map_or(DECOY_USER_ID, |user| user.id);
        let token = store::user_tokens::find_live_for_user(
            &txn,
            user_id,
            EMAIL_VERIFICATION,
            now.as_micros(),
        )
        .await?;
        let token_id = token
            .as_ref()
            .map_or(DECOY_TOKEN_ID, |token| token.id.as_str());
        let taken =
            store::user_tokens::take_attempt(&txn, token_id, VERIFICATION_CODE_MAX_ATTEMPTS)
                .await?;
        let stored = token
            .as_ref()
            .map_or(DECOY_DIGEST, |token| token.secret_hash.as_str());
        let matches = self.keyed_digest_matches(
            KeyPurpose::VerificationCode,
            &code_input(user_id, code),
            stored,
        );
        let verified = match (&user, &token, taken) {
            (Some(_), Some(token), Some(_)) if matches => {
                store::user_tokens::consume(&txn, &token.id, now.as_micros()).await?
            }
            _ => false,
        };
        let (Some(user), true) = (user.clone(), verified) else {
            let (target_type, target_id) = match &user {
                Some(user) => ("user", user.id.to_string()),
                None => ("identifier", subjects[0].key.clone()),
            };
            let change = Change::new("auth.verification_failed", target_type, &target_id)
                .detail(
                    "attempt",
                    taken.unwrap_or(VERIFICATION_CODE_MAX_ATTEMPTS + 1),
                )
                .detail("evaluated", taken.is_some());
            record_at(&txn, principal, self.now(), change).await?;
            self.commit(txn).await?;
            return Err(invalid());
        };
        let activated = store::users::mark_email_verified(&txn, user.id, now.as_micros()).await?;
        let change =
            Change::new("user.email_verified", "user", user.id).detail("activated", activated);
        record_at(&txn, principal, self.now(), change).await?;
        self.settle_success(&txn, &subjects[..1], &subjects[1..])
            .await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// Mails a fresh code to a user waiting for verification. Always OK.
    pub async fn resend_verification(
        &self,
        principal: &Principal,
        email: &Email,
    ) -> Result<(), AppError> {
        let subjects = self.mail_subjects(principal, email.as_str());
        self.reserve_attempt(&subjects).await?;
        let txn = store::begin(self.db()).await?;
        let user = store::users::find_by_email(&txn, &email.normalized()).await?;
        match &user {
            Some(user) if user.status == UserStatus::PendingVerification => {
                self.issue_verification_code(&txn, user).await?;
                record_at(
                    &txn,
                    principal,
                    self.now(),
                    Change::new("auth.verification_resent", "user", user.id),
                )
                .await?;
            }
            // The same statements for everyone else: retiring codes of an id
            // with none, and one activity event.
            _ => {
                let (target_type, target_id) = match &user {
                    Some(user) => ("user", user.id.to_string()),
                    None => ("identifier", subjects[0].key.clone()),
                };
                store::user_tokens::consume_all_for_user(
                    &txn,
                    DECOY_USER_ID,
                    EMAIL_VERIFICATION,
                    self.now().as_micros(),
                )
                .await?;
                self.decoy_mail_writes(&txn, EMAIL_VERIFICATION, MailKind::VerificationCode, email)
                    .await?;
                let change = Change::new("auth.verification_not_resent", target_type, target_id);
                record_at(&txn, principal, self.now(), change).await?;
            }
        }
        self.commit(txn).await?;
        Ok(())
    }
}
