//! Signing in through an external OpenID Connect provider (Awanio's "SSO
//! using WHMCS"): people with an account at the provider sign in without
//! registering again.
//!
//! [`App::start_external_sign_in`] keeps a single-use `state` (stored as
//! its SHA-256), a nonce and a sealed PKCE verifier for
//! [`EXTERNAL_SIGN_IN_TTL`] and returns the provider's authorization URL.
//! [`App::complete_external_sign_in`] spends the state first (a replayed
//! callback finds it spent), then exchanges the code and verifies the ID
//! token, and only then looks at users:
//! - an identity linked before signs its user in;
//! - else the provider must vouch for the email address (`email_verified`),
//!   or nothing happens: an unverified address neither creates nor links
//!   anyone, and no user is looked up for it;
//! - a user with that address is linked only when the provider allows
//!   linking by email; otherwise the person is told to use their password;
//! - else a new user and primary account are signed up (the sign-up policy
//!   applies), active and verified.
//!
//! The result is a session, or an MFA challenge for a user with a second
//! factor. Every failure after the state is spent is in the activity log.

use std::time::Duration;

use super::{LoginOutcome, SecondFactorDue, SignInDetails};
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_user;
use crate::app::blocks::new_user::UserDraft;
use crate::app::blocks::throttle::Subject;
use crate::app::error::{AppError, Reason};
use crate::crypto::{KeyPurpose, TokenKind, hash_secret, random_bytes};
use crate::domain::{
    AuthMethod, AuthMethods, Email, FieldViolation, FullName, Timestamp, UserId, UserStatus,
    Username,
};
use crate::oidc::{ExternalProfile, OidcError, ProviderAccess};
use crate::runtime::SignInProvider;
use crate::store::external_sign_in::{ExternalIdentityRow, ExternalSignInRow};
use crate::store::{self, DatabaseTransaction, StoreError, users::UserRow};

/// How long a sign-in sent to a provider may take to come back.
pub const EXTERNAL_SIGN_IN_TTL: Duration = Duration::from_secs(10 * 60);

/// The longest authorization code or provider error text accepted.
const CALLBACK_FIELD_MAX: usize = 2048;

/// A sign-in sent to a provider.
#[derive(Debug, Clone)]
pub struct ExternalSignInStart {
    /// Where to send the person.
    pub authorization_url: String,
    /// The single-use `state` the provider sends back (also in the URL).
    pub state: String,
    /// When the state stops working.
    pub expires_at: Timestamp,
}

/// What the provider sent back to the redirect URI.
#[derive(Clone, Default)]
pub struct ProviderCallback {
    /// The `state` parameter.
    pub state: String,
    /// The `code` parameter; empty when the provider sent an error.
    pub code: String,
    /// The `error` parameter, if the provider sent one.
    pub error: String,
    /// The `error_description` parameter, if any.
    pub error_description: String,
    /// The client's description of itself.
    pub user_agent: String,
}

impl std::fmt::Debug for ProviderCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCallback")
            .field("error", &self.error)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// How the person's external identity met a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalLink {
    /// It was linked before.
    Existing,
    /// It was linked now to the user with the same verified address.
    LinkedByEmail,
    /// A new user was signed up for it.
    SignedUp,
}

/// A completed external sign-in.
#[derive(Debug, Clone)]
pub struct ExternalSignIn {
    /// A session, or a challenge for the second factor.
    pub outcome: LoginOutcome,
    /// How the identity met its user.
    pub link: ExternalLink,
    /// The provider.
    pub provider_id: String,
}

impl App {
    /// Starts a sign-in through `provider_id` that comes back to
    /// `redirect_uri` (which must be on the provider's list). Public, and
    /// counted per client address like other unauthenticated writes.
    pub async fn start_external_sign_in(
        &self,
        principal: &Principal,
        provider_id: &str,
        redirect_uri: &str,
    ) -> Result<ExternalSignInStart, AppError> {
        let provider = self.enabled_provider(provider_id)?;
        if !provider.allows_redirect(redirect_uri) {
            return Err(FieldViolation::new(
                "redirect_uri",
                "is not on the provider's list of redirect URIs",
            )
            .into());
        }
        let counted: Vec<Subject> = self
            .address_subject("external", principal.client_ip)
            .into_iter()
            .collect();
        self.reserve_attempt(&counted).await?;
        let state = TokenKind::ExternalState.generate();
        let authorization = self
            .oidc()
            .authorize(access(&provider), redirect_uri, &provider.scopes, &state)
            .await
            .map_err(|error| provider_failure(&provider.id, &error))?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let pkce_verifier = self
            .server_key()
            .seal(
                KeyPurpose::SignInSeal,
                authorization.pkce_verifier.as_bytes(),
                &id,
            )
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        let expires_at = now.plus(EXTERNAL_SIGN_IN_TTL);
        let row = ExternalSignInRow {
            id,
            state_hash: hash_secret(&state),
            provider_id: provider.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            nonce: authorization.nonce,
            pkce_verifier,
            created_at: now.as_micros(),
            expires_at: expires_at.as_micros(),
            completed_at: None,
        };
        let txn = store::begin(self.db()).await?;
        store::external_sign_in::insert_sign_in(&txn, row).await?;
        store::commit(txn).await?;
        Ok(ExternalSignInStart {
            authorization_url: authorization.url,
            state,
            expires_at,
        })
    }

    /// Finishes a sign-in with what the provider sent back. See the module
    /// docs for who gets signed in.
    pub async fn complete_external_sign_in(
        &self,
        principal: &Principal,
        callback: ProviderCallback,
    ) -> Result<ExternalSignIn, AppError> {
        let invalid = || AppError::Unauthenticated(Reason::ExternalStateInvalid);
        if !TokenKind::ExternalState.fits(&callback.state) {
            return Err(invalid());
        }
        if callback.code.len() > CALLBACK_FIELD_MAX
            || callback.error.len() > CALLBACK_FIELD_MAX
            || callback.error_description.len() > CALLBACK_FIELD_MAX
        {
            return Err(FieldViolation::new(
                "code",
                format!("code, error and error_description may have at most {CALLBACK_FIELD_MAX} bytes each"),
            )
            .into());
        }
        let now = self.now();
        let row =
            store::external_sign_in::find_sign_in(self.reader(), &hash_secret(&callback.state))
                .await?
                .filter(|row| row.completed_at.is_none() && row.expires_at > now.as_micros())
                .ok_or_else(invalid)?;
        // Spent before anything else: whatever happens next, a second
        // callback with this state is refused.
        let txn = store::begin(self.db()).await?;
        if !store::external_sign_in::complete_sign_in(&txn, &row.id, now.as_micros()).await? {
            return Err(invalid());
        }
        store::commit(txn).await?;

        if !callback.error.is_empty() || callback.code.is_empty() {
            let said = match (callback.error.as_str(), callback.error_description.as_str()) {
                ("", _) => "no code came back".to_owned(),
                (error, "") => error.to_owned(),
                (error, description) => format!("{error}: {description}"),
            };
            let refusal = OidcError::Refused(said);
            self.record_external_failure(principal, &row.provider_id, &refusal)
                .await?;
            return Err(provider_failure(&row.provider_id, &refusal));
        }
        let provider = self.enabled_provider(&row.provider_id)?;
        let pkce_verifier = self.open_pkce_verifier(&row)?;
        let profile = match self
            .oidc()
            .exchange(
                access(&provider),
                &row.redirect_uri,
                &callback.code,
                &pkce_verifier,
                &row.nonce,
            )
            .await
        {
            Ok(profile) => profile,
            Err(error) => {
                self.record_external_failure(principal, &provider.id, &error)
                    .await?;
                return Err(provider_failure(&provider.id, &error));
            }
        };

        // Two first sign-ins of one person racing both try to link or sign
        // up; the loser finds the winner's link on its second pass.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .sign_in_external(principal, &provider, &profile, &callback.user_agent)
                .await
            {
                Err(AppError::Internal(source)) if attempt < 3 && is_lost_race(source.as_ref()) => {
                    continue;
                }
                Err(AppError::AlreadyExists(Reason::EmailTaken)) if attempt < 3 => continue,
                result => return result,
            }
        }
    }

    /// The user `profile` signs in as, linked or signed up now, and their
    /// session or challenge: one transaction.
    async fn sign_in_external(
        &self,
        principal: &Principal,
        provider: &SignInProvider,
        profile: &ExternalProfile,
        user_agent: &str,
    ) -> Result<ExternalSignIn, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let linked =
            store::external_sign_in::find_identity(&txn, &provider.id, &profile.subject).await?;
        let (user, link) = match linked {
            Some(identity) => {
                let email = profile.email.as_deref().unwrap_or(&identity.email);
                store::external_sign_in::touch_identity(&txn, &identity.id, email, now.as_micros())
                    .await?;
                (
                    load_user(&txn, identity.user_id).await?,
                    ExternalLink::Existing,
                )
            }
            None => {
                let Some(email) = verified_email(profile) else {
                    drop(txn);
                    let error = AppError::FailedPrecondition(Reason::ExternalEmailUnverified);
                    return self
                        .refuse_external(principal, &provider.id, "email_unverified", error)
                        .await;
                };
                match store::users::find_by_email(&txn, &email.normalized()).await? {
                    Some(user) if provider.link_by_email => {
                        self.link_identity(&txn, principal, provider, profile, &user, "email")
                            .await?;
                        if user.status == UserStatus::PendingVerification {
                            // The provider verified the address the user
                            // signed up with: that is the proof we waited for.
                            store::users::mark_email_verified(&txn, user.id, now.as_micros())
                                .await?;
                            let change = Change::new("user.email_verified", "user", user.id)
                                .detail("activated", true)
                                .detail("provider", &provider.id);
                            record_at(&txn, principal, now, change).await?;
                        }
                        (load_user(&txn, user.id).await?, ExternalLink::LinkedByEmail)
                    }
                    Some(_) => {
                        drop(txn);
                        let error = AppError::FailedPrecondition(Reason::ExternalLinkRequired);
                        return self
                            .refuse_external(principal, &provider.id, "link_required", error)
                            .await;
                    }
                    None => {
                        let user = self
                            .sign_up_external(&txn, principal, provider, profile, email)
                            .await?;
                        (user, ExternalLink::SignedUp)
                    }
                }
            }
        };
        if user.status != UserStatus::Active {
            drop(txn);
            let error = AppError::Unauthenticated(Reason::LoginFailed);
            let reason = if user.status == UserStatus::Suspended {
                "suspended"
            } else {
                "unverified"
            };
            return self
                .refuse_external(principal, &provider.id, reason, error)
                .await;
        }
        let released: Vec<Subject> = self
            .address_subject("external", principal.client_ip)
            .into_iter()
            .collect();
        let outcome = if user.mfa_enabled_at.is_some() {
            let due = SecondFactorDue {
                first: AuthMethod::External,
                account: None,
                forgiven: &[],
                released: &released,
                rehashed: None,
            };
            let challenge = self
                .challenge_second_factor(&txn, principal, &user, due)
                .await?;
            LoginOutcome::MfaRequired(challenge)
        } else {
            self.settle_success(&txn, &[], &released).await?;
            let how = SignInDetails {
                methods: AuthMethods::of([AuthMethod::External]),
                user_agent,
                used_device: None,
                rehashed: None,
                account: None,
                device_token: false,
            };
            LoginOutcome::SignedIn(self.finish_sign_in(&txn, principal, &user, how).await?)
        };
        self.commit(txn).await?;
        Ok(ExternalSignIn {
            outcome,
            link,
            provider_id: provider.id.clone(),
        })
    }

    /// Signs up a new, active and verified user for `profile`, with a
    /// username made from what the provider said (another suffix while one
    /// is taken), inside `txn`.
    async fn sign_up_external(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        provider: &SignInProvider,
        profile: &ExternalProfile,
        email: Email,
    ) -> Result<UserRow, AppError> {
        let settings = self.settings();
        let policy = &settings.values;
        if !policy.sign_up_open {
            return Err(AppError::FailedPrecondition(Reason::SignUpClosed));
        }
        if !policy.sign_up_accepts_domain(&email.domain()) {
            return Err(AppError::FailedPrecondition(Reason::SignUpDomainRefused));
        }
        let base = profile.preferred_username.clone().unwrap_or_else(|| {
            email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let mut username = Username::suggest(&base, None);
        for _ in 0..5 {
            let free = Username::parse_unreserved("username", username.as_str()).is_ok()
                && store::users::find_by_username(txn, &username.normalized())
                    .await?
                    .is_none();
            if free {
                break;
            }
            let suffix = hex::encode(random_bytes::<3>());
            username = Username::suggest(&base, Some(&suffix));
        }
        let full_name = profile
            .name
            .as_deref()
            .and_then(|name| FullName::parse("name", name).ok())
            .or_else(|| FullName::parse("name", username.as_str()).ok())
            .ok_or_else(|| AppError::corrupt("a username that is not a valid full name"))?;
        let draft = UserDraft {
            email,
            username,
            full_name,
            photo_url: None,
            locale: None,
            status: UserStatus::Active,
            password_hash: None,
            admin_role_id: None,
        };
        let user_id = UserId::generate();
        let user = self
            .sign_up_user(txn, principal, user_id, draft, Some(&provider.id))
            .await?;
        store::users::mark_email_verified(txn, user.id, self.now().as_micros()).await?;
        self.link_identity(txn, principal, provider, profile, &user, "sign_up")
            .await?;
        load_user(txn, user.id).await
    }

    /// Links `profile`'s identity to `user`, inside `txn`.
    async fn link_identity(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        provider: &SignInProvider,
        profile: &ExternalProfile,
        user: &UserRow,
        how: &str,
    ) -> Result<(), AppError> {
        let now = self.now();
        let row = ExternalIdentityRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id,
            provider_id: provider.id.clone(),
            subject: profile.subject.clone(),
            email: profile.email.clone().unwrap_or_default(),
            created_at: now.as_micros(),
            last_sign_in_at: Some(now.as_micros()),
        };
        let change = Change::new("user.external_identity_linked", "user", user.id)
            .detail("identity_id", &row.id)
            .detail("provider", &provider.id)
            .detail("subject", &profile.subject)
            .detail("how", how);
        store::external_sign_in::insert_identity(txn, row).await?;
        record_at(txn, principal, now, change).await?;
        Ok(())
    }

    /// The provider `id`, if it exists and is enabled.
    fn enabled_provider(&self, id: &str) -> Result<SignInProvider, AppError> {
        self.settings()
            .providers
            .get(id)
            .filter(|provider| provider.enabled)
            .cloned()
            .ok_or(AppError::NotFound(Reason::SignInProviderNotFound))
    }

    /// The sign-in's PKCE verifier, opened.
    fn open_pkce_verifier(&self, row: &ExternalSignInRow) -> Result<String, AppError> {
        self.server_key()
            .open(KeyPurpose::SignInSeal, &row.pkce_verifier, &row.id)
            .ok()
            .and_then(|opened| String::from_utf8(opened.plaintext).ok())
            // Sealed under a server secret since removed: the sign-in
            // cannot finish, and starting again fixes it.
            .ok_or(AppError::Unauthenticated(Reason::ExternalStateInvalid))
    }

    /// Records a failed exchange with the provider.
    async fn record_external_failure(
        &self,
        principal: &Principal,
        provider_id: &str,
        error: &OidcError,
    ) -> Result<(), AppError> {
        let reason = match error {
            OidcError::Unavailable(_) | OidcError::Misconfigured(_) => "provider_unavailable",
            OidcError::Refused(_) => "provider_refused",
            OidcError::InvalidToken(_) => "token_invalid",
        };
        self.record_refusal(principal, provider_id, reason, Some(error.to_string()))
            .await
    }

    /// Records a refused sign-in (nothing else is written) and returns `error`.
    async fn refuse_external(
        &self,
        principal: &Principal,
        provider_id: &str,
        reason: &str,
        error: AppError,
    ) -> Result<ExternalSignIn, AppError> {
        self.record_refusal(principal, provider_id, reason, None)
            .await?;
        Err(error)
    }

    /// The `auth.external_sign_in_failed` event, in a transaction of its own.
    async fn record_refusal(
        &self,
        principal: &Principal,
        provider_id: &str,
        reason: &str,
        provider_said: Option<String>,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        let mut change = Change::new(
            "auth.external_sign_in_failed",
            "sign_in_provider",
            provider_id,
        )
        .detail("reason", reason);
        if let Some(said) = provider_said {
            change = change.detail("error", said);
        }
        record_at(&txn, principal, self.now(), change).await?;
        self.commit(txn).await?;
        Ok(())
    }
}

/// What identityd tells the provider about itself.
fn access(provider: &SignInProvider) -> ProviderAccess<'_> {
    ProviderAccess {
        issuer_url: &provider.issuer_url,
        client_id: &provider.client_id,
        client_secret: provider.client_secret.expose(),
    }
}

/// The email address the provider vouched for, if any.
fn verified_email(profile: &ExternalProfile) -> Option<Email> {
    if !profile.email_verified {
        return None;
    }
    Email::parse("email", profile.email.as_deref()?).ok()
}

/// The caller's answer to a failed step with the provider; what the
/// provider said goes to the log, and to the caller as `provider_error`
/// when it is the provider's own verdict (never a network detail).
fn provider_failure(provider_id: &str, error: &OidcError) -> AppError {
    tracing::warn!(provider = %provider_id, %error, "external sign-in failed");
    match error {
        OidcError::Unavailable(_) | OidcError::Misconfigured(_) => {
            AppError::Upstream(Reason::ExternalProviderUnavailable)
        }
        OidcError::Refused(said) => AppError::Unauthenticated(Reason::ExternalProviderRefused)
            .with_metadata("provider_error", said.clone()),
        OidcError::InvalidToken(said) => AppError::Unauthenticated(Reason::ExternalTokenInvalid)
            .with_metadata("provider_error", said.clone()),
    }
}

/// Whether an internal error is a unique violation: another sign-in of the
/// same person linked it first.
fn is_lost_race(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<StoreError>()
        .is_some_and(|e| e.is_unique_violation_on("subject"))
}
