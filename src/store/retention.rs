//! The lease that lets one replica at a time run a job, and the record of
//! retention runs.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{job_lease, retention_run};
use super::{StoreError, insert_row};

pub use retention_run::Model as RetentionRunRow;

/// Takes the lease of job `name` for `holder` until `until`, if nobody else
/// holds it past `now`; whether it did. Of two replicas racing, one wins.
pub async fn acquire_lease(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool, StoreError> {
    // The row exists from the first attempt on; the update decides.
    job_lease::Entity::insert(job_lease::ActiveModel {
        name: sea_orm::ActiveValue::Set(name.to_owned()),
        holder: sea_orm::ActiveValue::Set(String::new()),
        expires_at: sea_orm::ActiveValue::Set(0),
    })
    .on_conflict(
        OnConflict::column(job_lease::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let taken = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(holder))
        .col_expr(job_lease::Column::ExpiresAt, Expr::value(until))
        .filter(job_lease::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(job_lease::Column::ExpiresAt.lte(now))
                .add(job_lease::Column::Holder.eq(holder)),
        )
        .exec(conn)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Gives the lease of job `name` back, if `holder` still holds it.
pub async fn release_lease(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
) -> Result<(), StoreError> {
    job_lease::Entity::update_many()
        .col_expr(job_lease::Column::ExpiresAt, Expr::value(0_i64))
        .filter(job_lease::Column::Name.eq(name))
        .filter(job_lease::Column::Holder.eq(holder))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records the start of a run.
pub async fn insert_run(
    conn: &impl ConnectionTrait,
    row: RetentionRunRow,
) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// Records how a run ended.
pub async fn finish_run(
    conn: &impl ConnectionTrait,
    id: &str,
    finished_at: i64,
    counts: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    retention_run::Entity::update_many()
        .col_expr(retention_run::Column::FinishedAt, Expr::value(finished_at))
        .col_expr(retention_run::Column::Counts, Expr::value(counts))
        .col_expr(
            retention_run::Column::Error,
            Expr::value(error.map(str::to_owned)),
        )
        .filter(retention_run::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The newest run, of `trigger` if given.
pub async fn latest_run(
    conn: &impl ConnectionTrait,
    trigger: Option<&str>,
) -> Result<Option<RetentionRunRow>, StoreError> {
    let mut query = retention_run::Entity::find();
    if let Some(trigger) = trigger {
        query = query.filter(retention_run::Column::RunTrigger.eq(trigger));
    }
    Ok(query
        .order_by_desc(retention_run::Column::StartedAt)
        .one(conn)
        .await?)
}
