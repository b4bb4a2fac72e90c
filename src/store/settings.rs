//! Service-wide facts kept in the database.

use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::StoreError;
use super::entities::setting;

/// The value of a setting, if it was ever written.
pub async fn get(conn: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    Ok(setting::Entity::find_by_id(key.to_owned())
        .one(conn)
        .await?
        .map(|row| row.value))
}

/// Writes a setting that must not exist yet; a concurrent writer fails with a unique violation.
pub async fn insert_new(
    conn: &impl ConnectionTrait,
    key: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    let active = setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(now),
    };
    setting::Entity::insert(active)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
