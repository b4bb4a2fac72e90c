//! Sweeping what has stopped mattering: ended sessions, spent codes and
//! links, forgotten failure counters. Each replica sweeps on its own; the
//! deletes are idempotent, so replicas sweeping at once do no harm.

use std::time::Duration;

use super::{App, AppError};
use crate::store;

/// Ended sessions and spent tokens are kept this long before they go, so
/// support can still look at a session that just ended.
pub const SWEEP_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// How many rows one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Sessions that ended more than [`SWEEP_GRACE`] ago.
    pub sessions: u64,
    /// Verification codes and reset tokens spent or expired that long ago.
    pub user_tokens: u64,
    /// Failure counters past their forgetting time.
    pub throttles: u64,
}

impl App {
    /// Deletes ended sessions, spent tokens and forgotten failure counters.
    pub async fn sweep(&self) -> Result<Swept, AppError> {
        let now = self.now();
        let before = now.minus(SWEEP_GRACE).as_micros();
        let idle =
            i64::try_from(self.auth_policy().session_idle_timeout.as_micros()).unwrap_or(i64::MAX);
        let forget_before = now.minus(self.auth_policy().forget_failures_after);
        Ok(Swept {
            sessions: store::sessions::delete_ended(self.db(), before, idle).await?,
            user_tokens: store::user_tokens::delete_spent(self.db(), before).await?,
            throttles: store::throttles::delete_forgotten(
                self.db(),
                forget_before.as_micros(),
                now.as_micros(),
            )
            .await?,
        })
    }
}
