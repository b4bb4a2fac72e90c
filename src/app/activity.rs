//! Reading the activity log.

use std::collections::BTreeMap;

use super::App;
use super::authn::Principal;
use super::blocks::paging::Paging;
use super::error::AppError;
use crate::domain::{ACTIONS, ActionInfo, Permission};
use crate::domain::{AccountId, Fingerprint, PageSize, Timestamp};
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
    pub account_id: Option<AccountId>,
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

impl ActivityQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let ActivityQuery {
            filter:
                ActivityFilter {
                    actor_kind,
                    actor_id,
                    account_id,
                    action,
                    action_prefix,
                    target_type,
                    target_id,
                    since,
                    until,
                },
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListActivity", 2)
            .opt("actor_kind", actor_kind.as_deref())
            .opt("actor_id", actor_id.as_deref())
            .opt("account_id", account_id.map(|id| id.to_string()).as_deref())
            .opt("action", action.as_deref())
            .opt("action_prefix", action_prefix.as_deref())
            .opt("target_type", target_type.as_deref())
            .opt("target_id", target_id.as_deref())
            .opt_int("since", *since)
            .opt_int("until", *until)
    }
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
    /// The catalogue of action names the activity log records, with what
    /// each means. Staff holding `activity.read`.
    pub fn activity_actions(
        &self,
        principal: &Principal,
    ) -> Result<&'static [ActionInfo], AppError> {
        principal.ensure_staff(Permission::ActivityRead)?;
        Ok(ACTIONS)
    }

    /// Lists activity events, newest first.
    /// Staff holding `activity.read` only.
    pub async fn list_activity(
        &self,
        principal: &Principal,
        query: ActivityQuery,
    ) -> Result<ActivityPage, AppError> {
        principal.ensure_staff(Permission::ActivityRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let page =
            store::activity::list(self.reader(), &query.filter, paging.after(), paging.limit())
                .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.clone());
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
