//! What billing services tell identityd about an account's use:
//! RecordAccountActivity and SetRetentionHold, which retention pruning reads.

use super::Account;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_account_for_update;
use crate::app::error::AppError;
use crate::domain::{AccountId, Permission, Timestamp, ValidationError};
use crate::store;

/// The longest hold reason, in characters.
pub const HOLD_REASON_MAX: usize = 500;
/// How far ahead of the server's clock a recorded activity may be, for
/// clocks that disagree a little.
const CLOCK_SKEW_MICROS: i64 = 60_000_000;

impl App {
    /// Records that an account was in use at `at` (now when `None`): it
    /// moves the account's last activity forward and cancels a pending
    /// inactivity warning. High-volume bookkeeping, like a sign-in, so it
    /// writes no activity event. Staff holding `accounts.write`.
    pub async fn record_account_activity(
        &self,
        principal: &Principal,
        id: AccountId,
        at: Option<Timestamp>,
    ) -> Result<Account, AppError> {
        principal.ensure_staff(Permission::AccountsWrite)?;
        let now = self.now();
        let at = at.unwrap_or(now);
        if at.as_micros() > now.as_micros() + CLOCK_SKEW_MICROS {
            return Err(
                ValidationError::single("activity_time", "must not be in the future").into(),
            );
        }
        let txn = store::begin(self.db()).await?;
        let row = load_account_for_update(&txn, id).await?;
        store::accounts::record_activity(&txn, row.id, at.as_micros().min(now.as_micros())).await?;
        let row = load_account_for_update(&txn, id).await?;
        store::commit(txn).await?;
        Account::try_from(row)
    }

    /// Puts an account on retention hold (with a reason) or takes it off.
    /// Staff holding `accounts.write`.
    pub async fn set_retention_hold(
        &self,
        principal: &Principal,
        id: AccountId,
        hold: bool,
        reason: &str,
    ) -> Result<Account, AppError> {
        principal.ensure_staff(Permission::AccountsWrite)?;
        let reason = reason.trim();
        if hold && reason.is_empty() {
            return Err(
                ValidationError::single("reason", "is required to put an account on hold").into(),
            );
        }
        if reason.chars().count() > HOLD_REASON_MAX || reason.chars().any(char::is_control) {
            return Err(ValidationError::single(
                "reason",
                format!("at most {HOLD_REASON_MAX} characters, without control characters"),
            )
            .into());
        }
        let reason = if hold { reason } else { "" };
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = load_account_for_update(&txn, id).await?;
        store::accounts::set_retention_hold(&txn, row.id, hold, reason, now.as_micros()).await?;
        let action = if hold {
            "account.retention_hold_set"
        } else {
            "account.retention_hold_cleared"
        };
        let mut change = Change::new(action, "account", id).account(id);
        if hold {
            change = change.detail("reason", reason);
        }
        record_at(&txn, principal, now, change).await?;
        let row = load_account_for_update(&txn, id).await?;
        self.commit(txn).await?;
        Account::try_from(row)
    }
}
