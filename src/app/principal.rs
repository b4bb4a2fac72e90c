//! Who is calling, with what permissions, from where.

use std::net::IpAddr;

use super::{AppError, Reason};
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, ApiCredentialId, Permission, PermissionSet,
    SessionId, UserId,
};

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented (public methods only).
    Anonymous,
    /// identityd itself: start-up bootstrap and background jobs.
    System,
    /// A machine caller using an API credential of a staff user.
    ApiCredential {
        /// The credential.
        credential_id: ApiCredentialId,
        /// The staff user it belongs to.
        staff_user_id: UserId,
    },
    /// A person signed in through a session.
    User {
        /// The user.
        user_id: UserId,
        /// The session.
        session_id: SessionId,
        /// Whether the user is staff (holds an admin role).
        staff: bool,
    },
}

/// What a session's user may do in the account the session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGrant {
    /// The account.
    pub account_id: AccountId,
    /// Whether the user owns it.
    pub owner: bool,
    /// The user's permissions there; every one for the owner.
    pub permissions: AccountPermissions,
}

impl AccountGrant {
    /// Whether the grant is for `account_id` and includes `permission`.
    pub fn allows(&self, account_id: AccountId, permission: AccountPermission) -> bool {
        self.account_id == account_id && self.permissions.contains(permission)
    }
}

/// The caller of one request and everything the rules need to know about it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who is calling.
    pub caller: Caller,
    /// The staff/API permissions the caller holds.
    pub permissions: PermissionSet,
    /// For a user session: the account it acts for, when one is selected,
    /// active, and the user still a member of it.
    pub account: Option<AccountGrant>,
    /// The network address the call came from.
    pub client_ip: Option<IpAddr>,
    /// The request id, for the activity log and error correlation.
    pub request_id: String,
}

impl Principal {
    /// identityd acting on its own behalf, with full access.
    pub fn system(request_id: impl Into<String>) -> Self {
        Self {
            caller: Caller::System,
            permissions: PermissionSet::full_access(),
            account: None,
            client_ip: None,
            request_id: request_id.into(),
        }
    }

    /// A caller that presented no credentials.
    pub fn anonymous(client_ip: Option<IpAddr>, request_id: impl Into<String>) -> Self {
        Self {
            caller: Caller::Anonymous,
            permissions: PermissionSet::none(),
            account: None,
            client_ip,
            request_id: request_id.into(),
        }
    }

    /// The actor kind recorded in the activity log.
    pub fn actor_kind(&self) -> &'static str {
        match self.caller {
            Caller::Anonymous => "anonymous",
            Caller::System => "system",
            Caller::ApiCredential { .. } => "api_credential",
            Caller::User { staff: true, .. } => "staff",
            Caller::User { staff: false, .. } => "user",
        }
    }

    /// The signed-in user, for a session caller.
    pub fn session_user(&self) -> Option<UserId> {
        match self.caller {
            Caller::User { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    /// Lets through staff holding `staff`, and a user session acting for
    /// `account_id` whose grant there satisfies `allowed`. A session acting
    /// for another account (or none) is told to select this one first.
    pub fn ensure_account_access(
        &self,
        staff: Permission,
        account_id: AccountId,
        allowed: impl Fn(&AccountGrant) -> bool,
    ) -> Result<(), AppError> {
        if self.permissions.contains(staff) {
            return Ok(());
        }
        match (&self.caller, &self.account) {
            (Caller::User { .. }, Some(grant)) if grant.account_id == account_id => {
                if allowed(grant) {
                    Ok(())
                } else {
                    Err(AppError::PermissionDenied(Reason::PermissionDenied))
                }
            }
            (Caller::User { .. }, _) => Err(AppError::PermissionDenied(Reason::AccountNotSelected)),
            _ => Err(AppError::PermissionDenied(Reason::PermissionDenied)),
        }
    }

    /// Lets through staff (a staff session or an API credential) holding
    /// `permission`. The policy table already requires it of the method; use
    /// cases check again, so a loosened policy cannot leak what they return.
    pub fn ensure_staff(&self, permission: Permission) -> Result<(), AppError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied(Reason::PermissionDenied))
        }
    }

    /// Lets through staff holding `staff`, and a user session acting on
    /// `user_id`: the user themselves.
    pub fn ensure_self_or_staff(&self, staff: Permission, user_id: UserId) -> Result<(), AppError> {
        if self.permissions.contains(staff) || self.session_user() == Some(user_id) {
            Ok(())
        } else {
            Err(AppError::PermissionDenied(Reason::PermissionDenied))
        }
    }

    /// The person acting: the signed-in user of a session, or the staff user
    /// an API credential belongs to. `None` for identityd itself and for
    /// anonymous callers.
    pub fn acting_user(&self) -> Option<UserId> {
        match self.caller {
            Caller::User { user_id, .. } => Some(user_id),
            Caller::ApiCredential { staff_user_id, .. } => Some(staff_user_id),
            Caller::Anonymous | Caller::System => None,
        }
    }

    /// The session, for a session caller.
    pub fn session_id(&self) -> Option<SessionId> {
        match self.caller {
            Caller::User { session_id, .. } => Some(session_id),
            _ => None,
        }
    }

    /// The actor id recorded in the activity log (empty for system and anonymous).
    pub fn actor_id(&self) -> String {
        match &self.caller {
            Caller::Anonymous | Caller::System => String::new(),
            Caller::ApiCredential { credential_id, .. } => credential_id.to_string(),
            Caller::User { user_id, .. } => user_id.to_string(),
        }
    }

    /// The key that scopes this caller's request ids.
    pub fn idempotency_scope(&self) -> String {
        format!("{}:{}", self.actor_kind(), self.actor_id())
    }
}
