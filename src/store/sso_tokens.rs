//! Queries on single-use SSO tokens.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::sso_token;
use super::{StoreError, insert_row};

pub use sso_token::Model as SsoTokenRow;

/// Inserts a token.
pub async fn insert(conn: &impl ConnectionTrait, row: SsoTokenRow) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// The token whose hash is `token_hash`, used or not.
pub async fn find_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<SsoTokenRow>, StoreError> {
    Ok(sso_token::Entity::find()
        .filter(sso_token::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?)
}

/// Marks the token redeemed unless it already is or has expired at `now`:
/// of two redemptions racing, exactly one gets `true`.
pub async fn redeem(conn: &impl ConnectionTrait, id: &str, now: i64) -> Result<bool, StoreError> {
    let result = sso_token::Entity::update_many()
        .col_expr(sso_token::Column::RedeemedAt, Expr::value(now))
        .filter(sso_token::Column::Id.eq(id))
        .filter(sso_token::Column::RedeemedAt.is_null())
        .filter(sso_token::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes tokens that expired or were redeemed before `before`.
pub async fn delete_spent(conn: &impl ConnectionTrait, before: i64) -> Result<u64, StoreError> {
    let result = sso_token::Entity::delete_many()
        .filter(
            Condition::any()
                .add(sso_token::Column::ExpiresAt.lt(before))
                .add(sso_token::Column::RedeemedAt.lt(before)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
