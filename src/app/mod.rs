//! Use cases: one module per area. Each takes the caller's [`Principal`],
//! applies the rules, changes the store inside one transaction together with
//! its activity event, and returns plain values for the transport to render.

mod accounts;
mod activity;
mod auth;
mod authn;
mod blocks;
mod bootstrap;
mod credentials;
mod error;
mod invitations;
mod mails;
mod mfa;
mod roles;
mod sessions;
mod staff;
mod sweep;
mod users;

pub use crate::domain::{AccountChanges, Session, User};
pub use crate::store::accounts::AccountFilter;
pub use crate::store::activity::ActivityFilter;
pub use crate::store::mails::MailFilter;
pub use accounts::{
    Account, AccountPage, AccountQuery, MembershipPage, NewAccount, NewAccountOwner, UserAccount,
};
pub use activity::{ActivityEvent, ActivityPage, ActivityQuery};
pub use auth::{
    LoginAttempt, LoginOutcome, MFA_CHALLENGE_MAX_ATTEMPTS, MFA_CHALLENGE_TTL, MfaChallenge,
    Registration, SSO_DESTINATION_MAX_CHARS, SecondStep, SignedIn, SsoGrant, SsoOutcome, SsoToken,
};
pub use authn::{
    AccountGrant, ApiCredentialState, Authenticated, Authenticator, Caller, Principal,
    ResolvedSession,
};
pub use blocks::links::{
    PASSWORD_RESET_TTL, VERIFICATION_CODE_MAX_ATTEMPTS, VERIFICATION_CODE_TTL,
};
pub use blocks::members::Member;
pub use bootstrap::{BootstrapStaff, Bootstrapped, TokenSink};
pub use credentials::{
    ApiCredential, CreatedApiCredential, CredentialPage, CredentialQuery, NewApiCredential,
};
pub use error::{AppError, Reason};
pub use invitations::{
    Accepted, Acceptor, CreatedInvitation, Invitation, InvitationPage, InvitationPreview,
    InvitationQuery, InvitationStatus, NewInvitation,
};
pub use mails::{Mail, MailPage, MailQuery, MailStatus};
pub use mfa::{MfaStatus, TOTP_ENROLLMENT_TTL, TotpEnrollment};
pub use roles::{NewRole, Role, RoleChanges, RolePage, RoleQuery};
pub use sessions::{AccountChoice, Denial, Question, SessionPage, Verdict};
pub use staff::{NewStaffUser, StaffPage, StaffQuery, StaffUser};
pub use sweep::{Retention, SWEEP_GRACE, Swept};
pub use users::{NewUser, UserChanges, UserKey, UserPage, UserQuery};

use std::time::Duration;

use crate::crypto::{KeyPurpose, PasswordHasher, ServerKey};
use crate::domain::{Clock, MfaRequirement, ThrottleRule, Timestamp, TrustedProxies};
use crate::store::{self, DatabaseConnection, DatabaseTransaction, StoreError};

/// The use cases of identityd over one database.
#[derive(Debug, Clone)]
pub struct App {
    db: DatabaseConnection,
    reader: DatabaseConnection,
    hasher: PasswordHasher,
    server_key: ServerKey,
    rules: Rules,
    clock: Clock,
    authn: Authenticator,
}

/// Rules set by configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The shortest password accepted, in characters.
    pub password_min_chars: usize,
    /// Whether account owners may manage their members themselves (staff always may).
    pub client_user_management: bool,
    /// The base URL links in mail point at.
    pub public_base_url: String,
    /// The product's name, as authenticator apps show it beside a user's
    /// TOTP codes.
    pub product_name: String,
    /// Sessions and brute-force throttling.
    pub auth: AuthRules,
    /// How long an invitation link works.
    pub invitation_ttl: Duration,
    /// How long the sweep keeps finished records.
    pub retention: Retention,
    /// How many invitation mails one inviter may have sent in an hour.
    pub invitation_mails_per_hour: u32,
    /// The peers whose word on the client's address is taken.
    pub trusted_proxies: TrustedProxies,
}

/// How long sessions live and how failures are throttled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRules {
    /// A session ends after this long unused.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in however much it is used.
    pub session_absolute_timeout: Duration,
    /// Throttling of failures against one user (sign-in, code guesses).
    pub per_user: ThrottleRule,
    /// Throttling of failed sign-ins against one user from all addresses
    /// together; a valid device token is exempt.
    pub per_user_total: ThrottleRule,
    /// Throttling of failures from one client address.
    pub per_address: ThrottleRule,
    /// Failures are forgotten after this long without another.
    pub forget_failures_after: Duration,
    /// How long an authenticated token is remembered in this process
    /// (changes through another replica take up to this long); zero: never.
    pub cache_ttl: Duration,
    /// Whom two-factor authentication is required of.
    pub mfa_required: MfaRequirement,
    /// How long a new SSO token works.
    pub sso_token_ttl: Duration,
    /// Whether redeeming an SSO token skips the user's second factor
    /// (WHMCS's behaviour); off, a two-factor user gets a challenge.
    pub sso_bypasses_mfa: bool,
}

impl App {
    /// Use cases over `db`, which must be migrated, reading through
    /// `reader`, hashing passwords with `hasher`, keying stored digests
    /// with `server_key` and following `rules`.
    pub fn new(
        db: DatabaseConnection,
        reader: DatabaseConnection,
        hasher: PasswordHasher,
        server_key: ServerKey,
        rules: Rules,
    ) -> Self {
        let clock = Clock::system();
        let authn = Authenticator::new(
            db.clone(),
            reader.clone(),
            clock.clone(),
            rules.auth.session_idle_timeout,
            rules.auth.cache_ttl,
        )
        .requiring_mfa(rules.auth.mfa_required);
        Self {
            db,
            reader,
            hasher,
            server_key,
            rules,
            clock,
            authn,
        }
    }

    /// The same use cases reading the time from `clock`.
    pub fn with_clock(self, clock: Clock) -> Self {
        let authn = self.authn.clone().with_clock(clock.clone());
        Self {
            clock,
            authn,
            ..self
        }
    }

    /// Authenticates a bearer token: a user session's or an API credential's.
    pub async fn authenticate(&self, bearer: &str) -> Result<Authenticated, AppError> {
        self.authn.authenticate(bearer).await
    }

    /// Resolves a session token; `None` unless it is the token of a live
    /// session of an active user. IntrospectSession and CheckPermission ask this.
    async fn resolve_session(&self, token: &str) -> Result<Option<ResolvedSession>, AppError> {
        self.authn.resolve_session(token).await
    }

    /// Commits a transaction that may change what a token authenticates as,
    /// and forgets the remembered answers (even when the commit fails: its
    /// outcome is then unknown).
    async fn commit(&self, txn: DatabaseTransaction) -> Result<(), StoreError> {
        let result = store::commit(txn).await;
        self.authn.forget_all();
        result
    }

    /// The current time, from the app's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock the use cases read, for the jobs beside them (the mail
    /// worker) that must share its time.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Session lifetimes and throttling rules.
    pub fn auth_rules(&self) -> &AuthRules {
        &self.rules.auth
    }

    /// The pool that writes; transactions start here.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The pool for reads outside transactions. Everything committed on `db`
    /// is visible here.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The server secret's keys: for sealing and opening secrets at rest.
    pub(crate) fn server_key(&self) -> &ServerKey {
        &self.server_key
    }

    /// The product's name, for authenticator apps.
    pub(crate) fn product_name(&self) -> &str {
        &self.rules.product_name
    }

    /// HMAC-SHA256 of `input` under the server key for `purpose`, hex: the
    /// stored form of values a dictionary could reverse.
    pub fn keyed_digest(&self, purpose: KeyPurpose, input: &str) -> String {
        self.server_key.digest(purpose, input)
    }

    /// Whether `input` has the keyed digest `stored`, in constant time.
    pub fn keyed_digest_matches(&self, purpose: KeyPurpose, input: &str, stored: &str) -> bool {
        self.server_key.digest_matches(purpose, input, stored)
    }

    /// The peers whose word on the client's address is taken.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.rules.trusted_proxies
    }

    /// The shortest password accepted, in characters.
    pub fn password_min_chars(&self) -> usize {
        self.rules.password_min_chars
    }

    /// Whether account owners may manage their members themselves.
    pub fn client_user_management(&self) -> bool {
        self.rules.client_user_management
    }

    /// How long an invitation link works.
    pub fn invitation_ttl(&self) -> Duration {
        self.rules.invitation_ttl
    }

    /// How many invitation mails one inviter may have sent in an hour.
    pub fn invitation_mails_per_hour(&self) -> u32 {
        self.rules.invitation_mails_per_hour
    }

    /// A link to `path` (starting with `/`) under the public base URL.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.rules.public_base_url.trim_end_matches('/'))
    }
}
