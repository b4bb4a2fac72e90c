//! Queries on client accounts.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::entities::{account, membership};
use super::{Page, StoreError, contains_pattern, insert_row, page_by_id};
use crate::domain::{AccountId, AccountStatus, UserId};

pub use account::Model as AccountRow;

/// What ListAccounts matches.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Lower-cased text the display name, company or email must contain.
    pub text: Option<String>,
    /// Only this status.
    pub status: Option<AccountStatus>,
    /// Only accounts this user is a member (or the owner) of.
    pub member_user_id: Option<UserId>,
}

fn search_text(row: &AccountRow) -> String {
    format!(
        "{} {} {}",
        row.display_name.to_lowercase(),
        row.company.to_lowercase(),
        row.email.to_lowercase()
    )
}

fn filtered(filter: &AccountFilter) -> Select<account::Entity> {
    let mut query = account::Entity::find();
    if let Some(text) = &filter.text {
        query = query.filter(account::Column::SearchText.like(contains_pattern(text)));
    }
    if let Some(status) = &filter.status {
        query = query.filter(account::Column::Status.eq(*status));
    }
    if let Some(user_id) = filter.member_user_id {
        let member_of = Query::select()
            .column(membership::Column::AccountId)
            .from(membership::Entity)
            .and_where(membership::Column::UserId.eq(user_id))
            .to_owned();
        query = query.filter(account::Column::Id.in_subquery(member_of));
    }
    query
}

/// Every column of `row` as values to write, with `search_text` derived.
fn active(row: &AccountRow) -> account::ActiveModel {
    let mut row = row.clone();
    row.search_text = search_text(&row);
    row.into_active_model().reset_all()
}

/// Inserts an account; `search_text` is derived here.
pub async fn insert(
    conn: &impl ConnectionTrait,
    mut row: AccountRow,
) -> Result<AccountRow, StoreError> {
    row.search_text = search_text(&row);
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The account with this id.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(account::Entity::find_by_id(id).one(conn).await?)
}

/// The account with this id, locked until the transaction ends (PostgreSQL:
/// `FOR UPDATE`; SQLite's single writer needs no lock), so that concurrent
/// ownership transfers and membership changes of one account run one at a time.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(account::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// The accounts with these ids.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: &[AccountId],
) -> Result<Vec<AccountRow>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// A page of accounts in id (creation) order, newest or oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &AccountFilter,
    newest_first: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<AccountRow>, StoreError> {
    page_by_id(
        conn,
        filtered(filter),
        account::Column::Id,
        newest_first,
        after,
        limit,
    )
    .await
}

/// How many accounts match `filter`.
pub async fn count(conn: &impl ConnectionTrait, filter: &AccountFilter) -> Result<u64, StoreError> {
    Ok(filtered(filter).count(conn).await?)
}

/// Writes an account's profile, status, owner, times and derived search text.
pub async fn update(conn: &impl ConnectionTrait, row: &AccountRow) -> Result<(), StoreError> {
    account::Entity::update(active(row)).exec(conn).await?;
    Ok(())
}

/// Deletes an account; its memberships go with it.
pub async fn delete(conn: &impl ConnectionTrait, id: AccountId) -> Result<(), StoreError> {
    // A user whose primary account goes has none.
    super::users::clear_primary_account(conn, id).await?;
    account::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// How many accounts this user owns.
pub async fn count_owned_by(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<u64, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::OwnerUserId.eq(user_id))
        .count(conn)
        .await?)
}

/// Activity within this long of the last recorded activity is not written
/// again, so a busy account costs one write an hour, not one per sign-in.
pub const ACTIVITY_GRANULARITY_MICROS: i64 = 3_600_000_000;

/// Records activity on an account at `at`: it moves `last_activity_at`
/// forward (never back) and cancels a pending inactivity warning.
pub async fn record_activity(
    conn: &impl ConnectionTrait,
    id: AccountId,
    at: i64,
) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::LastActivityAt, Expr::value(at))
        .col_expr(
            account::Column::InactivityWarnedAt,
            Expr::value(Option::<i64>::None),
        )
        .filter(account::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(account::Column::LastActivityAt.is_null())
                .add(account::Column::LastActivityAt.lt(at - ACTIVITY_GRANULARITY_MICROS))
                .add(account::Column::InactivityWarnedAt.is_not_null()),
        )
        .filter(
            Condition::any()
                .add(account::Column::LastActivityAt.is_null())
                .add(account::Column::LastActivityAt.lt(at)),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// When an account was last active: its last activity, or its creation.
fn activity_time() -> Expr {
    Func::coalesce([
        Expr::col(account::Column::LastActivityAt),
        Expr::col(account::Column::CreatedAt),
    ])
    .into()
}

/// The rows of `query` with ids after `after`, oldest id first, `limit` at most.
async fn oldest_first_after(
    conn: &impl ConnectionTrait,
    mut query: Select<account::Entity>,
    after: Option<AccountId>,
    limit: u64,
) -> Result<Vec<AccountRow>, StoreError> {
    if let Some(after) = after {
        query = query.filter(account::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(account::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Active accounts, not on hold and not yet warned, last active before
/// `before`: their owners are due an inactivity warning. Oldest id first,
/// after `after`.
pub async fn due_inactivity_warning(
    conn: &impl ConnectionTrait,
    before: i64,
    after: Option<AccountId>,
    limit: u64,
) -> Result<Vec<AccountRow>, StoreError> {
    let query = account::Entity::find()
        .filter(account::Column::Status.eq(AccountStatus::Active))
        .filter(account::Column::RetentionHold.eq(false))
        .filter(account::Column::InactivityWarnedAt.is_null())
        .filter(activity_time().lt(before));
    oldest_first_after(conn, query, after, limit).await
}

/// Active accounts, not on hold, last active before `before` and warned
/// before `warned_before`: due for deletion for inactivity.
pub async fn due_inactive_deletion(
    conn: &impl ConnectionTrait,
    before: i64,
    warned_before: i64,
    after: Option<AccountId>,
    limit: u64,
) -> Result<Vec<AccountRow>, StoreError> {
    let query = account::Entity::find()
        .filter(account::Column::Status.eq(AccountStatus::Active))
        .filter(account::Column::RetentionHold.eq(false))
        .filter(account::Column::InactivityWarnedAt.lte(warned_before))
        .filter(activity_time().lt(before));
    oldest_first_after(conn, query, after, limit).await
}

/// Closed accounts, not on hold, closed before `before`: due for deletion.
pub async fn due_closed_deletion(
    conn: &impl ConnectionTrait,
    before: i64,
    after: Option<AccountId>,
    limit: u64,
) -> Result<Vec<AccountRow>, StoreError> {
    let query = account::Entity::find()
        .filter(account::Column::Status.eq(AccountStatus::Closed))
        .filter(account::Column::RetentionHold.eq(false))
        .filter(account::Column::ClosedAt.lt(before));
    oldest_first_after(conn, query, after, limit).await
}

/// Marks an account's owner warned at `now`, unless the account was active
/// or warned since it was read; whether it did.
pub async fn mark_warned(
    conn: &impl ConnectionTrait,
    id: AccountId,
    before: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let result = account::Entity::update_many()
        .col_expr(account::Column::InactivityWarnedAt, Expr::value(now))
        .filter(account::Column::Id.eq(id))
        .filter(account::Column::InactivityWarnedAt.is_null())
        .filter(activity_time().lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts an account on retention hold (or takes it off) with a reason.
pub async fn set_retention_hold(
    conn: &impl ConnectionTrait,
    id: AccountId,
    hold: bool,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::RetentionHold, Expr::value(hold))
        .col_expr(account::Column::RetentionHoldReason, Expr::value(reason))
        .col_expr(account::Column::UpdatedAt, Expr::value(now))
        .filter(account::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The accounts this user owns.
pub async fn owned_by(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Vec<AccountRow>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::OwnerUserId.eq(user_id))
        .all(conn)
        .await?)
}
