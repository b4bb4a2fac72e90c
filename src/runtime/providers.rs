//! External sign-in providers as every replica applies them: read from the
//! `sign_in_providers` table with the other run-time settings, so a provider
//! added, changed or removed through one replica reaches all of them at
//! the next refresh.

use super::live::Stamp;
use crate::crypto::{KeyPurpose, ServerKey};
use crate::domain::{Secret, SignInProviderSpec, Timestamp};
use crate::store::external_sign_in::SignInProviderRow;

/// One provider, its client secret opened.
#[derive(Debug, Clone)]
pub struct SignInProvider {
    /// The operator's name for it.
    pub id: String,
    /// What a sign-in page shows.
    pub display_name: String,
    /// The issuer URL.
    pub issuer_url: String,
    /// identityd's client id there.
    pub client_id: String,
    /// identityd's client secret there.
    pub client_secret: Secret<String>,
    /// The scopes asked for, `openid` first.
    pub scopes: Vec<String>,
    /// The redirect URIs a sign-in may name.
    pub redirect_uris: Vec<String>,
    /// Whether a verified email address links to the user who has it.
    pub link_by_email: bool,
    /// Whether sign-ins may start.
    pub enabled: bool,
    /// When it was first stored.
    pub created_at: Timestamp,
    /// Who stored it last, and when.
    pub updated: Stamp,
}

/// What a client secret is sealed for: its provider.
fn seal_context(provider_id: &str) -> String {
    format!("sign_in_provider:{provider_id}")
}

impl SignInProvider {
    /// Opens a stored row; `None` (with a warning) when its secret does not
    /// open with the server secrets this replica knows.
    pub fn from_row(row: &SignInProviderRow, key: &ServerKey) -> Option<Self> {
        let opened = key
            .open(
                KeyPurpose::SettingSeal,
                &row.client_secret,
                &seal_context(&row.id),
            )
            .ok()
            .and_then(|opened| String::from_utf8(opened.plaintext).ok());
        let Some(client_secret) = opened else {
            tracing::warn!(provider = %row.id, "ignoring a sign-in provider whose client secret does not open with the configured server secrets");
            return None;
        };
        Some(Self {
            id: row.id.clone(),
            display_name: row.display_name.clone(),
            issuer_url: row.issuer_url.clone(),
            client_id: row.client_id.clone(),
            client_secret: Secret::new(client_secret),
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            redirect_uris: row.redirect_uris.lines().map(str::to_owned).collect(),
            link_by_email: row.link_by_email,
            enabled: row.enabled,
            created_at: Timestamp::from_micros(row.created_at),
            updated: Stamp {
                at: Timestamp::from_micros(row.updated_at),
                by_kind: row.updated_by_kind.clone(),
                by_id: row.updated_by_id.clone(),
            },
        })
    }

    /// The row storing `spec` with `client_secret` sealed, first stored at
    /// `created_at` and now by `updated`.
    pub fn to_row(
        spec: &SignInProviderSpec,
        client_secret: &str,
        key: &ServerKey,
        created_at: Timestamp,
        updated: &Stamp,
    ) -> Result<SignInProviderRow, crate::crypto::SealFailed> {
        Ok(SignInProviderRow {
            id: spec.id.clone(),
            display_name: spec.display_name.clone(),
            issuer_url: spec.issuer_url.clone(),
            client_id: spec.client_id.clone(),
            client_secret: key.seal(
                KeyPurpose::SettingSeal,
                client_secret.as_bytes(),
                &seal_context(&spec.id),
            )?,
            scopes: spec.scopes.join(" "),
            redirect_uris: spec.redirect_uris.join("\n"),
            link_by_email: spec.link_by_email,
            enabled: spec.enabled,
            created_at: created_at.as_micros(),
            updated_at: updated.at.as_micros(),
            updated_by_kind: updated.by_kind.clone(),
            updated_by_id: updated.by_id.clone(),
        })
    }

    /// Whether `uri` is on the allow list, compared exactly.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|allowed| allowed == uri)
    }
}
