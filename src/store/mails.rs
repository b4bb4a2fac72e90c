//! The mail outbox: writing, claiming for delivery, recording outcomes, listing.

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::entities::mail;
use super::{Page, StoreError};

pub use mail::Model as MailRow;

/// What a mail listing wants.
#[derive(Debug, Clone, Default)]
pub struct MailFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this lower-cased recipient.
    pub recipient: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
}

/// Inserts a mail.
pub async fn insert(conn: &impl ConnectionTrait, row: MailRow) -> Result<(), StoreError> {
    let active = mail::ActiveModel {
        id: Set(row.id),
        kind: Set(row.kind),
        recipient: Set(row.recipient),
        recipient_normalized: Set(row.recipient_normalized),
        locale: Set(row.locale),
        account_id: Set(row.account_id),
        context: Set(row.context),
        secret_context: Set(row.secret_context),
        status: Set(row.status),
        attempts: Set(row.attempts),
        next_attempt_at: Set(row.next_attempt_at),
        claimed_until: Set(row.claimed_until),
        last_error: Set(row.last_error),
        created_at: Set(row.created_at),
        sent_at: Set(row.sent_at),
    };
    mail::Entity::insert(active)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` due mails for one worker until `lease_until`, in one
/// statement. On PostgreSQL rows another worker is claiming are skipped
/// (`FOR UPDATE SKIP LOCKED`), so several replicas never claim one mail
/// together; SQLite runs one writer at a time anyway.
pub async fn claim_due(
    conn: &impl ConnectionTrait,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<MailRow>, StoreError> {
    let backend = conn.get_database_backend();
    let (p1, p2, p3, lock) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3", " FOR UPDATE SKIP LOCKED"),
        _ => ("?", "?", "?", ""),
    };
    let sql = format!(
        "UPDATE mails SET claimed_until = {p1} WHERE id IN (\
           SELECT id FROM mails WHERE status = 'queued' AND next_attempt_at <= {p2} \
           AND (claimed_until IS NULL OR claimed_until < {p2}) \
           ORDER BY next_attempt_at LIMIT {p3}{lock}) \
         RETURNING *"
    );
    // SQLite numbers `?` placeholders in order, so the repeated one is bound twice.
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![
            lease_until.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
        _ => vec![
            lease_until.into(),
            now.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|row| MailRow::from_query_result(row, "").map_err(StoreError::from))
        .collect()
}

/// Records a delivery and erases the mail's secrets.
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: &str,
    attempts: i32,
    now: i64,
) -> Result<(), StoreError> {
    let active = mail::ActiveModel {
        id: Set(id.to_owned()),
        status: Set("sent".to_owned()),
        attempts: Set(attempts),
        claimed_until: Set(None),
        secret_context: Set(None),
        last_error: Set(None),
        sent_at: Set(Some(now)),
        ..Default::default()
    };
    mail::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub async fn mark_retry(
    conn: &impl ConnectionTrait,
    id: &str,
    attempts: i32,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), StoreError> {
    let active = mail::ActiveModel {
        id: Set(id.to_owned()),
        attempts: Set(attempts),
        next_attempt_at: Set(next_attempt_at),
        claimed_until: Set(None),
        last_error: Set(Some(error.to_owned())),
        ..Default::default()
    };
    mail::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Gives a mail up after its last attempt. Its secrets stay, so that an
/// operator's retry can still render it; they are erased once it is sent.
pub async fn mark_failed(
    conn: &impl ConnectionTrait,
    id: &str,
    attempts: i32,
    error: &str,
) -> Result<(), StoreError> {
    let active = mail::ActiveModel {
        id: Set(id.to_owned()),
        status: Set("failed".to_owned()),
        attempts: Set(attempts),
        claimed_until: Set(None),
        last_error: Set(Some(error.to_owned())),
        ..Default::default()
    };
    mail::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// Puts a failed mail back in the queue, due now, with its attempts reset.
pub async fn requeue(conn: &impl ConnectionTrait, id: &str, now: i64) -> Result<(), StoreError> {
    let active = mail::ActiveModel {
        id: Set(id.to_owned()),
        status: Set("queued".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        ..Default::default()
    };
    mail::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// The mail with this id.
pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<MailRow>, StoreError> {
    Ok(mail::Entity::find_by_id(id.to_owned()).one(conn).await?)
}

/// A page of mails, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &MailFilter,
    before: Option<&str>,
    limit: u64,
) -> Result<Page<MailRow>, StoreError> {
    let mut query = mail::Entity::find();
    if let Some(status) = &filter.status {
        query = query.filter(mail::Column::Status.eq(status.as_str()));
    }
    if let Some(recipient) = &filter.recipient {
        query = query.filter(mail::Column::RecipientNormalized.eq(recipient.as_str()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(mail::Column::Kind.eq(kind.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(mail::Column::Id.lt(before));
    }
    let rows = query
        .order_by_desc(mail::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit))
}

/// Deletes mail sent before `before`, and failed mail queued before it;
/// queued mail is never deleted. Returns how many.
pub async fn delete_finished_before(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    use mail::Column;
    use sea_orm::Condition;
    let result = mail::Entity::delete_many()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::Status.eq("sent"))
                        .add(Column::SentAt.lt(before)),
                )
                .add(
                    Condition::all()
                        .add(Column::Status.eq("failed"))
                        .add(Column::CreatedAt.lt(before)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
