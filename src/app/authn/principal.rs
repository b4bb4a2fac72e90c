//! Who is calling, with what permissions, from where.

use std::net::IpAddr;

use crate::app::error::{AppError, Reason};
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, AccountRelation, ApiCredentialId, Permission,
    PermissionSet, SessionId, UserId, may_manage_members,
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

    /// Lets through staff holding `permission`, and any user session.
    pub fn ensure_staff_or_session(&self, permission: Permission) -> Result<(), AppError> {
        if self.permissions.contains(permission) || self.session_user().is_some() {
            Ok(())
        } else {
            Err(AppError::PermissionDenied(Reason::PermissionDenied))
        }
    }

    /// How the caller stands to `account_id`, owned by `owner`: staff holding
    /// `staff`, or through a session acting for the account its owner or a
    /// member; anyone else is an outsider. A session acting for another
    /// account (or none) is told to select this one first.
    pub fn relation_to(
        &self,
        staff: Permission,
        account_id: AccountId,
        owner: UserId,
    ) -> Result<AccountRelation, AppError> {
        if self.permissions.contains(staff) {
            return Ok(AccountRelation::Staff);
        }
        match (&self.caller, &self.account) {
            (Caller::User { user_id, .. }, Some(grant)) if grant.account_id == account_id => {
                Ok(if *user_id == owner {
                    AccountRelation::Owner
                } else {
                    AccountRelation::Member
                })
            }
            (Caller::User { .. }, _) => Err(AppError::PermissionDenied(Reason::AccountNotSelected)),
            _ => Ok(AccountRelation::Outsider),
        }
    }

    /// Lets through callers who may manage the members (and invitations) of
    /// `account_id`, owned by `owner`: staff holding `staff`, and the owner
    /// while `client_user_management` is on.
    pub fn ensure_manages_members(
        &self,
        staff: Permission,
        account_id: AccountId,
        owner: UserId,
        client_user_management: bool,
    ) -> Result<(), AppError> {
        let relation = self.relation_to(staff, account_id, owner)?;
        member_management(relation, client_user_management)
    }

    /// Refuses, before any lookup, a caller who may manage the members of no
    /// account at all: neither staff holding `staff` nor a session acting as
    /// an account's owner (while `client_user_management` is on).
    pub fn ensure_manages_members_somewhere(
        &self,
        staff: Permission,
        client_user_management: bool,
    ) -> Result<(), AppError> {
        if self.permissions.contains(staff) {
            return Ok(());
        }
        match (&self.caller, &self.account) {
            (Caller::User { .. }, Some(grant)) => {
                let relation = if grant.owner {
                    AccountRelation::Owner
                } else {
                    AccountRelation::Member
                };
                member_management(relation, client_user_management)
            }
            (Caller::User { .. }, None) => {
                Err(AppError::PermissionDenied(Reason::AccountNotSelected))
            }
            _ => Err(AppError::PermissionDenied(Reason::PermissionDenied)),
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

    /// The user and session of a session caller; other callers are refused.
    pub fn session_caller(&self) -> Result<(UserId, SessionId), AppError> {
        match self.caller {
            Caller::User {
                user_id,
                session_id,
                ..
            } => Ok((user_id, session_id)),
            _ => Err(AppError::PermissionDenied(Reason::SessionRequired)),
        }
    }
}

/// The answer for a caller standing as `relation` to an account whose
/// members they want to manage: an owner is told when client user
/// management is off, anyone else only that they may not.
fn member_management(
    relation: AccountRelation,
    client_user_management: bool,
) -> Result<(), AppError> {
    if may_manage_members(relation, client_user_management) {
        Ok(())
    } else if relation == AccountRelation::Owner {
        Err(AppError::PermissionDenied(
            Reason::ClientUserManagementDisabled,
        ))
    } else {
        Err(AppError::PermissionDenied(Reason::PermissionDenied))
    }
}
