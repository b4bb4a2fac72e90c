//! Who may invite: the inviter's standing when the invitation is made and
//! again when it is accepted.

use crate::app::App;
use crate::app::authn::{ApiCredentialState, Principal, credential_state};
use crate::app::error::{AppError, Reason};
use crate::domain::{ApiCredentialId, Permission, PermissionSet, RoleKind, UserStatus};
use crate::store::{
    self, ConnectionTrait,
    accounts::AccountRow,
    invitations::{self as rows, InvitationRow},
    users::UserRow,
};

impl App {
    /// Refuses accepting an invitation whose inviter may no longer invite
    /// into `account`: an owner who no longer owns it or no longer may
    /// manage its members, staff who lost `invitations.write`, a revoked or
    /// expired credential. Events that take the right away retire pending
    /// invitations too; this catches the rest (a setting switched off, a
    /// role changed).
    pub(super) async fn ensure_inviter_may_still_invite(
        &self,
        conn: &impl ConnectionTrait,
        invitation: &InvitationRow,
        account: &AccountRow,
    ) -> Result<(), AppError> {
        let inviter = match invitation.inviter_user_id {
            Some(id) => store::users::find(conn, id)
                .await?
                .filter(|user| user.status == UserStatus::Active),
            None => None,
        };
        let may = match (invitation.inviter_authority.as_str(), &inviter) {
            (rows::BY_OWNER, Some(inviter)) => {
                self.client_user_management() && inviter.id == account.owner_user_id
            }
            (rows::BY_STAFF, _) if invitation.inviter_kind == "system" => true,
            (rows::BY_STAFF, Some(inviter)) => {
                self.staff_may_invite(conn, inviter).await?
                    && (invitation.inviter_kind != "api_credential"
                        || self
                            .credential_may_invite(conn, &invitation.inviter_id)
                            .await?)
            }
            _ => false,
        };
        if may {
            Ok(())
        } else {
            Err(AppError::FailedPrecondition(Reason::InvitationWithdrawn))
        }
    }

    /// Whether `user`'s admin role holds `invitations.write`.
    pub(super) async fn staff_may_invite(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<bool, AppError> {
        let Some(role_id) = user.admin_role_id else {
            return Ok(false);
        };
        Ok(store::roles::find(conn, role_id)
            .await?
            .is_some_and(|role| {
                PermissionSet::from_stored(role.full_access, &role.permissions)
                    .contains(Permission::InvitationsWrite)
            }))
    }

    /// Whether the API credential `id` (an invitation's inviter id, stored
    /// as text whatever the inviter is) still works and its API roles hold
    /// `invitations.write` (its owner's role is checked separately). An id
    /// that names no credential, well-formed or not, may not invite.
    pub(super) async fn credential_may_invite(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
    ) -> Result<bool, AppError> {
        let Ok(id) = id.parse::<ApiCredentialId>() else {
            return Ok(false);
        };
        let Some(credential) = store::credentials::find(conn, id).await? else {
            return Ok(false);
        };
        if credential_state(&credential, self.now()) != ApiCredentialState::Active {
            return Ok(false);
        }
        let role_ids = store::credentials::role_ids_of(conn, &[credential.id])
            .await?
            .remove(&credential.id)
            .unwrap_or_default();
        let roles = store::roles::find_many(conn, &role_ids).await?;
        Ok(roles.iter().any(|role| {
            role.kind == RoleKind::Api
                && PermissionSet::from_stored(role.full_access, &role.permissions)
                    .contains(Permission::InvitationsWrite)
        }))
    }

    /// Refuses, before any lookup, a caller that may manage the invitations
    /// of no account: neither staff holding `staff` nor a session acting as
    /// an account's owner (while client user management is enabled).
    pub(super) fn ensure_may_invite_somewhere(
        &self,
        principal: &Principal,
        staff: Permission,
    ) -> Result<(), AppError> {
        principal.ensure_manages_members_somewhere(staff, self.client_user_management())
    }
}
