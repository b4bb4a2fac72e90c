//! GetSettings and UpdateSettings.

use super::commit_and_apply;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::{AppError, Reason};
use crate::domain::{FieldViolation, Permission, ValidationError};
use crate::mail::transport::Transport;
use crate::runtime::{
    self, RuntimeSettings, SETTINGS, Setting, SettingValue, Snapshot, Stamp, differences,
};
use crate::store::{self, runtime_settings::RuntimeSettingRow};

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingOrigin {
    /// identityd's built-in default.
    Default,
    /// The settings file or the environment.
    File,
    /// Stored with UpdateSettings.
    Stored,
}

/// Where one setting's value comes from.
#[derive(Debug, Clone)]
pub struct SettingInfo {
    /// The setting.
    pub setting: &'static Setting,
    /// Where its value comes from.
    pub origin: SettingOrigin,
    /// Who stored it and when, for a stored value.
    pub stamp: Option<Stamp>,
    /// For a secret: whether it has a value.
    pub secret_set: bool,
}

/// The run-time settings as this replica applies them.
#[derive(Debug, Clone)]
pub struct SettingsView {
    /// Every value (the caller never shows a secret's).
    pub values: RuntimeSettings,
    /// Where each value comes from, in catalogue order.
    pub info: Vec<SettingInfo>,
    /// The version of the stored settings.
    pub etag: String,
}

/// A change to the run-time settings.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    /// Settings to store, with their new values (not yet checked).
    pub changes: Vec<(&'static Setting, SettingValue)>,
    /// Settings whose stored value to drop.
    pub resets: Vec<&'static Setting>,
    /// The etag the caller read; `None` to change regardless.
    pub etag: Option<String>,
}

/// The field a setting's value arrives in.
fn field_of(setting: &Setting) -> String {
    format!("settings.{}", setting.key)
}

impl App {
    /// The run-time settings, where each comes from, and their etag.
    /// Staff holding `settings.read`. Secrets are never part of the answer.
    pub async fn get_settings(&self, principal: &Principal) -> Result<SettingsView, AppError> {
        principal.ensure_staff(Permission::SettingsRead)?;
        self.refresh_settings().await?;
        Ok(self.settings_view(&self.settings()))
    }

    /// Stores new values for some settings and drops stored values of
    /// others, all or nothing, with one activity event naming each change
    /// (secrets as set, unset or changed). Staff holding `settings.write`.
    pub async fn update_settings(
        &self,
        principal: &Principal,
        update: SettingsUpdate,
    ) -> Result<SettingsView, AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let SettingsUpdate {
            changes,
            resets,
            etag,
        } = update;
        if changes.is_empty() && resets.is_empty() {
            return Err(ValidationError::single(
                "update_mask",
                "name at least one setting in update_mask or reset_paths",
            )
            .into());
        }
        // Every value checked before anything is written, each problem named.
        let mut violations = Vec::new();
        let mut checked = Vec::with_capacity(changes.len());
        for (setting, value) in changes {
            if resets.iter().any(|reset| reset.key == setting.key) {
                violations.push(FieldViolation::new(
                    "reset_paths",
                    format!("{} is both changed and reset", setting.key),
                ));
                continue;
            }
            match setting.check(value) {
                Ok(value) => checked.push((setting, value)),
                Err(why) => violations.push(FieldViolation::new(field_of(setting), why)),
            }
        }
        if !violations.is_empty() {
            return Err(ValidationError { violations }.into());
        }

        let now = self.now();
        let txn = store::begin(self.db()).await?;
        // Raised first: on PostgreSQL the row lock makes concurrent updates
        // take turns, so each compares its etag with what the other wrote.
        store::runtime_settings::bump_generation(&txn).await?;
        let rows = store::runtime_settings::list_settings(&txn).await?;
        if etag.is_some_and(|etag| etag != runtime::settings_etag(&rows)) {
            return Err(AppError::Aborted(Reason::EtagMismatch));
        }
        let live = self.live_settings();
        let before = live.values_with(&rows);
        let mut after = before.clone();
        for (setting, value) in &checked {
            setting
                .apply(&mut after, value.clone())
                .map_err(|why| ValidationError::single(field_of(setting), why))?;
        }
        for setting in &resets {
            setting
                .apply(&mut after, (setting.get)(live.configured()))
                .map_err(|why| ValidationError::single(field_of(setting), why))?;
        }
        let cross: Vec<FieldViolation> = after
            .cross_field_violations()
            .into_iter()
            .map(|v| FieldViolation::new(format!("settings.{}", v.field), v.description))
            .collect();
        if !cross.is_empty() {
            return Err(ValidationError { violations: cross }.into());
        }
        // A mail setting that cannot make a transport is refused now, not
        // found out by the mail worker.
        if let Err(error) = Transport::from_settings(&after, live.file_dir()) {
            return Err(
                ValidationError::single("settings.mail.smtp.host", error.to_string()).into(),
            );
        }

        for (setting, value) in &checked {
            let value = runtime::encode(setting, value, self.server_key())
                .map_err(|e| AppError::Internal(Box::new(e)))?;
            let row = RuntimeSettingRow {
                key: setting.key.to_owned(),
                value,
                updated_at: now.as_micros(),
                updated_by_kind: principal.actor_kind().to_owned(),
                updated_by_id: principal.actor_id(),
            };
            store::runtime_settings::put_setting(&txn, row).await?;
        }
        for setting in &resets {
            store::runtime_settings::delete_setting(&txn, setting.key).await?;
        }
        let mut change = Change::new("settings.updated", "settings", "runtime");
        for (key, (old, new)) in differences(&before, &after) {
            change = change.detail(key, format!("{old} -> {new}"));
        }
        let stored: Vec<&str> = checked.iter().map(|(setting, _)| setting.key).collect();
        if !stored.is_empty() {
            change = change.detail("stored", stored.join(","));
        }
        // Only the resets that dropped a stored value: the rest changed nothing.
        let reset: Vec<&str> = resets
            .iter()
            .map(|setting| setting.key)
            .filter(|key| rows.iter().any(|row| row.key == *key))
            .collect();
        if !reset.is_empty() {
            change = change.detail("reset", reset.join(","));
        }
        record_at(&txn, principal, now, change).await?;
        commit_and_apply(self, txn).await?;
        Ok(self.settings_view(&self.settings()))
    }

    fn settings_view(&self, snapshot: &Snapshot) -> SettingsView {
        let live = self.live_settings();
        let info = SETTINGS
            .iter()
            .map(|setting| {
                let stamp = snapshot.stored.get(setting.key).cloned();
                let origin = if stamp.is_some() {
                    SettingOrigin::Stored
                } else if (setting.get)(live.configured()).same_as(&(setting.get)(live.built_in()))
                {
                    SettingOrigin::Default
                } else {
                    SettingOrigin::File
                };
                let secret_set = setting.is_secret()
                    && matches!(
                        (setting.get)(&snapshot.values),
                        SettingValue::Secret(Some(_))
                    );
                SettingInfo {
                    setting,
                    origin,
                    stamp,
                    secret_set,
                }
            })
            .collect();
        SettingsView {
            values: snapshot.values.clone(),
            info,
            etag: snapshot.etag.clone(),
        }
    }
}
