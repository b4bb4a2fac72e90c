//! Queries on API credentials and the API roles they carry.

use std::collections::BTreeMap;

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{api_credential, api_credential_role};
use super::{Page, StoreError};

pub use api_credential::Model as CredentialRow;

/// Which credentials a listing wants, judged at a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Not revoked and not past expiry.
    Active,
    /// Not revoked but past expiry.
    Expired,
    /// Revoked.
    Revoked,
}

/// Inserts a credential and its API role links.
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: CredentialRow,
    role_ids: &[String],
) -> Result<CredentialRow, StoreError> {
    let active = api_credential::ActiveModel {
        id: Set(row.id.clone()),
        identifier: Set(row.identifier.clone()),
        secret_hash: Set(row.secret_hash.clone()),
        owner_user_id: Set(row.owner_user_id.clone()),
        description: Set(row.description.clone()),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        revoked_at: Set(row.revoked_at),
        last_used_at: Set(row.last_used_at),
    };
    api_credential::Entity::insert(active)
        .exec_without_returning(conn)
        .await?;
    let links = role_ids
        .iter()
        .map(|role_id| api_credential_role::ActiveModel {
            credential_id: Set(row.id.clone()),
            role_id: Set(role_id.clone()),
        });
    api_credential_role::Entity::insert_many(links)
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The credential with this id.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(api_credential::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// The credential with this public identifier.
pub async fn find_by_identifier(
    conn: &impl ConnectionTrait,
    identifier: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(api_credential::Entity::find()
        .filter(api_credential::Column::Identifier.eq(identifier))
        .one(conn)
        .await?)
}

/// The API role ids of each of these credentials, sorted.
pub async fn role_ids_of(
    conn: &impl ConnectionTrait,
    credential_ids: &[String],
) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
    let links = api_credential_role::Entity::find()
        .filter(api_credential_role::Column::CredentialId.is_in(credential_ids.iter().cloned()))
        .order_by_asc(api_credential_role::Column::RoleId)
        .all(conn)
        .await?;
    let mut by_credential: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for link in links {
        by_credential
            .entry(link.credential_id)
            .or_default()
            .push(link.role_id);
    }
    Ok(by_credential)
}

/// A page of credentials in id order, filtered by owner and by state at `now`.
pub async fn list(
    conn: &impl ConnectionTrait,
    owner_user_id: Option<&str>,
    state: Option<StateFilter>,
    now: i64,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<CredentialRow>, StoreError> {
    use api_credential::Column;
    let mut query = api_credential::Entity::find();
    if let Some(owner) = owner_user_id {
        query = query.filter(Column::OwnerUserId.eq(owner));
    }
    query = match state {
        None => query,
        Some(StateFilter::Revoked) => query.filter(Column::RevokedAt.is_not_null()),
        Some(StateFilter::Active) => query.filter(Column::RevokedAt.is_null()).filter(
            Condition::any()
                .add(Column::ExpiresAt.is_null())
                .add(Column::ExpiresAt.gt(now)),
        ),
        Some(StateFilter::Expired) => query
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.lte(now)),
    };
    if let Some(after) = after {
        query = query.filter(Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// Marks a credential revoked at `now` unless it already is; returns whether it changed.
pub async fn revoke(conn: &impl ConnectionTrait, id: &str, now: i64) -> Result<bool, StoreError> {
    let result = api_credential::Entity::update_many()
        .col_expr(api_credential::Column::RevokedAt, now.into())
        .filter(api_credential::Column::Id.eq(id))
        .filter(api_credential::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Records that a credential authenticated a call at `now`.
pub async fn touch_last_used(
    conn: &impl ConnectionTrait,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    api_credential::Entity::update_many()
        .col_expr(api_credential::Column::LastUsedAt, now.into())
        .filter(api_credential::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
