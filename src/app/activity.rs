//! Reading the activity log.

use std::collections::BTreeMap;

use super::App;
use super::authn::Principal;
use super::error::AppError;
use crate::domain::Permission;
use crate::domain::{PageCursor, PageSize, Timestamp};
use crate::store::{self, activity::ActivityFilter};

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
    /// Staff holding `activity.read` only.
    pub async fn list_activity(
        &self,
        principal: &Principal,
        query: ActivityQuery,
    ) -> Result<ActivityPage, AppError> {
        principal.ensure_staff(Permission::ActivityRead)?;
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
