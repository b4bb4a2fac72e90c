//! Queries on one-time user tokens: verification codes and reset links.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::entities::user_token;
use super::{StoreError, insert_row};
use crate::domain::UserId;

pub use user_token::Model as UserTokenRow;

/// Inserts a token.
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: UserTokenRow,
) -> Result<UserTokenRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// Every unused, unexpired token of a user for `purpose`.
pub async fn live_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    purpose: &str,
    now: i64,
) -> Result<Vec<UserTokenRow>, StoreError> {
    use user_token::Column;
    Ok(user_token::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// How many unused, unexpired tokens of a user for `purpose` there are.
pub async fn count_live_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    purpose: &str,
    now: i64,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    use user_token::Column;
    Ok(user_token::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .count(conn)
        .await?)
}

/// Deletes every token of a user for `purpose`, used or not.
pub async fn delete_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    purpose: &str,
) -> Result<u64, StoreError> {
    use user_token::Column;
    let result = user_token::Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The newest unused, unexpired token of a user for `purpose`.
pub async fn find_live_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    purpose: &str,
    now: i64,
) -> Result<Option<UserTokenRow>, StoreError> {
    use user_token::Column;
    Ok(user_token::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .order_by_desc(Column::Id)
        .one(conn)
        .await?)
}

/// The token for `purpose` whose secret hashes to `secret_hash`, used or not.
pub async fn find_by_hash(
    conn: &impl ConnectionTrait,
    purpose: &str,
    secret_hash: &str,
) -> Result<Option<UserTokenRow>, StoreError> {
    use user_token::Column;
    Ok(user_token::Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::SecretHash.eq(secret_hash))
        .one(conn)
        .await?)
}

/// Takes one of a token's `max_attempts` guesses, unless it is used up or
/// out of guesses; returns the guesses taken so far, or `None` when none
/// was left. One statement that checks and counts, so of concurrent
/// guesses no more than `max_attempts` are ever evaluated.
pub async fn take_attempt(
    conn: &impl ConnectionTrait,
    id: &str,
    max_attempts: i32,
) -> Result<Option<i32>, StoreError> {
    use user_token::Column;
    let taken = user_token::Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::Attempts.lt(max_attempts))
        .filter(Column::ConsumedAt.is_null())
        .exec_with_returning(conn)
        .await?;
    Ok(taken.first().map(|token| token.attempts))
}

/// Uses a token up unless it already is; returns whether this call did. Two
/// concurrent uses of one token cannot both see `true`.
pub async fn consume(conn: &impl ConnectionTrait, id: &str, now: i64) -> Result<bool, StoreError> {
    let result = user_token::Entity::update_many()
        .col_expr(user_token::Column::ConsumedAt, now.into())
        .filter(user_token::Column::Id.eq(id))
        .filter(user_token::Column::ConsumedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The id of some user, to hang a token on that [`insert_and_undo`] never
/// keeps (a token needs a real user).
pub async fn stand_in_user_id(conn: &impl ConnectionTrait) -> Result<Option<UserId>, StoreError> {
    use sea_orm::{QuerySelect, entity::prelude::*};
    Ok(super::entities::user::Entity::find()
        .select_only()
        .column(super::entities::user::Column::Id)
        .limit(1)
        .into_tuple::<UserId>()
        .one(conn)
        .await?)
}

/// Inserts `token` and `mail` inside a savepoint of `txn` and rolls both
/// back: the writes of mailing a one-time secret, leaving nothing behind.
/// A request that mails nothing makes them so that its time does not tell
/// whether the address belongs to anyone.
pub async fn insert_and_undo(
    txn: &DatabaseTransaction,
    token: UserTokenRow,
    mail: super::mails::MailRow,
) -> Result<(), StoreError> {
    let savepoint = txn.begin().await?;
    insert(&savepoint, token).await?;
    super::mails::insert(&savepoint, mail).await?;
    savepoint.rollback().await?;
    Ok(())
}

/// Uses up every unused token of a user for `purpose`.
pub async fn consume_all_for_user(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    purpose: &str,
    now: i64,
) -> Result<u64, StoreError> {
    use user_token::Column;
    let result = user_token::Entity::update_many()
        .col_expr(Column::ConsumedAt, now.into())
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::ConsumedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes tokens that expired or were used before `before`; returns how many.
pub async fn delete_spent(conn: &impl ConnectionTrait, before: i64) -> Result<u64, StoreError> {
    use sea_orm::Condition;
    use user_token::Column;
    let result = user_token::Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.lt(before))
                .add(Column::ConsumedAt.lt(before)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
