//! The operator's configuration menu: run-time settings (`values.rs`), mail
//! templates (`templates.rs`) and test mail (`test_mail.rs`).
//!
//! Whoever holds `settings.write` decides where every mail goes and what it
//! says, links with tokens included: a permission for the few who already
//! hold full access. Every change is in the activity log, secrets masked.

mod providers;
mod templates;
mod test_mail;
mod values;

pub use templates::{MailTemplateView, NewMailTemplate, TemplatePreview};
pub use test_mail::{TestMail, TestMailOutcome};
pub use values::{SettingInfo, SettingOrigin, SettingsUpdate, SettingsView};

use crate::app::App;
use crate::app::error::AppError;
use crate::domain::{FieldViolation, Locale};
use crate::mail::MailKind;
use crate::mail::templates::{DEFAULT_LOCALE, canonical_locale};
use crate::store::{self, StoreError};

impl App {
    /// Makes this replica apply what was just committed, at once rather
    /// than at its next refresh. A failure here is only logged: the change
    /// is committed, and the refresh job applies it shortly.
    async fn apply_stored_settings(&self) {
        if let Err(error) = self.live_settings().reload(self.db()).await {
            tracing::warn!(%error, "settings changed but could not be reloaded yet; the refresh job will");
        }
    }

    /// Brings this replica's settings up to date with the database, so a
    /// read shows what another replica stored a moment ago.
    async fn refresh_settings(&self) -> Result<(), StoreError> {
        self.refresh_settings_from_store().await.map(drop)
    }

    /// Reloads the settings and templates if another replica changed them
    /// (the refresh job calls this); whether it did. Remembered tokens are
    /// forgotten then, as a session's life and its two-factor hold follow
    /// the settings.
    pub async fn refresh_settings_from_store(&self) -> Result<bool, StoreError> {
        let changed = self.live_settings().refresh(self.reader()).await?;
        if changed {
            self.authn.forget_all();
        }
        Ok(changed)
    }
}

/// The mail kind named `kind` (field `field`).
fn parse_kind(field: &str, kind: &str) -> Result<MailKind, FieldViolation> {
    MailKind::from_str_name(kind.trim()).ok_or_else(|| {
        let known: Vec<&str> = MailKind::ALL.iter().map(|k| k.as_str()).collect();
        FieldViolation::new(field, format!("must be one of {}", known.join(", ")))
    })
}

/// The locale named `locale` (field `field`) in canonical form; empty is English.
fn parse_locale(field: &str, locale: &str) -> Result<String, FieldViolation> {
    if locale.trim().is_empty() {
        return Ok(DEFAULT_LOCALE.to_owned());
    }
    let locale = Locale::parse(field, locale)?;
    Ok(canonical_locale(locale.as_str()))
}

/// A kind and a locale, both checked.
fn parse_kind_and_locale(kind: &str, locale: &str) -> Result<(MailKind, String), AppError> {
    let kind = parse_kind("kind", kind);
    let locale = parse_locale("locale", locale);
    match (kind, locale) {
        (Ok(kind), Ok(locale)) => Ok((kind, locale)),
        (kind, locale) => Err(AppError::Invalid(crate::domain::ValidationError {
            violations: [kind.err(), locale.err()].into_iter().flatten().collect(),
        })),
    }
}

/// The whole change commits with its event; then this replica applies it.
async fn commit_and_apply(app: &App, txn: store::DatabaseTransaction) -> Result<(), AppError> {
    app.commit(txn).await?;
    app.apply_stored_settings().await;
    app.authn.forget_all();
    Ok(())
}
