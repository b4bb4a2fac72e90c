//! Deleting a client account, and the users it leaves without one: shared
//! by DeleteAccount and retention pruning.

use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::AppError;
use crate::domain::{Timestamp, UserId};
use crate::store::{self, ConnectionTrait, accounts::AccountRow};

/// Deletes `row` (already loaded, and locked, in `conn`'s transaction) with
/// its `account.deleted` event, whose details carry `details`. With
/// `delete_orphan_users`, every member left with no account and no admin
/// role is deleted too, each with a `user.deleted` event. Returns them.
pub async fn delete_account_in(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    now: Timestamp,
    row: &AccountRow,
    delete_orphan_users: bool,
    details: &[(&str, String)],
) -> Result<Vec<UserId>, AppError> {
    let id = row.id;
    let members = store::memberships::all_for_account(conn, id).await?;
    store::accounts::delete(conn, id).await?;
    let mut change = Change::new("account.deleted", "account", id)
        .account(id)
        .detail("display_name", &row.display_name)
        .detail("delete_orphan_users", delete_orphan_users);
    for (key, value) in details {
        change = change.detail(key, value);
    }
    record_at(conn, principal, now, change).await?;
    let mut deleted = Vec::new();
    if !delete_orphan_users {
        return Ok(deleted);
    }
    for member in members {
        let Some(user) = store::users::find(conn, member.user_id).await? else {
            continue;
        };
        let user_id = user.id;
        let orphan = user.admin_role_id.is_none()
            && store::memberships::count_for_user(conn, user_id).await? == 0
            && store::accounts::count_owned_by(conn, user_id).await? == 0;
        if orphan {
            store::users::delete(conn, user_id).await?;
            record_at(
                conn,
                principal,
                now,
                Change::new("user.deleted", "user", user_id)
                    .account(id)
                    .detail("username", &user.username)
                    .detail("reason", "orphaned by account deletion"),
            )
            .await?;
            deleted.push(user_id);
        }
    }
    Ok(deleted)
}
