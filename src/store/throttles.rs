//! Failure counters for brute-force throttling, kept in the database so that
//! every replica sees the same counts.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::throttle;
use super::{StoreError, raw_query_one, starts_with_pattern};

pub use throttle::Model as ThrottleRow;

/// The counters of these subjects that exist.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    subjects: &[String],
) -> Result<Vec<ThrottleRow>, StoreError> {
    Ok(throttle::Entity::find()
        .filter(throttle::Column::Subject.is_in(subjects.iter().cloned()))
        .all(conn)
        .await?)
}

/// Counts one failure against `subject` at `now` and returns the count. A
/// counter whose last failure is older than `forget_before` starts over. One
/// atomic statement, so concurrent failures are all counted.
pub async fn record_failure(
    conn: &impl ConnectionTrait,
    subject: &str,
    now: i64,
    forget_before: i64,
) -> Result<i32, StoreError> {
    let sql = "INSERT INTO throttles (subject, failures, last_failure_at, blocked_until) \
               VALUES (?, 1, ?, 0) \
               ON CONFLICT (subject) DO UPDATE SET \
                 failures = CASE WHEN throttles.last_failure_at < ? THEN 1 \
                                 ELSE throttles.failures + 1 END, \
                 last_failure_at = excluded.last_failure_at \
               RETURNING failures";
    let row = raw_query_one(
        conn,
        sql,
        [subject.into(), now.into(), forget_before.into()],
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("no failure count for {subject}")))?;
    Ok(row.try_get("", "failures")?)
}

/// Reserves one attempt on each of `subjects` at `now`, counting it as a
/// failure until a success gives it back, unless any of them is blocked;
/// returns each reserved subject with its count. A counter whose last
/// failure is older than `forget_before` starts over (and its old block no
/// longer counts). `subjects` must not repeat.
///
/// One statement that checks and counts: when a subject is blocked nothing
/// is inserted or counted, and concurrent attempts queue on each row, so
/// each sees the count and block the one before it left and no more get
/// through than the rule allows. A subject blocked by a concurrent attempt
/// between the check and its row is left out of the answer; the caller then
/// rolls back the others.
pub async fn reserve_all(
    conn: &impl ConnectionTrait,
    subjects: &[String],
    now: i64,
    forget_before: i64,
) -> Result<Vec<(String, i32)>, StoreError> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; subjects.len()].join(", ");
    let rows = vec!["(?)"; subjects.len()].join(", ");
    let sql = format!(
        "INSERT INTO throttles (subject, failures, last_failure_at, blocked_until) \
         SELECT v.column1, 1, ?, 0 FROM (VALUES {rows}) AS v \
         WHERE NOT EXISTS (SELECT 1 FROM throttles b WHERE b.subject IN ({marks}) \
                           AND b.blocked_until > ? AND b.last_failure_at >= ?) \
         ON CONFLICT (subject) DO UPDATE SET \
           failures = CASE WHEN throttles.last_failure_at < ? THEN 1 \
                           ELSE throttles.failures + 1 END, \
           blocked_until = CASE WHEN throttles.last_failure_at < ? THEN 0 \
                                ELSE throttles.blocked_until END, \
           last_failure_at = excluded.last_failure_at \
         WHERE throttles.blocked_until <= ? OR throttles.last_failure_at < ? \
         RETURNING subject, failures"
    );
    let mut values: Vec<sea_orm::Value> = vec![now.into()];
    values.extend(subjects.iter().map(|s| s.as_str().into()));
    values.extend(subjects.iter().map(|s| s.as_str().into()));
    values.extend([
        now.into(),
        forget_before.into(),
        forget_before.into(),
        forget_before.into(),
        now.into(),
        forget_before.into(),
    ]);
    let rows = conn
        .query_all_raw(super::raw_statement(conn, &sql, values))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "subject")?, row.try_get("", "failures")?)))
        .collect()
}

/// Gives back one attempt reserved with [`reserve_all`] after it succeeded,
/// lifting the block when the count falls back to `free_failures`.
pub async fn release(
    conn: &impl ConnectionTrait,
    subject: &str,
    free_failures: u32,
) -> Result<(), StoreError> {
    use throttle::Column;
    let lifted = Expr::col(Column::Failures)
        .sub(1)
        .lte(i64::from(free_failures));
    throttle::Entity::update_many()
        .col_expr(
            Column::BlockedUntil,
            Expr::case(lifted, 0)
                .finally(Expr::col(Column::BlockedUntil))
                .into(),
        )
        .col_expr(Column::Failures, Expr::col(Column::Failures).sub(1))
        .filter(Column::Subject.eq(subject))
        .filter(Column::Failures.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the failures of every subject whose key starts with `prefix`.
pub async fn clear_prefix(conn: &impl ConnectionTrait, prefix: &str) -> Result<(), StoreError> {
    throttle::Entity::delete_many()
        .filter(throttle::Column::Subject.like(starts_with_pattern(prefix)))
        .exec(conn)
        .await?;
    Ok(())
}

/// Refuses attempts on `subject` until `until`.
pub async fn block_until(
    conn: &impl ConnectionTrait,
    subject: &str,
    until: i64,
) -> Result<(), StoreError> {
    throttle::Entity::update_many()
        .col_expr(throttle::Column::BlockedUntil, until.into())
        .filter(throttle::Column::Subject.eq(subject))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the failures of each of `subjects`.
pub async fn clear(conn: &impl ConnectionTrait, subjects: &[String]) -> Result<(), StoreError> {
    if subjects.is_empty() {
        return Ok(());
    }
    throttle::Entity::delete_many()
        .filter(throttle::Column::Subject.is_in(subjects.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes counters whose last failure is older than `forget_before` and
/// that block nothing after `now`; returns how many.
pub async fn delete_forgotten(
    conn: &impl ConnectionTrait,
    forget_before: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let result = throttle::Entity::delete_many()
        .filter(throttle::Column::LastFailureAt.lt(forget_before))
        .filter(throttle::Column::BlockedUntil.lt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
