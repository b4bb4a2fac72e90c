//! Single-use sign-on tokens (WHMCS `CreateSsoToken`): a billing service or
//! client area that already authenticated a person sends them to another
//! app (a control panel, a support desk) signed in.
//!
//! A token (`ido_` and 256 bits) is stored as its SHA-256, works once and
//! for at most a minute. Redeeming it is a sign-in whose first factor is
//! the minting caller's word (`sso`); a user with two-factor authentication
//! still owes their second factor unless `auth.sso_bypasses_mfa` is on.

use super::{MfaChallenge, SignedIn};
use super::{SecondFactorDue, SignInDetails};
use crate::app::App;
use crate::app::authn::{Caller, Principal};
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::held_role_if_covered;
use crate::app::blocks::loads::{load_user, may_act_for};
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{
    AccountId, AuthMethod, AuthMethods, Permission, PermissionSet, Timestamp, UserId, UserStatus,
};
use crate::store;

/// The longest destination an SSO token carries.
pub const SSO_DESTINATION_MAX_CHARS: usize = 2048;

/// What an SSO token is minted for.
#[derive(Debug, Clone)]
pub struct SsoGrant {
    /// Whom it signs in.
    pub user_id: UserId,
    /// The account the session acts for, if named.
    pub account_id: Option<AccountId>,
    /// Where the other app sends the person; opaque to identityd.
    pub destination: String,
}

/// A minted SSO token, shown once.
#[derive(Clone)]
pub struct SsoToken {
    /// The token.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SsoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What redeeming an SSO token gives.
#[derive(Debug, Clone)]
pub enum SsoOutcome {
    /// Signed in; with the destination the token was minted with.
    SignedIn(SignedIn, String),
    /// The user owes a second factor; with the destination.
    MfaRequired(MfaChallenge, String),
}

impl App {
    /// Staff or API callers holding `sso.create` mint a token that signs
    /// `grant.user_id` in once, within `auth.sso_token_ttl_secs`. The user
    /// must be active; a named account must be active with the user a
    /// member. Minting one for a staff user needs covering their admin role
    /// (a token is that user's power).
    pub async fn create_sso_token(
        &self,
        principal: &Principal,
        grant: SsoGrant,
    ) -> Result<SsoToken, AppError> {
        principal.ensure_staff(Permission::SsoCreate)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, grant.user_id).await?;
        held_role_if_covered(&txn, principal, &user).await?;
        if user.status != UserStatus::Active {
            return Err(AppError::FailedPrecondition(Reason::UserNotActive));
        }
        if let Some(account_id) = grant.account_id
            && !may_act_for(&txn, user.id, account_id).await?
        {
            return Err(AppError::NotFound(Reason::MemberNotFound));
        }
        let token = TokenKind::Sso.generate();
        let expires_at = now.plus(self.auth_rules().sso_token_ttl);
        let row = store::sso_tokens::SsoTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            token_hash: hash_secret(&token),
            user_id: user.id,
            account_id: grant.account_id,
            destination: grant.destination.clone(),
            created_by_kind: principal.actor_kind().to_owned(),
            created_by_id: principal.actor_id(),
            created_at: now.as_micros(),
            expires_at: expires_at.as_micros(),
            redeemed_at: None,
        };
        let id = row.id.clone();
        store::sso_tokens::insert(&txn, row).await?;
        let mut change = Change::new("sso.token_created", "user", user.id)
            .detail("sso_token_id", &id)
            .detail("destination", &grant.destination);
        if let Some(account_id) = grant.account_id {
            change = change.account(account_id);
        }
        record_at(&txn, principal, now, change).await?;
        // A new row nothing authenticates with yet: the cache stays.
        store::commit(txn).await?;
        Ok(SsoToken { token, expires_at })
    }

    /// Exchanges an SSO token for a session (or, for a user with two-factor
    /// authentication, a challenge). Unknown, used and expired tokens, a
    /// user no longer active and an account the user no longer acts for get
    /// one answer. Of two redemptions racing, exactly one wins.
    pub async fn redeem_sso_token(
        &self,
        principal: &Principal,
        token: &str,
        user_agent: &str,
    ) -> Result<SsoOutcome, AppError> {
        let invalid = || AppError::Unauthenticated(Reason::SsoTokenInvalid);
        if !TokenKind::Sso.fits(token) {
            return Err(invalid());
        }
        let now = self.now();
        let row = store::sso_tokens::find_by_hash(self.reader(), &hash_secret(token))
            .await?
            .filter(|row| row.redeemed_at.is_none() && row.expires_at > now.as_micros())
            .ok_or_else(invalid)?;
        let txn = store::begin(self.db()).await?;
        if !store::sso_tokens::redeem(&txn, &row.id, now.as_micros()).await? {
            return Err(invalid());
        }
        let user = load_user(&txn, row.user_id).await.map_err(|_| invalid())?;
        if user.status != UserStatus::Active {
            return Err(invalid());
        }
        if let Some(account_id) = row.account_id
            && !may_act_for(&txn, user.id, account_id).await?
        {
            return Err(invalid());
        }
        let redeemed = Change::new("sso.token_redeemed", "user", user.id)
            .detail("sso_token_id", &row.id)
            .detail(
                "created_by",
                format!("{}:{}", row.created_by_kind, row.created_by_id),
            );
        if user.mfa_enabled_at.is_some() && !self.auth_rules().sso_bypasses_mfa {
            let due = SecondFactorDue {
                first: AuthMethod::Sso,
                account: row.account_id,
                forgiven: &[],
                released: &[],
                rehashed: None,
            };
            let challenge = self
                .challenge_second_factor(&txn, principal, &user, due)
                .await?;
            record_at(
                &txn,
                principal,
                now,
                redeemed.detail("mfa_challenged", true),
            )
            .await?;
            store::commit(txn).await?;
            return Ok(SsoOutcome::MfaRequired(challenge, row.destination));
        }
        let how = SignInDetails {
            methods: AuthMethods::of([AuthMethod::Sso]),
            user_agent,
            used_device: None,
            rehashed: None,
            account: row.account_id,
            device_token: false,
        };
        let signed_in = self.finish_sign_in(&txn, principal, &user, how).await?;
        // The redemption is the user's act, in their new session.
        let actor = Principal {
            caller: Caller::User {
                user_id: user.id,
                session_id: signed_in.session.id,
                staff: user.admin_role_id.is_some(),
            },
            permissions: PermissionSet::none(),
            account: None,
            client_ip: principal.client_ip,
            request_id: principal.request_id.clone(),
        };
        record_at(&txn, &actor, now, redeemed.detail("mfa_challenged", false)).await?;
        // A new session and bookkeeping: nothing cached changed.
        store::commit(txn).await?;
        Ok(SsoOutcome::SignedIn(signed_in, row.destination))
    }
}
