//! Memberships as callers see them, and who may manage an account's members.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::AppError;
use crate::domain::{AccountId, AccountPermissions, Permission, Timestamp, UserId};
use crate::store::invitations as rows;
use crate::store::{
    ConnectionTrait, accounts::AccountRow, memberships::MembershipRow, users::UserRow,
};

/// A member of an account as callers see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub account_id: AccountId,
    /// The user.
    pub user_id: UserId,
    /// The user's username.
    pub username: String,
    /// The user's full name.
    pub full_name: String,
    /// The user's email address.
    pub email: String,
    /// Whether the user owns the account.
    pub owner: bool,
    /// What the member may do; everything for the owner.
    pub permissions: AccountPermissions,
    /// When the user became a member.
    pub created_at: Timestamp,
}

impl App {
    /// Cancels the pending invitations `inviter_user_id` made to `account_id`
    /// as its owner, with an activity event each, in the caller's
    /// transaction at `now`: they lose the right to invite there (`why`).
    pub(crate) async fn retire_owner_invitations(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        now: Timestamp,
        account_id: AccountId,
        inviter_user_id: UserId,
        why: &str,
    ) -> Result<(), AppError> {
        for pending in rows::pending_by_owner(txn, account_id, inviter_user_id).await? {
            if rows::cancel(txn, pending.id, now.as_micros()).await? {
                let change = Change::new("invitation.cancelled", "invitation", pending.id)
                    .account(account_id)
                    .detail("reason", why);
                record_at(txn, principal, now, change).await?;
            }
        }
        Ok(())
    }

    /// The rule of [`Self::ensure_may_manage_members`] with `staff` as the
    /// permission that lets staff through (invitations use their own).
    pub(crate) fn ensure_manages_members(
        &self,
        principal: &Principal,
        account: &AccountRow,
        staff: Permission,
    ) -> Result<(), AppError> {
        principal.ensure_manages_members(
            staff,
            account.id,
            account.owner_user_id,
            self.client_user_management(),
        )
    }
}

pub(crate) fn effective_permissions(owner: bool, membership: &MembershipRow) -> AccountPermissions {
    if owner {
        AccountPermissions::all()
    } else {
        AccountPermissions::from_stored(&membership.permissions)
    }
}

pub(crate) fn member_view(
    account: &AccountRow,
    membership: &MembershipRow,
    user: &UserRow,
) -> Member {
    let owner = account.owner_user_id == user.id;
    Member {
        account_id: account.id,
        user_id: user.id,
        username: user.username.clone(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        owner,
        permissions: effective_permissions(owner, membership),
        created_at: Timestamp::from_micros(membership.created_at),
    }
}
