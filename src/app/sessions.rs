//! User sessions: resolving tokens, choosing the account a session acts for,
//! listing and ending sessions.

use std::time::Duration;

use super::activity::{Change, record_at};
use super::auth_cache::{Cached, key_of};
use super::authn::Authenticated;
use super::principal::AccountGrant;
use super::staff::held_role_if_covered;
use super::{App, AppError, Caller, Principal, Reason, User};
use crate::crypto::{TokenKind, hash_secret, secret_matches};
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, AccountStatus, PageCursor, PageSize,
    Permission, PermissionSet, SessionId, Timestamp, UserId, UserStatus,
};
use crate::store;
use crate::store::sessions::{SessionForAuthentication, SessionRow};

/// `last_seen_at` is written at most this often per session, so that
/// authenticating a session stays a read and not a write on every call.
const LAST_SEEN_GRANULARITY: Duration = Duration::from_secs(60);

/// A session as callers see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// The account it acts for, once selected.
    pub account_id: Option<AccountId>,
    /// The address it signed in from; empty if unknown.
    pub client_ip: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it was last used, to the minute.
    pub last_seen_at: Timestamp,
    /// When it ends unless used again.
    pub expires_at: Timestamp,
    /// When it ends however much it is used.
    pub absolute_expires_at: Timestamp,
    /// Whether it is the session making the call.
    pub current: bool,
}

/// A page of sessions.
#[derive(Debug, Clone)]
pub struct SessionPage {
    /// The sessions, newest first.
    pub sessions: Vec<Session>,
    /// The token of the next page; empty on the last.
    pub next_page_token: String,
}

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

/// Whether a session call selects a first account or switches to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChoice {
    /// The session has no account yet.
    Select,
    /// The session has one and moves to another.
    Switch,
}

/// What CheckPermission asks about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// An account permission, in the given account (which must be the
    /// session's) or in the session's account.
    Account(AccountPermission, Option<AccountId>),
    /// A staff permission.
    Staff(Permission),
}

/// Why a session may not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The token is not a live session of an active user.
    SessionInactive,
    /// The session acts for no account, or for another one.
    AccountNotSelected,
    /// The user is no longer a member of the account, or it is closed.
    NotAMember,
    /// The user does not hold the permission.
    NotGranted,
}

/// The answer to a [`Question`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Why not; `None` when allowed.
    pub denial: Option<Denial>,
    /// The session's user, when the session is live.
    pub user_id: Option<UserId>,
    /// The session's account, when it has one.
    pub account_id: Option<AccountId>,
}

impl App {
    /// Answers whether the session with `token` may do what `question` asks.
    pub async fn check_permission(
        &self,
        token: &str,
        question: Question,
    ) -> Result<Verdict, AppError> {
        let Some(resolved) = self.resolve_session(token).await? else {
            return Ok(Verdict {
                denial: Some(Denial::SessionInactive),
                user_id: None,
                account_id: None,
            });
        };
        let session_account = resolved.session.account_id;
        let denial = match question {
            Question::Staff(permission) => {
                (!resolved.staff_permissions.contains(permission)).then_some(Denial::NotGranted)
            }
            Question::Account(permission, asked_account) => {
                match (session_account, &resolved.account) {
                    (None, _) => Some(Denial::AccountNotSelected),
                    (Some(selected), _) if asked_account.is_some_and(|a| a != selected) => {
                        Some(Denial::AccountNotSelected)
                    }
                    (Some(_), None) => Some(Denial::NotAMember),
                    (Some(_), Some(grant)) => {
                        (!grant.permissions.contains(permission)).then_some(Denial::NotGranted)
                    }
                }
            }
        };
        Ok(Verdict {
            denial,
            user_id: Some(resolved.user.id),
            account_id: session_account,
        })
    }

    /// When `row` ends: its idle expiry, never after its absolute one.
    fn session_expiry(&self, row: &SessionRow) -> Timestamp {
        let idle =
            Timestamp::from_micros(row.last_seen_at).plus(self.auth_policy().session_idle_timeout);
        idle.min(Timestamp::from_micros(row.absolute_expires_at))
    }

    fn session_is_live(&self, row: &SessionRow, now: Timestamp) -> bool {
        row.revoked_at.is_none() && self.session_expiry(row) > now
    }

    /// The caller's view of a session row.
    pub(super) fn session_view(
        &self,
        row: &SessionRow,
        current: Option<SessionId>,
    ) -> Result<Session, AppError> {
        let corrupt = || AppError::corrupt(format!("session {} ids", row.id));
        let id = SessionId::from_stored(&row.id).ok_or_else(corrupt)?;
        Ok(Session {
            id,
            user_id: UserId::from_stored(&row.user_id).ok_or_else(corrupt)?,
            account_id: match &row.account_id {
                Some(account_id) => Some(AccountId::from_stored(account_id).ok_or_else(corrupt)?),
                None => None,
            },
            client_ip: row.client_ip.clone(),
            user_agent: row.user_agent.clone(),
            created_at: Timestamp::from_micros(row.created_at),
            last_seen_at: Timestamp::from_micros(row.last_seen_at),
            expires_at: self.session_expiry(row),
            absolute_expires_at: Timestamp::from_micros(row.absolute_expires_at),
            current: current == Some(id),
        })
    }

    /// Resolves a session token; `None` unless it is the token of a live
    /// session of an active user. Used for authenticating session callers
    /// and by IntrospectSession and CheckPermission.
    pub async fn resolve_session(&self, token: &str) -> Result<Option<ResolvedSession>, AppError> {
        if !TokenKind::Session.fits(token) {
            return Ok(None);
        }
        let key = key_of(token);
        let now = self.now();
        if let Some(Cached::Session(resolved)) = self.auth_cache.get(&key, now) {
            return Ok(Some(*resolved));
        }
        let generation = store::write_generation();
        let found =
            store::sessions::find_for_authentication(self.reader(), &hash_secret(token)).await?;
        // The row was found by the token's hash; comparing again in constant
        // time keeps the check independent of how the database compares.
        let Some(found) = found.filter(|f| secret_matches(token, &f.session.token_hash)) else {
            return Ok(None);
        };
        if !self.session_is_live(&found.session, now)
            || found.user.status != UserStatus::Active.as_str()
        {
            return Ok(None);
        }
        if found.session.last_seen_at < now.minus(LAST_SEEN_GRANULARITY).as_micros() {
            store::sessions::touch(self.db(), &found.session.id, now.as_micros()).await?;
        }
        let current = SessionId::from_stored(&found.session.id);
        let session = self.session_view(&found.session, current)?;
        let account = account_grant(&found, session.account_id);
        let staff = found.user.admin_role_id.is_some();
        let staff_permissions = match (&found.role_full_access, &found.role_permissions) {
            (Some(full_access), Some(permissions)) if staff => {
                PermissionSet::from_stored(*full_access, permissions)
            }
            _ => PermissionSet::none(),
        };
        let resolved = ResolvedSession {
            session,
            user: User::try_from(found.user)?,
            staff,
            staff_permissions,
            account,
        };
        self.auth_cache.put(
            key,
            generation,
            now,
            Cached::Session(Box::new(resolved.clone())),
        );
        Ok(Some(resolved))
    }

    /// Authenticates a session bearer token.
    pub(super) async fn authenticate_session(
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
        })
    }

    /// Points the caller's session at one of its user's active accounts.
    pub async fn choose_account(
        &self,
        principal: &Principal,
        account_id: AccountId,
        choice: AccountChoice,
    ) -> Result<Session, AppError> {
        let (user_id, session_id) = session_caller(principal)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let session = store::sessions::find(&txn, &session_id.to_string())
            .await?
            .filter(|row| self.session_is_live(row, now))
            .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
        match (choice, &session.account_id) {
            (AccountChoice::Select, Some(_)) => {
                return Err(AppError::FailedPrecondition(Reason::AccountAlreadySelected));
            }
            (AccountChoice::Switch, None) => {
                return Err(AppError::FailedPrecondition(Reason::NoAccountSelected));
            }
            _ => {}
        }
        // Not being a member looks like the account not existing: a user
        // learns nothing about accounts they do not belong to.
        let account = store::accounts::find(&txn, &account_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        store::memberships::find(&txn, &account.id, &user_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        if account.status != AccountStatus::Active.as_str() {
            return Err(AppError::FailedPrecondition(Reason::AccountClosed));
        }
        store::sessions::set_account(&txn, &session.id, &account.id, now.as_micros()).await?;
        let action = match choice {
            AccountChoice::Select => "session.account_selected",
            AccountChoice::Switch => "session.account_switched",
        };
        let mut change = Change::new(action, "session", session_id).account(account_id);
        if let Some(previous) = &session.account_id {
            change = change.detail("previous_account_id", previous);
        }
        record_at(&txn, principal, now, change).await?;
        store::commit(txn).await?;
        let row = SessionRow {
            account_id: Some(account.id),
            last_seen_at: now.as_micros(),
            ..session
        };
        self.session_view(&row, Some(session_id))
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AppError> {
        let (user_id, session_id) = session_caller(principal)?;
        let txn = store::begin(self.db()).await?;
        let now = self.now();
        if store::sessions::revoke(&txn, &session_id.to_string(), now.as_micros(), "logout").await?
        {
            let change =
                Change::new("auth.logout", "session", session_id).detail("user_id", user_id);
            record_at(&txn, principal, now, change).await?;
        }
        store::commit(txn).await?;
        Ok(())
    }

    /// A page of a user's live sessions: the caller's own (`user_id` empty
    /// or theirs), or anyone's for staff holding `sessions.read`.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
        user_id: Option<UserId>,
        page_size: PageSize,
        page_token: &str,
    ) -> Result<SessionPage, AppError> {
        let user_id = self.session_subject(principal, user_id, Permission::SessionsRead)?;
        let filters = format!("sessions of {user_id}");
        let cursor = PageCursor::decode("page_token", page_token, &filters)?;
        let now = self.now();
        let idle_cutoff = now.minus(self.auth_policy().session_idle_timeout);
        let page = store::sessions::list_live_for_user(
            self.reader(),
            &user_id.to_string(),
            now.as_micros(),
            idle_cutoff.as_micros(),
            cursor.as_ref().map(|c| c.after.as_str()),
            page_size.get(),
        )
        .await?;
        let next_page_token = page
            .continues_after(|row| &row.id)
            .map(|last| PageCursor::encode(last, &filters))
            .unwrap_or_default();
        let current = principal.session_id();
        let sessions = page
            .rows
            .iter()
            .map(|row| self.session_view(row, current))
            .collect::<Result<_, _>>()?;
        Ok(SessionPage {
            sessions,
            next_page_token,
        })
    }

    /// Ends a session: one of the caller's own, or anyone's for staff holding
    /// `sessions.write`. Someone else's session looks like no session at all
    /// to a caller without that permission. Ending a staff user's session
    /// also needs covering their admin role: nobody cuts off a more powerful
    /// colleague.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: SessionId,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        let session = store::sessions::find(&txn, &session_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::SessionNotFound))?;
        let own = principal
            .session_user()
            .is_some_and(|user_id| user_id.to_string() == session.user_id);
        if !own {
            if !principal.permissions.contains(Permission::SessionsWrite) {
                return Err(AppError::NotFound(Reason::SessionNotFound));
            }
            if let Some(user) = store::users::find(&txn, &session.user_id).await? {
                held_role_if_covered(&txn, principal, &user).await?;
            }
        }
        let now = self.now();
        if store::sessions::revoke(&txn, &session.id, now.as_micros(), "revoked").await? {
            let change = Change::new("session.revoked", "session", session_id)
                .detail("user_id", &session.user_id);
            record_at(&txn, principal, now, change).await?;
        }
        store::commit(txn).await?;
        Ok(())
    }

    /// The user a self-or-staff session call is about: the caller when
    /// `requested` is empty or the caller; anyone for staff holding `permission`.
    fn session_subject(
        &self,
        principal: &Principal,
        requested: Option<UserId>,
        permission: Permission,
    ) -> Result<UserId, AppError> {
        match (requested, principal.session_user()) {
            (None, Some(own)) => Ok(own),
            (None, None) => Err(crate::domain::FieldViolation::new(
                "user_id",
                "is required unless the caller is a user session",
            )
            .into()),
            (Some(requested), own) => {
                if own == Some(requested) || principal.permissions.contains(permission) {
                    Ok(requested)
                } else {
                    Err(AppError::PermissionDenied(Reason::PermissionDenied))
                }
            }
        }
    }
}

/// The user and session of a session caller; other callers are refused.
pub(super) fn session_caller(principal: &Principal) -> Result<(UserId, SessionId), AppError> {
    match principal.caller {
        Caller::User {
            user_id,
            session_id,
            ..
        } => Ok((user_id, session_id)),
        _ => Err(AppError::PermissionDenied(Reason::SessionRequired)),
    }
}

/// What the user may do in the session's account: nothing unless the account
/// is active and they are still a member (the owner always is).
fn account_grant(
    found: &SessionForAuthentication,
    account_id: Option<AccountId>,
) -> Option<AccountGrant> {
    let account_id = account_id?;
    if found.account_status.as_deref() != Some(AccountStatus::Active.as_str()) {
        return None;
    }
    let permissions = found.membership_permissions.as_deref()?;
    let owner = found.account_owner_user_id.as_deref() == Some(found.user.id.as_str());
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
