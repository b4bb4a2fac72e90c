//! Queries on users.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{role, user};
use super::{Page, StoreError};

pub use user::Model as UserRow;

/// Inserts a user.
pub async fn insert(conn: &impl ConnectionTrait, row: UserRow) -> Result<UserRow, StoreError> {
    let active = user::ActiveModel {
        id: Set(row.id.clone()),
        email: Set(row.email.clone()),
        email_normalized: Set(row.email_normalized.clone()),
        username: Set(row.username.clone()),
        username_normalized: Set(row.username_normalized.clone()),
        full_name: Set(row.full_name.clone()),
        photo_url: Set(row.photo_url.clone()),
        locale: Set(row.locale.clone()),
        status: Set(row.status.clone()),
        email_verified: Set(row.email_verified),
        password_hash: Set(row.password_hash.clone()),
        admin_role_id: Set(row.admin_role_id.clone()),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        last_login_at: Set(row.last_login_at),
    };
    user::Entity::insert(active)
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The user with this id.
pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// A page of staff users (users with an admin role) in id order.
pub async fn list_staff(
    conn: &impl ConnectionTrait,
    admin_role_id: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<UserRow>, StoreError> {
    let mut query = user::Entity::find().filter(user::Column::AdminRoleId.is_not_null());
    if let Some(role_id) = admin_role_id {
        query = query.filter(user::Column::AdminRoleId.eq(role_id));
    }
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(user::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// Gives a user an admin role, or takes it away with `None`.
pub async fn set_admin_role(
    conn: &impl ConnectionTrait,
    id: &str,
    role_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let active = user::ActiveModel {
        id: Set(id.to_owned()),
        admin_role_id: Set(role_id.map(str::to_owned)),
        updated_at: Set(now),
        ..Default::default()
    };
    user::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// The ids of active staff users whose admin role grants full access.
pub async fn full_access_staff_ids(conn: &impl ConnectionTrait) -> Result<Vec<String>, StoreError> {
    let full_roles: Vec<String> = role::Entity::find()
        .filter(role::Column::FullAccess.eq(true))
        .filter(role::Column::Kind.eq("admin"))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if full_roles.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::AdminRoleId.is_in(full_roles))
        .filter(user::Column::Status.eq("active"))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// Whether any user holds an admin role.
pub async fn any_staff(conn: &impl ConnectionTrait) -> Result<bool, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::AdminRoleId.is_not_null())
        .one(conn)
        .await?
        .is_some())
}
