//! Safe retries of create calls.
//!
//! A create call with a request id first claims `(caller, operation, request id)`
//! in the same transaction as the create. A concurrent duplicate blocks on that
//! row and then fails its claim, and a later retry finds it: either way the
//! caller gets the resource the first call created. Reusing a request id for a
//! request with other content is refused.

use std::fmt::Display;
use std::str::FromStr;

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::error::{AppError, Reason};
use crate::crypto::KeyPurpose;
use crate::domain::{Fingerprint, RequestId, Timestamp};
use crate::store::{
    self, ConnectionTrait, DatabaseConnection, DatabaseTransaction, StoreError,
    idempotency::IdempotencyRow,
};

/// The idempotency key of one create call.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    caller: String,
    operation: &'static str,
    request_id: String,
    fingerprint: String,
}

/// The outcome of claiming a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call owns the key and goes on to create the resource.
    Won,
    /// A concurrent call with the same key got there first. Its transaction
    /// is the one that counts: drop this one and [`IdempotencyKey::replay`].
    Lost,
}

impl IdempotencyKey {
    /// The key for `operation` by `principal` with an optional request id;
    /// `content` is the request's explicit encoding, without its request id
    /// and secrets, so it stays the same across deploys.
    pub fn new(
        principal: &Principal,
        operation: &'static str,
        request_id: Option<&RequestId>,
        content: &Fingerprint,
    ) -> Option<Self> {
        request_id.map(|request_id| Self {
            caller: principal.idempotency_scope(),
            operation,
            request_id: request_id.as_str().to_owned(),
            fingerprint: content.hex_digest(),
        })
    }

    /// The same key, with a secret field of the request (a password) in its
    /// fingerprint: a retry with another secret is then refused as a reused
    /// request id instead of silently keeping the first. The secret enters
    /// only through an HMAC under the server key, so the stored fingerprint
    /// cannot be tested against guesses without that key.
    pub fn with_secret(self, app: &App, secret: Option<&str>) -> Self {
        let secret = secret.map_or_else(|| "none".to_owned(), |s| format!("some:{s}"));
        let fingerprint = app.keyed_digest(
            KeyPurpose::RequestFingerprint,
            &format!("{}\n{secret}", self.fingerprint),
        );
        Self {
            fingerprint,
            ..self
        }
    }

    /// The id of the resource an earlier call with this key created, if
    /// any. The stored id is text whatever it names; one that does not read
    /// back as `I` is corrupt.
    pub async fn replay<I: FromStr>(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<Option<I>, AppError> {
        let row =
            store::idempotency::find(conn, &self.caller, self.operation, &self.request_id).await?;
        match row {
            None => Ok(None),
            Some(row) if row.fingerprint == self.fingerprint => {
                row.resource_id.parse().map(Some).map_err(|_| {
                    AppError::corrupt(format!(
                        "resource id {:?} recorded for {} request {}",
                        row.resource_id, self.operation, self.request_id
                    ))
                })
            }
            Some(_) => Err(AppError::AlreadyExists(Reason::RequestIdReused)),
        }
    }

    /// Claims the key for `resource_id`, inside the create's transaction.
    /// `now` (from the app's clock) dates the key, for the sweep.
    pub async fn claim(
        &self,
        conn: &impl ConnectionTrait,
        resource_id: impl Display,
        now: Timestamp,
    ) -> Result<Claim, AppError> {
        let row = IdempotencyRow {
            caller: self.caller.clone(),
            operation: self.operation.to_owned(),
            request_id: self.request_id.clone(),
            fingerprint: self.fingerprint.clone(),
            resource_id: resource_id.to_string(),
            created_at: now.as_micros(),
        };
        match store::idempotency::insert(conn, row).await {
            Ok(()) => Ok(Claim::Won),
            Err(err) if err.is_unique_violation_on("idempotency_keys") => Ok(Claim::Lost),
            Err(err) => Err(err.into()),
        }
    }
}

/// Maps a unique violation to `reason`, passing other store errors through.
pub fn conflict_as(err: StoreError, column: &str, reason: Reason) -> AppError {
    if err.is_unique_violation_on(column) {
        AppError::AlreadyExists(reason)
    } else {
        err.into()
    }
}

/// How an idempotent create of a resource with an id of type `I` starts.
pub enum CreateStart<I> {
    /// No earlier call made the resource: create it in this transaction,
    /// which already holds the key's claim.
    Create(DatabaseTransaction),
    /// An earlier or concurrent call with the same key made this resource.
    Replay(I),
}

/// Begins an idempotent create of `resource_id`: replays an earlier result,
/// or opens the create's transaction and claims `key` in it. A concurrent
/// call that claimed first wins; this one then replays its result. `now`
/// comes from the app's clock.
pub async fn begin_create<I: Display + FromStr>(
    db: &DatabaseConnection,
    now: Timestamp,
    key: Option<&IdempotencyKey>,
    resource_id: I,
) -> Result<CreateStart<I>, AppError> {
    let Some(key) = key else {
        return Ok(CreateStart::Create(store::begin(db).await?));
    };
    if let Some(existing) = key.replay(db).await? {
        return Ok(CreateStart::Replay(existing));
    }
    let txn = store::begin(db).await?;
    if key.claim(&txn, resource_id, now).await? == Claim::Won {
        return Ok(CreateStart::Create(txn));
    }
    // The transaction is dead after the failed claim (PostgreSQL) and holds
    // the only connection (SQLite): drop it before reading the winner's row.
    drop(txn);
    match key.replay(db).await? {
        Some(existing) => Ok(CreateStart::Replay(existing)),
        None => Err(AppError::corrupt(
            "lost an idempotency claim to a row that is gone",
        )),
    }
}
