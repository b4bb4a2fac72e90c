//! Persistence: SeaORM entities and the queries identityd runs. Functions take
//! any connection (a pool or a transaction), so the use-case layer decides what
//! commits together. Nothing here knows about gRPC.

pub mod accounts;
pub mod activity;
mod columns;
pub mod contacts;
pub mod credentials;
pub mod entities;
mod error;
pub mod external_sign_in;
pub mod idempotency;
pub mod invitations;
pub mod mails;
pub mod memberships;
pub mod mfa;
pub mod retention;
pub mod roles;
pub mod runtime_settings;
pub mod sessions;
pub mod settings;
pub mod sso_tokens;
pub mod throttles;
pub mod user_tokens;
pub mod users;

use std::path::Path;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Expr, LikeExpr, SelectStatement};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, Database, DbBackend, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, ModelTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    Select, Statement,
};
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};

pub use error::StoreError;
pub use users::UserRow;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// A `postgres://` or `sqlite://` URL.
    pub url: String,
    /// The most pooled connections (PostgreSQL; SQLite always uses one, see `connect`).
    pub max_connections: u32,
    /// How long to wait for a new connection or a free pooled one.
    pub connect_timeout: Duration,
}

/// The URL of the embedded SQLite database under `data_dir`, created on first use.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("identityd.db").display()
    )
}

/// How long a PostgreSQL connection may sit idle in the pool before it is
/// pinged when taken out. The pool's default pings on every checkout: a
/// whole extra round trip per query or transaction, which measured as a
/// large share of a simple read. Connections in steady use are known to
/// work; one idle this long may have been dropped by the server, a proxy or
/// a firewall, and the ping finds out before a query fails on it.
const POSTGRES_PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// Opens the pool that writes (and, on PostgreSQL, reads).
///
/// SQLite gets one writing connection in WAL mode with foreign keys on and a busy
/// timeout: SQLite admits one writer at a time, and a pool of several would make
/// concurrent transactions that read before writing fail with `SQLITE_BUSY`
/// instead of waiting. PostgreSQL gets a pool of `max_connections`.
pub async fn connect(settings: &ConnectSettings) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .sqlx_logging(false);
    if settings.url.starts_with("sqlite:") {
        options
            .max_connections(1)
            .min_connections(1)
            // A file has no far end to hang up; see `POSTGRES_PING_AFTER_IDLE`.
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
            });
    } else {
        options
            .max_connections(settings.max_connections)
            .min_connections(1)
            .test_before_acquire_if_idle_for(POSTGRES_PING_AFTER_IDLE);
    }
    Ok(Database::connect(options).await?)
}

/// How much of the SQLite file each reader maps into memory. Mapped pages
/// are read in place instead of being copied out of the operating system's
/// cache on every read, which took about a third off reads that touch many
/// pages (a trigram-index probe at a million users). The mapping is
/// address space, not memory: pages are shared with the OS cache.
const SQLITE_MMAP_BYTES: u64 = 1 << 30;

/// Opens the pool that read-only use cases use. On SQLite that is a separate
/// pool of `readers` read-only connections: in WAL mode they read while the
/// single writer writes, so a slow search or a long transaction does not
/// hold up every other call. On PostgreSQL `writer` serves reads too.
pub async fn connect_reader(
    settings: &ConnectSettings,
    writer: &DatabaseConnection,
    readers: u32,
) -> Result<DatabaseConnection, StoreError> {
    if !settings.url.starts_with("sqlite:") {
        return Ok(writer.clone());
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .max_connections(readers.max(1))
        .min_connections(1)
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.read_only(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
        });
    Ok(Database::connect(options).await?)
}

/// The key of the PostgreSQL advisory lock migrations hold ("identityd" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6964_656e_7469_7479;

/// Applies every migration not yet applied. On PostgreSQL the migrations run
/// in one transaction holding an advisory lock, so replicas starting at the
/// same moment on an empty database take turns: the first migrates, the
/// others then find nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Migrator::up(db, None).await?);
    }
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK_KEY.into()],
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    Ok(txn.commit().await?)
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    Ok(db.ping().await?)
}

/// Starts a transaction.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    Ok(db.begin().await?)
}

/// Commits a transaction. Use cases whose change may alter what a token
/// authenticates as commit through `App`, which also empties the cache of
/// authenticated tokens.
pub async fn commit(txn: DatabaseTransaction) -> Result<(), StoreError> {
    Ok(txn.commit().await?)
}

/// A raw statement for `conn`'s backend from SQL written with `?`
/// placeholders, which become `$1`, `$2`… on PostgreSQL. The SQL must not
/// contain `?` anywhere else. Only for what the query builder cannot say
/// plainly, such as upserts that count; everything else is built with
/// sea-query, which numbers placeholders itself.
fn raw_statement(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let backend = conn.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// Runs raw SQL (see [`raw_statement`]) that returns at most one row.
async fn raw_query_one(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Result<Option<QueryResult>, StoreError> {
    Ok(conn.query_one_raw(raw_statement(conn, sql, values)).await?)
}

/// Inserts `row` with every column as it is.
async fn insert_row<M>(conn: &impl ConnectionTrait, row: M) -> Result<(), StoreError>
where
    M: ModelTrait + IntoActiveModel<<M::Entity as EntityTrait>::ActiveModel>,
{
    M::Entity::insert(row.into_active_model().reset_all())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Runs `query` for one page in `id` order: newest (greatest id) first or
/// oldest first, continuing past `after` (the last id of the page before)
/// in that order, `limit` rows at most.
async fn page_by_id<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    mut query: Select<E>,
    id: E::Column,
    newest_first: bool,
    after: Option<&str>,
    limit: u64,
) -> Result<Page<E::Model>, StoreError> {
    query = match (after, newest_first) {
        (Some(after), true) => query.filter(id.lt(after)),
        (Some(after), false) => query.filter(id.gt(after)),
        (None, _) => query,
    };
    query = if newest_first {
        query.order_by_desc(id)
    } else {
        query.order_by_asc(id)
    };
    let rows = query.limit(limit + 1).all(conn).await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// Adds every column of `E`, read from the table aliased `table`, to
/// `select`, each named `{table}_{column}`, so that rows of several tables
/// joined in one query read back apart with
/// `FromQueryResult::from_query_result(row, "{table}_")`.
fn select_prefixed<E: EntityTrait>(select: &mut SelectStatement, table: &'static str) {
    for column in E::Column::iter() {
        let name = format!("{table}_{}", column.as_str());
        select.expr_as(Expr::col((table, column)), Alias::new(name));
    }
}

/// One page of rows plus whether more rows follow it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub rows: Vec<T>,
    /// Whether at least one more row matched.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Splits `limit + 1` fetched rows into a page of `limit` and the has-more flag.
    fn from_overfetch(mut rows: Vec<T>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_more }
    }
}

/// `text` as a LIKE pattern matching it anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> LikeExpr {
    LikeExpr::new(format!("%{}%", escape_like(text))).escape('\\')
}

/// `prefix` as a LIKE pattern matching what starts with it, with `%`, `_`
/// and `\` taken literally.
fn starts_with_pattern(prefix: &str) -> LikeExpr {
    LikeExpr::new(format!("{}%", escape_like(prefix))).escape('\\')
}

/// `text` with LIKE's wildcards and its escape character escaped by `\`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        let pattern = format!("{:?}", contains_pattern("50%_a\\b"));
        assert!(pattern.contains("%50\\\\%\\\\_a\\\\\\\\b%"), "{pattern}");
        let pattern = format!("{:?}", starts_with_pattern("a_b"));
        assert!(pattern.contains("\"a\\\\_b%\""), "{pattern}");
    }
}
