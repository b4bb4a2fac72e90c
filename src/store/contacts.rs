//! Queries on account contacts.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder,
};

use super::entities::account_contact;
use super::{StoreError, insert_row};
use crate::domain::AccountId;

pub use account_contact::Model as ContactRow;

/// Inserts a contact; a unique violation on `email_normalized` means the
/// account has one with that address.
pub async fn insert(conn: &impl ConnectionTrait, row: ContactRow) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// Replaces a contact's name, address and mails.
pub async fn update(conn: &impl ConnectionTrait, row: ContactRow) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(conn).await?;
    Ok(())
}

/// The contact with this id.
pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<ContactRow>, StoreError> {
    Ok(account_contact::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// The account's contact with this (normalized) address.
pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    email_normalized: &str,
) -> Result<Option<ContactRow>, StoreError> {
    Ok(account_contact::Entity::find()
        .filter(account_contact::Column::AccountId.eq(account_id))
        .filter(account_contact::Column::EmailNormalized.eq(email_normalized))
        .one(conn)
        .await?)
}

/// The account's contacts, oldest first.
pub async fn list_for_account(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
) -> Result<Vec<ContactRow>, StoreError> {
    Ok(account_contact::Entity::find()
        .filter(account_contact::Column::AccountId.eq(account_id))
        .order_by_asc(account_contact::Column::Id)
        .all(conn)
        .await?)
}

/// How many contacts the account has.
pub async fn count_for_account(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
) -> Result<u64, StoreError> {
    Ok(account_contact::Entity::find()
        .filter(account_contact::Column::AccountId.eq(account_id))
        .count(conn)
        .await?)
}

/// Deletes a contact; whether there was one.
pub async fn delete(conn: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let result = account_contact::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
