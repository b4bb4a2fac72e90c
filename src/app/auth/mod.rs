//! Proving who someone is: sign-up and email verification, sign-in,
//! password changes and resets.
//!
//! Public use cases answer the same way whether or not an email address or
//! identifier is known, and do the same expensive work either way (a
//! password hash for sign-up and sign-in), so neither answers nor timing
//! tell who has signed up.

mod challenge;
mod external;
mod login;
mod password;
mod register;
mod sso;

pub use challenge::{MFA_CHALLENGE_MAX_ATTEMPTS, MFA_CHALLENGE_TTL, SecondStep};
pub use external::{
    EXTERNAL_SIGN_IN_TTL, ExternalLink, ExternalSignIn, ExternalSignInStart, ProviderCallback,
};
pub use sso::{SSO_DESTINATION_MAX_CHARS, SsoGrant, SsoOutcome, SsoToken};

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::throttle::Subject;
use crate::domain::{
    AccountId, AuthMethod, AuthMethods, Email, FullName, Locale, Password, Session, Timestamp,
    Username,
};

/// The `user_tokens` purpose of device tokens.
const LOGIN_DEVICE: &str = "login_device";

/// How a sign-in whose every step passed was made.
pub(super) struct SignInDetails<'a> {
    /// How the user proved who they are.
    pub methods: AuthMethods,
    /// The client's description of itself.
    pub user_agent: &'a str,
    /// The row id of the device token the client used, to retire.
    pub used_device: Option<&'a str>,
    /// A new hash of the password, when its parameters changed.
    pub rehashed: Option<&'a str>,
    /// The account the session acts for, already checked; `None` binds the
    /// user's only active account, if they have exactly one.
    pub account: Option<AccountId>,
    /// Whether the client gets a device token (a password sign-in does).
    pub device_token: bool,
}

/// A first factor passed; the second is due.
pub(super) struct SecondFactorDue<'a> {
    /// What passed: a password or an SSO token.
    pub first: AuthMethod,
    /// The account the session will act for, if the first factor named one.
    pub account: Option<AccountId>,
    /// Failure counters the first factor's success forgives.
    pub forgiven: &'a [Subject],
    /// Counters whose reserved attempt the success gives back.
    pub released: &'a [Subject],
    /// A new password hash to store, when its parameters changed.
    pub rehashed: Option<String>,
}

/// A person signing themselves up: by registering, or by accepting an
/// invitation as a new user.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The person's full name.
    pub full_name: FullName,
    /// The username, also the primary account's name.
    pub username: Username,
    /// The email address to verify.
    pub email: Email,
    /// The password, already checked against the policy.
    pub password: Password,
    /// The language for mail.
    pub locale: Option<Locale>,
}

/// A sign-in attempt.
#[derive(Clone)]
pub struct LoginAttempt {
    /// An email address or username, as typed.
    pub identifier: String,
    /// The password, as typed.
    pub password: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// The device token an earlier sign-in gave this client, if any.
    pub device_token: Option<String>,
}

/// What a sign-in gives: a session, or, for a user with a second factor,
/// a challenge to answer with [`App::complete_login`].
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    SignedIn(SignedIn),
    /// The password was right; a second factor is due.
    MfaRequired(MfaChallenge),
}

/// A new session.
#[derive(Clone)]
pub struct SignedIn {
    /// The bearer token, shown only now.
    pub token: String,
    /// The client's new device token, shown only now: sent with the next
    /// sign-in, it proves this client signed in before.
    pub device_token: String,
    /// The session.
    pub session: Session,
    /// Whether the user must choose one of several accounts.
    pub account_selection_required: bool,
}

/// A sign-in waiting for its second factor.
#[derive(Clone)]
pub struct MfaChallenge {
    /// The challenge's token, shown only now.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// What answers it: `totp`, and `backup_code` while any are unused.
    pub methods: Vec<&'static str>,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("methods", &self.methods)
            .finish()
    }
}

// Written out so the password and tokens never reach a log line.
impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("identifier", &self.identifier)
            .field("password", &"<redacted>")
            .field("user_agent", &self.user_agent)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("token", &"<redacted>")
            .field("device_token", &"<redacted>")
            .field("session", &self.session)
            .field(
                "account_selection_required",
                &self.account_selection_required,
            )
            .finish()
    }
}

impl App {
    /// Throttling subjects for a request that mails an address.
    fn mail_subjects(&self, principal: &Principal, email: &str) -> Vec<Subject> {
        self.typed_subjects("mail", principal, email)
    }
}
