//! Sweeping what has stopped mattering: ended sessions, spent codes and
//! links, forgotten failure counters, old request ids, delivered mail and
//! invitations long past their expiry. Each replica sweeps on its own; the
//! deletes are idempotent, so replicas sweeping at once do no harm.

use std::time::Duration;

use crate::app::App;
use crate::app::error::AppError;
use crate::store;

/// Ended sessions and spent tokens are kept this long before they go, so
/// support can still look at a session that just ended.
pub const SWEEP_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// How long finished records are kept before the sweep deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Request ids of create calls, from when they were first used. A retry
    /// after this creates anew, so it should outlast any client's retries.
    pub request_ids: Duration,
    /// Sent mail from sending, failed mail from queueing. Mail is the
    /// outbox's record of what was sent to whom (its secrets are erased at
    /// sending); the activity log keeps the record of each change for longer.
    pub mail: Duration,
    /// Invitations not accepted (expired or cancelled), from their expiry.
    /// Until then they still list, as EXPIRED or CANCELLED, so the inviter
    /// can see what became of them. Accepted invitations are kept: they
    /// record how a membership came about.
    pub invitations: Duration,
}

/// How many rows one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Sessions that ended more than [`SWEEP_GRACE`] ago.
    pub sessions: u64,
    /// Verification codes and reset tokens spent or expired that long ago.
    pub user_tokens: u64,
    /// Failure counters past their forgetting time.
    pub throttles: u64,
    /// Request ids older than their retention.
    pub request_ids: u64,
    /// Sent or failed mail older than its retention.
    pub mails: u64,
    /// Invitations that expired (or were cancelled) longer ago than their retention.
    pub invitations: u64,
    /// Inviters' hourly mail budgets whose window has closed.
    pub mail_budgets: u64,
    /// TOTP enrolments never confirmed, that long past their time to live.
    pub totp_enrollments: u64,
    /// SSO tokens redeemed or expired more than [`SWEEP_GRACE`] ago.
    pub sso_tokens: u64,
    /// External sign-ins completed or expired more than [`SWEEP_GRACE`] ago.
    pub external_sign_ins: u64,
}

impl App {
    /// Deletes ended sessions, spent tokens, forgotten failure counters, old
    /// request ids, old sent and failed mail and long-expired invitations.
    pub async fn sweep(&self) -> Result<Swept, AppError> {
        let now = self.now();
        let before = now.minus(SWEEP_GRACE).as_micros();
        let idle =
            i64::try_from(self.auth_rules().session_idle_timeout.as_micros()).unwrap_or(i64::MAX);
        let forget_before = now.minus(self.auth_rules().forget_failures_after);
        let retention = self.rules.retention;
        Ok(Swept {
            sessions: store::sessions::delete_ended(self.db(), before, idle).await?,
            user_tokens: store::user_tokens::delete_spent(self.db(), before).await?,
            throttles: store::throttles::delete_forgotten(
                self.db(),
                forget_before.as_micros(),
                now.as_micros(),
            )
            .await?,
            request_ids: store::idempotency::delete_created_before(
                self.db(),
                now.minus(retention.request_ids).as_micros(),
            )
            .await?,
            mails: store::mails::delete_finished_before(
                self.db(),
                now.minus(retention.mail).as_micros(),
            )
            .await?,
            invitations: store::invitations::delete_expired_before(
                self.db(),
                now.minus(retention.invitations).as_micros(),
            )
            .await?,
            mail_budgets: store::invitations::delete_expired_mail_budgets(
                self.db(),
                now.minus(super::invitations::MAIL_BUDGET_WINDOW)
                    .as_micros(),
            )
            .await?,
            totp_enrollments: store::mfa::delete_unconfirmed_before(
                self.db(),
                (now.minus(SWEEP_GRACE)
                    .minus(super::mfa::TOTP_ENROLLMENT_TTL))
                .as_micros(),
            )
            .await?,
            sso_tokens: store::sso_tokens::delete_spent(self.db(), before).await?,
            external_sign_ins: store::external_sign_in::delete_spent_sign_ins(self.db(), before)
                .await?,
        })
    }
}
