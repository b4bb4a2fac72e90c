//! Whether this replica believes its database is down, so calls fail at
//! once instead of each waiting out the connect timeout, and the health
//! watch probes it often until it answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// The database's state as this replica last saw it; clones share it.
#[derive(Debug, Clone, Default)]
pub struct DatabaseState {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    down: AtomicBool,
    changed: Notify,
}

impl DatabaseState {
    /// Whether the database is known to be down.
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::Acquire)
    }

    /// A call or a probe found the database unreachable: later calls fail
    /// fast, and the health watch is woken to confirm and to probe until it
    /// answers.
    pub fn mark_down(&self) {
        if !self.inner.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                "the database is unreachable: failing calls fast until a probe succeeds"
            );
            self.inner.changed.notify_one();
        }
    }

    /// A probe reached the database.
    pub fn mark_up(&self) {
        if self.inner.down.swap(false, Ordering::AcqRel) {
            tracing::info!("the database answers again");
        }
    }

    /// Waits until a call marks the database down.
    pub async fn wait_for_change(&self) {
        self.inner.changed.notified().await;
    }
}

tokio::task_local! {
    /// Set for the length of one call: whether it met an unreachable
    /// database (see [`crate::error::to_status`]).
    pub static CALL_MET_DATABASE_DOWN: Arc<AtomicBool>;
}

/// Notes, for the call in progress, that the database was unreachable.
pub fn note_database_down() {
    let _ = CALL_MET_DATABASE_DOWN.try_with(|flag| flag.store(true, Ordering::Release));
}
