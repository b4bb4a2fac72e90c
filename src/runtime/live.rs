//! The settings and templates this replica applies now, swapped whole when
//! they change: after a change through this replica at once, and after a
//! change through another replica when [`LiveSettings::refresh`] next sees
//! the stored generation move.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::providers::SignInProvider;
use super::stored;
use super::values::{RuntimeSettings, setting};
use crate::crypto::ServerKey;
use crate::domain::Timestamp;
use crate::mail::MailKind;
use crate::mail::templates::{StoredTemplate, TemplateParts, Templates};
use crate::mail::transport::Transport;
use crate::store::external_sign_in::SignInProviderRow;
use crate::store::runtime_settings::{MailTemplateRow, RuntimeSettingRow};
use crate::store::{self, ConnectionTrait, StoreError};

/// Who stored a value, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// When.
    pub at: Timestamp,
    /// `user` or `api_credential`.
    pub by_kind: String,
    /// Their id.
    pub by_id: String,
}

/// Everything this replica applies at one generation.
#[derive(Debug)]
pub struct Snapshot {
    /// The stored generation these values were read at.
    pub generation: i64,
    /// The value of every setting: the stored one where there is one, else
    /// the settings file's.
    pub values: RuntimeSettings,
    /// The settings that have a stored value, with who stored it.
    pub stored: BTreeMap<&'static str, Stamp>,
    /// The version of the stored settings, for UpdateSettings' `etag`.
    pub etag: String,
    /// The mail templates: built in, from the override directory, stored.
    pub templates: Arc<Templates>,
    /// The stored templates, by kind and locale, with who stored them.
    pub stored_templates: BTreeMap<(MailKind, String), Stamp>,
    /// Where mail goes.
    pub transport: Arc<Transport>,
    /// The external sign-in providers, by id.
    pub providers: Arc<BTreeMap<String, SignInProvider>>,
}

/// The settings every use case and the mail worker read, shared by clones.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    current: ArcSwap<Snapshot>,
    /// The settings file's values (the defaults stored values override).
    configured: RuntimeSettings,
    /// The compiled-in defaults, to tell a configured value from a default.
    built_in: RuntimeSettings,
    /// Built-in templates with the override directory's on top.
    base_templates: Templates,
    /// Where the `file` transport writes.
    file_dir: PathBuf,
    server_key: ServerKey,
    /// One reload at a time, so an older read never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveSettingsError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings file's own values do not make a working transport.
    #[error("mail transport: {0}")]
    Transport(String),
}

/// The version of a set of stored settings: a digest of their keys and
/// stored values, so any change (even to a secret) gives a new one.
pub fn settings_etag(rows: &[RuntimeSettingRow]) -> String {
    let mut digest = Sha256::new();
    for row in rows {
        digest.update(row.key.as_bytes());
        digest.update([0]);
        digest.update(row.value.as_bytes());
        digest.update([0]);
    }
    hex::encode(&digest.finalize()[..12])
}

/// The version of a template's parts, for UpdateMailTemplate's `etag`.
pub fn template_etag(parts: &TemplateParts) -> String {
    let mut digest = Sha256::new();
    for part in [&parts.subject, &parts.text, &parts.html] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    hex::encode(&digest.finalize()[..12])
}

impl LiveSettings {
    /// Reads the stored settings and templates over `conn` on top of
    /// `configured` (the settings file's values) and `base_templates`.
    pub async fn load(
        conn: &impl ConnectionTrait,
        configured: RuntimeSettings,
        built_in: RuntimeSettings,
        base_templates: Templates,
        file_dir: PathBuf,
        server_key: ServerKey,
    ) -> Result<Self, LiveSettingsError> {
        // The settings file's transport must work on its own: a broken one
        // stops the start, as before settings could change at run time.
        let fallback = Transport::from_settings(&configured, &file_dir)
            .map_err(|e| LiveSettingsError::Transport(e.to_string()))?;
        let inner = Inner {
            current: ArcSwap::from_pointee(Snapshot {
                generation: -1,
                values: configured.clone(),
                stored: BTreeMap::new(),
                etag: settings_etag(&[]),
                templates: Arc::new(base_templates.clone()),
                stored_templates: BTreeMap::new(),
                transport: Arc::new(fallback),
                providers: Arc::new(BTreeMap::new()),
            }),
            configured,
            built_in,
            base_templates,
            file_dir,
            server_key,
            reloading: tokio::sync::Mutex::new(()),
        };
        let live = Self {
            inner: Arc::new(inner),
        };
        live.reload(conn).await?;
        Ok(live)
    }

    /// What applies now.
    pub fn current(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// The settings file's values, before stored ones.
    pub fn configured(&self) -> &RuntimeSettings {
        &self.inner.configured
    }

    /// The compiled-in defaults.
    pub fn built_in(&self) -> &RuntimeSettings {
        &self.inner.built_in
    }

    /// Built-in templates with the override directory's on top.
    pub fn base_templates(&self) -> &Templates {
        &self.inner.base_templates
    }

    /// Where the `file` transport writes.
    pub fn file_dir(&self) -> &std::path::Path {
        &self.inner.file_dir
    }

    /// Reloads if the stored generation moved since the last load; returns
    /// whether it did.
    pub async fn refresh(&self, conn: &impl ConnectionTrait) -> Result<bool, StoreError> {
        let generation = store::runtime_settings::generation(conn).await?;
        if generation == self.current().generation {
            return Ok(false);
        }
        self.reload(conn).await?;
        Ok(true)
    }

    /// Reads everything stored and swaps it in, unless a newer generation
    /// is already in place.
    pub async fn reload(&self, conn: &impl ConnectionTrait) -> Result<(), StoreError> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        // The generation first: a change committed after this read raises
        // it again, so the next refresh reads once more.
        let generation = store::runtime_settings::generation(conn).await?;
        if generation < self.current().generation {
            return Ok(());
        }
        let rows = store::runtime_settings::list_settings(conn).await?;
        let templates = store::runtime_settings::list_templates(conn).await?;
        let providers = store::external_sign_in::list_providers(conn).await?;
        let snapshot = self.snapshot(generation, &rows, &templates, &providers);
        self.inner.current.store(Arc::new(snapshot));
        Ok(())
    }

    /// The settings file's values with `rows` on top. A stored value this
    /// version cannot read or no longer accepts is skipped with a warning,
    /// so one bad row cannot stop every replica.
    pub fn values_with(&self, rows: &[RuntimeSettingRow]) -> RuntimeSettings {
        let mut values = self.inner.configured.clone();
        for row in rows {
            let Some(setting) = setting(&row.key) else {
                tracing::warn!(key = %row.key, "ignoring a stored setting this version does not know");
                continue;
            };
            let applied = stored::decode(setting, &row.value, &self.inner.server_key)
                .map_err(|e| e.to_string())
                .and_then(|value| setting.apply(&mut values, value));
            if let Err(error) = applied {
                tracing::warn!(key = setting.key, %error, "ignoring a stored setting");
            }
        }
        values
    }

    fn snapshot(
        &self,
        generation: i64,
        rows: &[RuntimeSettingRow],
        template_rows: &[MailTemplateRow],
        provider_rows: &[SignInProviderRow],
    ) -> Snapshot {
        let values = self.values_with(rows);
        let stored = rows
            .iter()
            .filter_map(|row| {
                let setting = setting(&row.key)?;
                Some((
                    setting.key,
                    Stamp {
                        at: Timestamp::from_micros(row.updated_at),
                        by_kind: row.updated_by_kind.clone(),
                        by_id: row.updated_by_id.clone(),
                    },
                ))
            })
            .collect();
        let mut stored_templates = BTreeMap::new();
        let mut overrides = Vec::new();
        for row in template_rows {
            let Some(kind) = MailKind::from_str_name(&row.kind) else {
                tracing::warn!(kind = %row.kind, "ignoring a stored template of an unknown kind");
                continue;
            };
            stored_templates.insert(
                (kind, row.locale.clone()),
                Stamp {
                    at: Timestamp::from_micros(row.updated_at),
                    by_kind: row.updated_by_kind.clone(),
                    by_id: row.updated_by_id.clone(),
                },
            );
            overrides.push(StoredTemplate {
                kind,
                locale: row.locale.clone(),
                parts: TemplateParts {
                    subject: row.subject.clone(),
                    text: row.text_body.clone(),
                    html: row.html_body.clone(),
                },
            });
        }
        let (templates, errors) = self.inner.base_templates.with_stored(&overrides);
        for error in errors {
            tracing::warn!(%error, "ignoring a stored mail template");
        }
        let transport = match Transport::from_settings(&values, &self.inner.file_dir) {
            Ok(transport) => Arc::new(transport),
            Err(error) => {
                tracing::error!(%error, "the stored mail settings do not make a transport; keeping the previous one");
                self.current().transport.clone()
            }
        };
        let providers = provider_rows
            .iter()
            .filter_map(|row| SignInProvider::from_row(row, &self.inner.server_key))
            .map(|provider| (provider.id.clone(), provider))
            .collect();
        Snapshot {
            generation,
            values,
            stored,
            etag: settings_etag(rows),
            templates: Arc::new(templates),
            stored_templates,
            transport,
            providers: Arc::new(providers),
        }
    }
}
