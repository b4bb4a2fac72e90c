//! The delivery worker: claims due mails, renders, sends, records the outcome.
//!
//! Failures retry with exponential backoff and jitter up to a configured
//! number of attempts; then the mail is marked failed with its last error,
//! for an operator to retry. A worker holds a lease on each claimed row, so a
//! worker that dies mid-send only delays its mails until the lease ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::MailKind;
use crate::config::MailSettings;
use crate::crypto::random_bytes;
use crate::domain::Clock;
use crate::runtime::LiveSettings;
use crate::store::{self, DatabaseConnection, mails::MailRow};

/// How long a claimed mail stays reserved for its worker: short, so a
/// worker killed mid-batch delays its mails by seconds, and renewed every
/// [`LEASE_RENEWAL`] while a send is under way.
const LEASE: Duration = Duration::from_secs(30);
/// How often a send in progress renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(10);
/// How many mails one claim takes.
const BATCH: u64 = 16;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Totals since start, logged with every outcome so a log pipeline can chart
/// them until metrics arrive.
#[derive(Debug, Default)]
pub struct MailCounters {
    /// Mails handed to the transport.
    pub sent: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Mails given up after their last attempt.
    pub failed: AtomicU64,
}

/// A delivery worker.
#[derive(Debug, Clone)]
pub struct MailWorker {
    db: DatabaseConnection,
    /// Templates, transport, From address and product name, read per mail.
    live: LiveSettings,
    /// Attempts, backoff and polling, fixed at start.
    settings: MailSettings,
    counters: Arc<MailCounters>,
    clock: Clock,
}

/// The wait before attempt `attempts + 1`: `base · 2^(attempts-1)`, capped,
/// with ±20% jitter so that mails failing together do not retry together.
pub fn backoff(base: Duration, attempts: u32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let delay = base.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    delay.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

impl MailWorker {
    /// A worker over `db` rendering and sending as `live` says at each
    /// mail, reading the time from `clock` (the use cases' clock, so that a
    /// mail queued at a moved time is due on the same time line).
    pub fn new(
        db: DatabaseConnection,
        live: LiveSettings,
        settings: MailSettings,
        clock: Clock,
    ) -> Self {
        Self {
            db,
            live,
            settings,
            counters: Arc::new(MailCounters::default()),
            clock,
        }
    }

    /// Delivers mail until `stop` turns true, polling when idle.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        loop {
            let delivered = match self.tick().await {
                Ok(count) => count,
                Err(err) => {
                    tracing::warn!(error = %err, "mail delivery round failed");
                    0
                }
            };
            if delivered > 0 && !*stop.borrow() {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Claims and delivers one batch of due mails; returns how many it handled.
    pub async fn tick(&self) -> Result<usize, store::StoreError> {
        let now = self.clock.now();
        let lease_until = now.as_micros() + i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX);
        let claimed =
            store::mails::claim_due(&self.db, now.as_micros(), lease_until, BATCH).await?;
        let count = claimed.len();
        for mail in claimed {
            // The lease of a mail further down the batch may have run out
            // while earlier ones were sent; renewing it proves this worker
            // still holds it (its lease is still the one the claim set), and
            // otherwise another worker has it.
            let renewed = self.lease_end();
            if !store::mails::renew_lease(&self.db, &mail.id, lease_until, renewed).await? {
                tracing::debug!(mail_id = %mail.id, "lease lost to another worker; skipping");
                continue;
            }
            self.deliver(mail, renewed).await?;
        }
        Ok(count)
    }

    /// When a lease taken or renewed now ends.
    fn lease_end(&self) -> i64 {
        self.clock.now().as_micros() + i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX)
    }

    /// Sends `mail`, renewing its lease (held until `held_until`) while the
    /// transport works, so a slow SMTP server never lets another worker
    /// take the same mail.
    async fn send_renewing(
        &self,
        mail: &MailRow,
        mut held_until: i64,
    ) -> Result<(), (String, bool)> {
        let send = self.render_and_send(mail);
        tokio::pin!(send);
        let mut renewal = tokio::time::interval(LEASE_RENEWAL);
        renewal.tick().await;
        loop {
            tokio::select! {
                outcome = &mut send => return outcome,
                _ = renewal.tick() => {
                    let renewed = self.lease_end();
                    match store::mails::renew_lease(&self.db, &mail.id, held_until, renewed).await {
                        Ok(true) => held_until = renewed,
                        Ok(false) => tracing::warn!(mail_id = %mail.id, "mail lease lost during a send"),
                        Err(error) => tracing::warn!(mail_id = %mail.id, %error, "could not renew a mail lease"),
                    }
                }
            }
        }
    }

    async fn deliver(&self, mail: MailRow, held_until: i64) -> Result<(), store::StoreError> {
        let attempts = mail.attempts.saturating_add(1);
        let outcome = self.send_renewing(&mail, held_until).await;
        let now = self.clock.now().as_micros();
        match outcome {
            Ok(()) => {
                store::mails::mark_sent(&self.db, &mail.id, attempts, now).await?;
                crate::metrics::metrics().mail_sent.inc();
                let sent = self.counters.sent.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::info!(mail_id = %mail.id, kind = %mail.kind, attempts, sent_total = sent, "mail sent");
            }
            Err((error, transient)) => {
                crate::metrics::metrics().mail_delivery_failures.inc();
                let max = i32::try_from(self.settings.max_attempts.max(1)).unwrap_or(i32::MAX);
                let jitter = f64::from(random_bytes::<1>()[0]) / 255.0;
                let base = Duration::from_millis(self.settings.retry_base_ms.max(1));
                let wait = backoff(base, u32::try_from(attempts).unwrap_or(u32::MAX), jitter);
                let next = now.saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
                // Retried for as long as the mail is worth sending: a code
                // until it expires, a notice for a day.
                let useful_until = MailKind::from_str_name(&mail.kind).map_or(now, |kind| {
                    mail.created_at.saturating_add(
                        i64::try_from(kind.useful_for().as_micros()).unwrap_or(i64::MAX),
                    )
                });
                let error = if transient && next >= useful_until {
                    format!("{error} (no longer worth sending; given up)")
                } else {
                    error
                };
                if transient && attempts < max && next < useful_until {
                    store::mails::mark_retry(&self.db, &mail.id, attempts, next, &error).await?;
                    let retried = self.counters.retried.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(mail_id = %mail.id, attempts, retry_in_ms = wait.as_millis() as u64, error = %error, retried_total = retried, "mail delivery failed; will retry");
                } else {
                    store::mails::mark_failed(&self.db, &mail.id, attempts, &error).await?;
                    crate::metrics::metrics().mail_failed.inc();
                    let failed = self.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::error!(mail_id = %mail.id, attempts, error = %error, failed_total = failed, "mail delivery gave up");
                }
            }
        }
        Ok(())
    }

    /// Renders and sends; an error says whether a retry may help.
    async fn render_and_send(&self, mail: &MailRow) -> Result<(), (String, bool)> {
        let kind = MailKind::from_str_name(&mail.kind)
            .ok_or_else(|| (format!("unknown mail kind {}", mail.kind), false))?;
        let mut context: BTreeMap<String, String> = serde_json::from_str(&mail.context)
            .map_err(|e| (format!("stored context: {e}"), false))?;
        if let Some(secrets) = &mail.secret_context {
            let secrets: BTreeMap<String, String> = serde_json::from_str(secrets)
                .map_err(|e| (format!("stored secrets: {e}"), false))?;
            context.extend(secrets);
        }
        let live = self.live.current();
        context
            .entry("product_name".into())
            .or_insert_with(|| live.values.product_name.clone());
        context
            .entry("base_url".into())
            .or_insert_with(|| live.values.public_base_url.clone());
        let rendered = live
            .templates
            .render(kind, &mail.locale, &context)
            .map_err(|e| (e.to_string(), false))?;
        live.transport
            .send(&mail.id, &live.values.mail_from, &mail.recipient, &rendered)
            .await
            .map(drop)
            .map_err(|e| (e.to_string(), e.is_transient()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(base, 3, 0.5), Duration::from_secs(20));
        assert_eq!(backoff(base, 40, 0.5), MAX_BACKOFF);
        assert_eq!(backoff(base, 1, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(base, 1, 1.0), Duration::from_secs(6));
    }
}
