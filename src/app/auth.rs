//! Proving who someone is: sign-up and email verification, sign-in,
//! password changes and resets.
//!
//! Public use cases answer the same way whether or not an email address or
//! identifier is known, and do the same expensive work either way (a
//! password hash for sign-up and sign-in), so neither answers nor timing
//! tell who has signed up.

use std::time::Duration;

use super::accounts::insert_account;
use super::activity::{Change, record_at};
use super::sessions::{Session, session_caller};
use super::throttle::{LoginTarget, Subject};
use super::users::{UserDraft, insert_user_at};
use super::{App, AppError, Caller, Principal, Reason};
use crate::crypto::{KeyPurpose, TokenKind, hash_secret, verification_code};
use crate::domain::{
    AccountId, AccountProfile, Email, FieldViolation, FullName, Locale, Password, PermissionSet,
    SessionId, Timestamp, UserId, UserStatus, Username,
};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{
    self, ConnectionTrait, DatabaseTransaction, sessions::SessionRow, users::UserRow,
};

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
pub(super) enum PasswordLink {
    /// "Reset your password", valid for [`PASSWORD_RESET_TTL`].
    Reset,
    /// "Set your password" for a new user, valid for [`SET_PASSWORD_TTL`].
    Set,
}

/// How long a device token proves that its client signed in before.
pub const DEVICE_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);

const EMAIL_VERIFICATION: &str = "email_verification";
const PASSWORD_RESET: &str = "password_reset";
const LOGIN_DEVICE: &str = "login_device";

/// A person signing themselves up: by registering, or by accepting an
/// invitation as a new user.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The person's full name.
    pub full_name: FullName,
    /// The username, also the primary account's name.
    pub username: Username,
    /// The email address to verify.
    pub email: Email,
    /// The password, already checked against the policy.
    pub password: Password,
    /// The language for mail.
    pub locale: Option<Locale>,
}

/// A sign-in attempt.
#[derive(Clone)]
pub struct LoginAttempt {
    /// An email address or username, as typed.
    pub identifier: String,
    /// The password, as typed.
    pub password: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// The device token an earlier sign-in gave this client, if any.
    pub device_token: Option<String>,
}

/// A new session.
#[derive(Clone)]
pub struct LoginOutcome {
    /// The bearer token, shown only now.
    pub token: String,
    /// The client's new device token, shown only now: sent with the next
    /// sign-in, it proves this client signed in before.
    pub device_token: String,
    /// The session.
    pub session: Session,
    /// Whether the user must choose one of several accounts.
    pub account_selection_required: bool,
}

// Written out so the password and tokens never reach a log line.
impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("identifier", &self.identifier)
            .field("password", &"<redacted>")
            .field("user_agent", &self.user_agent)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl std::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOutcome")
            .field("token", &"<redacted>")
            .field("device_token", &"<redacted>")
            .field("session", &self.session)
            .field(
                "account_selection_required",
                &self.account_selection_required,
            )
            .finish()
    }
}

impl App {
    /// Signs a person up. See the module docs for why a known email address
    /// gets the same answer.
    pub async fn register(&self, principal: &Principal, reg: Registration) -> Result<(), AppError> {
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
            store::commit(txn).await?;
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
        let user = match insert_user_at(&txn, user_id, draft, self.now()).await {
            Ok(user) => user,
            // Another sign-up with this address committed first: answer as
            // for any known address.
            Err(AppError::AlreadyExists(Reason::EmailTaken)) => {
                drop(txn);
                return self.register_existing(principal, &reg.email).await;
            }
            Err(err) => return Err(err),
        };
        let now = self.now().as_micros();
        let account_id = AccountId::generate();
        let profile = AccountProfile {
            display_name: reg.username.as_str().to_owned(),
            full_name: reg.full_name.as_str().to_owned(),
            company: String::new(),
            email: reg.email.clone(),
            address_line1: String::new(),
            address_line2: String::new(),
            city: String::new(),
            state: String::new(),
            postcode: String::new(),
            country: String::new(),
            phone: String::new(),
            tax_id: String::new(),
        };
        insert_account(&txn, account_id, user_id, profile, now).await?;
        let registered = Change::new("user.registered", "user", user_id)
            .account(account_id)
            .detail("username", &user.username);
        record_at(&txn, principal, self.now(), registered).await?;
        let account_created = Change::new("account.created", "account", account_id)
            .account(account_id)
            .detail("display_name", &user.username)
            .detail("owner_user_id", user_id)
            .detail("primary", true);
        record_at(&txn, principal, self.now(), account_created).await?;
        self.issue_verification_code(&txn, &user).await?;
        store::commit(txn).await?;
        Ok(())
    }

    async fn register_existing(
        &self,
        principal: &Principal,
        email: &Email,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        if let Some(existing) = store::users::find_by_email(&txn, &email.normalized()).await? {
            self.notify_sign_up_attempt(&txn, principal, &existing)
                .await?;
        }
        store::commit(txn).await?;
        Ok(())
    }

    pub(super) async fn notify_sign_up_attempt(
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
        let change = Change::new("auth.sign_up_attempted", "user", &user.id);
        record_at(conn, principal, self.now(), change).await?;
        Ok(())
    }

    /// Replaces a user's verification codes with a fresh one and mails it.
    pub(super) async fn issue_verification_code(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<(), AppError> {
        let now = self.now();
        store::user_tokens::consume_all_for_user(
            conn,
            &user.id,
            EMAIL_VERIFICATION,
            now.as_micros(),
        )
        .await?;
        let code = verification_code();
        let secret_hash =
            self.keyed_digest(KeyPurpose::VerificationCode, &code_input(&user.id, &code));
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
        let user_id = user.as_ref().map_or(DECOY_USER_ID, |user| user.id.as_str());
        let token = store::user_tokens::find_live_for_user(
            &txn,
            user_id,
            EMAIL_VERIFICATION,
            now.as_micros(),
        )
        .await?;
        let token_id = token
            .as_ref()
            .map_or(DECOY_USER_ID, |token| token.id.as_str());
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
                Some(user) => ("user", user.id.clone()),
                None => ("identifier", subjects[0].key.clone()),
            };
            let change = Change::new("auth.verification_failed", target_type, &target_id)
                .detail(
                    "attempt",
                    taken.unwrap_or(VERIFICATION_CODE_MAX_ATTEMPTS + 1),
                )
                .detail("evaluated", taken.is_some());
            record_at(&txn, principal, self.now(), change).await?;
            store::commit(txn).await?;
            return Err(invalid());
        };
        let activated = store::users::mark_email_verified(&txn, &user.id, now.as_micros()).await?;
        let change =
            Change::new("user.email_verified", "user", &user.id).detail("activated", activated);
        record_at(&txn, principal, self.now(), change).await?;
        self.settle_success(&txn, &subjects[..1], &subjects[1..])
            .await?;
        store::commit(txn).await?;
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
            Some(user) if user.status == UserStatus::PendingVerification.as_str() => {
                self.issue_verification_code(&txn, user).await?;
                record_at(
                    &txn,
                    principal,
                    self.now(),
                    Change::new("auth.verification_resent", "user", &user.id),
                )
                .await?;
            }
            // The same statements for everyone else: retiring codes of an id
            // with none, and one activity event.
            _ => {
                let (target_type, target_id) = match &user {
                    Some(user) => ("user", user.id.as_str()),
                    None => ("identifier", subjects[0].key.as_str()),
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
        store::commit(txn).await?;
        Ok(())
    }

    /// Signs a user in with a password. Unknown users, wrong passwords and
    /// users who may not sign in (suspended, unverified) get one answer,
    /// after the same work; every outcome is an activity event.
    ///
    /// Failures count per (user, client address) strictly, per user
    /// loosely and per address. A valid device token of the user (handed
    /// out by an earlier sign-in from this client) skips the user's and the
    /// address's limits, so nobody who only knows a victim's identifier can
    /// keep the victim out of a client they used before; the token has its
    /// own small failure limit instead, so a stolen one buys few guesses.
    pub async fn login(
        &self,
        principal: &Principal,
        attempt: LoginAttempt,
    ) -> Result<LoginOutcome, AppError> {
        let typed = attempt.identifier.trim().to_lowercase();
        let user = if typed.contains('@') {
            store::users::find_by_email(self.reader(), &typed).await?
        } else {
            store::users::find_by_username(self.reader(), &typed).await?
        };
        let target = match &user {
            Some(user) => LoginTarget::User(user.id.clone()),
            None => LoginTarget::Typed(self.typed_digest(&typed)),
        };
        let subjects = [
            self.login_pair_subject(&target, principal.client_ip),
            self.login_total_subject(&target),
        ];
        let address: Vec<Subject> = self
            .address_subject("login", principal.client_ip)
            .into_iter()
            .collect();
        let device = match (&user, &attempt.device_token) {
            (Some(user), Some(token)) => self.take_device_attempt(user, token).await?,
            _ => None,
        };
        // Without a device token the attempt is reserved against every
        // subject before the password is hashed: concurrent guesses queue on
        // the counters instead of all passing one early check.
        let delayed = match &device {
            Some(_) => Vec::new(),
            None => {
                let all: Vec<Subject> = subjects.iter().chain(&address).cloned().collect();
                self.reserve_attempt(&all).await?
            }
        };

        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let password_matches = match &stored_hash {
            Some(stored) => self.hasher().verify(&attempt.password, stored).await?,
            None => self.hasher().verify_decoy(&attempt.password).await?,
        };
        let refusal = match &user {
            None => Some("unknown_user"),
            Some(_) if !password_matches => Some("wrong_password"),
            Some(u) if u.status == UserStatus::Suspended.as_str() => Some("suspended"),
            Some(u) if u.status != UserStatus::Active.as_str() => Some("unverified"),
            Some(_) => None,
        };
        // An unknown identifier is recorded by its throttling key, which
        // holds a keyed hash of it, never what was typed.
        let (target_type, target_id) = match &user {
            Some(user) => ("user", user.id.clone()),
            None => ("identifier", subjects[1].key.clone()),
        };
        let (Some(user), None) = (user, refusal) else {
            let txn = store::begin(self.db()).await?;
            let mut delayed = delayed;
            if device.is_some() {
                // Reserved on the device token only: count it everywhere
                // else now, so the failure is still seen.
                let all: Vec<Subject> = subjects.iter().chain(&address).cloned().collect();
                delayed = self.count_failures(&txn, &all).await?;
            }
            let change = Change::new("auth.login_failed", target_type, &target_id)
                .detail("reason", refusal.unwrap_or("unknown"))
                .detail("device_token", device.is_some());
            record_at(&txn, principal, self.now(), change).await?;
            for delay in delayed {
                let action = if delay.locked {
                    "auth.login_locked"
                } else {
                    "auth.login_throttled"
                };
                let change = Change::new(action, target_type, &target_id)
                    .detail("subject", &delay.key)
                    .detail("failures", delay.failures)
                    .detail("delay_seconds", delay.delay.as_secs_f64().ceil());
                record_at(&txn, principal, self.now(), change).await?;
            }
            store::commit_additive(txn).await?;
            return Err(AppError::Unauthenticated(Reason::LoginFailed));
        };

        let rehashed = match &stored_hash {
            Some(stored) if self.hasher().needs_rehash(stored) => {
                Some(self.hasher().hash(&attempt.password).await?)
            }
            _ => None,
        };
        let txn = store::begin(self.db()).await?;
        let accounts = store::memberships::active_account_ids_for_user(&txn, &user.id, 2).await?;
        let bound_account = match accounts.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let (token, session) = self
            .start_session(&txn, &user, bound_account, principal, &attempt.user_agent)
            .await?;
        store::users::record_login(&txn, &user.id, session.created_at, rehashed.as_deref()).await?;
        let released: &[Subject] = if device.is_some() { &[] } else { &address };
        self.settle_success(&txn, &subjects, released).await?;
        // The device token is rotated on every sign-in (a copy taken before
        // stops working once the client signs in again).
        if let Some(used) = &device {
            store::user_tokens::consume(&txn, used, session.created_at).await?;
        }
        let device_token = self.issue_device_token(&txn, &user).await?;
        let actor = self.session_principal(principal, &user, &session)?;
        let mut change = Change::new("auth.login_succeeded", "session", &session.id)
            .detail("rehashed", rehashed.is_some())
            .detail("device_token", device.is_some());
        if let Some(account_id) = &session.account_id {
            change = change.account(account_id);
        }
        record_at(&txn, &actor, self.now(), change).await?;
        store::commit_additive(txn).await?;
        let current = SessionId::from_stored(&session.id);
        Ok(LoginOutcome {
            token,
            device_token,
            session: self.session_view(&session, current)?,
            account_selection_required: accounts.len() > 1,
        })
    }

    /// Takes one guess of `user`'s device token `token`, if it is theirs,
    /// live and has guesses left; returns its row id. Any other token is
    /// ignored, and the attempt is throttled like one without a token.
    async fn take_device_attempt(
        &self,
        user: &UserRow,
        token: &str,
    ) -> Result<Option<String>, AppError> {
        let now = self.now().as_micros();
        let row =
            store::user_tokens::find_by_hash(self.reader(), LOGIN_DEVICE, &hash_secret(token))
                .await?
                .filter(|row| {
                    row.user_id == user.id && row.consumed_at.is_none() && row.expires_at > now
                });
        let Some(row) = row else {
            return Ok(None);
        };
        let max =
            i32::try_from(self.auth_policy().per_user.free_failures.max(1)).unwrap_or(i32::MAX);
        let txn = store::begin(self.db()).await?;
        let taken = store::user_tokens::take_attempt(&txn, &row.id, max).await?;
        store::commit_additive(txn).await?;
        Ok(taken.map(|_| row.id))
    }

    /// A fresh device token for `user`, stored as a hash, shown only now.
    async fn issue_device_token(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<String, AppError> {
        let token = TokenKind::Device.generate();
        let row = token_row(
            user,
            LOGIN_DEVICE,
            hash_secret(&token),
            self.now(),
            DEVICE_TOKEN_TTL,
        );
        store::user_tokens::insert(conn, row).await?;
        Ok(token)
    }

    /// Inserts a session for `user` and returns its token, shown only once.
    async fn start_session(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        account_id: Option<String>,
        principal: &Principal,
        user_agent: &str,
    ) -> Result<(String, SessionRow), AppError> {
        let token = TokenKind::Session.generate();
        let now = self.now();
        let row = SessionRow {
            id: SessionId::generate().to_string(),
            token_hash: hash_secret(&token),
            user_id: user.id.clone(),
            account_id,
            client_ip: principal
                .client_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent: user_agent.chars().take(256).collect(),
            created_at: now.as_micros(),
            last_seen_at: now.as_micros(),
            absolute_expires_at: now
                .plus(self.auth_policy().session_absolute_timeout)
                .as_micros(),
            revoked_at: None,
            revoke_reason: None,
        };
        let row = store::sessions::insert(conn, row).await?;
        Ok((token, row))
    }

    /// The principal of a session just started, for its activity event.
    fn session_principal(
        &self,
        principal: &Principal,
        user: &UserRow,
        session: &SessionRow,
    ) -> Result<Principal, AppError> {
        let corrupt = || AppError::corrupt(format!("session {} ids", session.id));
        Ok(Principal {
            caller: Caller::User {
                user_id: UserId::from_stored(&user.id).ok_or_else(corrupt)?,
                session_id: SessionId::from_stored(&session.id).ok_or_else(corrupt)?,
                staff: user.admin_role_id.is_some(),
            },
            permissions: PermissionSet::none(),
            account: None,
            client_ip: principal.client_ip,
            request_id: principal.request_id.clone(),
        })
    }

    /// Replaces the caller's password after checking the current one, ends
    /// their other sessions and mails a notice. Wrong current passwords count
    /// as failed sign-ins.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), AppError> {
        let (user_id, session_id) = session_caller(principal)?;
        let user = store::users::find(self.reader(), &user_id.to_string())
            .await?
            .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
        let new_password = self.check_new_password("new_password", new_password, &user)?;
        let subjects = [self.password_check_subject(&user.id)];
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
            store::commit(txn).await?;
            return Err(FieldViolation::new(
                "current_password",
                Reason::CurrentPasswordWrong.message(),
            )
            .into());
        }
        let hash = self.hasher().hash(new_password.expose()).await?;
        let txn = store::begin(self.db()).await?;
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
        store::commit(txn).await?;
        Ok(())
    }

    /// Checks a new password against the policy, with the user's own details
    /// as the first guesses an attacker would make.
    fn check_new_password(
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
    async fn replace_password(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        hash: &str,
        keep: Option<SessionId>,
        why: &str,
        now: Timestamp,
    ) -> Result<u64, AppError> {
        store::users::set_password_hash(conn, &user.id, hash, now.as_micros()).await?;
        let keep = keep.map(|id| id.to_string());
        let ended = store::sessions::revoke_all_for_user(
            conn,
            &user.id,
            keep.as_deref(),
            now.as_micros(),
            why,
        )
        .await?;
        store::user_tokens::consume_all_for_user(conn, &user.id, PASSWORD_RESET, now.as_micros())
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
        let user_id = user.as_ref().map_or(DECOY_USER_ID, |user| user.id.as_str());
        let live =
            store::user_tokens::find_live_for_user(&txn, user_id, PASSWORD_RESET, now.as_micros())
                .await?;
        match &user {
            Some(user)
                if user.status != UserStatus::Suspended.as_str()
                    && !(over_limit && live.is_some()) =>
            {
                self.issue_password_reset(&txn, principal, user).await?;
            }
            // Every other request makes (and undoes) the same writes and is
            // recorded too: staff see who asks for what, and no path is
            // quicker than the one that mails.
            _ => {
                let (target_type, target_id) = match &user {
                    Some(user) => ("user", user.id.as_str()),
                    None => ("identifier", typed.key.as_str()),
                };
                self.decoy_mail_writes(&txn, PASSWORD_RESET, MailKind::PasswordReset, email)
                    .await?;
                let change = Change::new("auth.password_reset_not_sent", target_type, target_id)
                    .detail("over_limit", over_limit);
                record_at(&txn, principal, self.now(), change).await?;
            }
        }
        store::commit(txn).await?;
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
        let user = store::users::find(&txn, &user_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::UserNotFound))?;
        if user.status == UserStatus::Suspended.as_str() {
            return Err(AppError::FailedPrecondition(Reason::UserNotActive));
        }
        if user.password_hash.is_none() {
            self.issue_password_link(&txn, principal, &user, PasswordLink::Set)
                .await?;
        } else {
            self.issue_password_reset(&txn, principal, &user).await?;
        }
        store::commit(txn).await?;
        Ok(())
    }

    async fn issue_password_reset(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        user: &UserRow,
    ) -> Result<(), AppError> {
        self.issue_password_link(conn, principal, user, PasswordLink::Reset)
            .await
    }

    /// Mails `user` a single-use link to choose a password: a reset link, or
    /// a longer-lived welcome link for a user created without a password.
    /// Both are redeemed with ResetPassword.
    pub(super) async fn issue_password_link(
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
            Change::new(action, "user", &user.id),
        )
        .await?;
        Ok(())
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
            Some(row) => store::users::find(self.reader(), &row.user_id)
                .await?
                .filter(|user| user.status != UserStatus::Suspended.as_str()),
            None => None,
        };
        let (Some(row), Some(user)) = (row, user) else {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, &subjects).await?;
            store::commit(txn).await?;
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
        let activated = store::users::mark_email_verified(&txn, &user.id, now.as_micros()).await?;
        // The link proved the mailbox: forget the user's failed sign-ins from
        // everywhere, and retire device tokens a thief may have copied.
        let target = LoginTarget::User(user.id.clone());
        self.forgive(&txn, &self.login_total_subject(&target))
            .await?;
        store::throttles::clear_prefix(&txn, &self.login_pair_prefix(&target)).await?;
        store::user_tokens::consume_all_for_user(&txn, &user.id, LOGIN_DEVICE, now.as_micros())
            .await?;
        let change = Change::new("auth.password_reset", "user", &user.id)
            .detail("sessions_ended", ended)
            .detail("activated", activated);
        record_at(&txn, principal, self.now(), change).await?;
        store::commit(txn).await?;
        Ok(())
    }

    /// The writes of mailing `email` a one-time secret for `purpose`, made
    /// inside a savepoint and undone, for requests that mail nothing: the
    /// same inserts as the path that mails, so the answer's timing does not
    /// say whether the address belongs to anyone.
    async fn decoy_mail_writes(
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

    /// Throttling subjects for a request that mails an address.
    fn mail_subjects(&self, principal: &Principal, email: &str) -> Vec<Subject> {
        self.typed_subjects("mail", principal, email)
    }
}

/// A user id no user has: unknown addresses run the same queries with it.
const DECOY_USER_ID: &str = "00000000-0000-0000-0000-000000000000";
/// A stored digest no code has: unknown addresses compare against it.
const DECOY_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a verification code's stored hash is made from: the user id and the
/// code, so equal codes of different users hash differently.
fn code_input(user_id: &str, code: &str) -> String {
    format!("{user_id}:{code}")
}

/// A fresh, unused token of `user` for `purpose`, living `ttl` from `now`.
fn token_row(
    user: &UserRow,
    purpose: &str,
    secret_hash: String,
    now: Timestamp,
    ttl: Duration,
) -> store::user_tokens::UserTokenRow {
    store::user_tokens::UserTokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.clone(),
        purpose: purpose.to_owned(),
        secret_hash,
        attempts: 0,
        created_at: now.as_micros(),
        expires_at: now.plus(ttl).as_micros(),
        consumed_at: None,
    }
}

/// A mail of `kind` to `user`, in their language.
pub(super) fn user_mail<const C: usize, const S: usize>(
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
