//! The mail outbox: writing, claiming for delivery, recording outcomes, listing.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, UpdateMany};

use super::entities::mail;
use super::{Page, StoreError, insert_row, page_by_id};
use crate::domain::MailStatus;

pub use mail::Model as MailRow;

/// What a mail listing wants.
#[derive(Debug, Clone, Default)]
pub struct MailFilter {
    /// Only this status.
    pub status: Option<MailStatus>,
    /// Only this lower-cased recipient.
    pub recipient: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
}

/// Inserts a mail.
pub async fn insert(conn: &impl ConnectionTrait, row: MailRow) -> Result<(), StoreError> {
    insert_row(conn, row).await
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
    Ok(claim_due_query(now, lease_until, limit)
        .exec_with_returning(conn)
        .await?)
}

/// The update [`claim_due`] runs, without its `RETURNING`, which SeaORM adds.
fn claim_due_query(now: i64, lease_until: i64, limit: u64) -> UpdateMany<mail::Entity> {
    use mail::Column;
    let due = Query::select()
        .column(Column::Id)
        .from(mail::Entity)
        .and_where(Column::Status.eq(MailStatus::Queued))
        .and_where(Column::NextAttemptAt.lte(now))
        .cond_where(
            Condition::any()
                .add(Column::ClaimedUntil.is_null())
                .add(Column::ClaimedUntil.lt(now)),
        )
        .order_by(Column::NextAttemptAt, Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    mail::Entity::update_many()
        .col_expr(Column::ClaimedUntil, Expr::value(lease_until))
        .filter(Column::Id.in_subquery(due))
}

/// Extends the lease of a mail this worker holds (its lease still ends at
/// `held_until`, as this worker set it) to `until`; `false` when another
/// worker has claimed it since, or it is no longer queued.
pub async fn renew_lease(
    conn: &impl ConnectionTrait,
    id: &str,
    held_until: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let result = mail::Entity::update_many()
        .col_expr(mail::Column::ClaimedUntil, Expr::value(until))
        .filter(mail::Column::Id.eq(id))
        .filter(mail::Column::Status.eq(MailStatus::Queued))
        .filter(mail::Column::ClaimedUntil.eq(held_until))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts every failed mail (of `kind`, if given) back in the queue, due
/// now, with its attempts reset; how many.
pub async fn requeue_failed(
    conn: &impl ConnectionTrait,
    kind: Option<&str>,
    now: i64,
) -> Result<u64, StoreError> {
    let mut update = mail::Entity::update_many()
        .col_expr(mail::Column::Status, Expr::value(MailStatus::Queued))
        .col_expr(mail::Column::Attempts, Expr::value(0))
        .col_expr(mail::Column::NextAttemptAt, Expr::value(now))
        .col_expr(mail::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .filter(mail::Column::Status.eq(MailStatus::Failed));
    if let Some(kind) = kind {
        update = update.filter(mail::Column::Kind.eq(kind));
    }
    Ok(update.exec(conn).await?.rows_affected)
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
        status: Set(MailStatus::Sent),
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
        status: Set(MailStatus::Failed),
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
        status: Set(MailStatus::Queued),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        ..Default::default()
    };
    mail::Entity::update(active).exec(conn).await?;
    Ok(())
}

/// How many mails wait to be sent, and when the oldest of them was queued.
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<(u64, Option<i64>), StoreError> {
    use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect};
    let waiting = mail::Entity::find().filter(mail::Column::Status.eq(MailStatus::Queued));
    let count = waiting.clone().count(conn).await?;
    let oldest = waiting
        .select_only()
        .column(mail::Column::CreatedAt)
        .order_by_asc(mail::Column::CreatedAt)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok((count, oldest))
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
        query = query.filter(mail::Column::Status.eq(*status));
    }
    if let Some(recipient) = &filter.recipient {
        query = query.filter(mail::Column::RecipientNormalized.eq(recipient.as_str()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(mail::Column::Kind.eq(kind.as_str()));
    }
    page_by_id(conn, query, mail::Column::Id, true, before, limit).await
}

/// Deletes mail sent before `before`, and failed mail queued before it;
/// queued mail is never deleted. Returns how many.
pub async fn delete_finished_before(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    use mail::Column;
    let result = mail::Entity::delete_many()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::Status.eq(MailStatus::Sent))
                        .add(Column::SentAt.lt(before)),
                )
                .add(
                    Condition::all()
                        .add(Column::Status.eq(MailStatus::Failed))
                        .add(Column::CreatedAt.lt(before)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn claiming_skips_rows_locked_by_another_worker_on_postgres_only() {
        let sql = |backend| claim_due_query(1, 2, 3).build(backend).to_string();
        let postgres = sql(DbBackend::Postgres);
        assert!(postgres.contains("FOR UPDATE SKIP LOCKED"), "{postgres}");
        assert!(
            postgres.contains(r#"ORDER BY "next_attempt_at" ASC LIMIT 3"#),
            "{postgres}"
        );
        let sqlite = sql(DbBackend::Sqlite);
        assert!(!sqlite.contains("FOR UPDATE"), "{sqlite}");
    }
}
