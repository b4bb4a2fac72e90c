//! Request ids of create calls.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::idempotency_key;
use super::{StoreError, insert_row};

pub use idempotency_key::Model as IdempotencyRow;

/// The first result recorded for this caller, operation and request id.
pub async fn find(
    conn: &impl ConnectionTrait,
    caller: &str,
    operation: &str,
    request_id: &str,
) -> Result<Option<IdempotencyRow>, StoreError> {
    Ok(idempotency_key::Entity::find_by_id((
        caller.to_owned(),
        operation.to_owned(),
        request_id.to_owned(),
    ))
    .one(conn)
    .await?)
}

/// Records the result of a create call; a concurrent duplicate fails with a unique violation.
pub async fn insert(conn: &impl ConnectionTrait, row: IdempotencyRow) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// Deletes request ids first used before `before`; returns how many.
pub async fn delete_created_before(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    let result = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
