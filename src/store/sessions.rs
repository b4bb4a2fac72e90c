//! Queries on user sessions.

use sea_orm::sea_query::{Expr, ExprTrait, JoinType, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter};

use super::entities::{account, membership, role, session, user};
use super::{Page, StoreError, UserRow, insert_row, page_by_id, select_prefixed};
use crate::domain::{AccountId, AccountStatus, AuthMethod, SessionId, UserId};

pub use session::Model as SessionRow;

/// Inserts a session.
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: SessionRow,
) -> Result<SessionRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The session with this id.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: SessionId,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(session::Entity::find_by_id(id).one(conn).await?)
}

/// Everything authenticating a session token needs, read in one query.
#[derive(Debug, Clone)]
pub struct SessionForAuthentication {
    /// The session.
    pub session: SessionRow,
    /// Its user.
    pub user: UserRow,
    /// The owner of the session's account, if it has one and it exists.
    pub account_owner_user_id: Option<UserId>,
    /// The status of the session's account.
    pub account_status: Option<AccountStatus>,
    /// The user's membership permissions in the session's account, if a member.
    pub membership_permissions: Option<String>,
    /// Whether the user's admin role grants everything, if they are staff.
    pub role_full_access: Option<bool>,
    /// The permissions of the user's admin role, if they are staff.
    pub role_permissions: Option<String>,
}

/// Loads the session whose token hashes to `token_hash`, with its user, its
/// account's owner and status, the user's membership there and their admin
/// role, in one round trip: this runs on every call a session makes.
pub async fn find_for_authentication(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<SessionForAuthentication>, StoreError> {
    let row = conn.query_one(&authentication_query(token_hash)).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(SessionForAuthentication {
        session: SessionRow::from_query_result(&row, "s_")?,
        user: UserRow::from_query_result(&row, "u_")?,
        account_owner_user_id: row.try_get("", "account_owner_user_id")?,
        account_status: row.try_get("", "account_status")?,
        membership_permissions: row.try_get("", "membership_permissions")?,
        role_full_access: row.try_get("", "role_full_access")?,
        role_permissions: row.try_get("", "role_permissions")?,
    }))
}

/// The query [`find_for_authentication`] runs: the session's columns
/// (prefixed `s_`), its user's (`u_`), and the account, membership and
/// admin role facts beside them.
fn authentication_query(token_hash: &str) -> SelectStatement {
    let mut select = Query::select();
    select_prefixed::<session::Entity>(&mut select, "s");
    select_prefixed::<user::Entity>(&mut select, "u");
    select
        .expr_as(
            Expr::col(("a", account::Column::OwnerUserId)),
            "account_owner_user_id",
        )
        .expr_as(Expr::col(("a", account::Column::Status)), "account_status")
        .expr_as(
            Expr::col(("m", membership::Column::Permissions)),
            "membership_permissions",
        )
        .expr_as(
            Expr::col(("r", role::Column::FullAccess)),
            "role_full_access",
        )
        .expr_as(
            Expr::col(("r", role::Column::Permissions)),
            "role_permissions",
        )
        .from_as(session::Entity, "s")
        .join_as(
            JoinType::InnerJoin,
            user::Entity,
            "u",
            Expr::col(("u", user::Column::Id)).equals(("s", session::Column::UserId)),
        )
        .join_as(
            JoinType::LeftJoin,
            account::Entity,
            "a",
            Expr::col(("a", account::Column::Id)).equals(("s", session::Column::AccountId)),
        )
        .join_as(
            JoinType::LeftJoin,
            membership::Entity,
            "m",
            Condition::all()
                .add(
                    Expr::col(("m", membership::Column::AccountId))
                        .equals(("s", session::Column::AccountId)),
                )
                .add(
                    Expr::col(("m", membership::Column::UserId))
                        .equals(("s", session::Column::UserId)),
                ),
        )
        .join_as(
            JoinType::LeftJoin,
            role::Entity,
            "r",
            Expr::col(("r", role::Column::Id)).equals(("u", user::Column::AdminRoleId)),
        )
        .and_where(Expr::col(("s", session::Column::TokenHash)).eq(token_hash));
    select
}

/// A page of a user's sessions that are neither revoked nor expired at
/// `now`, newest first. `idle_cutoff` is the oldest `last_seen_at` still live.
pub async fn list_live_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    now: i64,
    idle_cutoff: i64,
    before_id: Option<&str>,
    limit: u64,
) -> Result<Page<SessionRow>, StoreError> {
    use session::Column;
    let query = session::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::AbsoluteExpiresAt.gt(now))
        .filter(Column::LastSeenAt.gt(idle_cutoff));
    page_by_id(conn, query, Column::Id, true, before_id, limit).await
}

/// Every session of a user the sweep has not deleted yet, live or ended,
/// newest first.
pub async fn all_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Vec<SessionRow>, StoreError> {
    use sea_orm::QueryOrder;
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::Id)
        .all(conn)
        .await?)
}

/// Records that a session was used at `now`.
pub async fn touch(conn: &impl ConnectionTrait, id: SessionId, now: i64) -> Result<(), StoreError> {
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, now.into())
        .filter(session::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds `method` to how a live session was authenticated (a second factor
/// proven after sign-in, as when confirming a TOTP enrolment).
pub async fn add_auth_method(
    conn: &impl ConnectionTrait,
    id: SessionId,
    method: AuthMethod,
) -> Result<(), StoreError> {
    let Some(row) = find(conn, id).await? else {
        return Ok(());
    };
    session::Entity::update_many()
        .col_expr(
            session::Column::AuthMethods,
            row.auth_methods.with(method).into(),
        )
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Points a live session at another account; returns whether it changed.
pub async fn set_account(
    conn: &impl ConnectionTrait,
    id: SessionId,
    account_id: AccountId,
    now: i64,
) -> Result<bool, StoreError> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::AccountId, account_id.into())
        .col_expr(session::Column::LastSeenAt, now.into())
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Revokes one session unless it already is; returns whether it changed.
pub async fn revoke(
    conn: &impl ConnectionTrait,
    id: SessionId,
    now: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, now.into())
        .col_expr(session::Column::RevokeReason, reason.into())
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Revokes every unrevoked session of a user but `except`; returns how many.
pub async fn revoke_all_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    except: Option<SessionId>,
    now: i64,
    reason: &str,
) -> Result<u64, StoreError> {
    let mut condition = Condition::all()
        .add(session::Column::UserId.eq(user_id))
        .add(session::Column::RevokedAt.is_null());
    if let Some(except) = except {
        condition = condition.add(session::Column::Id.ne(except));
    }
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, now.into())
        .col_expr(session::Column::RevokeReason, reason.into())
        .filter(condition)
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes sessions that ended (revoked, idle or past their absolute
/// expiry) before `ended_before`; returns how many. `idle` is the idle
/// timeout in microseconds.
pub async fn delete_ended(
    conn: &impl ConnectionTrait,
    ended_before: i64,
    idle: i64,
) -> Result<u64, StoreError> {
    use session::Column;
    let result = session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::RevokedAt.lt(ended_before))
                .add(Column::AbsoluteExpiresAt.lt(ended_before))
                .add(Column::LastSeenAt.lt(ended_before.saturating_sub(idle))),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
