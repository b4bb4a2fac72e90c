//! Mail templates: a subject, a plain-text body and an HTML body per kind,
//! built in for English and overridable per locale from a directory.
//!
//! An override directory holds `<locale>/<kind>.subject`, `<kind>.txt` and
//! `<kind>.html` (any of them). Every template is compiled and rendered with
//! sample values when identityd starts, so a broken or misnamed template stops
//! the start with its file named, not a mail at send time.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};

use super::MailKind;

/// The locale the built-in templates are written in, and the last fallback.
pub const DEFAULT_LOCALE: &str = "en";

/// The three parts of a template, by file suffix.
const PARTS: [&str; 3] = ["subject", "txt", "html"];

/// A mail rendered for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Why templates could not be loaded or a mail rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The override directory could not be read.
    #[error("cannot read mail templates from {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file in the override directory is not `<locale>/<kind>.<part>`.
    #[error("unexpected mail template file {0}: expected <locale>/<kind>.subject|txt|html")]
    UnknownFile(String),
    /// A stored template no longer compiles or renders.
    #[error("stored mail template {name} is left out: {reason}")]
    Stored {
        /// `<locale>/<kind>`.
        name: String,
        /// Why.
        reason: String,
    },
    /// A template does not compile or render.
    #[error("mail template {name} is broken: {source}")]
    Broken {
        /// The template's name, `<locale>/<kind>.<part>`.
        name: String,
        /// The cause.
        #[source]
        source: minijinja::Error,
    },
}

/// Where a template comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSource {
    /// Compiled into identityd.
    BuiltIn,
    /// The override directory (`mail.templates_dir`).
    File,
    /// Stored at run time with UpdateMailTemplate.
    Stored,
}

/// The three parts of one template, as written (not rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateParts {
    /// The subject template.
    pub subject: String,
    /// The plain-text body template.
    pub text: String,
    /// The HTML body template.
    pub html: String,
}

impl TemplateParts {
    fn by_suffix(&self, part: &str) -> &str {
        match part {
            "subject" => &self.subject,
            "txt" => &self.text,
            _ => &self.html,
        }
    }
}

/// A template as a mail of one kind in one locale uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTemplate {
    /// The parts, each from the most specific locale that has it.
    pub parts: TemplateParts,
    /// Stored when the locale has a stored template; else File when any
    /// part comes from the override directory; else BuiltIn.
    pub source: TemplateSource,
}

/// A stored template for one kind and locale.
#[derive(Debug, Clone)]
pub struct StoredTemplate {
    /// The kind.
    pub kind: MailKind,
    /// The locale, canonical (see [`canonical_locale`]).
    pub locale: String,
    /// Its parts.
    pub parts: TemplateParts,
}

/// Which part of a candidate template failed, where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}{}: {message}", .line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct CandidateError {
    /// `subject`, `text` or `html`.
    pub part: &'static str,
    /// The line in that part, when the error has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// How much work one part may do when rendered: enough for any sensible
/// mail, and a bound on a template that loops without end.
const FUEL: u64 = 200_000;

/// The loaded, checked templates.
#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
    /// For each (kind, part), the locales that have their own version.
    locales: BTreeMap<(MailKind, &'static str), Vec<String>>,
    /// Where each template (by name) comes from.
    sources: BTreeMap<String, TemplateSource>,
}

/// A template environment set up as identityd renders mail: undefined
/// values are errors, HTML parts escape values, rendering is bounded.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // HTML parts escape values; subjects and text bodies are plain text.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_fuel(Some(FUEL));
    env
}

/// `locale` with the usual casing of its subtags (`pt-BR`, `zh-Hant-TW`),
/// so one locale is stored once however it was typed.
pub fn canonical_locale(locale: &str) -> String {
    locale
        .split('-')
        .enumerate()
        .map(|(i, subtag)| match (i, subtag.len()) {
            (0, _) => subtag.to_ascii_lowercase(),
            (_, 2) => subtag.to_ascii_uppercase(),
            (_, 4) => {
                let lower = subtag.to_ascii_lowercase();
                let mut chars = lower.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
            _ => subtag.to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn builtin(kind: MailKind, part: &str) -> &'static str {
    macro_rules! pick {
        ($name:literal) => {
            match part {
                "subject" => include_str!(concat!("templates/", $name, ".subject")),
                "txt" => include_str!(concat!("templates/", $name, ".txt")),
                _ => include_str!(concat!("templates/", $name, ".html")),
            }
        };
    }
    match kind {
        MailKind::VerificationCode => pick!("verification_code"),
        MailKind::Invitation => pick!("invitation"),
        MailKind::InvitationAccepted => pick!("invitation_accepted"),
        MailKind::PasswordReset => pick!("password_reset"),
        MailKind::SetPassword => pick!("set_password"),
        MailKind::PasswordChanged => pick!("password_changed"),
        MailKind::AccountOwnerChanged => pick!("account_owner_changed"),
        MailKind::SignUpAttempt => pick!("sign_up_attempt"),
        MailKind::MfaEnabled => pick!("mfa_enabled"),
        MailKind::MfaDisabled => pick!("mfa_disabled"),
        MailKind::MfaReset => pick!("mfa_reset"),
        MailKind::BackupCodeUsed => pick!("backup_code_used"),
        MailKind::BackupCodesRegenerated => pick!("backup_codes_regenerated"),
        MailKind::AccountInactivityWarning => pick!("account_inactivity_warning"),
    }
}

fn template_name(locale: &str, kind: MailKind, part: &str) -> String {
    format!("{locale}/{}.{part}", kind.as_str())
}

impl Templates {
    /// The built-in templates, plus the overrides in `dir` if given.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut templates = Self {
            env: environment(),
            locales: BTreeMap::new(),
            sources: BTreeMap::new(),
        };
        for kind in MailKind::ALL {
            for part in PARTS {
                templates.add(
                    kind,
                    part,
                    DEFAULT_LOCALE,
                    builtin(kind, part).to_owned(),
                    TemplateSource::BuiltIn,
                )?;
            }
        }
        if let Some(dir) = dir {
            load_overrides(&mut templates, dir)?;
        }
        templates.check()?;
        Ok(templates)
    }

    /// These templates with `stored` ones on top, each replacing all three
    /// parts of its kind and locale. A stored template that no longer
    /// renders (written by a newer identityd, say) is left out and named
    /// in the returned errors; the rest apply.
    pub fn with_stored(&self, stored: &[StoredTemplate]) -> (Self, Vec<TemplateError>) {
        let mut templates = self.clone();
        let mut errors = Vec::new();
        for template in stored {
            if let Err(err) = Self::check_candidate(template.kind, &template.parts) {
                errors.push(TemplateError::Stored {
                    name: format!("{}/{}", template.locale, template.kind.as_str()),
                    reason: err.to_string(),
                });
                continue;
            }
            for part in PARTS {
                let added = templates.add(
                    template.kind,
                    part,
                    &template.locale,
                    template.parts.by_suffix(part).to_owned(),
                    TemplateSource::Stored,
                );
                if let Err(err) = added {
                    errors.push(err);
                }
            }
        }
        (templates, errors)
    }

    /// Adds (or replaces) one part of one locale's template.
    fn add(
        &mut self,
        kind: MailKind,
        part: &'static str,
        locale: &str,
        source: String,
        origin: TemplateSource,
    ) -> Result<(), TemplateError> {
        let name = template_name(locale, kind, part);
        self.env
            .add_template_owned(name.clone(), source)
            .map_err(|source| TemplateError::Broken {
                name: name.clone(),
                source,
            })?;
        self.sources.insert(name, origin);
        let entry = self.locales.entry((kind, part)).or_default();
        if !entry.iter().any(|l| l == locale) {
            entry.push(locale.to_owned());
        }
        Ok(())
    }

    /// Compiles `parts` as a template of `kind` and renders it with sample
    /// values, as UpdateMailTemplate does before storing it.
    pub fn check_candidate(
        kind: MailKind,
        parts: &TemplateParts,
    ) -> Result<Rendered, CandidateError> {
        let mut env = environment();
        let context = kind.sample_context();
        let mut rendered = Vec::with_capacity(3);
        for (part, field) in [("subject", "subject"), ("txt", "text"), ("html", "html")] {
            let name = format!("candidate.{part}");
            let to_error = |err: minijinja::Error| CandidateError {
                part: field,
                line: err.line(),
                message: match err.detail() {
                    Some(detail) => format!("{}: {detail}", err.kind()),
                    None => err.kind().to_string(),
                },
            };
            env.add_template_owned(name.clone(), parts.by_suffix(part).to_owned())
                .map_err(to_error)?;
            let output = env
                .get_template(&name)
                .and_then(|template| template.render(&context))
                .map_err(to_error)?;
            rendered.push(output);
        }
        let mut rendered = rendered.into_iter();
        let mut next = || rendered.next().unwrap_or_default();
        Ok(Rendered {
            subject: one_line(&next()),
            text: next(),
            html: next(),
        })
    }

    /// The template a mail of `kind` in `locale` uses, as written.
    pub fn resolved(&self, kind: MailKind, locale: &str) -> ResolvedTemplate {
        let mut source = TemplateSource::BuiltIn;
        let mut text = |part: &'static str| {
            let name = self.resolve(kind, part, locale);
            match self.sources.get(&name) {
                Some(TemplateSource::Stored) => source = TemplateSource::Stored,
                Some(TemplateSource::File) if source == TemplateSource::BuiltIn => {
                    source = TemplateSource::File;
                }
                _ => {}
            }
            self.env
                .get_template(&name)
                .map(|t| t.source().to_owned())
                .unwrap_or_default()
        };
        let parts = TemplateParts {
            subject: text("subject"),
            text: text("txt"),
            html: text("html"),
        };
        ResolvedTemplate { parts, source }
    }

    /// Every (kind, locale) with a template of its own, and where its
    /// first part comes from: what ListMailTemplates shows.
    pub fn variants(&self) -> Vec<(MailKind, String, TemplateSource)> {
        let mut variants: BTreeMap<(MailKind, String), TemplateSource> = BTreeMap::new();
        for ((kind, part), locales) in &self.locales {
            for locale in locales {
                let name = template_name(locale, *kind, part);
                let source = self
                    .sources
                    .get(&name)
                    .copied()
                    .unwrap_or(TemplateSource::BuiltIn);
                let entry = variants.entry((*kind, locale.clone())).or_insert(source);
                if source == TemplateSource::Stored
                    || (source == TemplateSource::File && *entry == TemplateSource::BuiltIn)
                {
                    *entry = source;
                }
            }
        }
        variants
            .into_iter()
            .map(|((kind, locale), source)| (kind, locale, source))
            .collect()
    }

    /// Renders every template with sample values, so missing variables and
    /// runtime errors show up now.
    fn check(&self) -> Result<(), TemplateError> {
        for ((kind, part), locales) in &self.locales {
            for locale in locales {
                let name = template_name(locale, *kind, part);
                self.render_part(&name, &kind.sample_context())
                    .map_err(|source| TemplateError::Broken { name, source })?;
            }
        }
        Ok(())
    }

    fn render_part(
        &self,
        name: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(name)?;
        template.render(context)
    }

    /// The most specific locale with its own version of `part` of `kind`:
    /// `pt-BR`, then `pt`, then English.
    fn resolve(&self, kind: MailKind, part: &'static str, locale: &str) -> String {
        let available = self.locales.get(&(kind, part));
        let has = |candidate: &str| {
            available.is_some_and(|list| list.iter().any(|l| l.eq_ignore_ascii_case(candidate)))
        };
        let language = locale.split('-').next().unwrap_or_default();
        let chosen = [locale, language]
            .into_iter()
            .find(|candidate| !candidate.is_empty() && has(candidate))
            .and_then(|candidate| {
                available?
                    .iter()
                    .find(|l| l.eq_ignore_ascii_case(candidate))
                    .cloned()
            })
            .unwrap_or_else(|| DEFAULT_LOCALE.to_owned());
        template_name(&chosen, kind, part)
    }

    /// Renders a mail of `kind` in `locale` with `context`.
    pub fn render(
        &self,
        kind: MailKind,
        locale: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<Rendered, TemplateError> {
        let mut parts = PARTS.iter().map(|part| {
            let name = self.resolve(kind, part, locale);
            self.render_part(&name, context)
                .map_err(|source| TemplateError::Broken { name, source })
        });
        let mut next = || parts.next().unwrap_or_else(|| Ok(String::new()));
        let subject = next()?;
        Ok(Rendered {
            subject: one_line(&subject),
            text: next()?,
            html: next()?,
        })
    }
}

/// A subject is one line, whatever the template did.
fn one_line(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn load_overrides(templates: &mut Templates, dir: &Path) -> Result<(), TemplateError> {
    let io = |path: &Path, source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    };
    for locale_dir in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let locale_dir = locale_dir.map_err(|e| io(dir, e))?.path();
        if !locale_dir.is_dir() {
            return Err(TemplateError::UnknownFile(locale_dir.display().to_string()));
        }
        let locale = locale_dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| TemplateError::UnknownFile(locale_dir.display().to_string()))?;
        for file in std::fs::read_dir(&locale_dir).map_err(|e| io(&locale_dir, e))? {
            let path = file.map_err(|e| io(&locale_dir, e))?.path();
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let parsed = file_name.rsplit_once('.').and_then(|(stem, part)| {
                let kind = MailKind::from_str_name(stem)?;
                let part = PARTS.into_iter().find(|p| *p == part)?;
                Some((kind, part))
            });
            let Some((kind, part)) = parsed else {
                return Err(TemplateError::UnknownFile(path.display().to_string()));
            };
            let source = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            templates.add(kind, part, &locale, source, TemplateSource::File)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner_changed_context() -> BTreeMap<String, String> {
        MailKind::AccountOwnerChanged.sample_context()
    }

    #[test]
    fn every_built_in_template_renders() {
        let templates = Templates::load(None).unwrap();
        for kind in MailKind::ALL {
            let rendered = templates
                .render(kind, "en", &kind.sample_context())
                .unwrap();
            assert!(
                !rendered.subject.is_empty()
                    && !rendered.text.is_empty()
                    && rendered.html.contains("<p>")
            );
        }
    }

    #[test]
    fn html_escapes_values_and_text_does_not() {
        let templates = Templates::load(None).unwrap();
        let mut context = owner_changed_context();
        context.insert("account_name".into(), "Fish & <Chips>".into());
        let rendered = templates
            .render(MailKind::AccountOwnerChanged, "en", &context)
            .unwrap();
        assert!(rendered.html.contains("Fish &amp; &lt;Chips&gt;"));
        assert!(rendered.text.contains("Fish & <Chips>"));
        assert_eq!(rendered.subject, "Fish & <Chips> has a new owner");
    }

    #[test]
    fn overrides_apply_per_locale_with_fallback_to_the_language_then_english() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(
            dir.path().join("de/account_owner_changed.subject"),
            "{{ account_name }} hat einen neuen Inhaber",
        )
        .unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let context = owner_changed_context();
        let german = templates
            .render(MailKind::AccountOwnerChanged, "de-AT", &context)
            .unwrap();
        assert!(german.subject.ends_with("hat einen neuen Inhaber"));
        assert!(
            german.text.starts_with("Hello"),
            "parts without an override fall back to English"
        );
        let french = templates
            .render(MailKind::AccountOwnerChanged, "fr", &context)
            .unwrap();
        assert!(french.subject.ends_with("has a new owner"));
    }

    #[test]
    fn a_broken_or_misnamed_override_is_reported_when_loading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de/invitation.txt"), "{{ link ").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("de/invitation.txt"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(
            dir.path().join("de/invitation.txt"),
            "{{ no_such_variable }}",
        )
        .unwrap();
        assert!(
            Templates::load(Some(dir.path())).is_err(),
            "undefined variables are errors"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de/welcome.txt"), "hi").unwrap();
        assert!(matches!(
            Templates::load(Some(dir.path())),
            Err(TemplateError::UnknownFile(_))
        ));
    }
}
