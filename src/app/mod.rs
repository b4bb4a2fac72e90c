//! Use cases: one module per area. Each takes the caller's [`Principal`],
//! applies the rules, changes the store inside one transaction together with
//! its activity event, and returns plain values for the transport to render.

mod accounts;
mod activity;
mod auth;
mod auth_cache;
mod authn;
mod bootstrap;
mod credentials;
mod error;
mod idempotency;
mod invitations;
mod mails;
mod principal;
mod roles;
mod sessions;
mod staff;
mod sweep;
mod throttle;
mod users;

pub use crate::store::accounts::AccountFilter;
pub use crate::store::activity::ActivityFilter;
pub use crate::store::mails::MailFilter;
pub use accounts::{
    Account, AccountChanges, AccountPage, AccountQuery, Member, MembershipPage, NewAccount,
    NewAccountOwner, UserAccount,
};
pub use activity::{ActivityEvent, ActivityPage, ActivityQuery, Change, record_at};
pub use auth::{
    LoginAttempt, LoginOutcome, PASSWORD_RESET_TTL, Registration, VERIFICATION_CODE_MAX_ATTEMPTS,
    VERIFICATION_CODE_TTL,
};
pub use authn::Authenticated;
pub use bootstrap::{BootstrapStaff, Bootstrapped, TokenSink};
pub use credentials::{
    ApiCredential, ApiCredentialState, CreatedApiCredential, CredentialPage, CredentialQuery,
    NewApiCredential,
};
pub use error::{AppError, Reason};
pub use invitations::{
    Accepted, Acceptor, CreatedInvitation, Invitation, InvitationPage, InvitationPreview,
    InvitationQuery, InvitationStatus, NewInvitation,
};
pub use mails::{Mail, MailPage, MailQuery, MailStatus};
pub use principal::{AccountGrant, Caller, Principal};
pub use roles::{NewRole, Role, RoleChanges, RolePage, RoleQuery};
pub use sessions::{
    AccountChoice, Denial, Question, ResolvedSession, Session, SessionPage, Verdict,
};
pub use staff::{NewStaffUser, StaffPage, StaffQuery, StaffUser};
pub use sweep::{Retention, SWEEP_GRACE, Swept};
pub use users::{NewUser, User, UserChanges, UserKey, UserPage, UserQuery};

use std::time::Duration;

use crate::crypto::{KeyPurpose, PasswordHasher, ServerKey};
use crate::domain::{Clock, PermissionSet, ThrottleRule, Timestamp, TrustedProxies};
use crate::store::DatabaseConnection;

/// The most authenticated tokens remembered at once.
const AUTH_CACHE_ENTRIES: usize = 100_000;

/// The use cases of identityd over one database.
#[derive(Debug, Clone)]
pub struct App {
    db: DatabaseConnection,
    reader: DatabaseConnection,
    hasher: PasswordHasher,
    server_key: ServerKey,
    policy: Policy,
    clock: Clock,
    auth_cache: auth_cache::AuthCache,
}

/// Rules set by configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The shortest password accepted, in characters.
    pub password_min_chars: usize,
    /// Whether account owners may manage their members themselves (staff always may).
    pub client_user_management: bool,
    /// The base URL links in mail point at.
    pub public_base_url: String,
    /// Sessions and brute-force throttling.
    pub auth: AuthPolicy,
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
pub struct AuthPolicy {
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
}

impl App {
    /// Use cases over `db`, which must be migrated, reading through
    /// `reader`, hashing passwords with `hasher`, keying stored digests
    /// with `server_key` and following `policy`.
    pub fn new(
        db: DatabaseConnection,
        reader: DatabaseConnection,
        hasher: PasswordHasher,
        server_key: ServerKey,
        policy: Policy,
    ) -> Self {
        let auth_cache = auth_cache::AuthCache::new(policy.auth.cache_ttl, AUTH_CACHE_ENTRIES);
        Self {
            db,
            reader,
            hasher,
            server_key,
            policy,
            clock: Clock::system(),
            auth_cache,
        }
    }

    /// The same use cases reading the time from `clock`.
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
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
    pub fn auth_policy(&self) -> &AuthPolicy {
        &self.policy.auth
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
        &self.policy.trusted_proxies
    }

    /// The shortest password accepted, in characters.
    pub fn password_min_chars(&self) -> usize {
        self.policy.password_min_chars
    }

    /// Whether account owners may manage their members themselves.
    pub fn client_user_management(&self) -> bool {
        self.policy.client_user_management
    }

    /// How long an invitation link works.
    pub fn invitation_ttl(&self) -> Duration {
        self.policy.invitation_ttl
    }

    /// How many invitation mails one inviter may have sent in an hour.
    pub fn invitation_mails_per_hour(&self) -> u32 {
        self.policy.invitation_mails_per_hour
    }

    /// A link to `path` (starting with `/`) under the public base URL.
    pub fn link(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.policy.public_base_url.trim_end_matches('/')
        )
    }
}

/// Refuses a caller that would hand on or change permissions it does not hold
/// itself: holding `roles.write` must not be a path to every other permission.
/// The error names what the caller lacks, so an operator can tell which
/// permission to ask for.
fn ensure_covers(principal: &Principal, permissions: &PermissionSet) -> Result<(), AppError> {
    let missing = permissions.not_covered_by(&principal.permissions);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(Reason::PrivilegeEscalation)
            .with_metadata("missing_permissions", missing.join(" ")))
    }
}
