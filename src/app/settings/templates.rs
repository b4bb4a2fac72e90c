//! Mail templates: list, read, store (after rendering with sample values),
//! reset to the file's or built-in one, and preview.

use std::collections::BTreeMap;

use super::{commit_and_apply, parse_kind, parse_kind_and_locale};
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::{AppError, Reason};
use crate::domain::{FieldViolation, Permission, ValidationError};
use crate::mail::MailKind;
use crate::mail::templates::{
    CandidateError, Rendered, StoredTemplate, TemplateParts, TemplateSource, Templates,
};
use crate::runtime::{Snapshot, Stamp, template_etag};
use crate::store::{self, runtime_settings::MailTemplateRow};

/// The longest template part accepted, in bytes.
pub const TEMPLATE_PART_MAX_BYTES: usize = 64 * 1024;

/// A template as a mail of one kind in one locale uses it.
#[derive(Debug, Clone)]
pub struct MailTemplateView {
    /// The kind.
    pub kind: MailKind,
    /// The locale.
    pub locale: String,
    /// The parts, as written.
    pub parts: TemplateParts,
    /// Where it comes from.
    pub source: TemplateSource,
    /// The variables it may use.
    pub variables: Vec<String>,
    /// Its version.
    pub etag: String,
    /// Who stored it and when, for a stored template.
    pub stamp: Option<Stamp>,
}

/// A template to store.
#[derive(Debug, Clone)]
pub struct NewMailTemplate {
    /// The kind's name.
    pub kind: String,
    /// The locale; empty for English.
    pub locale: String,
    /// The parts.
    pub parts: TemplateParts,
    /// The etag the caller read; `None` to store regardless.
    pub etag: Option<String>,
}

/// A template to render with sample values: the stored one, or proposed parts.
#[derive(Debug, Clone)]
pub struct TemplatePreview {
    /// The kind's name.
    pub kind: String,
    /// The locale; empty for English.
    pub locale: String,
    /// Parts to render instead of the stored ones.
    pub parts: Option<TemplateParts>,
}

/// Sample values for `kind`, with this replica's product name and base URL.
pub(super) fn sample_context(snapshot: &Snapshot, kind: MailKind) -> BTreeMap<String, String> {
    let mut context = kind.sample_context();
    context.insert(
        "product_name".to_owned(),
        snapshot.values.product_name.clone(),
    );
    context.insert(
        "base_url".to_owned(),
        snapshot.values.public_base_url.clone(),
    );
    context
}

/// A candidate's failure as the field it is in, with its line.
fn candidate_violation(error: CandidateError) -> AppError {
    let description = match error.line {
        Some(line) => format!("line {line}: {}", error.message),
        None => error.message,
    };
    ValidationError::single(error.part, description).into()
}

/// `parts` checked for size, then compiled and rendered with sample values.
fn check_parts(kind: MailKind, parts: &TemplateParts) -> Result<Rendered, AppError> {
    let mut violations = Vec::new();
    for (field, text) in [
        ("subject", &parts.subject),
        ("text", &parts.text),
        ("html", &parts.html),
    ] {
        if text.trim().is_empty() {
            violations.push(FieldViolation::new(field, "must not be empty"));
        } else if text.len() > TEMPLATE_PART_MAX_BYTES {
            violations.push(FieldViolation::new(
                field,
                format!("at most {TEMPLATE_PART_MAX_BYTES} bytes"),
            ));
        }
    }
    if !violations.is_empty() {
        return Err(ValidationError { violations }.into());
    }
    Templates::check_candidate(kind, parts).map_err(candidate_violation)
}

impl App {
    /// Every kind and locale with a template of its own, optionally of one
    /// kind. Staff holding `settings.read`.
    pub async fn list_mail_templates(
        &self,
        principal: &Principal,
        kind: &str,
    ) -> Result<Vec<MailTemplateView>, AppError> {
        principal.ensure_staff(Permission::SettingsRead)?;
        let only = if kind.trim().is_empty() {
            None
        } else {
            Some(parse_kind("kind", kind)?)
        };
        self.refresh_settings().await?;
        let snapshot = self.settings();
        Ok(snapshot
            .templates
            .variants()
            .into_iter()
            .filter(|(kind, _, _)| only.is_none_or(|only| only == *kind))
            .map(|(kind, locale, _)| template_view(&snapshot, kind, &locale))
            .collect())
    }

    /// The template a mail of `kind` in `locale` uses. Staff holding
    /// `settings.read`.
    pub async fn get_mail_template(
        &self,
        principal: &Principal,
        kind: &str,
        locale: &str,
    ) -> Result<MailTemplateView, AppError> {
        principal.ensure_staff(Permission::SettingsRead)?;
        let (kind, locale) = parse_kind_and_locale(kind, locale)?;
        self.refresh_settings().await?;
        Ok(template_view(&self.settings(), kind, &locale))
    }

    /// Stores a template for one kind and locale once it renders with
    /// sample values; a part that does not is refused naming its field and
    /// line. Staff holding `settings.write`.
    pub async fn update_mail_template(
        &self,
        principal: &Principal,
        new: NewMailTemplate,
    ) -> Result<MailTemplateView, AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let (kind, locale) = parse_kind_and_locale(&new.kind, &new.locale)?;
        check_parts(kind, &new.parts)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        store::runtime_settings::bump_generation(&txn).await?;
        if let Some(etag) = new.etag {
            let current = self.templates_as_stored(&txn).await?;
            if etag != template_etag(&current.resolved(kind, &locale).parts) {
                return Err(AppError::Aborted(Reason::EtagMismatch));
            }
        }
        let row = MailTemplateRow {
            kind: kind.as_str().to_owned(),
            locale: locale.clone(),
            subject: new.parts.subject,
            text_body: new.parts.text,
            html_body: new.parts.html,
            updated_at: now.as_micros(),
            updated_by_kind: principal.actor_kind().to_owned(),
            updated_by_id: principal.actor_id(),
        };
        store::runtime_settings::put_template(&txn, row).await?;
        record_at(
            &txn,
            principal,
            now,
            template_change("mail_template.updated", kind, &locale),
        )
        .await?;
        commit_and_apply(self, txn).await?;
        Ok(template_view(&self.settings(), kind, &locale))
    }

    /// Drops the stored template of one kind and locale, so the file's or
    /// the built-in one applies again. Staff holding `settings.write`.
    pub async fn reset_mail_template(
        &self,
        principal: &Principal,
        kind: &str,
        locale: &str,
    ) -> Result<MailTemplateView, AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let (kind, locale) = parse_kind_and_locale(kind, locale)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        store::runtime_settings::bump_generation(&txn).await?;
        if !store::runtime_settings::delete_template(&txn, kind.as_str(), &locale).await? {
            return Err(AppError::NotFound(Reason::MailTemplateNotStored));
        }
        record_at(
            &txn,
            principal,
            now,
            template_change("mail_template.reset", kind, &locale),
        )
        .await?;
        commit_and_apply(self, txn).await?;
        Ok(template_view(&self.settings(), kind, &locale))
    }

    /// Renders a template with sample values: proposed parts (checked as
    /// UpdateMailTemplate checks them), or the one the locale uses now.
    /// Staff holding `settings.read`.
    pub async fn preview_mail_template(
        &self,
        principal: &Principal,
        preview: TemplatePreview,
    ) -> Result<Rendered, AppError> {
        principal.ensure_staff(Permission::SettingsRead)?;
        let (kind, locale) = parse_kind_and_locale(&preview.kind, &preview.locale)?;
        match preview.parts {
            Some(parts) => check_parts(kind, &parts),
            None => {
                self.refresh_settings().await?;
                let snapshot = self.settings();
                snapshot
                    .templates
                    .render(kind, &locale, &sample_context(&snapshot, kind))
                    .map_err(|e| AppError::Internal(Box::new(e)))
            }
        }
    }

    /// The templates as the database has them now, inside `txn`: for
    /// comparing an etag with what another replica may have just stored.
    async fn templates_as_stored(
        &self,
        txn: &store::DatabaseTransaction,
    ) -> Result<Templates, AppError> {
        let rows = store::runtime_settings::list_templates(txn).await?;
        let stored: Vec<StoredTemplate> = rows
            .into_iter()
            .filter_map(|row| {
                Some(StoredTemplate {
                    kind: MailKind::from_str_name(&row.kind)?,
                    locale: row.locale,
                    parts: TemplateParts {
                        subject: row.subject,
                        text: row.text_body,
                        html: row.html_body,
                    },
                })
            })
            .collect();
        let (templates, _) = self.live_settings().base_templates().with_stored(&stored);
        Ok(templates)
    }
}

/// The activity event of a change to the template of `kind` in `locale`.
fn template_change(action: &'static str, kind: MailKind, locale: &str) -> Change {
    Change::new(
        action,
        "mail_template",
        format!("{locale}/{}", kind.as_str()),
    )
    .detail("kind", kind.as_str())
    .detail("locale", locale)
}

fn template_view(snapshot: &Snapshot, kind: MailKind, locale: &str) -> MailTemplateView {
    let resolved = snapshot.templates.resolved(kind, locale);
    MailTemplateView {
        kind,
        locale: locale.to_owned(),
        etag: template_etag(&resolved.parts),
        parts: resolved.parts,
        source: resolved.source,
        variables: kind.sample_context().into_keys().collect(),
        stamp: snapshot
            .stored_templates
            .get(&(kind, locale.to_owned()))
            .cloned(),
    }
}
