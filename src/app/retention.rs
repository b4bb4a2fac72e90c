//! Data retention pruning (WHMCS "Data Retention Pruning"): warning the
//! owners of inactive accounts, then deleting inactive and closed accounts
//! (and the users they leave without an account, if the policy says so)
//! and sign-ups never verified, as the `pruning.*` settings say.
//!
//! One replica at a time runs it, through a lease row in the database. It
//! works in bounded batches; each deletion is one transaction with its
//! activity event, attributed to System, and checks again under the row's
//! lock that it is still due, so a sign-in or a hold that lands meanwhile
//! wins, and two runs never delete one thing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use uuid::Uuid;

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::deletion::delete_account_in;
use crate::app::error::{AppError, Reason};
use crate::domain::{AccountId, AccountStatus, Permission, Timestamp, UserId};
use crate::mail::{MailKind, OutgoingMail, enqueue_at};
use crate::runtime::RuntimeSettings;
use crate::store::{self, accounts::AccountRow, retention::RetentionRunRow};

/// The lease's name.
const LEASE: &str = "retention";
/// How long a run holds the lease; a replica that dies frees it after this.
const LEASE_TTL: Duration = Duration::from_secs(15 * 60);
/// Rows read per batch.
const BATCH: u64 = 100;
const DAY: Duration = Duration::from_secs(86_400);

/// Why something is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RetentionReason {
    /// The owner of an inactive account is due a warning.
    InactivityWarning,
    /// An account inactive past the policy, warned long enough ago.
    InactiveAccount,
    /// An account closed longer ago than the policy.
    ClosedAccount,
    /// A sign-up never verified, older than the policy.
    UnverifiedUser,
}

impl RetentionReason {
    /// The stable name, as counts and the API show it.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionReason::InactivityWarning => "inactivity_warning",
            RetentionReason::InactiveAccount => "inactive_account",
            RetentionReason::ClosedAccount => "closed_account",
            RetentionReason::UnverifiedUser => "unverified_user",
        }
    }
}

/// One thing the next run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionItem {
    /// Why.
    pub reason: RetentionReason,
    /// The account or user.
    pub target_id: String,
    /// Its display name or username.
    pub name: String,
    /// Since when it counts: last activity, closure or sign-up.
    pub since: Timestamp,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRun {
    /// The run's id.
    pub id: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it finished; `None` while running (or if it died).
    pub finished_at: Option<Timestamp>,
    /// How many of each were done, by [`RetentionReason::as_str`], and
    /// `orphan_user` for users deleted with an account.
    pub counts: BTreeMap<String, u64>,
    /// The error that stopped it, if one did.
    pub error: Option<String>,
}

impl From<RetentionRunRow> for RetentionRun {
    fn from(row: RetentionRunRow) -> Self {
        Self {
            counts: serde_json::from_str(&row.counts).unwrap_or_default(),
            id: row.id,
            trigger: row.run_trigger,
            started_at: Some(Timestamp::from_micros(row.started_at)),
            finished_at: row.finished_at.map(Timestamp::from_micros),
            error: row.error,
        }
    }
}

/// The last run and the next scheduled one.
#[derive(Debug, Clone)]
pub struct RetentionStatus {
    /// The newest run, if any.
    pub last_run: Option<RetentionRun>,
    /// When the next scheduled run is due.
    pub next_run_at: Timestamp,
    /// Whether any policy is on.
    pub enabled: bool,
}

/// The cut-off times of the policies at `now`; `None` where a policy is off.
#[derive(Debug, Clone, Copy)]
struct Cutoffs {
    warn_before: Option<i64>,
    inactive_before: Option<i64>,
    warned_before: i64,
    closed_before: Option<i64>,
    unverified_before: Option<i64>,
    warning: Duration,
}

impl Cutoffs {
    fn at(now: Timestamp, settings: &RuntimeSettings) -> Self {
        let days = |n: u64| DAY.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        let warning = days(settings.prune_warning_days);
        let inactive = (settings.prune_inactive_after_months > 0)
            .then(|| days(settings.prune_inactive_after_months * 30));
        Self {
            inactive_before: inactive.map(|d| now.minus(d).as_micros()),
            warn_before: inactive.map(|d| now.minus(d.saturating_sub(warning)).as_micros()),
            warned_before: now.minus(warning).as_micros(),
            closed_before: (settings.prune_closed_after_days > 0).then(|| {
                now.minus(days(settings.prune_closed_after_days))
                    .as_micros()
            }),
            unverified_before: (settings.prune_unverified_after_days > 0).then(|| {
                now.minus(days(settings.prune_unverified_after_days))
                    .as_micros()
            }),
            warning,
        }
    }

    /// Whether `row` (read again under its lock) is still due for `reason`.
    fn account_due(&self, reason: RetentionReason, row: &AccountRow) -> bool {
        let active_at = row.last_activity_at.unwrap_or(row.created_at);
        if row.retention_hold {
            return false;
        }
        match reason {
            RetentionReason::InactiveAccount => {
                row.status == AccountStatus::Active
                    && self
                        .inactive_before
                        .is_some_and(|before| active_at < before)
                    && row
                        .inactivity_warned_at
                        .is_some_and(|warned| warned <= self.warned_before)
            }
            RetentionReason::ClosedAccount => {
                row.status == AccountStatus::Closed
                    && matches!((row.closed_at, self.closed_before), (Some(at), Some(before)) if at < before)
            }
            RetentionReason::InactivityWarning | RetentionReason::UnverifiedUser => false,
        }
    }
}

/// Whether any pruning policy is on.
fn pruning_enabled(settings: &RuntimeSettings) -> bool {
    settings.prune_closed_after_days > 0
        || settings.prune_inactive_after_months > 0
        || settings.prune_unverified_after_days > 0
}

/// The System principal retention acts as.
fn system() -> Principal {
    Principal::system("retention")
}

impl App {
    /// What the next run would do, in order: warnings, inactive accounts,
    /// closed accounts, unverified sign-ups; at most `limit` items after
    /// `after` (a position from the previous page). Staff holding
    /// `retention.read`.
    pub async fn preview_retention(
        &self,
        principal: &Principal,
        after: Option<(RetentionReason, String)>,
        limit: u64,
    ) -> Result<Vec<RetentionItem>, AppError> {
        principal.ensure_staff(Permission::RetentionRead)?;
        let cutoffs = Cutoffs::at(self.now(), &self.settings().values);
        let db = self.reader();
        let mut items = Vec::new();
        let start = |reason: RetentionReason| match &after {
            Some((at, id)) if *at == reason => Some(Some(id.clone())),
            Some((at, _)) if *at > reason => None,
            _ => Some(None),
        };
        let account_item = |reason, row: AccountRow, since: i64| RetentionItem {
            reason,
            target_id: row.id.to_string(),
            name: row.display_name,
            since: Timestamp::from_micros(since),
        };
        let parse = |id: Option<String>| id.and_then(|id| id.parse::<AccountId>().ok());
        let left = |items: &Vec<RetentionItem>| limit.saturating_sub(items.len() as u64);
        if let (Some(before), Some(from)) = (
            cutoffs.warn_before,
            start(RetentionReason::InactivityWarning),
        ) {
            for row in
                store::accounts::due_inactivity_warning(db, before, parse(from), left(&items))
                    .await?
            {
                let since = row.last_activity_at.unwrap_or(row.created_at);
                items.push(account_item(RetentionReason::InactivityWarning, row, since));
            }
        }
        if let (Some(before), Some(from)) = (
            cutoffs.inactive_before,
            start(RetentionReason::InactiveAccount),
        ) {
            for row in store::accounts::due_inactive_deletion(
                db,
                before,
                cutoffs.warned_before,
                parse(from),
                left(&items),
            )
            .await?
            {
                let since = row.last_activity_at.unwrap_or(row.created_at);
                items.push(account_item(RetentionReason::InactiveAccount, row, since));
            }
        }
        if let (Some(before), Some(from)) =
            (cutoffs.closed_before, start(RetentionReason::ClosedAccount))
        {
            for row in
                store::accounts::due_closed_deletion(db, before, parse(from), left(&items)).await?
            {
                let since = row.closed_at.unwrap_or(row.updated_at);
                items.push(account_item(RetentionReason::ClosedAccount, row, since));
            }
        }
        if let (Some(before), Some(from)) = (
            cutoffs.unverified_before,
            start(RetentionReason::UnverifiedUser),
        ) {
            let from = from.and_then(|id| id.parse::<UserId>().ok());
            for row in store::users::due_unverified_deletion(db, before, from, left(&items)).await?
            {
                items.push(RetentionItem {
                    reason: RetentionReason::UnverifiedUser,
                    target_id: row.id.to_string(),
                    name: row.username,
                    since: Timestamp::from_micros(row.created_at),
                });
            }
        }
        Ok(items)
    }

    /// Runs retention pruning now, as the settings say. Refused with
    /// `RETENTION_RUNNING` while another run holds the lease. Deletions are
    /// attributed to System; the request itself to the caller. Staff
    /// holding `retention.run`.
    pub async fn run_retention(&self, principal: &Principal) -> Result<RetentionRun, AppError> {
        principal.ensure_staff(Permission::RetentionRun)?;
        let run = self.run_retention_as("manual").await?;
        let txn = store::begin(self.db()).await?;
        let change =
            Change::new("retention.run", "retention_run", &run.id).detail("trigger", "manual");
        record_at(&txn, principal, self.now(), change).await?;
        store::commit(txn).await?;
        Ok(run)
    }

    /// The last run and when the next scheduled one is due. Staff holding
    /// `retention.read`.
    pub async fn retention_status(
        &self,
        principal: &Principal,
    ) -> Result<RetentionStatus, AppError> {
        principal.ensure_staff(Permission::RetentionRead)?;
        let last_run = store::retention::latest_run(self.reader(), None)
            .await?
            .map(RetentionRun::from);
        Ok(RetentionStatus {
            last_run,
            next_run_at: self.next_scheduled_run().await?,
            enabled: pruning_enabled(&self.settings().values),
        })
    }

    /// Runs the daily pruning if it is due (the scheduler calls this every
    /// minute on every replica); the run, if one happened here.
    pub async fn run_scheduled_retention(&self) -> Result<Option<RetentionRun>, AppError> {
        // With every policy off there is nothing to do, and no run to record.
        if !pruning_enabled(&self.settings().values)
            || self.now() < self.next_scheduled_run().await?
        {
            return Ok(None);
        }
        match self.run_retention_as("schedule").await {
            Ok(run) => Ok(Some(run)),
            Err(AppError::FailedPrecondition(Reason::RetentionRunning)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The first `run_at` after the last scheduled run started (today's, if
    /// none has run yet today).
    async fn next_scheduled_run(&self) -> Result<Timestamp, AppError> {
        let minutes = i64::from(self.settings().values.prune_run_at_minutes());
        let now = self.now().as_micros();
        let day = 86_400_000_000_i64;
        let today = now.div_euclid(day) * day + minutes * 60_000_000;
        let last = store::retention::latest_run(self.reader(), Some("schedule"))
            .await?
            .map(|run| run.started_at);
        let next = match last {
            Some(started) if started >= today => today + day,
            _ => today,
        };
        Ok(Timestamp::from_micros(next))
    }

    async fn run_retention_as(&self, trigger: &str) -> Result<RetentionRun, AppError> {
        let id = Uuid::now_v7().to_string();
        let now = self.now();
        let until = now.plus(LEASE_TTL).as_micros();
        let txn = store::begin(self.db()).await?;
        if !store::retention::acquire_lease(&txn, LEASE, &id, now.as_micros(), until).await? {
            return Err(AppError::FailedPrecondition(Reason::RetentionRunning));
        }
        store::retention::insert_run(
            &txn,
            RetentionRunRow {
                id: id.clone(),
                run_trigger: trigger.to_owned(),
                started_at: now.as_micros(),
                finished_at: None,
                counts: "{}".to_owned(),
                error: None,
            },
        )
        .await?;
        store::commit(txn).await?;

        let mut counts = BTreeMap::new();
        let outcome = self.prune(&id, &mut counts).await;
        // The cause, not the generic "internal error", so operators can act.
        let error = outcome.as_ref().err().map(|err| match err {
            AppError::Internal(source) => source.to_string(),
            other => other.to_string(),
        });
        if let Some(error) = &error {
            tracing::warn!(run_id = %id, %error, "retention run stopped");
        }
        let counts_json = serde_json::to_string(&counts).unwrap_or_else(|_| "{}".to_owned());
        let finished = self.now();
        store::retention::finish_run(
            self.db(),
            &id,
            finished.as_micros(),
            &counts_json,
            error.as_deref(),
        )
        .await?;
        store::retention::release_lease(self.db(), LEASE, &id).await?;
        self.authn.forget_all();
        tracing::info!(run_id = %id, trigger, ?counts, "retention run finished");
        Ok(RetentionRun {
            id,
            trigger: trigger.to_owned(),
            started_at: Some(now),
            finished_at: Some(finished),
            counts,
            error,
        })
    }

    async fn prune(
        &self,
        run_id: &str,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<(), AppError> {
        let settings = self.settings();
        let cutoffs = Cutoffs::at(self.now(), &settings.values);
        let orphans = settings.values.prune_orphan_users;
        let mut bump = |key: &str, n: u64| {
            if n > 0 {
                *counts.entry(key.to_owned()).or_default() += n;
            }
        };

        if let Some(before) = cutoffs.warn_before {
            let mut after = None;
            loop {
                let rows = store::accounts::due_inactivity_warning(self.db(), before, after, BATCH)
                    .await?;
                for row in &rows {
                    if self.warn_owner(row, before, &cutoffs, run_id).await? {
                        bump(RetentionReason::InactivityWarning.as_str(), 1);
                    }
                }
                after = rows.last().map(|row| row.id);
                if (rows.len() as u64) < BATCH {
                    break;
                }
            }
        }
        for (reason, enabled) in [
            (
                RetentionReason::InactiveAccount,
                cutoffs.inactive_before.is_some(),
            ),
            (
                RetentionReason::ClosedAccount,
                cutoffs.closed_before.is_some(),
            ),
        ] {
            if !enabled {
                continue;
            }
            let mut after = None;
            loop {
                let rows = match reason {
                    RetentionReason::InactiveAccount => {
                        store::accounts::due_inactive_deletion(
                            self.db(),
                            cutoffs.inactive_before.unwrap_or(i64::MIN),
                            cutoffs.warned_before,
                            after,
                            BATCH,
                        )
                        .await?
                    }
                    _ => {
                        store::accounts::due_closed_deletion(
                            self.db(),
                            cutoffs.closed_before.unwrap_or(i64::MIN),
                            after,
                            BATCH,
                        )
                        .await?
                    }
                };
                for row in &rows {
                    if let Some(deleted_users) = self
                        .prune_account(row.id, reason, &cutoffs, orphans, run_id)
                        .await?
                    {
                        bump(reason.as_str(), 1);
                        bump("orphan_user", deleted_users);
                    }
                }
                after = rows.last().map(|row| row.id);
                if (rows.len() as u64) < BATCH {
                    break;
                }
            }
        }
        if let Some(before) = cutoffs.unverified_before {
            let mut after = None;
            loop {
                let rows =
                    store::users::due_unverified_deletion(self.db(), before, after, BATCH).await?;
                for row in &rows {
                    if self.prune_unverified(row.id, before, run_id).await? {
                        bump(RetentionReason::UnverifiedUser.as_str(), 1);
                    }
                }
                after = rows.last().map(|row| row.id);
                if (rows.len() as u64) < BATCH {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Mails the owner of an inactive account once; whether it did.
    async fn warn_owner(
        &self,
        row: &AccountRow,
        before: i64,
        cutoffs: &Cutoffs,
        run_id: &str,
    ) -> Result<bool, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        if !store::accounts::mark_warned(&txn, row.id, before, now.as_micros()).await? {
            return Ok(false);
        }
        let Some(owner) = store::users::find(&txn, row.owner_user_id).await? else {
            return Ok(false);
        };
        let delete_at = now.plus(cutoffs.warning);
        enqueue_at(
            &txn,
            now,
            OutgoingMail {
                kind: MailKind::AccountInactivityWarning,
                to: owner.email.clone(),
                locale: owner.locale.clone().unwrap_or_default(),
                account_id: Some(row.id),
                context: [
                    ("recipient_name".to_owned(), owner.full_name.clone()),
                    ("account_name".to_owned(), row.display_name.clone()),
                    ("delete_date".to_owned(), delete_at.to_utc_minutes()),
                    ("link".to_owned(), self.link("/")),
                ]
                .into(),
                secrets: BTreeMap::new(),
            },
        )
        .await?;
        let change = Change::new("account.inactivity_warned", "account", row.id)
            .account(row.id)
            .detail("owner_user_id", owner.id)
            .detail("delete_after", delete_at.to_utc_minutes())
            .detail("run_id", run_id);
        record_at(&txn, &system(), now, change).await?;
        store::commit(txn).await?;
        Ok(true)
    }

    /// Deletes an account if, read again under its lock, it is still due;
    /// how many orphaned users went with it, or `None` if it stayed.
    async fn prune_account(
        &self,
        id: AccountId,
        reason: RetentionReason,
        cutoffs: &Cutoffs,
        delete_orphan_users: bool,
        run_id: &str,
    ) -> Result<Option<u64>, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let Some(row) = store::accounts::find_for_update(&txn, id).await? else {
            return Ok(None);
        };
        if !cutoffs.account_due(reason, &row) {
            return Ok(None);
        }
        let details = [
            ("reason", reason.as_str().to_owned()),
            ("run_id", run_id.to_owned()),
        ];
        let deleted =
            delete_account_in(&txn, &system(), now, &row, delete_orphan_users, &details).await?;
        store::commit(txn).await?;
        Ok(Some(deleted.len() as u64))
    }

    /// Deletes a sign-up never verified, with the accounts it owns, if it
    /// still is one; whether it did.
    async fn prune_unverified(
        &self,
        id: UserId,
        before: i64,
        run_id: &str,
    ) -> Result<bool, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let Some(user) = store::users::find(&txn, id).await? else {
            return Ok(false);
        };
        let still_due = user.status == crate::domain::UserStatus::PendingVerification
            && user.admin_role_id.is_none()
            && user.created_at < before;
        if !still_due {
            return Ok(false);
        }
        let details = [
            (
                "reason",
                RetentionReason::UnverifiedUser.as_str().to_owned(),
            ),
            ("run_id", run_id.to_owned()),
        ];
        for account in store::accounts::owned_by(&txn, id).await? {
            delete_account_in(&txn, &system(), now, &account, false, &details).await?;
        }
        store::users::delete(&txn, id).await?;
        let change = Change::new("user.deleted", "user", id)
            .detail("username", &user.username)
            .detail("reason", "never verified")
            .detail("run_id", run_id);
        record_at(&txn, &system(), now, change).await?;
        store::commit(txn).await?;
        Ok(true)
    }
}
