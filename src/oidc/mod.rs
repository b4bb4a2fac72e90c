//! The OpenID Connect relying party: identityd sends a person to an
//! external provider (WHMCS, or any certified provider) and gets back who
//! they are.
//!
//! Built on the `openidconnect` crate: discovery, the authorization URL
//! with `state`, `nonce` and PKCE (S256), the code exchange, ID token
//! verification (signature against the provider's JWKS, issuer, audience,
//! expiry, nonce) and userinfo. Provider metadata and keys are cached for
//! [`METADATA_TTL`]; a token signed with a key the cache does not know
//! fetches them again once, so a provider may rotate keys.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::reqwest;
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};

/// How long discovered metadata and keys are reused.
pub const METADATA_TTL: Duration = Duration::from_secs(10 * 60);
/// The most a provider may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What identityd needs to talk to one provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderAccess<'a> {
    /// The issuer URL.
    pub issuer_url: &'a str,
    /// identityd's client id there.
    pub client_id: &'a str,
    /// identityd's client secret there.
    pub client_secret: &'a str,
}

/// An authorization request to send the person to.
pub struct Authorization {
    /// The provider's authorization URL, with every parameter.
    pub url: String,
    /// The nonce the ID token must come back with.
    pub nonce: String,
    /// The PKCE verifier the code exchange proves the request with.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &crate::domain::REDACTED)
            .finish()
    }
}

/// Who the provider says the person is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProfile {
    /// The provider's stable id for them (`sub`).
    pub subject: String,
    /// Their email address, if the provider shared one.
    pub email: Option<String>,
    /// Whether the provider verified that address.
    pub email_verified: bool,
    /// Their name, if shared.
    pub name: Option<String>,
    /// The username they prefer, if shared.
    pub preferred_username: Option<String>,
}

/// Why a step with the provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, or its discovery document or
    /// keys could not be read.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered with an OAuth error (a used or foreign code,
    /// a wrong PKCE verifier, a refused client).
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider's answer did not pass verification.
    #[error("the provider's token is not valid: {0}")]
    InvalidToken(String),
    /// The stored configuration cannot be used (a URL that does not parse).
    #[error("the provider's configuration is unusable: {0}")]
    Misconfigured(String),
}

/// The relying party, shared by every request: one HTTP client (which never
/// follows redirects) and the metadata cache.
#[derive(Clone)]
pub struct OidcClient {
    http: reqwest::Client,
    metadata: moka::sync::Cache<String, Arc<CoreProviderMetadata>>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("cached_providers", &self.metadata.entry_count())
            .finish()
    }
}

impl OidcClient {
    /// A relying party with an empty cache.
    pub fn new() -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider point identityd at
            // anything (OAuth 2.0 security BCP); none are needed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT / 2)
            .build()
            .map_err(|e| OidcError::Misconfigured(format!("the HTTP client: {e}")))?;
        Ok(Self {
            http,
            metadata: moka::sync::Cache::builder()
                .max_capacity(64)
                .time_to_live(METADATA_TTL)
                .build(),
        })
    }

    /// The provider's metadata and keys: cached, or discovered now.
    async fn metadata(
        &self,
        issuer_url: &str,
        fresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        if !fresh && let Some(found) = self.metadata.get(issuer_url) {
            return Ok(found);
        }
        let issuer = IssuerUrl::new(issuer_url.to_owned())
            .map_err(|e| OidcError::Misconfigured(format!("issuer URL: {e}")))?;
        let discovered = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(error_chain(&e)))?;
        let discovered = Arc::new(discovered);
        self.metadata
            .insert(issuer_url.to_owned(), discovered.clone());
        Ok(discovered)
    }

    /// Discovers the provider afresh (metadata and keys), replacing what
    /// the cache held: whether these settings reach a working provider.
    pub async fn check_discovery(&self, provider: ProviderAccess<'_>) -> Result<(), OidcError> {
        self.metadata(provider.issuer_url, true).await.map(drop)
    }

    /// The authorization URL for one sign-in, carrying `state`, a fresh
    /// nonce and a fresh PKCE challenge.
    pub async fn authorize(
        &self,
        provider: ProviderAccess<'_>,
        redirect_uri: &str,
        scopes: &[String],
        state: &str,
    ) -> Result<Authorization, OidcError> {
        let metadata = self.metadata(provider.issuer_url, false).await?;
        let client =
            relying_party(&metadata, provider).set_redirect_uri(redirect_url(redirect_uri)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new(state.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || state,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // `openid` is added by the client itself.
        for scope in scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, nonce) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` for tokens, verifies the ID token against `nonce`
    /// and reads userinfo (when the provider has the endpoint): who the
    /// person is.
    pub async fn exchange(
        &self,
        provider: ProviderAccess<'_>,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalProfile, OidcError> {
        let metadata = self.metadata(provider.issuer_url, false).await?;
        let client =
            relying_party(&metadata, provider).set_redirect_uri(redirect_url(redirect_uri)?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Misconfigured(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => {
                    let mut said = answer.error().to_string();
                    if let Some(description) = answer.error_description() {
                        said = format!("{said}: {description}");
                    }
                    OidcError::Refused(said)
                }
                other => OidcError::Unavailable(error_chain(&other)),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the answer has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims: CoreIdTokenClaims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // A key the cached set does not have: the provider may have
            // rotated its keys. Fetch them once more and check again.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let metadata = self.metadata(provider.issuer_url, true).await?;
                let client = relying_party(&metadata, provider);
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::InvalidToken(error_chain(&e)))?
                    .clone()
            }
            Err(e) => return Err(OidcError::InvalidToken(error_chain(&e))),
        };
        let mut profile = ExternalProfile {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
        };
        if client.user_info_url().is_some() {
            let info: CoreUserInfoClaims = client
                .user_info(
                    tokens.access_token().clone(),
                    Some(claims.subject().clone()),
                )
                .map_err(|e| OidcError::Misconfigured(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| match e {
                    openidconnect::UserInfoError::ClaimsVerification(e) => {
                        OidcError::InvalidToken(format!("userinfo: {}", error_chain(&e)))
                    }
                    other => OidcError::Unavailable(format!("userinfo: {}", error_chain(&other))),
                })?;
            // Userinfo speaks for the same subject (checked above) and is
            // the provider's current word: it wins where it says anything.
            if let Some(email) = info.email() {
                profile.email = Some(email.to_string());
                profile.email_verified = info.email_verified().unwrap_or(false);
            }
            if let Some(name) = info.name().and_then(|n| n.get(None)) {
                profile.name = Some(name.to_string());
            }
            if let Some(username) = info.preferred_username() {
                profile.preferred_username = Some(username.to_string());
            }
        }
        Ok(profile)
    }
}

/// identityd's client at the provider `metadata` describes.
type RelyingParty = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn relying_party(metadata: &CoreProviderMetadata, provider: ProviderAccess<'_>) -> RelyingParty {
    CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(provider.client_id.to_owned()),
        Some(ClientSecret::new(provider.client_secret.to_owned())),
    )
}

fn redirect_url(uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(uri.to_owned())
        .map_err(|e| OidcError::Misconfigured(format!("redirect URI: {e}")))
}

/// An error and its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
