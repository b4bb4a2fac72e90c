//! Queries on users.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use super::entities::{membership, role, user};
use super::{Page, StoreError, contains_pattern, insert_row, page_by_id};
use crate::domain::{AccountId, RoleId, RoleKind, Timestamp, User, UserId, UserStatus};

pub use user::Model as UserRow;

/// What ListUsers matches.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Lower-cased text that the full name, username or email must contain.
    pub text: Option<String>,
    /// Only this status.
    pub status: Option<UserStatus>,
    /// Only members (or the owner) of this account.
    pub account_id: Option<AccountId>,
}

/// The text substring search runs over: lower-cased full name, username and email.
fn search_text(row: &UserRow) -> String {
    format!(
        "{} {} {}",
        row.full_name.to_lowercase(),
        row.username_normalized,
        row.email_normalized
    )
}

/// The shortest text SQLite's trigram index can look up; shorter text is
/// matched by scanning, as it has no whole trigram to look for.
const TRIGRAM_LEN: usize = 3;

/// The condition that a user's search text contains `text`.
///
/// PostgreSQL answers `LIKE '%text%'` from its trigram GIN index. SQLite has
/// no index for LIKE, so for text of at least three characters it asks the
/// FTS5 trigram index `users_search` (migration 24) for the users whose text
/// contains `text` as one phrase: consecutive trigrams, which is exactly a
/// substring. The index compares characters exactly, like LIKE on this
/// lower-cased text, so both find the same users (a test checks they agree).
fn contains_text(backend: DbBackend, text: &str) -> Expr {
    if backend == DbBackend::Sqlite && text.chars().count() >= TRIGRAM_LEN {
        let phrase = format!("\"{}\"", text.replace('"', "\"\""));
        Expr::cust_with_values(
            "\"users\".\"id\" IN (SELECT d.user_id FROM user_search_docs d WHERE d.doc IN \
             (SELECT rowid FROM users_search WHERE users_search MATCH ?))",
            [phrase],
        )
    } else {
        user::Column::SearchText.like(contains_pattern(text))
    }
}

fn filtered(backend: DbBackend, filter: &UserFilter) -> Select<user::Entity> {
    let mut query = user::Entity::find();
    if let Some(text) = &filter.text {
        query = query.filter(contains_text(backend, text));
    }
    if let Some(status) = &filter.status {
        query = query.filter(user::Column::Status.eq(*status));
    }
    if let Some(account_id) = filter.account_id {
        let members = Query::select()
            .column(membership::Column::UserId)
            .from(membership::Entity)
            .and_where(membership::Column::AccountId.eq(account_id))
            .to_owned();
        query = query.filter(user::Column::Id.in_subquery(members));
    }
    query
}

/// A page of users in id (creation) order, newest or oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &UserFilter,
    newest_first: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<UserRow>, StoreError> {
    page_by_id(
        conn,
        filtered(conn.get_database_backend(), filter),
        user::Column::Id,
        newest_first,
        after,
        limit,
    )
    .await
}

/// What a list of users is sorted by, A to Z regardless of case, ties
/// broken by id (creation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortKey {
    /// The full name.
    FullName,
    /// The username.
    Username,
    /// The email address.
    Email,
}

impl UserSortKey {
    /// The sort key of `row`, as [`list_sorted`] compares it.
    pub fn of(self, row: &UserRow) -> String {
        match self {
            UserSortKey::FullName => row.full_name.to_lowercase(),
            UserSortKey::Username => row.username_normalized.clone(),
            UserSortKey::Email => row.email_normalized.clone(),
        }
    }

    fn expr(self) -> Expr {
        match self {
            // Lower-cased in the query as in `of`: names keep their case.
            UserSortKey::FullName => Func::lower(Expr::col(user::Column::FullName)).into(),
            UserSortKey::Username => Expr::col(user::Column::UsernameNormalized),
            UserSortKey::Email => Expr::col(user::Column::EmailNormalized),
        }
    }
}

/// A page of users sorted by `key`, continuing after `after` (the last
/// row's key and id): keyset paging, so a row added or removed meanwhile
/// neither repeats nor skips another.
pub async fn list_sorted(
    conn: &impl ConnectionTrait,
    filter: &UserFilter,
    key: UserSortKey,
    after: Option<(String, UserId)>,
    limit: u64,
) -> Result<Page<UserRow>, StoreError> {
    let mut query = filtered(conn.get_database_backend(), filter);
    if let Some((value, id)) = after {
        query = query.filter(
            Condition::any().add(key.expr().gt(value.clone())).add(
                Condition::all()
                    .add(key.expr().eq(value))
                    .add(user::Column::Id.gt(id)),
            ),
        );
    }
    let rows = query
        .order_by(key.expr(), Order::Asc)
        .order_by_asc(user::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// How many users match `filter`.
pub async fn count(conn: &impl ConnectionTrait, filter: &UserFilter) -> Result<u64, StoreError> {
    Ok(filtered(conn.get_database_backend(), filter)
        .count(conn)
        .await?)
}

/// The user with this lower-cased email address.
pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email_normalized: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::EmailNormalized.eq(email_normalized))
        .one(conn)
        .await?)
}

/// The user with this lower-cased username.
pub async fn find_by_username(
    conn: &impl ConnectionTrait,
    username_normalized: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::UsernameNormalized.eq(username_normalized))
        .one(conn)
        .await?)
}

/// Writes a user's profile (names, email, photo, locale, verification) and update time.
pub async fn update_profile(conn: &impl ConnectionTrait, row: &UserRow) -> Result<(), StoreError> {
    let active = user::ActiveModel {
        id: Set(row.id),
        email: Set(row.email.clone()),
        email_normalized: Set(row.email_normalized.clone()),
        username: Set(row.username.clone()),
        username_normalized: Set(row.username_normalized.clone()),
        full_name: Set(row.full_name.clone()),
        photo_url: Set(row.photo_url.clone()),
        locale: Set(row.locale.clone()),
        email_verified: Set(row.email_verified),
        updated_at: Set(row.updated_at),
        search_text: Set(search_text(row)),
        ..Default::default()
    };
    user::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Sets a user's status.
pub async fn set_status(
    conn: &impl ConnectionTrait,
    id: UserId,
    status: UserStatus,
    now: i64,
) -> Result<(), StoreError> {
    let active = user::ActiveModel {
        id: Set(id),
        status: Set(status),
        updated_at: Set(now),
        ..Default::default()
    };
    user::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Deletes a user; their API credentials go with them.
pub async fn delete(conn: &impl ConnectionTrait, id: UserId) -> Result<(), StoreError> {
    user::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Inserts a user; `search_text` is derived here.
pub async fn insert(conn: &impl ConnectionTrait, mut row: UserRow) -> Result<UserRow, StoreError> {
    row.search_text = search_text(&row);
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The user with this id.
pub async fn find(conn: &impl ConnectionTrait, id: UserId) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find_by_id(id).one(conn).await?)
}

/// Marks `account_id` as the user's primary account (or none).
pub async fn set_primary_account(
    conn: &impl ConnectionTrait,
    id: UserId,
    account_id: Option<AccountId>,
    now: i64,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::PrimaryAccountId, Expr::value(account_id))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets `account_id` as anyone's primary account (it is being deleted).
pub async fn clear_primary_account(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(
            user::Column::PrimaryAccountId,
            Expr::value(Option::<AccountId>::None),
        )
        .filter(user::Column::PrimaryAccountId.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The user with this id, locked until the transaction ends (PostgreSQL:
/// `FOR UPDATE`; SQLite's single writer needs no lock), so that concurrent
/// changes to how one user signs in run one at a time.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    id: UserId,
) -> Result<Option<UserRow>, StoreError> {
    Ok(user::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// The users with these ids.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: &[UserId],
) -> Result<Vec<UserRow>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// A page of staff users (users with an admin role) in id order.
pub async fn list_staff(
    conn: &impl ConnectionTrait,
    admin_role_id: Option<RoleId>,
    active: Option<bool>,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<UserRow>, StoreError> {
    let mut query = user::Entity::find().filter(user::Column::AdminRoleId.is_not_null());
    if let Some(role_id) = admin_role_id {
        query = query.filter(user::Column::AdminRoleId.eq(role_id));
    }
    query = match active {
        Some(true) => query.filter(user::Column::Status.eq(UserStatus::Active)),
        Some(false) => query.filter(user::Column::Status.ne(UserStatus::Active)),
        None => query,
    };
    page_by_id(conn, query, user::Column::Id, false, after, limit).await
}

/// Gives a user an admin role, or takes it away with `None`.
pub async fn set_admin_role(
    conn: &impl ConnectionTrait,
    id: UserId,
    role_id: Option<RoleId>,
    now: i64,
) -> Result<(), StoreError> {
    let active = user::ActiveModel {
        id: Set(id),
        admin_role_id: Set(role_id),
        updated_at: Set(now),
        ..Default::default()
    };
    user::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// The ids of active staff users whose admin role grants full access, locked
/// until the transaction ends.
pub async fn full_access_staff_ids(conn: &impl ConnectionTrait) -> Result<Vec<UserId>, StoreError> {
    let full_roles: Vec<RoleId> = role::Entity::find()
        .filter(role::Column::FullAccess.eq(true))
        .filter(role::Column::Kind.eq(RoleKind::Admin))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if full_roles.is_empty() {
        return Ok(Vec::new());
    }
    // Locking the holders (FOR UPDATE on PostgreSQL) makes two concurrent
    // demotions of the last two full-access staff users run one after the
    // other, so the second sees the first and is refused.
    Ok(user::Entity::find()
        .filter(user::Column::AdminRoleId.is_in(full_roles))
        .filter(user::Column::Status.eq(UserStatus::Active))
        .lock_exclusive()
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

/// Records a successful sign-in at `now`, storing `rehashed` as the new
/// password hash when the stored one used outdated parameters.
pub async fn record_login(
    conn: &impl ConnectionTrait,
    id: UserId,
    now: i64,
    rehashed: Option<&str>,
) -> Result<(), StoreError> {
    let mut update = user::Entity::update_many().col_expr(user::Column::LastLoginAt, now.into());
    if let Some(hash) = rehashed {
        update = update.col_expr(user::Column::PasswordHash, hash.into());
    }
    update.filter(user::Column::Id.eq(id)).exec(conn).await?;
    Ok(())
}

/// Replaces a user's password hash.
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    id: UserId,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, hash.into())
        .col_expr(user::Column::UpdatedAt, now.into())
        .filter(user::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks a user's email address proven and, if they were waiting for that,
/// makes them active; returns whether they were waiting.
pub async fn mark_email_verified(
    conn: &impl ConnectionTrait,
    id: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerified, true.into())
        .col_expr(user::Column::UpdatedAt, now.into())
        .filter(user::Column::Id.eq(id))
        .exec(conn)
        .await?;
    let activated = user::Entity::update_many()
        .col_expr(user::Column::Status, UserStatus::Active.into())
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Status.eq(UserStatus::PendingVerification))
        .exec(conn)
        .await?;
    Ok(activated.rows_affected > 0)
}

/// Users who signed up before `before` and never verified their address,
/// not staff: due for deletion. Oldest id first, after `after`.
pub async fn due_unverified_deletion(
    conn: &impl ConnectionTrait,
    before: i64,
    after: Option<UserId>,
    limit: u64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut query = user::Entity::find()
        .filter(user::Column::Status.eq(UserStatus::PendingVerification))
        .filter(user::Column::AdminRoleId.is_null())
        .filter(user::Column::CreatedAt.lt(before));
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(user::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// A stored user as callers see it (never the password hash).
impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            status: row.status,
            admin_role_id: row.admin_role_id,
            has_password: row.password_hash.is_some(),
            email: row.email,
            username: row.username,
            full_name: row.full_name,
            photo_url: row.photo_url,
            locale: row.locale,
            email_verified: row.email_verified,
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
            last_login_at: row.last_login_at.map(Timestamp::from_micros),
            mfa_enabled_at: row.mfa_enabled_at.map(Timestamp::from_micros),
            primary_account_id: row.primary_account_id,
        }
    }
}
