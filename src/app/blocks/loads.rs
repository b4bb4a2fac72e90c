//! Loading the rows a use case changes, inside its transaction, with the
//! not-found error callers get. Account loads lock the row.

use crate::app::error::{AppError, Reason};
use crate::domain::{AccountId, AccountStatus};
use crate::domain::{RoleId, UserId};
use crate::store::accounts::AccountRow;
use crate::store::memberships::MembershipRow;
use crate::store::roles::RoleRow;
use crate::store::{self, ConnectionTrait, users::UserRow};

pub(crate) async fn load_user(
    conn: &impl ConnectionTrait,
    id: UserId,
) -> Result<UserRow, AppError> {
    store::users::find(conn, id)
        .await?
        .ok_or(AppError::NotFound(Reason::UserNotFound))
}

pub(crate) async fn load_account_for_update(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<AccountRow, AppError> {
    store::accounts::find_for_update(conn, id)
        .await?
        .ok_or(AppError::NotFound(Reason::AccountNotFound))
}

/// The account, locked for this transaction, refusing a closed one.
pub(crate) async fn load_active_account(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<AccountRow, AppError> {
    let account = load_account_for_update(conn, id).await?;
    if account.status == AccountStatus::Closed {
        return Err(AppError::FailedPrecondition(Reason::AccountClosed));
    }
    Ok(account)
}

pub(crate) async fn load_membership(
    conn: &impl ConnectionTrait,
    account: &AccountRow,
    user_id: UserId,
) -> Result<MembershipRow, AppError> {
    store::memberships::find(conn, account.id, user_id)
        .await?
        .ok_or(AppError::NotFound(Reason::MemberNotFound))
}

pub(crate) async fn load_role(
    conn: &impl ConnectionTrait,
    id: RoleId,
) -> Result<RoleRow, AppError> {
    store::roles::find(conn, id)
        .await?
        .ok_or(AppError::NotFound(Reason::RoleNotFound))
}

/// Whether `user_id` may act for `account_id` now: the account exists, is
/// active, and the user is a member of it.
pub(crate) async fn may_act_for(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    account_id: AccountId,
) -> Result<bool, AppError> {
    let Some(account) = store::accounts::find(conn, account_id).await? else {
        return Ok(false);
    };
    Ok(account.status == AccountStatus::Active
        && store::memberships::find(conn, account.id, user_id)
            .await?
            .is_some())
}
