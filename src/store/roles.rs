//! Queries on roles.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::entities::{api_credential, api_credential_role, role, user};
use super::{Page, StoreError, insert_row, page_by_id};
use crate::domain::{ApiCredentialId, RoleId, RoleKind};

pub use role::Model as RoleRow;

/// Inserts a role.
pub async fn insert(conn: &impl ConnectionTrait, row: RoleRow) -> Result<RoleRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The role with this id.
pub async fn find(conn: &impl ConnectionTrait, id: RoleId) -> Result<Option<RoleRow>, StoreError> {
    Ok(role::Entity::find_by_id(id).one(conn).await?)
}

/// The role of this kind with this (lower-cased) name.
pub async fn find_by_name(
    conn: &impl ConnectionTrait,
    kind: RoleKind,
    name_normalized: &str,
) -> Result<Option<RoleRow>, StoreError> {
    Ok(role::Entity::find()
        .filter(role::Column::Kind.eq(kind))
        .filter(role::Column::NameNormalized.eq(name_normalized))
        .one(conn)
        .await?)
}

/// The roles with these ids (missing ids are simply absent).
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: &[RoleId],
) -> Result<Vec<RoleRow>, StoreError> {
    Ok(role::Entity::find()
        .filter(role::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(role::Column::Id)
        .all(conn)
        .await?)
}

/// A page of roles in id (creation) order, optionally of one kind.
pub async fn list(
    conn: &impl ConnectionTrait,
    kind: Option<RoleKind>,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<RoleRow>, StoreError> {
    let mut query = role::Entity::find();
    if let Some(kind) = kind {
        query = query.filter(role::Column::Kind.eq(kind));
    }
    page_by_id(conn, query, role::Column::Id, false, after, limit).await
}

/// Writes a role's name, description, permissions and update time.
pub async fn update(conn: &impl ConnectionTrait, row: &RoleRow) -> Result<(), StoreError> {
    let active = role::ActiveModel {
        id: Set(row.id),
        name: Set(row.name.clone()),
        name_normalized: Set(row.name_normalized.clone()),
        description: Set(row.description.clone()),
        permissions: Set(row.permissions.clone()),
        updated_at: Set(row.updated_at),
        ..Default::default()
    };
    role::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Deletes a role; links from revoked credentials go with it.
pub async fn delete(conn: &impl ConnectionTrait, id: RoleId) -> Result<(), StoreError> {
    role::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// How many users hold this admin role.
pub async fn count_holders(conn: &impl ConnectionTrait, id: RoleId) -> Result<u64, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::AdminRoleId.eq(id))
        .count(conn)
        .await?)
}

/// How many credentials that are not revoked carry this API role.
pub async fn count_unrevoked_credentials(
    conn: &impl ConnectionTrait,
    id: RoleId,
) -> Result<u64, StoreError> {
    let credential_ids: Vec<ApiCredentialId> = api_credential_role::Entity::find()
        .filter(api_credential_role::Column::RoleId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|link| link.credential_id)
        .collect();
    if credential_ids.is_empty() {
        return Ok(0);
    }
    Ok(api_credential::Entity::find()
        .filter(api_credential::Column::Id.is_in(credential_ids))
        .filter(api_credential::Column::RevokedAt.is_null())
        .count(conn)
        .await?)
}
