//! Recording changes in the activity log.
//!
//! Every use case that changes something calls [`record_at`] with the same
//! transaction as the change, so an event exists exactly when its change does.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::app::authn::{Caller, Principal};
use crate::app::error::AppError;
use crate::domain::{AccountId, Timestamp};
use crate::store::{self, ConnectionTrait, activity::ActivityRow};

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
    pub account_id: Option<AccountId>,
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
    pub fn account(mut self, account_id: AccountId) -> Self {
        self.account_id = Some(account_id);
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
    if let Caller::ApiCredential { staff_user_id, .. } = &principal.caller {
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
