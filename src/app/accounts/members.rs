//! An account's members: listing, adding, changing and removing them, and a
//! user's accounts.

use super::*;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::{
    load_account_for_update, load_active_account, load_membership, load_user,
};
use crate::app::blocks::members::{Member, effective_permissions, member_view};
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, Fingerprint, PageSize, Permission, UserId,
};
use crate::store::{
    self,
    accounts::AccountRow,
    memberships::{MembershipCursor, MembershipRow},
    users::UserRow,
};
use std::collections::BTreeMap;

impl App {
    /// A page of an account's members, owner included, in join order.
    pub async fn list_members(
        &self,
        principal: &Principal,
        account_id: AccountId,
        page_size: PageSize,
        page_token: &str,
    ) -> Result<MembershipPage<Member>, AppError> {
        // Members are the owner's business: other members do not see them.
        principal
            .ensure_account_access(Permission::AccountsRead, account_id, |grant| grant.owner)?;
        let account = store::accounts::find(self.reader(), account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        let filters =
            Fingerprint::new("ListMembers", 1).text("account_id", &account.id.to_string());
        let paging = Paging::start(page_token, page_size, filters)?;
        let page = store::memberships::list_for_account(
            self.reader(),
            account.id,
            paging.after_parsed(MembershipCursor::from_key)?.as_ref(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging.next_token(&page, |last| membership_key(last, last.user_id));
        let user_ids: Vec<UserId> = page.rows.iter().map(|m| m.user_id).collect();
        let users: BTreeMap<UserId, UserRow> = store::users::find_many(self.reader(), &user_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut entries = Vec::with_capacity(page.rows.len());
        for membership in page.rows {
            let Some(user) = users.get(&membership.user_id) else {
                continue;
            };
            entries.push(member_view(&account, &membership, user));
        }
        Ok(MembershipPage {
            entries,
            next_page_token,
        })
    }

    /// Associates an existing user with an account, with permissions.
    pub async fn add_member(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
        permissions: AccountPermissions,
    ) -> Result<Member, AppError> {
        let txn = store::begin(self.db()).await?;
        let account = load_active_account(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let user = load_user(&txn, user_id).await?;
        if store::memberships::find(&txn, account.id, user.id)
            .await?
            .is_some()
        {
            return Err(AppError::AlreadyExists(Reason::AlreadyMember));
        }
        let now = self.now();
        let membership = MembershipRow {
            account_id: account.id,
            user_id: user.id,
            permissions: permissions.to_stored(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let membership = store::memberships::insert(&txn, membership)
            .await
            .map_err(|err| {
                if err.is_unique_violation_on("memberships") {
                    AppError::AlreadyExists(Reason::AlreadyMember)
                } else {
                    err.into()
                }
            })?;
        let change = Change::new("account.member_added", "user", user_id)
            .account(account_id)
            .detail("permissions", permissions.to_stored());
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(member_view(&account, &membership, &user))
    }

    /// Replaces a member's permissions. The owner's permissions are fixed: the
    /// owner holds every permission and cannot edit their own.
    pub async fn update_member_permissions(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
        permissions: AccountPermissions,
    ) -> Result<Member, AppError> {
        let txn = store::begin(self.db()).await?;
        let account = load_active_account(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let mut membership = load_membership(&txn, &account, user_id).await?;
        if membership.user_id == account.owner_user_id {
            return Err(AppError::FailedPrecondition(Reason::OwnerPermissionsFixed));
        }
        let now = self.now();
        membership.permissions = permissions.to_stored();
        membership.updated_at = now.as_micros();
        store::memberships::set_permissions(
            &txn,
            account.id,
            membership.user_id,
            &membership.permissions,
            now.as_micros(),
        )
        .await?;
        let change = Change::new("account.member_permissions_updated", "user", user_id)
            .account(account_id)
            .detail("permissions", &membership.permissions);
        record_at(&txn, principal, now, change).await?;
        let user = load_user(&txn, membership.user_id).await?;
        self.commit(txn).await?;
        Ok(member_view(&account, &membership, &user))
    }

    /// Takes a member's access to an account away; never the owner's. Works
    /// on closed accounts too, so access can always be withdrawn.
    pub async fn remove_member(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let account = load_account_for_update(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let membership = load_membership(&txn, &account, user_id).await?;
        if membership.user_id == account.owner_user_id {
            return Err(AppError::FailedPrecondition(Reason::OwnerCannotBeRemoved));
        }
        store::memberships::delete(&txn, account.id, membership.user_id).await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("account.member_removed", "user", user_id).account(account_id),
        )
        .await?;
        // Invitations they sent as this account's owner (before a transfer
        // that kept them as a member) die with their place in it.
        self.retire_owner_invitations(
            &txn,
            principal,
            now,
            account.id,
            membership.user_id,
            "inviter_removed",
        )
        .await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// A page of the accounts a user may act for, in the order they joined them.
    pub async fn list_user_accounts(
        &self,
        principal: &Principal,
        user_id: UserId,
        page_size: PageSize,
        page_token: &str,
    ) -> Result<MembershipPage<UserAccount>, AppError> {
        principal.ensure_self_or_staff(Permission::AccountsRead, user_id)?;
        let user = load_user(self.reader(), user_id).await?;
        let filters = Fingerprint::new("ListUserAccounts", 1).text("user_id", &user.id.to_string());
        let paging = Paging::start(page_token, page_size, filters)?;
        let page = store::memberships::list_for_user(
            self.reader(),
            user.id,
            paging.after_parsed(MembershipCursor::from_key)?.as_ref(),
            paging.limit(),
        )
        .await?;
        let next_page_token =
            paging.next_token(&page, |last| membership_key(last, last.account_id));
        let account_ids: Vec<AccountId> = page.rows.iter().map(|m| m.account_id).collect();
        let accounts: BTreeMap<AccountId, AccountRow> =
            store::accounts::find_many(self.reader(), &account_ids)
                .await?
                .into_iter()
                .map(|a| (a.id, a))
                .collect();
        let mut entries = Vec::with_capacity(page.rows.len());
        for membership in page.rows {
            let Some(account) = accounts.get(&membership.account_id) else {
                continue;
            };
            let owner = account.owner_user_id == user.id;
            entries.push(UserAccount {
                permissions: effective_permissions(owner, &membership),
                owner,
                account: Account::try_from(account.clone())?,
            });
        }
        Ok(MembershipPage {
            entries,
            next_page_token,
        })
    }

    /// The account permission catalogue.
    /// Staff holding `accounts.read`, and any user session.
    pub fn account_permission_catalogue(
        &self,
        principal: &Principal,
    ) -> Result<&'static [AccountPermission], AppError> {
        principal.ensure_staff_or_session(Permission::AccountsRead)?;
        Ok(&AccountPermission::ALL)
    }

    /// Refuses a caller that may not manage this account's members: staff
    /// holding `accounts.write` may; the owner, through a session acting for
    /// the account, may while client user management is enabled. Ownership
    /// is read from `account`, the row the caller's transaction holds.
    pub(super) fn ensure_may_manage_members(
        &self,
        principal: &Principal,
        account: &AccountRow,
    ) -> Result<(), AppError> {
        self.ensure_manages_members(principal, account, Permission::AccountsWrite)
    }
}

/// The page-token key of a membership row: its join time and `id` (the
/// user's when listing an account, the account's when listing a user).
fn membership_key(row: &MembershipRow, id: impl ToString) -> String {
    MembershipCursor {
        created_at: row.created_at,
        id: id.to_string(),
    }
    .to_key()
}
