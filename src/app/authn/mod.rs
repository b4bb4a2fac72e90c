//! Authentication, at the bottom of `app/`: turning a bearer token into the
//! caller and what it may do, and the [`Principal`] every use case takes.
//!
//! It depends on the store, the domain and crypto only (and on `app::error`
//! for its errors), never on a use case, so the security-critical path can be
//! read on its own. A test keeps it that way (`tests/api/module_graph.rs`).

mod cache;
mod credential;
mod principal;
mod session;

use std::time::Duration;

pub use credential::{ApiCredentialState, credential_state};
pub use principal::{AccountGrant, Caller, Principal};
pub use session::ResolvedSession;

use cache::{AuthCache, Expiring};

use crate::app::error::{AppError, Reason};
use crate::crypto::{API_TOKEN_PREFIX, TokenKind};
use crate::domain::{Clock, MfaRequirement, PermissionSet, Timestamp};
use crate::runtime::LiveSettings;
use crate::store::DatabaseConnection;

/// The most authenticated tokens remembered at once.
const AUTH_CACHE_ENTRIES: u64 = 100_000;

/// An authenticated caller and what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub caller: Caller,
    /// Its staff/API permissions.
    pub permissions: PermissionSet,
    /// For a user session: what it may do in the account it acts for.
    pub account: Option<AccountGrant>,
    /// For a user session: whether it may only enrol a second factor,
    /// which the policy requires of its user.
    pub mfa_enrollment_required: bool,
}

/// What a cached token authenticated as.
#[derive(Debug, Clone)]
enum Cached {
    /// An API credential, valid until its expiry if it has one.
    Credential(Authenticated, Option<Timestamp>),
    /// A live user session (boxed: it is several times a credential's size).
    Session(Box<ResolvedSession>),
}

impl Expiring for Cached {
    fn holds_at(&self, now: Timestamp) -> bool {
        match self {
            Cached::Credential(_, expires_at) => expires_at.is_none_or(|at| at > now),
            Cached::Session(resolved) => resolved.session.expires_at > now,
        }
    }
}

/// Authenticates bearer tokens against the database, remembering answers
/// for a short while. Clones share the cache.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// Writes the coarse "last used" times.
    db: DatabaseConnection,
    /// Reads tokens.
    reader: DatabaseConnection,
    clock: Clock,
    cache: AuthCache<Cached>,
    /// Session lifetimes and the two-factor requirement, as they are now.
    settings: LiveSettings,
}

impl Authenticator {
    /// Authenticates through `reader`, writing last-use times through `db`,
    /// ending sessions and holding back sessions that still need a second
    /// factor as `settings` say at each call; answers are remembered for
    /// `cache_ttl` (zero: never).
    pub fn new(
        db: DatabaseConnection,
        reader: DatabaseConnection,
        clock: Clock,
        settings: LiveSettings,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            db,
            reader,
            clock,
            cache: AuthCache::new(cache_ttl, AUTH_CACHE_ENTRIES),
            settings,
        }
    }

    /// How long a session may go unused, as the settings say now.
    fn session_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.current().values.session_idle_timeout_secs)
    }

    /// Whom a second factor is required of, as the settings say now.
    fn mfa_required(&self) -> MfaRequirement {
        self.settings.current().values.mfa_required
    }

    /// The same authenticator reading the time from `clock`.
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// Forgets every remembered answer: called after each commit that may
    /// change what a token authenticates as (a revocation, a suspension, a
    /// role or membership change), so this replica sees it on its next call.
    pub fn forget_all(&self) {
        self.cache.invalidate();
    }

    /// Authenticates a bearer token: a user session's or an API credential's,
    /// told apart by their prefixes.
    pub async fn authenticate(&self, bearer: &str) -> Result<Authenticated, AppError> {
        if bearer.starts_with(TokenKind::Session.prefix()) {
            self.authenticate_session(bearer).await
        } else if bearer.starts_with(API_TOKEN_PREFIX) {
            self.authenticate_credential(bearer).await
        } else {
            Err(AppError::Unauthenticated(Reason::TokenMalformed))
        }
    }
}
