//! Signing in: the password step, device tokens and the new session.

use std::time::Duration;

use super::*;
use crate::app::App;
use crate::app::authn::{Caller, Principal};
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::*;
use crate::app::blocks::throttle::{LoginTarget, Subject};
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{AccountId, AuthMethod, AuthMethods, PermissionSet, SessionId, UserStatus};
use crate::store::{self, ConnectionTrait, sessions::SessionRow, users::UserRow};

/// How long a device token proves that its client signed in before.
pub const DEVICE_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);

impl App {
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
            Some(user) => LoginTarget::User(user.id),
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
            Some(u) if u.status == UserStatus::Suspended => Some("suspended"),
            Some(u) if u.status != UserStatus::Active => Some("unverified"),
            Some(_) => None,
        };
        // An unknown identifier is recorded by its throttling key, which
        // holds a keyed hash of it, never what was typed.
        let (target_type, target_id) = match &user {
            Some(user) => ("user", user.id.to_string()),
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
            store::commit(txn).await?;
            return Err(AppError::Unauthenticated(Reason::LoginFailed));
        };

        let rehashed = match &stored_hash {
            Some(stored) if self.hasher().needs_rehash(stored) => {
                Some(self.hasher().hash(&attempt.password).await?)
            }
            _ => None,
        };
        let released: &[Subject] = if device.is_some() { &[] } else { &address };
        if user.mfa_enabled_at.is_some() {
            let due = SecondFactorDue {
                first: AuthMethod::Password,
                account: None,
                forgiven: &subjects,
                released,
                rehashed,
            };
            let txn = store::begin(self.db()).await?;
            let challenge = self
                .challenge_second_factor(&txn, principal, &user, due)
                .await?;
            // Sign-in bookkeeping only: nothing a token authenticates as changed.
            store::commit(txn).await?;
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let txn = store::begin(self.db()).await?;
        self.settle_success(&txn, &subjects, released).await?;
        let how = SignInDetails {
            methods: AuthMethods::of([AuthMethod::Password]),
            user_agent: &attempt.user_agent,
            used_device: device.as_deref(),
            rehashed: rehashed.as_deref(),
            account: None,
            device_token: true,
        };
        let signed_in = self.finish_sign_in(&txn, principal, &user, how).await?;
        store::commit(txn).await?;
        Ok(LoginOutcome::SignedIn(signed_in))
    }

    /// Starts the session of a sign-in whose every step passed, inside
    /// `txn`: bound to the user's account if they have exactly one, the
    /// user's last sign-in and any new password hash stored, the device
    /// token used (if any) retired and a new one issued, and the success
    /// recorded as the new session's first act.
    pub(super) async fn finish_sign_in(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        user: &UserRow,
        how: SignInDetails<'_>,
    ) -> Result<SignedIn, AppError> {
        let accounts = store::memberships::active_account_ids_for_user(txn, user.id, 2).await?;
        let bound_account = match (how.account, accounts.as_slice()) {
            (Some(named), _) => Some(named),
            (None, [only]) => Some(*only),
            (None, _) => None,
        };
        let (token, session) = self
            .start_session(
                txn,
                user,
                bound_account,
                principal,
                how.user_agent,
                &how.methods,
            )
            .await?;
        store::users::record_login(txn, user.id, session.created_at, how.rehashed).await?;
        // The device token is rotated on every sign-in (a copy taken before
        // stops working once the client signs in again).
        if let Some(used) = how.used_device {
            store::user_tokens::consume(txn, used, session.created_at).await?;
        }
        let device_token = if how.device_token {
            self.issue_device_token(txn, user).await?
        } else {
            String::new()
        };
        let actor = self.session_principal(principal, user, &session);
        let mut change = Change::new("auth.login_succeeded", "session", session.id)
            .detail("rehashed", how.rehashed.is_some())
            .detail("device_token", how.used_device.is_some())
            .detail("methods", &how.methods);
        if let Some(account_id) = session.account_id {
            change = change.account(account_id);
        }
        record_at(txn, &actor, self.now(), change).await?;
        Ok(SignedIn {
            token,
            device_token,
            session: self.authn.session_view(&session, Some(session.id)),
            account_selection_required: bound_account.is_none() && accounts.len() > 1,
        })
    }

    /// Takes one guess of `user`'s device token `token`, if it is theirs,
    /// live and has guesses left; returns its row id. Any other token is
    /// ignored, and the attempt is throttled like one without a token.
    pub(super) async fn take_device_attempt(
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
            i32::try_from(self.auth_rules().per_user.free_failures.max(1)).unwrap_or(i32::MAX);
        let txn = store::begin(self.db()).await?;
        let taken = store::user_tokens::take_attempt(&txn, &row.id, max).await?;
        store::commit(txn).await?;
        Ok(taken.map(|_| row.id))
    }

    /// A fresh device token for `user`, stored as a hash, shown only now.
    pub(super) async fn issue_device_token(
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
    pub(super) async fn start_session(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        account_id: Option<AccountId>,
        principal: &Principal,
        user_agent: &str,
        methods: &AuthMethods,
    ) -> Result<(String, SessionRow), AppError> {
        let token = TokenKind::Session.generate();
        let now = self.now();
        let row = SessionRow {
            id: SessionId::generate(),
            token_hash: hash_secret(&token),
            user_id: user.id,
            account_id,
            client_ip: principal
                .client_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent: user_agent.chars().take(256).collect(),
            created_at: now.as_micros(),
            last_seen_at: now.as_micros(),
            absolute_expires_at: now
                .plus(self.auth_rules().session_absolute_timeout)
                .as_micros(),
            revoked_at: None,
            revoke_reason: None,
            auth_methods: methods.clone(),
        };
        let row = store::sessions::insert(conn, row).await?;
        if let Some(account_id) = account_id {
            // Signing in to an account is activity (see retention pruning).
            store::accounts::record_activity(conn, account_id, now.as_micros()).await?;
        }
        Ok((token, row))
    }

    /// The principal of a session just started, for its activity event.
    pub(super) fn session_principal(
        &self,
        principal: &Principal,
        user: &UserRow,
        session: &SessionRow,
    ) -> Principal {
        Principal {
            caller: Caller::User {
                user_id: user.id,
                session_id: session.id,
                staff: user.admin_role_id.is_some(),
            },
            permissions: PermissionSet::none(),
            account: None,
            client_ip: principal.client_ip,
            request_id: principal.request_id.clone(),
        }
    }
}
