//! Authenticating user sessions: a session token resolved to its live
//! session, its user and what they may do.

use std::time::Duration;

use super::cache::key_of;
use super::principal::AccountGrant;
use super::principal::Caller;
use super::{Authenticated, Authenticator, Cached};
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret, secret_matches};
use crate::domain::{
    AccountId, AccountPermissions, AccountStatus, PermissionSet, Session, SessionId, Timestamp,
    User, UserStatus,
};
use crate::store;
use crate::store::sessions::{SessionForAuthentication, SessionRow};

/// `last_seen_at` is written at most this often per session, so that
/// authenticating a session stays a read and not a write on every call.
const LAST_SEEN_GRANULARITY: Duration = Duration::from_secs(60);

/// A live session token resolved to everything a service needs to
/// authorize its holder.
#[derive(Debug, Clone)]
pub struct ResolvedSession {
    /// The session.
    pub session: Session,
    /// Its user, who is active.
    pub user: User,
    /// Whether the user is staff.
    pub staff: bool,
    /// The user's staff permissions (none unless staff).
    pub staff_permissions: PermissionSet,
    /// What the user may do in the session's account, when it has one that
    /// is active and the user is still a member of.
    pub account: Option<AccountGrant>,
}

impl Authenticator {
    /// When `row` ends: its idle expiry, never after its absolute one.
    pub fn session_expiry(&self, row: &SessionRow) -> Timestamp {
        let idle = Timestamp::from_micros(row.last_seen_at).plus(self.session_idle_timeout());
        idle.min(Timestamp::from_micros(row.absolute_expires_at))
    }

    /// Whether the session in `row` is unrevoked and unexpired at `now`.
    pub fn session_is_live(&self, row: &SessionRow, now: Timestamp) -> bool {
        row.revoked_at.is_none() && self.session_expiry(row) > now
    }

    /// The caller's view of a session row.
    pub fn session_view(&self, row: &SessionRow, current: Option<SessionId>) -> Session {
        Session {
            id: row.id,
            user_id: row.user_id,
            account_id: row.account_id,
            client_ip: row.client_ip.clone(),
            user_agent: row.user_agent.clone(),
            created_at: Timestamp::from_micros(row.created_at),
            last_seen_at: Timestamp::from_micros(row.last_seen_at),
            expires_at: self.session_expiry(row),
            absolute_expires_at: Timestamp::from_micros(row.absolute_expires_at),
            current: current == Some(row.id),
            auth_methods: row.auth_methods.clone(),
            mfa_enrollment_required: false,
        }
    }

    /// Resolves a session token; `None` unless it is the token of a live
    /// session of an active user. Used for authenticating session callers
    /// and by IntrospectSession and CheckPermission.
    pub async fn resolve_session(&self, token: &str) -> Result<Option<ResolvedSession>, AppError> {
        if !TokenKind::Session.fits(token) {
            return Ok(None);
        }
        let key = key_of(token);
        let now = self.clock.now();
        if let Some(Cached::Session(resolved)) = self.cache.get(&key, now) {
            return Ok(Some(*resolved));
        }
        let generation = self.cache.generation();
        let found =
            store::sessions::find_for_authentication(&self.reader, &hash_secret(token)).await?;
        // The row was found by the token's hash; comparing again in constant
        // time keeps the check independent of how the database compares.
        let Some(found) = found.filter(|f| secret_matches(token, &f.session.token_hash)) else {
            return Ok(None);
        };
        if !self.session_is_live(&found.session, now) || found.user.status != UserStatus::Active {
            return Ok(None);
        }
        if found.session.last_seen_at < now.minus(LAST_SEEN_GRANULARITY).as_micros() {
            store::sessions::touch(&self.db, found.session.id, now.as_micros()).await?;
        }
        let mut session = self.session_view(&found.session, Some(found.session.id));
        let staff = found.user.admin_role_id.is_some();
        // A user the policy requires a second factor of, who has none yet,
        // gets a session that can only enrol: no account and no staff
        // permissions reach it, here or through IntrospectSession.
        session.mfa_enrollment_required =
            self.mfa_required().covers(staff) && found.user.mfa_enabled_at.is_none();
        let (account, staff_permissions) = if session.mfa_enrollment_required {
            (None, PermissionSet::none())
        } else {
            let account = account_grant(&found, session.account_id);
            let permissions = match (&found.role_full_access, &found.role_permissions) {
                (Some(full_access), Some(permissions)) if staff => {
                    PermissionSet::from_stored(*full_access, permissions)
                }
                _ => PermissionSet::none(),
            };
            (account, permissions)
        };
        let resolved = ResolvedSession {
            session,
            user: User::from(found.user),
            staff,
            staff_permissions,
            account,
        };
        self.cache.put(
            key,
            generation,
            now,
            Cached::Session(Box::new(resolved.clone())),
        );
        Ok(Some(resolved))
    }

    /// Authenticates a session bearer token.
    pub(crate) async fn authenticate_session(
        &self,
        token: &str,
    ) -> Result<Authenticated, AppError> {
        let resolved = self
            .resolve_session(token)
            .await?
            .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
        Ok(Authenticated {
            caller: Caller::User {
                user_id: resolved.user.id,
                session_id: resolved.session.id,
                staff: resolved.staff,
            },
            permissions: resolved.staff_permissions,
            account: resolved.account,
            mfa_enrollment_required: resolved.session.mfa_enrollment_required,
        })
    }
}

/// What the user may do in the session's account: nothing unless the account
/// is active and they are still a member (the owner always is).
fn account_grant(
    found: &SessionForAuthentication,
    account_id: Option<AccountId>,
) -> Option<AccountGrant> {
    let account_id = account_id?;
    if found.account_status != Some(AccountStatus::Active) {
        return None;
    }
    let permissions = found.membership_permissions.as_deref()?;
    let owner = found.account_owner_user_id == Some(found.user.id);
    Some(AccountGrant {
        account_id,
        owner,
        permissions: if owner {
            AccountPermissions::all()
        } else {
            AccountPermissions::from_stored(permissions)
        },
    })
}
