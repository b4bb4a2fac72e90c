//! User sessions: resolving tokens, choosing the account a session acts for,
//! listing and ending sessions.

use crate::app::App;
use crate::app::authn::{Principal, ResolvedSession};
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::held_role_if_covered;
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::Session;
use crate::domain::{
    AccountId, AccountPermission, AccountStatus, Fingerprint, PageSize, Permission, SessionId,
    UserId,
};
use crate::store;
use crate::store::sessions::SessionRow;

/// A page of sessions.
#[derive(Debug, Clone)]
pub struct SessionPage {
    /// The sessions, newest first.
    pub sessions: Vec<Session>,
    /// The token of the next page; empty on the last.
    pub next_page_token: String,
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
    /// The session may only enrol a second factor until its user has one.
    MfaEnrollmentRequired,
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
    /// The live session `token` belongs to, for a service deciding what its
    /// holder may do (IntrospectSession); `None` when it is not one.
    /// Staff holding `sessions.read` only.
    pub async fn introspect_session(
        &self,
        principal: &Principal,
        token: &str,
    ) -> Result<Option<ResolvedSession>, AppError> {
        principal.ensure_staff(Permission::SessionsRead)?;
        self.resolve_session(token).await
    }

    /// Staff holding `sessions.read` only.
    pub async fn check_permission(
        &self,
        principal: &Principal,
        token: &str,
        question: Question,
    ) -> Result<Verdict, AppError> {
        principal.ensure_staff(Permission::SessionsRead)?;
        let Some(resolved) = self.resolve_session(token).await? else {
            return Ok(Verdict {
                denial: Some(Denial::SessionInactive),
                user_id: None,
                account_id: None,
            });
        };
        let session_account = resolved.session.account_id;
        let denial = match question {
            _ if resolved.session.mfa_enrollment_required => Some(Denial::MfaEnrollmentRequired),
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

    /// Points the caller's session at one of its user's active accounts.
    pub async fn choose_account(
        &self,
        principal: &Principal,
        account_id: AccountId,
        choice: AccountChoice,
    ) -> Result<Session, AppError> {
        let (user_id, session_id) = principal.session_caller()?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let session = store::sessions::find(&txn, session_id)
            .await?
            .filter(|row| self.authn.session_is_live(row, now))
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
        let account = store::accounts::find(&txn, account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        store::memberships::find(&txn, account.id, user_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        if account.status != AccountStatus::Active {
            return Err(AppError::FailedPrecondition(Reason::AccountClosed));
        }
        store::sessions::set_account(&txn, session.id, account.id, now.as_micros()).await?;
        // Signing in to an account is activity: it keeps the account from
        // retention pruning and cancels a pending inactivity warning.
        store::accounts::record_activity(&txn, account.id, now.as_micros()).await?;
        let action = match choice {
            AccountChoice::Select => "session.account_selected",
            AccountChoice::Switch => "session.account_switched",
        };
        let mut change = Change::new(action, "session", session_id).account(account_id);
        if let Some(previous) = session.account_id {
            change = change.detail("previous_account_id", previous);
        }
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        let row = SessionRow {
            account_id: Some(account.id),
            last_seen_at: now.as_micros(),
            ..session
        };
        Ok(self.authn.session_view(&row, Some(session_id)))
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AppError> {
        let (user_id, session_id) = principal.session_caller()?;
        let txn = store::begin(self.db()).await?;
        let now = self.now();
        if store::sessions::revoke(&txn, session_id, now.as_micros(), "logout").await? {
            let change =
                Change::new("auth.logout", "session", session_id).detail("user_id", user_id);
            record_at(&txn, principal, now, change).await?;
        }
        self.commit(txn).await?;
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
        let filters = Fingerprint::new("ListSessions", 1).text("user_id", &user_id.to_string());
        let paging = Paging::start(page_token, page_size, filters)?;
        let now = self.now();
        let idle_cutoff = now.minus(self.auth_rules().session_idle_timeout);
        let page = store::sessions::list_live_for_user(
            self.reader(),
            user_id,
            now.as_micros(),
            idle_cutoff.as_micros(),
            paging.after(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging
            .next_token(&page, |row| row.id.to_string())
            .unwrap_or_default();
        let current = principal.session_id();
        let sessions = page
            .rows
            .iter()
            .map(|row| self.authn.session_view(row, current))
            .collect();
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
        let session = store::sessions::find(&txn, session_id)
            .await?
            .ok_or(AppError::NotFound(Reason::SessionNotFound))?;
        let own = principal.session_user() == Some(session.user_id);
        if !own {
            if !principal.permissions.contains(Permission::SessionsWrite) {
                return Err(AppError::NotFound(Reason::SessionNotFound));
            }
            if let Some(user) = store::users::find(&txn, session.user_id).await? {
                held_role_if_covered(&txn, principal, &user).await?;
            }
        }
        let now = self.now();
        if store::sessions::revoke(&txn, session.id, now.as_micros(), "revoked").await? {
            let change = Change::new("session.revoked", "session", session_id)
                .detail("user_id", session.user_id);
            record_at(&txn, principal, now, change).await?;
        }
        self.commit(txn).await?;
        Ok(())
    }

    /// The user a self-or-staff session call is about: the caller when
    /// `requested` is empty or the caller; anyone for staff holding `permission`.
    pub(crate) fn session_subject(
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
