//! Queries on memberships: which users may act for which accounts.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Value;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::{account, membership};
use super::{Page, StoreError, insert_row};
use crate::domain::{AccountId, AccountStatus, UserId};

pub use membership::Model as MembershipRow;

/// Where a membership listing continues: after this join time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipCursor {
    /// The join time of the last row returned.
    pub created_at: i64,
    /// The user id (listing an account) or account id (listing a user) of
    /// that row, as the text a page token carries.
    pub id: String,
}

impl MembershipCursor {
    /// The cursor as one page-token key.
    pub fn to_key(&self) -> String {
        format!("{}:{}", self.created_at, self.id)
    }

    /// A cursor from a page-token key.
    pub fn from_key(key: &str) -> Option<Self> {
        let (created_at, id) = key.split_once(':')?;
        Some(Self {
            created_at: created_at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// Inserts a membership.
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: MembershipRow,
) -> Result<MembershipRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The membership of `user_id` in `account_id`.
pub async fn find(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    user_id: UserId,
) -> Result<Option<MembershipRow>, StoreError> {
    Ok(membership::Entity::find_by_id((account_id, user_id))
        .one(conn)
        .await?)
}

/// A page of an account's memberships in join order.
pub async fn list_for_account(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    after: Option<&MembershipCursor>,
    limit: u64,
) -> Result<Page<MembershipRow>, StoreError> {
    use membership::Column;
    list_in_join_order(
        conn,
        (Column::AccountId, account_id.into()),
        Column::UserId,
        after,
        limit,
    )
    .await
}

/// A page of a user's memberships in join order.
pub async fn list_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    after: Option<&MembershipCursor>,
    limit: u64,
) -> Result<Page<MembershipRow>, StoreError> {
    use membership::Column;
    list_in_join_order(
        conn,
        (Column::UserId, user_id.into()),
        Column::AccountId,
        after,
        limit,
    )
    .await
}

/// Every membership of a user.
pub async fn all_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Vec<MembershipRow>, StoreError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(conn)
        .await?)
}

/// The memberships where `scope` has its value, ordered by join time and
/// then by `tie`, after the cursor.
async fn list_in_join_order(
    conn: &impl ConnectionTrait,
    (scope, value): (membership::Column, Value),
    tie: membership::Column,
    after: Option<&MembershipCursor>,
    limit: u64,
) -> Result<Page<MembershipRow>, StoreError> {
    use membership::Column;
    let mut query = membership::Entity::find().filter(scope.eq(value));
    if let Some(after) = after {
        query = query.filter(
            Condition::any()
                .add(Column::CreatedAt.gt(after.created_at))
                .add(
                    Condition::all()
                        .add(Column::CreatedAt.eq(after.created_at))
                        .add(tie.gt(after.id.as_str())),
                ),
        );
    }
    let rows = query
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(tie)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// Every membership of an account.
pub async fn all_for_account(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
) -> Result<Vec<MembershipRow>, StoreError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .all(conn)
        .await?)
}

/// Replaces a membership's permissions.
pub async fn set_permissions(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    user_id: UserId,
    permissions: &str,
    now: i64,
) -> Result<(), StoreError> {
    let active = membership::ActiveModel {
        account_id: Set(account_id),
        user_id: Set(user_id),
        permissions: Set(permissions.to_owned()),
        updated_at: Set(now),
        ..Default::default()
    };
    membership::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Deletes a membership.
pub async fn delete(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    user_id: UserId,
) -> Result<(), StoreError> {
    membership::Entity::delete_by_id((account_id, user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many accounts a user is a member of.
pub async fn count_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<u64, StoreError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .count(conn)
        .await?)
}

/// The ids of up to `limit` active accounts `user_id` is a member of, in the
/// order they joined them.
pub async fn active_account_ids_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    limit: u64,
) -> Result<Vec<AccountId>, StoreError> {
    use membership::Column;
    let to_account = membership::Entity::belongs_to(account::Entity)
        .from(Column::AccountId)
        .to(account::Column::Id)
        .into();
    Ok(membership::Entity::find()
        .select_only()
        .column(Column::AccountId)
        .join(JoinType::InnerJoin, to_account)
        .filter(Column::UserId.eq(user_id))
        .filter(account::Column::Status.eq(AccountStatus::Active))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::AccountId)
        .limit(limit)
        .into_tuple::<AccountId>()
        .all(conn)
        .await?)
}
