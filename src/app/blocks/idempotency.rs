//! Safe retries of create calls.
//!
//! A create call with a request id first claims `(caller, operation, request id)`
//! in the same transaction as the create. A concurrent duplicate blocks on that
//! row and then fails its claim, and a later retry finds it: either way the
//! caller gets the resource the first call created. Reusing a request id for a
//! request with other content is refused.

use sha2::{Digest, Sha256};

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::error::{AppError, Reason};
use crate::crypto::KeyPurpose;
use crate::domain::{RequestId, Timestamp};
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
    /// The key for `operation` by `principal` with an optional request id; the
    /// content is any stable rendering of the request without its request id.
    pub fn new(
        principal: &Principal,
        operation: &'static str,
        request_id: Option<&RequestId>,
        content: &str,
    ) -> Option<Self> {
        request_id.map(|request_id| Self {
            caller: principal.idempotency_scope(),
            operation,
            request_id: request_id.as_str().to_owned(),
            fingerprint: hex::encode(Sha256::digest(content.as_bytes())),
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

    /// The resource an earlier call with this key created, if any.
    pub async fn replay(&self, conn: &impl ConnectionTrait) -> Result<Option<String>, AppError> {
        let row =
            store::idempotency::find(conn, &self.caller, self.operation, &self.request_id).await?;
        match row {
            None => Ok(None),
            Some(row) if row.fingerprint == self.fingerprint => Ok(Some(row.resource_id)),
            Some(_) => Err(AppError::AlreadyExists(Reason::RequestIdReused)),
        }
    }

    /// Claims the key for `resource_id`, inside the create's transaction.
    /// `now` (from the app's clock) dates the key, for the sweep.
    pub async fn claim(
        &self,
        conn: &impl ConnectionTrait,
        resource_id: &str,
        now: Timestamp,
    ) -> Result<Claim, AppError> {
        let row = IdempotencyRow {
            caller: self.caller.clone(),
            operation: self.operation.to_owned(),
            request_id: self.request_id.clone(),
            fingerprint: self.fingerprint.clone(),
            resource_id: resource_id.to_owned(),
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

/// How an idempotent create starts.
pub enum CreateStart {
    /// No earlier call made the resource: create it in this transaction,
    /// which already holds the key's claim.
    Create(DatabaseTransaction),
    /// An earlier or concurrent call with the same key made this resource.
    Replay(String),
}

/// Begins an idempotent create of `resource_id`: replays an earlier result,
/// or opens the create's transaction and claims `key` in it. A concurrent
/// call that claimed first wins; this one then replays its result. `now`
/// comes from the app's clock.
pub async fn begin_create(
    db: &DatabaseConnection,
    now: Timestamp,
    key: Option<&IdempotencyKey>,
    resource_id: &str,
) -> Result<CreateStart, AppError> {
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
