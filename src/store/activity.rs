//! The append-only activity log.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::activity_event;
use super::{Page, StoreError, insert_row, page_by_id, starts_with_pattern};
use crate::domain::AccountId;

pub use activity_event::Model as ActivityRow;

/// What a listing of the activity log wants.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Only this actor kind.
    pub actor_kind: Option<String>,
    /// Only this actor id (a user's or an API credential's).
    pub actor_id: Option<String>,
    /// Only this client account.
    pub account_id: Option<AccountId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only actions starting with this text.
    pub action_prefix: Option<String>,
    /// Only targets of this type.
    pub target_type: Option<String>,
    /// Only this target id.
    pub target_id: Option<String>,
    /// Only at or after this time (microseconds).
    pub since: Option<i64>,
    /// Only before this time (microseconds).
    pub until: Option<i64>,
}

/// Appends an event.
pub async fn append(conn: &impl ConnectionTrait, row: ActivityRow) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// A page of events, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ActivityFilter,
    before_id: Option<&str>,
    limit: u64,
) -> Result<Page<ActivityRow>, StoreError> {
    use activity_event::Column;
    let mut query = activity_event::Entity::find();
    if let Some(kind) = &filter.actor_kind {
        query = query.filter(Column::ActorKind.eq(kind.as_str()));
    }
    if let Some(actor_id) = &filter.actor_id {
        query = query.filter(Column::ActorId.eq(actor_id.as_str()));
    }
    if let Some(account_id) = filter.account_id {
        query = query.filter(Column::AccountId.eq(account_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(Column::Action.eq(action.as_str()));
    }
    if let Some(prefix) = &filter.action_prefix {
        query = query.filter(Column::Action.like(starts_with_pattern(prefix)));
    }
    if let Some(target_type) = &filter.target_type {
        query = query.filter(Column::TargetType.eq(target_type.as_str()));
    }
    if let Some(target_id) = &filter.target_id {
        query = query.filter(Column::TargetId.eq(target_id.as_str()));
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(Column::OccurredAt.lt(until));
    }
    page_by_id(conn, query, Column::Id, true, before_id, limit).await
}

/// Events about a user (the target) or made by them (the actor), newest
/// first, at most `limit`.
pub async fn about_user(
    conn: &impl ConnectionTrait,
    user_id: &str,
    limit: u64,
) -> Result<Vec<ActivityRow>, StoreError> {
    use activity_event::Column;
    use sea_orm::{Condition, QueryOrder, QuerySelect};
    Ok(activity_event::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::TargetType.eq("user"))
                        .add(Column::TargetId.eq(user_id)),
                )
                .add(Column::ActorId.eq(user_id)),
        )
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
