//! SendTestMail: one mail through the current transport, now, to check
//! the mail settings.

use uuid::Uuid;

use super::parse_kind_and_locale;
use super::templates::sample_context;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::AppError;
use crate::domain::{Email, Permission};
use crate::mail::MailKind;
use crate::store;

/// A test mail to send.
#[derive(Debug, Clone)]
pub struct TestMail {
    /// The recipient.
    pub to: Email,
    /// The kind's name; empty for `verification_code`.
    pub kind: String,
    /// The locale; empty for English.
    pub locale: String,
}

/// What happened to a test mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMailOutcome {
    /// Whether the transport took it.
    pub delivered: bool,
    /// The transport: `smtp`, `file` or `log`.
    pub transport: &'static str,
    /// What the other side said, or the error.
    pub reply: String,
}

impl App {
    /// Renders a template with sample values and sends it to one address
    /// now, through the current transport and From address, answering what
    /// the other side said. The subject starts with `[Test]`. It bypasses
    /// the outbox (an operator is waiting for the answer) and is recorded
    /// in the activity log. Staff holding `settings.write`.
    pub async fn send_test_mail(
        &self,
        principal: &Principal,
        mail: TestMail,
    ) -> Result<TestMailOutcome, AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let kind = if mail.kind.trim().is_empty() {
            MailKind::VerificationCode.as_str()
        } else {
            mail.kind.as_str()
        };
        let (kind, locale) = parse_kind_and_locale(kind, &mail.locale)?;
        self.refresh_settings().await?;
        let snapshot = self.settings();
        let mut rendered = snapshot
            .templates
            .render(kind, &locale, &sample_context(&snapshot, kind))
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        rendered.subject = format!("[Test] {}", rendered.subject);
        let id = Uuid::now_v7().to_string();
        let sent = snapshot
            .transport
            .send(&id, &snapshot.values.mail_from, mail.to.as_str(), &rendered)
            .await;
        let outcome = TestMailOutcome {
            delivered: sent.is_ok(),
            transport: snapshot.transport.name(),
            reply: match sent {
                Ok(reply) => reply,
                Err(error) => error.to_string(),
            },
        };
        tracing::info!(mail_id = %id, delivered = outcome.delivered, transport = outcome.transport, "test mail sent");
        let txn = store::begin(self.db()).await?;
        let change = Change::new("mail.test_sent", "mail", &id)
            .detail("to", mail.to.as_str())
            .detail("kind", kind.as_str())
            .detail("locale", &locale)
            .detail("transport", outcome.transport)
            .detail("delivered", outcome.delivered);
        record_at(&txn, principal, self.now(), change).await?;
        store::commit(txn).await?;
        Ok(outcome)
    }
}
