//! Queries on users.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement,
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

/// How SQLite looks for a page of a search (see [`page`]).
#[derive(Debug, Clone, Copy)]
struct SearchPlan {
    /// Up to how many trigram-index matches to fetch to decide: text with
    /// fewer is found through the index, text with more by reading users
    /// in order.
    probe: u64,
    /// How many users, in list order, to read looking for a page of common
    /// text before taking every match from the index instead.
    window: u64,
}

impl SearchPlan {
    /// Text that one user in a thousand has fills a page within the window;
    /// sorting up to the probe's number of rare matches is cheap.
    const DEFAULT: SearchPlan = SearchPlan {
        probe: 500,
        window: 10_000,
    };
}

/// Whether a search for `text` goes through SQLite's trigram index: on
/// SQLite, for text with at least one whole trigram.
fn uses_trigram_index(backend: DbBackend, text: &str) -> bool {
    backend == DbBackend::Sqlite && text.chars().count() >= TRIGRAM_LEN
}

/// The condition that a user's search text contains `text`, by `LIKE`.
fn like_text(text: &str) -> Expr {
    user::Column::SearchText.like(contains_pattern(text))
}

/// An FTS5 query for the users whose text holds every trigram of `text`
/// that starts at a multiple of three, and its last: trigrams that cover
/// the text without overlapping. Every user containing `text` matches, and a
/// few more may (the trigrams in another order), so the query finds
/// candidates that `LIKE` then checks. Asking for every overlapping trigram
/// as one phrase would match exactly, but costs the index twice the work.
fn fts_candidates(text: &str) -> String {
    let quoted = |term: &str| format!("\"{}\"", term.replace('"', "\"\""));
    let chars: Vec<char> = text.chars().collect();
    let Some(last) = chars.len().checked_sub(TRIGRAM_LEN) else {
        // Too short for a trigram; the callers never ask.
        return quoted(text);
    };
    let mut starts: Vec<usize> = (0..=last).step_by(TRIGRAM_LEN).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    let terms: Vec<String> = starts
        .into_iter()
        .map(|start| quoted(&chars[start..start + TRIGRAM_LEN].iter().collect::<String>()))
        .collect();
    terms.join(" AND ")
}

/// The condition that a user's search text contains `text`, through SQLite's
/// FTS5 trigram index `users_search` (migration 24): the index's candidates,
/// checked by `LIKE`. `text` has at least [`TRIGRAM_LEN`] characters.
fn indexed_text(text: &str) -> Condition {
    Condition::all()
        .add(Expr::cust_with_values(
            "\"users\".\"id\" IN (SELECT d.user_id FROM user_search_docs d WHERE d.doc IN \
             (SELECT rowid FROM users_search WHERE users_search MATCH ?))",
            [fts_candidates(text)],
        ))
        .add(like_text(text))
}

/// The condition that a user is one of the trigram index's documents
/// listed in `docs`, a JSON array of document numbers.
fn among_docs(docs: String) -> Expr {
    // One array bound as one value, so every list of documents shares one
    // prepared statement.
    Expr::cust_with_values(
        "\"users\".\"id\" IN (SELECT d.user_id FROM user_search_docs d WHERE d.doc IN \
         (SELECT value FROM json_each(?)))",
        [docs],
    )
}

/// Up to `cap` of the trigram index's candidates for `text` (see
/// [`fts_candidates`]): how many, and their numbers as a JSON array. One row comes back however many
/// documents match, which costs far less than a row per document.
async fn probe_index(
    conn: &impl ConnectionTrait,
    text: &str,
    cap: u64,
) -> Result<(u64, String), StoreError> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT count(*) AS found, json_group_array(doc) AS docs FROM \
             (SELECT rowid AS doc FROM users_search WHERE users_search MATCH ? LIMIT ?)",
            [fts_candidates(text).into(), cap.into()],
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt("no answer from the user search index".into()))?;
    let found: i64 = row.try_get("", "found")?;
    Ok((u64::try_from(found).unwrap_or(0), row.try_get("", "docs")?))
}

/// Users matching `filter` apart from its text.
fn filtered(filter: &UserFilter) -> Select<user::Entity> {
    let mut query = user::Entity::find();
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

/// One page of `query` in `order` (with the text of `filter`, if any),
/// `limit` rows at most.
///
/// PostgreSQL answers `LIKE '%text%'` from its trigram GIN index and plans
/// between it and reading in order itself. SQLite has no index for LIKE and
/// its planner cannot tell how many users an FTS5 query matches, so for text
/// of at least three characters this plans by hand:
///
/// 1. It fetches up to `plan.probe` candidate documents from the
///    trigram index. Fewer means the text is rare: the page is read from
///    those users (sorting a few is cheap; scanning for them is not).
/// 2. Otherwise the text is common, and reading the next `plan.window`
///    users in order and keeping those whose text
///    matches fills the page soonest (the index would hand back every match
///    to be sorted).
/// 3. If other filters thin the window out so that it does not fill the
///    page, every match is taken from the index and sorted.
///
/// Each step finds the same users a scan of the whole table would, so the
/// choice changes only the time.
async fn page(
    conn: &impl ConnectionTrait,
    query: Select<user::Entity>,
    text: Option<&str>,
    order: &[(Expr, Order)],
    limit: u64,
    plan: SearchPlan,
) -> Result<Page<UserRow>, StoreError> {
    let ordered = |mut query: Select<user::Entity>| {
        for (expr, direction) in order {
            query = query.order_by(expr.clone(), direction.clone());
        }
        query.limit(limit + 1)
    };
    let backend = conn.get_database_backend();
    let text = match text {
        Some(text) if uses_trigram_index(backend, text) => text,
        other => {
            let query = match other {
                Some(text) => query.filter(like_text(text)),
                None => query,
            };
            let rows = ordered(query).all(conn).await?;
            return Ok(Page::from_overfetch(rows, limit));
        }
    };
    let (found, docs) = probe_index(conn, text, plan.probe).await?;
    if found < plan.probe {
        let candidates = query.filter(among_docs(docs)).filter(like_text(text));
        let rows = ordered(candidates).all(conn).await?;
        return Ok(Page::from_overfetch(rows, limit));
    }
    // The window, named `users` so that the conditions and orderings
    // written for the table apply to it unchanged.
    let mut window = ordered(query.clone()).limit(plan.window).into_query();
    let mut scan = Query::select();
    scan.column(Asterisk)
        .from_subquery(window.take(), user::Entity)
        .and_where(like_text(text))
        .limit(limit + 1);
    for (expr, direction) in order {
        scan.order_by_expr(expr.clone(), direction.clone());
    }
    let rows = UserRow::find_by_statement(backend.build(&scan))
        .all(conn)
        .await?;
    if rows.len() as u64 > limit {
        return Ok(Page::from_overfetch(rows, limit));
    }
    let rows = ordered(query.filter(indexed_text(text))).all(conn).await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// The id ordering: newest (greatest id) first or oldest first.
fn id_order(newest_first: bool) -> (Expr, Order) {
    let order = if newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    (Expr::col((user::Entity, user::Column::Id)), order)
}

/// A page of users in id (creation) order, newest or oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &UserFilter,
    newest_first: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<UserRow>, StoreError> {
    list_planned(
        conn,
        filter,
        newest_first,
        after,
        limit,
        SearchPlan::DEFAULT,
    )
    .await
}

/// [`list`], searching SQLite as `plan` says.
async fn list_planned(
    conn: &impl ConnectionTrait,
    filter: &UserFilter,
    newest_first: bool,
    after: Option<&str>,
    limit: u64,
    plan: SearchPlan,
) -> Result<Page<UserRow>, StoreError> {
    let mut query = filtered(filter);
    query = match (after, newest_first) {
        (Some(after), true) => query.filter(user::Column::Id.lt(after)),
        (Some(after), false) => query.filter(user::Column::Id.gt(after)),
        (None, _) => query,
    };
    let order = [id_order(newest_first)];
    page(conn, query, filter.text.as_deref(), &order, limit, plan).await
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
    let mut query = filtered(filter);
    if let Some((value, id)) = after {
        query = query.filter(
            Condition::any().add(key.expr().gt(value.clone())).add(
                Condition::all()
                    .add(key.expr().eq(value))
                    .add(user::Column::Id.gt(id)),
            ),
        );
    }
    let order = [(key.expr(), Order::Asc), id_order(false)];
    let plan = SearchPlan::DEFAULT;
    page(conn, query, filter.text.as_deref(), &order, limit, plan).await
}

/// How many users match `filter`.
pub async fn count(conn: &impl ConnectionTrait, filter: &UserFilter) -> Result<u64, StoreError> {
    let mut query = filtered(filter);
    if let Some(text) = &filter.text {
        query = if uses_trigram_index(conn.get_database_backend(), text) {
            query.filter(indexed_text(text))
        } else {
            query.filter(like_text(text))
        };
    }
    Ok(query.count(conn).await?)
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectOptions, Database, DatabaseConnection};

    use super::*;

    /// A fresh migrated SQLite database in memory (one connection, so one database).
    async fn database() -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .expect("an in-memory database");
        crate::store::migrate(&db).await.expect("migrations");
        db
    }

    /// User `n`: one of a few names, every fifth suspended, every 37th rare.
    fn row(n: usize) -> UserRow {
        const FIRST: &[&str] = &["Ana", "Bruno", "Chloé", "Dmitri", "Emma"];
        const LAST: &[&str] = &["Garcia", "Smith", "O'Neil", "Müller", "Zhang", "Rossi"];
        let full_name = if n.is_multiple_of(37) {
            "Rare Person".to_owned()
        } else {
            format!("{} {}", FIRST[n % FIRST.len()], LAST[n / 7 % LAST.len()])
        };
        let username = format!("user{n}");
        UserRow {
            id: UserId::generate(),
            email: format!("{username}@example.com"),
            email_normalized: format!("{username}@example.com"),
            username_normalized: username.clone(),
            username,
            full_name,
            photo_url: None,
            locale: None,
            status: if n.is_multiple_of(5) {
                UserStatus::Suspended
            } else {
                UserStatus::Active
            },
            email_verified: true,
            password_hash: None,
            admin_role_id: None,
            created_at: 0,
            updated_at: 0,
            last_login_at: None,
            mfa_enabled_at: None,
            primary_account_id: None,
            search_text: String::new(),
        }
    }

    /// Every id `list_planned` pages through, newest first, 7 at a time.
    async fn paged(db: &DatabaseConnection, filter: &UserFilter, plan: SearchPlan) -> Vec<UserId> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = list_planned(db, filter, true, after.as_deref(), 7, plan)
                .await
                .expect("a page");
            ids.extend(page.rows.iter().map(|row| row.id));
            match (page.has_more, page.rows.last()) {
                (true, Some(last)) => after = Some(last.id.to_string()),
                _ => return ids,
            }
        }
    }

    #[test]
    fn index_candidates_cover_the_text_with_whole_trigrams() {
        assert_eq!(
            fts_candidates("robert robinson"),
            r#""rob" AND "ert" AND " ro" AND "bin" AND "son""#
        );
        assert_eq!(fts_candidates("abcd"), r#""abc" AND "bcd""#);
        assert_eq!(fts_candidates("zoë"), r#""zoë""#);
        assert_eq!(fts_candidates(r#"a"bc"#), r#""a""b" AND """bc""#);
    }

    #[tokio::test]
    async fn every_search_plan_finds_what_a_scan_finds_in_order() {
        let db = database().await;
        let mut rows = Vec::new();
        for n in 0..300 {
            rows.push(insert(&db, row(n)).await.expect("insert"));
        }
        rows.sort_by_key(|row| std::cmp::Reverse(row.id));
        let plans = [
            SearchPlan::DEFAULT,
            // Common text through the window, rare through the probe.
            SearchPlan {
                probe: 20,
                window: 60,
            },
            // Windows too small to fill a page: every match from the index.
            SearchPlan {
                probe: 1,
                window: 3,
            },
        ];
        for text in [
            "garcia",
            "rare person",
            "müller",
            "chloé",
            "o'n",
            "user1",
            "zz",
            "an",
        ] {
            for status in [None, Some(UserStatus::Suspended)] {
                let filter = UserFilter {
                    text: Some(text.to_owned()),
                    status,
                    account_id: None,
                };
                let expected: Vec<UserId> = rows
                    .iter()
                    .filter(|row| row.search_text.contains(text))
                    .filter(|row| status.is_none_or(|s| row.status == s))
                    .map(|row| row.id)
                    .collect();
                for plan in plans {
                    assert_eq!(
                        paged(&db, &filter, plan).await,
                        expected,
                        "{text:?} {status:?} {plan:?}"
                    );
                }
                assert_eq!(
                    count(&db, &filter).await.expect("a count"),
                    expected.len() as u64
                );
            }
        }
    }
}
