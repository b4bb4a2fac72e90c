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
mod database_state;
mod error;
mod export;
mod identities;
mod invitations;
mod mails;
mod mfa;
mod retention;
mod roles;
mod sessions;
mod settings;
mod staff;
mod sweep;
mod users;

pub use crate::domain::{AccountChanges, Session, User};
pub use crate::store::accounts::AccountFilter;
pub use crate::store::activity::ActivityFilter;
pub use crate::store::mails::MailFilter;
pub use crate::store::users::UserSortKey;
pub use accounts::{
    Account, AccountPage, AccountQuery, CONTACTS_MAX, Contact, ContactDetails, Correspondent,
    MembershipPage, NewAccount, NewAccountOwner, UserAccount,
};
pub use activity::{ActivityEvent, ActivityPage, ActivityQuery};
pub use auth::{
    EXTERNAL_SIGN_IN_TTL, ExternalLink, ExternalSignIn, ExternalSignInStart, LoginAttempt,
    LoginOutcome, MFA_CHALLENGE_MAX_ATTEMPTS, MFA_CHALLENGE_TTL, MfaChallenge, ProviderCallback,
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
pub use database_state::{CALL_MET_DATABASE_DOWN, DatabaseState, note_database_down};
pub use error::{AppError, Reason};
pub use export::EXPORT_ACTIVITY_MAX;
pub use identities::ExternalIdentity;
pub use invitations::{
    Accepted, Acceptor, CreatedInvitation, Invitation, InvitationPage, InvitationPreview,
    InvitationQuery, InvitationStatus, NewInvitation,
};
pub use mails::{Mail, MailPage, MailQuery, MailStatus};
pub use mfa::{MfaStatus, TOTP_ENROLLMENT_TTL, TotpEnrollment};
pub use retention::{RetentionItem, RetentionReason, RetentionRun, RetentionStatus};
pub use roles::{NewRole, Role, RoleChanges, RolePage, RoleQuery};
pub use sessions::{AccountChoice, Denial, Question, SessionPage, Verdict};
pub use settings::{
    MailTemplateView, NewMailTemplate, SettingInfo, SettingOrigin, SettingsUpdate, SettingsView,
    TemplatePreview, TestMail, TestMailOutcome,
};
pub use staff::{NewStaffUser, StaffPage, StaffQuery, StaffUser};
pub use sweep::{Retention, SWEEP_GRACE, Swept};
pub use users::{NewUser, UserChanges, UserKey, UserOrder, UserPage, UserQuery};

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::{KeyPurpose, PasswordHasher, ServerKey};
use crate::domain::{Clock, MfaRequirement, ThrottleRule, Timestamp, TrustedProxies};
use crate::oidc::OidcClient;
use crate::runtime::{LiveSettings, RuntimeSettings, Snapshot};
use crate::store::{self, DatabaseConnection, DatabaseTransaction, StoreError};

/// The use cases of identityd over one database.
#[derive(Debug, Clone)]
pub struct App {
    db: DatabaseConnection,
    reader: DatabaseConnection,
    hasher: PasswordHasher,
    server_key: ServerKey,
    rules: Rules,
    settings: LiveSettings,
    clock: Clock,
    authn: Authenticator,
    oidc: OidcClient,
    database: DatabaseState,
}

/// Rules fixed at start by the settings file. The rules an operator may
/// change while identityd runs come from [`LiveSettings`] at each call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// How long an authenticated token is remembered in this process
    /// (changes through another replica take up to this long); zero: never.
    pub cache_ttl: Duration,
    /// How long the sweep keeps finished records.
    pub retention: Retention,
    /// The peers whose word on the client's address is taken.
    pub trusted_proxies: TrustedProxies,
}

/// How long sessions live and how failures are throttled, as the
/// settings say at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Whom two-factor authentication is required of.
    pub mfa_required: MfaRequirement,
    /// How long a new SSO token works.
    pub sso_token_ttl: Duration,
    /// Whether redeeming an SSO token skips the user's second factor
    /// (WHMCS's behaviour); off, a two-factor user gets a challenge.
    pub sso_bypasses_mfa: bool,
}

impl AuthRules {
    /// The rules `settings` give.
    pub fn from_settings(settings: &RuntimeSettings) -> Self {
        let throttle = |free_failures| ThrottleRule {
            free_failures,
            base_delay: Duration::from_millis(settings.throttle_base_delay_ms),
            max_delay: Duration::from_secs(settings.throttle_max_delay_secs),
        };
        Self {
            session_idle_timeout: Duration::from_secs(settings.session_idle_timeout_secs),
            session_absolute_timeout: Duration::from_secs(settings.session_absolute_timeout_secs),
            per_user: throttle(settings.user_free_failures),
            per_user_total: throttle(settings.user_total_free_failures),
            per_address: throttle(settings.address_free_failures),
            forget_failures_after: Duration::from_secs(settings.throttle_forget_after_secs),
            mfa_required: settings.mfa_required,
            sso_token_ttl: Duration::from_secs(settings.sso_token_ttl_secs),
            sso_bypasses_mfa: settings.sso_bypasses_mfa,
        }
    }
}

/// What [`App::new`] is built from, besides the databases.
#[derive(Debug, Clone)]
pub struct AppParts {
    /// The password hasher.
    pub hasher: PasswordHasher,
    /// The server secret's keys.
    pub server_key: ServerKey,
    /// The rules fixed at start.
    pub rules: Rules,
    /// The rules that may change while identityd runs.
    pub settings: LiveSettings,
    /// The OpenID Connect relying party for external sign-in.
    pub oidc: OidcClient,
}

impl App {
    /// Use cases over `db`, which must be migrated, reading through
    /// `reader`, with `parts`.
    pub fn new(db: DatabaseConnection, reader: DatabaseConnection, parts: AppParts) -> Self {
        let AppParts {
            hasher,
            server_key,
            rules,
            settings,
            oidc,
        } = parts;
        let clock = Clock::system();
        let authn = Authenticator::new(
            db.clone(),
            reader.clone(),
            clock.clone(),
            settings.clone(),
            rules.cache_ttl,
        );
        Self {
            db,
            reader,
            hasher,
            server_key,
            rules,
            settings,
            clock,
            authn,
            oidc,
            database: DatabaseState::default(),
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

    /// Session lifetimes and throttling rules, as the settings say now.
    pub fn auth_rules(&self) -> AuthRules {
        AuthRules::from_settings(&self.settings.current().values)
    }

    /// The settings as they are now, and the mail templates and transport.
    pub fn settings(&self) -> Arc<Snapshot> {
        self.settings.current()
    }

    /// The live settings, for the jobs that reload them.
    pub fn live_settings(&self) -> &LiveSettings {
        &self.settings
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

    /// Password hashes queued or running, and the most there may be.
    pub fn hashing_load(&self) -> (usize, usize) {
        self.hasher.load()
    }

    /// How many mails wait to be sent, and how long the oldest has waited.
    pub async fn mail_backlog(&self) -> Result<(usize, Option<Duration>), StoreError> {
        let (count, oldest) = store::mails::backlog(self.reader()).await?;
        let now = self.now();
        let age = oldest.map(|queued| now.since(Timestamp::from_micros(queued)));
        Ok((usize::try_from(count).unwrap_or(usize::MAX), age))
    }

    /// Connections in use and idle, per pool (`writer`, `reader`).
    pub fn pool_load(&self) -> Vec<(&'static str, usize, usize)> {
        [("writer", &self.db), ("reader", &self.reader)]
            .into_iter()
            .map(|(name, db)| {
                let (size, idle) = match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        let pool = db.get_postgres_connection_pool();
                        (pool.size() as usize, pool.num_idle())
                    }
                    sea_orm::DbBackend::Sqlite => {
                        let pool = db.get_sqlite_connection_pool();
                        (pool.size() as usize, pool.num_idle())
                    }
                    _ => (0, 0),
                };
                (name, size.saturating_sub(idle), idle)
            })
            .collect()
    }

    /// The OpenID Connect relying party, for external sign-in.
    pub(crate) fn oidc(&self) -> &OidcClient {
        &self.oidc
    }

    /// The server secret's keys: for sealing and opening secrets at rest.
    pub(crate) fn server_key(&self) -> &ServerKey {
        &self.server_key
    }

    /// The product's name, for authenticator apps.
    pub(crate) fn product_name(&self) -> String {
        self.settings.current().values.product_name.clone()
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

    /// Whether this replica believes its database is down.
    pub fn database_state(&self) -> &DatabaseState {
        &self.database
    }

    /// The peers whose word on the client's address is taken.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.rules.trusted_proxies
    }

    /// The shortest password accepted, in characters.
    pub fn password_min_chars(&self) -> usize {
        self.settings.current().values.password_min_length
    }

    /// Whether account owners may manage their members themselves.
    pub fn client_user_management(&self) -> bool {
        self.settings.current().values.client_user_management
    }

    /// How long an invitation link works.
    pub fn invitation_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.current().values.invitation_ttl_secs)
    }

    /// How many invitation mails one inviter may have sent in an hour.
    pub fn invitation_mails_per_hour(&self) -> u32 {
        self.settings.current().values.invitation_mails_per_hour
    }

    /// A link to `path` (starting with `/`) under the public base URL.
    pub fn link(&self, path: &str) -> String {
        let settings = self.settings.current();
        format!(
            "{}{path}",
            settings.values.public_base_url.trim_end_matches('/')
        )
    }
}
