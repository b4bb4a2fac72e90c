//! Queries on API credentials and the API roles they carry.

use std::collections::BTreeMap;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, JoinType, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};

use super::entities::{api_credential, api_credential_role, role, user};
use super::{Page, StoreError, insert_row, page_by_id, select_prefixed};
use crate::domain::{ApiCredentialId, RoleId, RoleKind, UserId, UserStatus};

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
    role_ids: &[RoleId],
) -> Result<CredentialRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    let links = role_ids
        .iter()
        .map(|&role_id| api_credential_role::ActiveModel {
            credential_id: Set(row.id),
            role_id: Set(role_id),
        });
    api_credential_role::Entity::insert_many(links)
        .exec_without_returning(conn)
        .await?;
    Ok(row)
}

/// The credential with this id.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: ApiCredentialId,
) -> Result<Option<CredentialRow>, StoreError> {
    Ok(api_credential::Entity::find_by_id(id).one(conn).await?)
}

/// The API role ids of each of these credentials, sorted.
pub async fn role_ids_of(
    conn: &impl ConnectionTrait,
    credential_ids: &[ApiCredentialId],
) -> Result<BTreeMap<ApiCredentialId, Vec<RoleId>>, StoreError> {
    let links = api_credential_role::Entity::find()
        .filter(api_credential_role::Column::CredentialId.is_in(credential_ids.iter().copied()))
        .order_by_asc(api_credential_role::Column::RoleId)
        .all(conn)
        .await?;
    let mut by_credential: BTreeMap<ApiCredentialId, Vec<RoleId>> = BTreeMap::new();
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
    owner_user_id: Option<UserId>,
    created_by_user_id: Option<UserId>,
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
    page_by_id(conn, query, Column::Id, false, after, limit).await
}

/// Marks a credential revoked at `now` unless it already is; returns whether it changed.
pub async fn revoke(
    conn: &impl ConnectionTrait,
    id: ApiCredentialId,
    now: i64,
) -> Result<bool, StoreError> {
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
    id: ApiCredentialId,
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
    pub id: RoleId,
    /// Admin (the owner's or creator's admin role) or API (one of the credential's roles).
    pub kind: RoleKind,
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
    pub owner_status: Option<UserStatus>,
    /// The owner's admin role id, if the owner is staff.
    pub owner_admin_role_id: Option<RoleId>,
    /// The creator's status, if the credential names a creator who exists.
    pub creator_status: Option<UserStatus>,
    /// The creator's admin role id, if the creator is staff.
    pub creator_admin_role_id: Option<RoleId>,
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
    let rows = conn.query_all(&authentication_query(identifier)).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let credential = CredentialRow::from_query_result(first, "c_")?;
    let owner_status = first.try_get("", "owner_status")?;
    let owner_admin_role_id = first.try_get("", "owner_admin_role_id")?;
    let creator_status = first.try_get("", "creator_status")?;
    let creator_admin_role_id = first.try_get("", "creator_admin_role_id")?;
    let mut roles = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Option<RoleId> = row.try_get("", "role_id")?;
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

/// The query [`find_for_authentication`] runs: the credential's columns
/// (prefixed `c_`), its owner's and creator's status and admin role, and one
/// row per role bearing on its permissions (or one row with none).
fn authentication_query(identifier: &str) -> SelectStatement {
    let api_roles = Query::select()
        .column(("l", api_credential_role::Column::RoleId))
        .from_as(api_credential_role::Entity, "l")
        .and_where(
            Expr::col(("l", api_credential_role::Column::CredentialId))
                .equals(("c", api_credential::Column::Id)),
        )
        .to_owned();
    let mut select = Query::select();
    select_prefixed::<api_credential::Entity>(&mut select, "c");
    select
        .expr_as(Expr::col(("u", user::Column::Status)), "owner_status")
        .expr_as(
            Expr::col(("u", user::Column::AdminRoleId)),
            "owner_admin_role_id",
        )
        .expr_as(Expr::col(("cu", user::Column::Status)), "creator_status")
        .expr_as(
            Expr::col(("cu", user::Column::AdminRoleId)),
            "creator_admin_role_id",
        )
        .expr_as(Expr::col(("r", role::Column::Id)), "role_id")
        .expr_as(Expr::col(("r", role::Column::Kind)), "role_kind")
        .expr_as(
            Expr::col(("r", role::Column::Permissions)),
            "role_permissions",
        )
        .expr_as(
            Expr::col(("r", role::Column::FullAccess)),
            "role_full_access",
        )
        .from_as(api_credential::Entity, "c")
        .join_as(
            JoinType::LeftJoin,
            user::Entity,
            "u",
            Expr::col(("u", user::Column::Id)).equals(("c", api_credential::Column::OwnerUserId)),
        )
        .join_as(
            JoinType::LeftJoin,
            user::Entity,
            "cu",
            Expr::col(("cu", user::Column::Id))
                .equals(("c", api_credential::Column::CreatedByUserId)),
        )
        .join_as(
            JoinType::LeftJoin,
            role::Entity,
            "r",
            Condition::any()
                .add(Expr::col(("r", role::Column::Id)).equals(("u", user::Column::AdminRoleId)))
                .add(Expr::col(("r", role::Column::Id)).equals(("cu", user::Column::AdminRoleId)))
                .add(Expr::col(("r", role::Column::Id)).in_subquery(api_roles)),
        )
        .and_where(Expr::col(("c", api_credential::Column::Identifier)).eq(identifier));
    select
}
