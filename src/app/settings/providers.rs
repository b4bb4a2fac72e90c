//! External sign-in providers (AdminService `…SignInProviderConfig`): the
//! OpenID Connect providers, such as WHMCS, people may sign in through.
//!
//! They are stored like the other run-time settings, with the generation
//! raised, so every replica applies a change at its next refresh. The
//! client secret is write-only and sealed at rest.

use super::commit_and_apply;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::{AppError, Reason};
use crate::domain::{Permission, SignInProviderInput, SignInProviderSpec, parse_provider_id};
use crate::oidc::{OidcError, ProviderAccess};
use crate::runtime::{SignInProvider, Stamp};
use crate::store;

impl App {
    /// Every configured provider, by id. Staff holding `settings.read`.
    pub async fn list_sign_in_provider_configs(
        &self,
        principal: &Principal,
    ) -> Result<Vec<SignInProvider>, AppError> {
        principal.ensure_staff(Permission::SettingsRead)?;
        self.refresh_settings().await?;
        Ok(self.settings().providers.values().cloned().collect())
    }

    /// Creates or replaces a provider. Staff holding `settings.write`. An
    /// empty client secret keeps the stored one (a new provider needs one).
    /// An enabled provider must answer discovery with these settings first,
    /// so a typo never reaches people signing in.
    pub async fn put_sign_in_provider_config(
        &self,
        principal: &Principal,
        input: SignInProviderInput,
    ) -> Result<SignInProvider, AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let spec = SignInProviderSpec::parse("provider.", input)?;
        self.refresh_settings().await?;
        let existing = self.settings().providers.get(&spec.id).cloned();
        let client_secret = match (&spec.client_secret, &existing) {
            (Some(given), _) => given.expose().clone(),
            (None, Some(stored)) => stored.client_secret.expose().clone(),
            (None, None) => {
                return Err(crate::domain::FieldViolation::new(
                    "provider.client_secret",
                    "is required for a new provider",
                )
                .into());
            }
        };
        if spec.enabled {
            let access = ProviderAccess {
                issuer_url: &spec.issuer_url,
                client_id: &spec.client_id,
                client_secret: &client_secret,
            };
            self.oidc()
                .check_discovery(access)
                .await
                .map_err(|error| provider_unusable(&spec.id, &error))?;
        }
        let now = self.now();
        let stamp = Stamp {
            at: now,
            by_kind: principal.actor_kind().to_owned(),
            by_id: principal.actor_id(),
        };
        let created_at = existing.as_ref().map_or(now, |p| p.created_at);
        let row =
            SignInProvider::to_row(&spec, &client_secret, self.server_key(), created_at, &stamp)
                .map_err(|e| AppError::Internal(Box::new(e)))?;
        let txn = store::begin(self.db()).await?;
        store::runtime_settings::bump_generation(&txn).await?;
        store::external_sign_in::put_provider(&txn, row).await?;
        let secret_change = match (&existing, &spec.client_secret) {
            (None, _) => "unset -> set",
            (Some(_), Some(_)) => "set -> changed",
            (Some(_), None) => "unchanged",
        };
        let change = Change::new(
            "settings.sign_in_provider_saved",
            "sign_in_provider",
            &spec.id,
        )
        .detail("created", existing.is_none())
        .detail("issuer_url", &spec.issuer_url)
        .detail("client_id", &spec.client_id)
        .detail("client_secret", secret_change)
        .detail("scopes", spec.scopes.join(" "))
        .detail("redirect_uris", spec.redirect_uris.join(" "))
        .detail("link_by_email", spec.link_by_email)
        .detail("enabled", spec.enabled);
        record_at(&txn, principal, now, change).await?;
        commit_and_apply(self, txn).await?;
        self.settings()
            .providers
            .get(&spec.id)
            .cloned()
            .ok_or_else(|| AppError::corrupt(format!("sign-in provider {} vanished", spec.id)))
    }

    /// Removes a provider. Staff holding `settings.write`. Sign-ins under
    /// way through it fail; linked identities stay, and sign in again if a
    /// provider with the same id is put back.
    pub async fn delete_sign_in_provider_config(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(), AppError> {
        principal.ensure_staff(Permission::SettingsWrite)?;
        let id = parse_provider_id("provider_id", id)?;
        let txn = store::begin(self.db()).await?;
        store::runtime_settings::bump_generation(&txn).await?;
        if !store::external_sign_in::delete_provider(&txn, &id).await? {
            return Err(AppError::NotFound(Reason::SignInProviderNotFound));
        }
        let change = Change::new("settings.sign_in_provider_deleted", "sign_in_provider", &id);
        record_at(&txn, principal, self.now(), change).await?;
        commit_and_apply(self, txn).await?;
        Ok(())
    }

    /// The enabled providers, for a sign-in page's buttons. Public.
    pub fn list_sign_in_providers(&self) -> Vec<(String, String)> {
        self.settings()
            .providers
            .values()
            .filter(|p| p.enabled)
            .map(|p| (p.id.clone(), p.display_name.clone()))
            .collect()
    }
}

/// The answer to a provider that failed discovery while being saved.
fn provider_unusable(id: &str, error: &OidcError) -> AppError {
    tracing::warn!(provider = %id, %error, "a sign-in provider failed discovery while being saved");
    AppError::FailedPrecondition(Reason::ExternalProviderUnavailable)
        .with_metadata("provider_error", error.to_string())
}
