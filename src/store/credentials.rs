//! Queries on API credentials and the API roles they carry.

use std::collections::BTreeMap;

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
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
        created_by_user_id: Set(row.created_by_user_id.clone()),
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

/// A page of credentials in id order, filtered by owner, by creator and by
/// state at `now`.
pub async fn list(
    conn: &impl ConnectionTrait,
    owner_user_id: Option<&str>,
    created_by_user_id: Option<&str>,
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
    if let Some(creator) = created_by_user_id {
        query = query.filter(Column::CreatedByUserId.eq(creator));
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

/// One role that bears on a credential's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantingRole {
    /// The role's id.
    pub id: String,
    /// `admin` (the owner's admin role) or `api` (one of the credential's roles).
    pub kind: String,
    /// Space-separated permission names.
    pub permissions: String,
    /// Whether the role grants everything.
    pub full_access: bool,
}

/// Everything authentication needs about a credential, read in one query.
#[derive(Debug, Clone)]
pub struct CredentialForAuthentication {
    /// The credential.
    pub credential: CredentialRow,
    /// The owner's status, if the owner exists.
    pub owner_status: Option<String>,
    /// The owner's admin role id, if the owner is staff.
    pub owner_admin_role_id: Option<String>,
    /// The creator's status, if the credential names a creator who exists.
    pub creator_status: Option<String>,
    /// The creator's admin role id, if the creator is staff.
    pub creator_admin_role_id: Option<String>,
    /// The owner's and the creator's admin roles and the credential's API roles.
    pub roles: Vec<GrantingRole>,
}

/// Loads the credential with `identifier`, its owner's and its creator's
/// status and admin role, and every role bearing on its permissions, in a
/// single round trip: this runs on every authenticated call.
pub async fn find_for_authentication(
    conn: &impl ConnectionTrait,
    identifier: &str,
) -> Result<Option<CredentialForAuthentication>, StoreError> {
    let backend = conn.get_database_backend();
    let placeholder = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "SELECT c.id, c.identifier, c.secret_hash, c.owner_user_id, c.created_by_user_id, \
                c.description, c.created_at, c.expires_at, c.revoked_at, c.last_used_at, \
                u.status AS owner_status, u.admin_role_id AS owner_admin_role_id, \
                cu.status AS creator_status, cu.admin_role_id AS creator_admin_role_id, \
                r.id AS role_id, r.kind AS role_kind, r.permissions AS role_permissions, \
                r.full_access AS role_full_access \
         FROM api_credentials c \
         LEFT JOIN users u ON u.id = c.owner_user_id \
         LEFT JOIN users cu ON cu.id = c.created_by_user_id \
         LEFT JOIN roles r ON r.id = u.admin_role_id \
              OR r.id = cu.admin_role_id \
              OR r.id IN (SELECT l.role_id FROM api_credential_roles l WHERE l.credential_id = c.id) \
         WHERE c.identifier = {placeholder}"
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [identifier.into()],
        ))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let credential = CredentialRow {
        id: first.try_get("", "id")?,
        identifier: first.try_get("", "identifier")?,
        secret_hash: first.try_get("", "secret_hash")?,
        owner_user_id: first.try_get("", "owner_user_id")?,
        created_by_user_id: first.try_get("", "created_by_user_id")?,
        description: first.try_get("", "description")?,
        created_at: first.try_get("", "created_at")?,
        expires_at: first.try_get("", "expires_at")?,
        revoked_at: first.try_get("", "revoked_at")?,
        last_used_at: first.try_get("", "last_used_at")?,
    };
    let owner_status = first.try_get("", "owner_status")?;
    let owner_admin_role_id = first.try_get("", "owner_admin_role_id")?;
    let creator_status = first.try_get("", "creator_status")?;
    let creator_admin_role_id = first.try_get("", "creator_admin_role_id")?;
    let mut roles = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Option<String> = row.try_get("", "role_id")?;
        if let Some(id) = id {
            roles.push(GrantingRole {
                id,
                kind: row.try_get("", "role_kind")?,
                permissions: row.try_get("", "role_permissions")?,
                full_access: row.try_get("", "role_full_access")?,
            });
        }
    }
    Ok(Some(CredentialForAuthentication {
        credential,
        owner_status,
        owner_admin_role_id,
        creator_status,
        creator_admin_role_id,
        roles,
    }))
}
