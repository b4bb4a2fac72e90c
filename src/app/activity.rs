//! Recording and reading the activity log.
//!
//! Every use case that changes something calls [`record`] with the same
//! transaction as the change, so an event exists exactly when its change does.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{App, AppError, Principal};
use crate::domain::{PageCursor, PageSize, Timestamp};
use crate::store::{
    self, ConnectionTrait,
    activity::{ActivityFilter, ActivityRow},
};

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change {
    /// What happened, such as `role.created`.
    pub action: &'static str,
    /// The kind of thing changed, such as `role`.
    pub target_type: &'static str,
    /// The changed thing's id.
    pub target_id: String,
    /// The client account the change belongs to, if any.
    pub account_id: Option<String>,
    /// Further facts; never a secret.
    pub details: BTreeMap<String, String>,
}

impl Change {
    /// A change of `target_type` `target_id` described by `action`.
    pub fn new(action: &'static str, target_type: &'static str, target_id: impl ToString) -> Self {
        Self {
            action,
            target_type,
            target_id: target_id.to_string(),
            account_id: None,
            details: BTreeMap::new(),
        }
    }

    /// Marks the change as belonging to a client account, so the account's
    /// history can be listed.
    pub fn account(mut self, account_id: impl ToString) -> Self {
        self.account_id = Some(account_id.to_string());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl ToString) -> Self {
        self.details.insert(key.to_owned(), value.to_string());
        self
    }
}

/// Appends `change`, made by `principal` at `now`, to the activity log on
/// `conn`. `now` is the use case's time from the app's clock, so that every
/// row one change writes carries the same time and tests can move it.
pub async fn record_at(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    now: Timestamp,
    mut change: Change,
) -> Result<(), AppError> {
    if let super::Caller::ApiCredential { staff_user_id, .. } = &principal.caller {
        change
            .details
            .insert("staff_user_id".to_owned(), staff_user_id.to_string());
    }
    let details =
        serde_json::to_string(&change.details).map_err(|e| AppError::Internal(Box::new(e)))?;
    let row = ActivityRow {
        id: Uuid::now_v7().to_string(),
        occurred_at: now.as_micros(),
        actor_kind: principal.actor_kind().to_owned(),
        actor_id: principal.actor_id(),
        account_id: change.account_id,
        action: change.action.to_owned(),
        target_type: change.target_type.to_owned(),
        target_id: change.target_id,
        client_ip: principal.client_ip.map(|ip| ip.to_string()),
        request_id: principal.request_id.clone(),
        details,
    };
    Ok(store::activity::append(conn, row).await?)
}

/// One recorded event, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEvent {
    /// The event's id.
    pub id: String,
    /// When it happened.
    pub time: Timestamp,
    /// `system`, `staff`, `user` or `api_credential`.
    pub actor_kind: String,
    /// The actor's id.
    pub actor_id: String,
    /// The client account, if any.
    pub account_id: Option<String>,
    /// What happened.
    pub action: String,
    /// The kind of thing changed.
    pub target_type: String,
    /// The changed thing's id.
    pub target_id: String,
    /// The caller's address.
    pub client_ip: Option<String>,
    /// The request id.
    pub request_id: String,
    /// Further facts.
    pub details: BTreeMap<String, String>,
}

/// A request for a page of the activity log.
#[derive(Debug, Clone)]
pub struct ActivityQuery {
    /// The filters.
    pub filter: ActivityFilter,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token, checked against the filters.
    pub page_token: String,
}

/// A page of events, newest first.
#[derive(Debug, Clone)]
pub struct ActivityPage {
    /// The events.
    pub events: Vec<ActivityEvent>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

impl App {
    /// Lists activity events, newest first.
    pub async fn list_activity(&self, query: ActivityQuery) -> Result<ActivityPage, AppError> {
        let filters = format!("{:?}", query.filter);
        let cursor = PageCursor::decode("page_token", &query.page_token, &filters)?;
        let page = store::activity::list(
            self.reader(),
            &query.filter,
            cursor.as_ref().map(|c| c.after.as_str()),
            query.page_size.get(),
        )
        .await?;
        let next_page_token = page
            .continues_after(|row| &row.id)
            .map(|last| PageCursor::encode(last, &filters));
        let events = page
            .rows
            .into_iter()
            .map(|row| {
                let details = serde_json::from_str(&row.details)
                    .map_err(|_| AppError::corrupt(format!("activity event {} details", row.id)))?;
                Ok(ActivityEvent {
                    id: row.id,
                    time: Timestamp::from_micros(row.occurred_at),
                    actor_kind: row.actor_kind,
                    actor_id: row.actor_id,
                    account_id: row.account_id,
                    action: row.action,
                    target_type: row.target_type,
                    target_id: row.target_id,
                    client_ip: row.client_ip,
                    request_id: row.request_id,
                    details,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(ActivityPage {
            events,
            next_page_token,
        })
    }
}
