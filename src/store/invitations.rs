//! Queries on invitations.
//!
//! State changes are conditional updates (`WHERE status = 'pending' …`) that
//! report whether they changed a row, so of two concurrent changes of one
//! invitation exactly one wins.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::{invitation, mail_budget};
use super::{Page, StoreError, insert_row, page_by_id, raw_query_one};
use crate::domain::{AccountId, InvitationId, InvitationState, UserId};

pub use invitation::Model as InvitationRow;

/// The inviter invited as the account's owner (through a session).
pub const BY_OWNER: &str = "owner";
/// The inviter invited as staff or an API credential holding the permission.
pub const BY_STAFF: &str = "staff";

/// Which invitations of an account to list, by status as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Pending and not expired at `now`.
    Pending,
    /// Accepted.
    Accepted,
    /// Cancelled.
    Cancelled,
    /// Pending but expired at `now`.
    Expired,
}

/// Inserts an invitation.
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: InvitationRow,
) -> Result<InvitationRow, StoreError> {
    insert_row(conn, row.clone()).await?;
    Ok(row)
}

/// The invitation with this id.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: InvitationId,
) -> Result<Option<InvitationRow>, StoreError> {
    Ok(invitation::Entity::find_by_id(id).one(conn).await?)
}

/// The invitation whose current link's token hashes to `token_hash`.
pub async fn find_by_token_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<InvitationRow>, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?)
}

/// The pending invitations (expired or not) of `email_normalized` to an account.
pub async fn pending_for(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    email_normalized: &str,
) -> Result<Vec<InvitationRow>, StoreError> {
    use invitation::Column;
    Ok(invitation::Entity::find()
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::EmailNormalized.eq(email_normalized))
        .filter(Column::Status.eq(InvitationState::Pending))
        .all(conn)
        .await?)
}

/// The pending invitations (expired or not) to an account that
/// `inviter_user_id` made as its owner.
pub async fn pending_by_owner(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    inviter_user_id: UserId,
) -> Result<Vec<InvitationRow>, StoreError> {
    use invitation::Column;
    Ok(invitation::Entity::find()
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::InviterUserId.eq(inviter_user_id))
        .filter(Column::InviterAuthority.eq(BY_OWNER))
        .filter(Column::Status.eq(InvitationState::Pending))
        .all(conn)
        .await?)
}

/// Cancels a pending invitation; returns whether this call did.
pub async fn cancel(
    conn: &impl ConnectionTrait,
    id: InvitationId,
    now: i64,
) -> Result<bool, StoreError> {
    use invitation::Column;
    let result = invitation::Entity::update_many()
        .col_expr(Column::Status, InvitationState::Cancelled.into())
        .col_expr(Column::CancelledAt, now.into())
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(InvitationState::Pending))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Marks a pending, unexpired invitation accepted by `user_id`; returns
/// whether this call did. This is the step that makes a token single-use.
/// It matches the token's hash too, so a link replaced by a resend after the
/// caller looked it up cannot win.
pub async fn accept(
    conn: &impl ConnectionTrait,
    id: InvitationId,
    token_hash: &str,
    user_id: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    use invitation::Column;
    let result = invitation::Entity::update_many()
        .col_expr(Column::Status, InvitationState::Accepted.into())
        .col_expr(Column::AcceptedAt, now.into())
        .col_expr(Column::AcceptedUserId, user_id.into())
        .filter(Column::Id.eq(id))
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::Status.eq(InvitationState::Pending))
        .filter(Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Gives a pending invitation a new token and expiry, so the old link stops
/// working, and records whether identityd mails the new link; returns
/// whether this call did.
pub async fn renew(
    conn: &impl ConnectionTrait,
    id: InvitationId,
    token_hash: &str,
    expires_at: i64,
    link_mailed: bool,
) -> Result<bool, StoreError> {
    use invitation::Column;
    let result = invitation::Entity::update_many()
        .col_expr(Column::TokenHash, token_hash.into())
        .col_expr(Column::ExpiresAt, expires_at.into())
        .col_expr(Column::LinkMailed, link_mailed.into())
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(InvitationState::Pending))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// A page of an account's invitations, newest first, before `before_id`.
pub async fn list(
    conn: &impl ConnectionTrait,
    account_id: AccountId,
    status: Option<StatusFilter>,
    now: i64,
    before_id: Option<&str>,
    limit: u64,
) -> Result<Page<InvitationRow>, StoreError> {
    use invitation::Column;
    let mut query = invitation::Entity::find().filter(Column::AccountId.eq(account_id));
    query = match status {
        None => query,
        Some(StatusFilter::Pending) => query
            .filter(Column::Status.eq(InvitationState::Pending))
            .filter(Column::ExpiresAt.gt(now)),
        Some(StatusFilter::Expired) => query
            .filter(Column::Status.eq(InvitationState::Pending))
            .filter(Column::ExpiresAt.lte(now)),
        Some(StatusFilter::Accepted) => query.filter(Column::Status.eq(InvitationState::Accepted)),
        Some(StatusFilter::Cancelled) => {
            query.filter(Column::Status.eq(InvitationState::Cancelled))
        }
    };
    page_by_id(conn, query, Column::Id, true, before_id, limit).await
}

/// Deletes invitations that were not accepted (expired while pending, or
/// cancelled) and whose expiry is before `before`; returns how many.
/// Accepted invitations stay: they record how a membership came about.
pub async fn delete_expired_before(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    use invitation::Column;
    let result = invitation::Entity::delete_many()
        .filter(Column::Status.ne(InvitationState::Accepted))
        .filter(Column::ExpiresAt.lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Counts one mail against `subject`'s hourly budget at `now` and returns
/// the count in the current window and when that window started. A window
/// that started at or before `window_expired_at` starts over. One atomic
/// statement, so concurrent mails are all counted; inside the caller's
/// transaction, so a refused or failed call counts nothing.
pub async fn spend_mail_budget(
    conn: &impl ConnectionTrait,
    subject: &str,
    now: i64,
    window_expired_at: i64,
) -> Result<(i32, i64), StoreError> {
    let sql = "INSERT INTO mail_budgets (subject, window_started_at, sent) VALUES (?, ?, 1) \
               ON CONFLICT (subject) DO UPDATE SET \
                 sent = CASE WHEN mail_budgets.window_started_at <= ? THEN 1 \
                             ELSE mail_budgets.sent + 1 END, \
                 window_started_at = CASE WHEN mail_budgets.window_started_at <= ? \
                             THEN excluded.window_started_at \
                             ELSE mail_budgets.window_started_at END \
               RETURNING sent, window_started_at";
    let row = raw_query_one(
        conn,
        sql,
        [
            subject.into(),
            now.into(),
            window_expired_at.into(),
            window_expired_at.into(),
        ],
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("no mail budget for {subject}")))?;
    Ok((
        row.try_get("", "sent")?,
        row.try_get("", "window_started_at")?,
    ))
}

/// Deletes mail budgets whose window started at or before
/// `window_expired_at`: a later mail starts a new window anyway, so the row
/// only keeps an inviter's id around. Returns how many went.
pub async fn delete_expired_mail_budgets(
    conn: &impl ConnectionTrait,
    window_expired_at: i64,
) -> Result<u64, StoreError> {
    let result = mail_budget::Entity::delete_many()
        .filter(mail_budget::Column::WindowStartedAt.lte(window_expired_at))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
