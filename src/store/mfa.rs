//! Queries on two-factor state: TOTP enrolments (`user_totp`) and the
//! `mfa_enabled_at` mark on users that authentication reads.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreError;
use super::entities::{user, user_totp};
use crate::domain::UserId;

pub use user_totp::Model as UserTotpRow;

/// The user's TOTP enrolment, confirmed or waiting.
pub async fn find(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Option<UserTotpRow>, StoreError> {
    Ok(user_totp::Entity::find_by_id(user_id).one(conn).await?)
}

/// Stores a new, unconfirmed enrolment for `row.user_id`, replacing one
/// that waits for confirmation. Returns `false`, storing nothing, when the
/// user has a confirmed one.
pub async fn start(conn: &impl ConnectionTrait, row: UserTotpRow) -> Result<bool, StoreError> {
    user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(row.user_id))
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .exec(conn)
        .await?;
    let result = user_totp::Entity::insert(user_totp::ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(user_totp::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(result == 1)
}

/// Records that the code of time step `step` was accepted for `user_id`,
/// if no code of that step or a later one was before: `false` means the
/// code was already used (a replay), under any concurrency.
pub async fn use_step(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    step: i64,
) -> Result<bool, StoreError> {
    let result = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(
            Condition::any()
                .add(user_totp::Column::LastUsedStep.is_null())
                .add(user_totp::Column::LastUsedStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Replaces the sealed secret (sealed again under a rotated server secret).
pub async fn reseal(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    sealed_secret: &str,
) -> Result<(), StoreError> {
    user_totp::Entity::update_many()
        .col_expr(user_totp::Column::SealedSecret, Expr::value(sealed_secret))
        .filter(user_totp::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Confirms the user's waiting enrolment and marks two-factor
/// authentication on for them; `false` when none was waiting.
pub async fn confirm(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    let result = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::ConfirmedAt, Expr::value(now))
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    set_enabled_at(conn, user_id, Some(now), now).await?;
    Ok(true)
}

/// Deletes the user's enrolment and marks two-factor authentication off;
/// `false` when they had none.
pub async fn remove(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    let result = user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    set_enabled_at(conn, user_id, None, now).await?;
    Ok(result.rows_affected > 0)
}

/// Deletes enrolments that were started before `before` and never
/// confirmed; returns how many.
pub async fn delete_unconfirmed_before(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    let result = user_totp::Entity::delete_many()
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .filter(user_totp::Column::CreatedAt.lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

async fn set_enabled_at(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    enabled_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    user::Entity::update_many()
        .col_expr(user::Column::MfaEnabledAt, Expr::value(enabled_at))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}
