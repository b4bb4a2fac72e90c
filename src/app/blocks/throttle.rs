//! Brute-force throttling of sign-ins, code guesses and mail requests,
//! counted in the database so every replica sees the same counts.
//!
//! Attempts that must not race (a sign-in, a code guess) reserve their
//! attempt on every subject with one atomic statement before any work, so
//! concurrent guesses cannot all slip past a check made before the first of
//! them is counted; a success gives the reservation back.

use std::net::IpAddr;

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::error::AppError;
use crate::crypto::KeyPurpose;
use crate::domain::{ThrottleRule, Timestamp, UserId};
use crate::store::{self, ConnectionTrait};

/// One thing failures are counted against, with the rule that throttles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    /// The stored key: `<what>:<kind>:<value>`.
    pub key: String,
    /// How it is throttled.
    pub rule: ThrottleRule,
}

/// A subject whose latest failure started a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delayed {
    /// The subject's key.
    pub key: String,
    /// How many failures in a row it has.
    pub failures: u32,
    /// How long it must wait.
    pub delay: std::time::Duration,
    /// Whether the delay is the longest one: a temporary lock.
    pub locked: bool,
}

/// Whose sign-ins a throttling subject counts: a known user, or the
/// identifier typed when nobody has it (so both behave alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginTarget {
    /// A known user, by id.
    User(UserId),
    /// An identifier nobody has, by its keyed hash.
    Typed(String),
}

impl LoginTarget {
    fn key(&self) -> String {
        match self {
            LoginTarget::User(id) => format!("user:{id}"),
            LoginTarget::Typed(digest) => format!("typed:{digest}"),
        }
    }
}

impl App {
    /// Failures of `what` against one user (or, for identifiers nobody has,
    /// against the identifier, so unknown and known ones behave alike).
    fn user_subject(&self, what: &str, kind: &str, value: &str) -> Subject {
        Subject {
            key: format!("{what}:{kind}:{value}"),
            rule: self.auth_rules().per_user,
        }
    }

    /// Failures of `what` against an email address or identifier a caller
    /// typed. Keys hold a keyed hash (HMAC with the server key), so the
    /// table neither collects addresses nor lets a dictionary reverse them.
    pub(crate) fn typed_subject(&self, what: &str, typed: &str) -> Subject {
        self.user_subject(what, "typed", &self.typed_digest(typed))
    }

    /// The keyed hash of a typed address or identifier that throttling
    /// keys hold.
    pub(crate) fn typed_digest(&self, typed: &str) -> String {
        let digest = self.keyed_digest(KeyPurpose::ThrottleSubject, &typed.trim().to_lowercase());
        digest[..32].to_owned()
    }

    /// Failed sign-ins of one user (`user:<id>`) or typed identifier nobody
    /// has (`typed:<digest>`) from all addresses together: the loose limit.
    pub(crate) fn login_total_subject(&self, target: &LoginTarget) -> Subject {
        Subject {
            key: format!("login:{}", target.key()),
            rule: self.auth_rules().per_user_total,
        }
    }

    /// Failed sign-ins of one user or typed identifier from one client
    /// address: the strict limit, which only the failing address feels.
    pub(crate) fn login_pair_subject(
        &self,
        target: &LoginTarget,
        address: Option<IpAddr>,
    ) -> Subject {
        let address = address.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        Subject {
            key: format!("{}{address}", self.login_pair_prefix(target)),
            rule: self.auth_rules().per_user,
        }
    }

    /// The key prefix shared by every client address's strict subject of
    /// `target`, so a password reset can forgive them all.
    pub(crate) fn login_pair_prefix(&self, target: &LoginTarget) -> String {
        format!("login:pair:{}:", target.key())
    }

    /// Wrong current passwords given to ChangePassword by one user.
    pub(crate) fn password_check_subject(&self, user_id: UserId) -> Subject {
        self.user_subject("password_check", "user", &user_id.to_string())
    }

    /// The subjects of `what` for an address or identifier a caller typed:
    /// the typed text (so unknown ones behave like known ones) and the
    /// caller's client address.
    pub(crate) fn typed_subjects(
        &self,
        what: &str,
        principal: &Principal,
        typed: &str,
    ) -> Vec<Subject> {
        let mut subjects = vec![self.typed_subject(what, typed)];
        subjects.extend(self.address_subject(what, principal.client_ip));
        subjects
    }

    /// Failures of `what` from one client address, if it is known.
    pub(crate) fn address_subject(&self, what: &str, address: Option<IpAddr>) -> Option<Subject> {
        address.map(|ip| Subject {
            key: format!("{what}:ip:{ip}"),
            rule: self.auth_rules().per_address,
        })
    }

    /// Refuses the attempt while any of `subjects` must still wait.
    pub(crate) async fn ensure_not_throttled(&self, subjects: &[Subject]) -> Result<(), AppError> {
        let keys: Vec<String> = subjects.iter().map(|s| s.key.clone()).collect();
        let rows = store::throttles::find_many(self.reader(), &keys).await?;
        let now = self.now();
        let forget_before = now.minus(self.auth_rules().forget_failures_after);
        let wait = rows
            .iter()
            .filter(|row| row.last_failure_at >= forget_before.as_micros())
            .map(|row| Timestamp::from_micros(row.blocked_until).since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AppError::Throttled(wait))
        }
    }

    /// Counts one failure against each of `subjects` on `conn` (the
    /// transaction that records the failure) and returns those now delayed.
    pub(crate) async fn count_failures(
        &self,
        conn: &impl ConnectionTrait,
        subjects: &[Subject],
    ) -> Result<Vec<Delayed>, AppError> {
        let now = self.now();
        let forget_before = now.minus(self.auth_rules().forget_failures_after);
        let mut delayed = Vec::new();
        for subject in subjects {
            let failures = store::throttles::record_failure(
                conn,
                &subject.key,
                now.as_micros(),
                forget_before.as_micros(),
            )
            .await?;
            delayed.extend(block_if_due(conn, subject, failures, now).await?);
        }
        Ok(delayed)
    }

    /// Reserves one attempt against each of `subjects`, with one statement
    /// in a short transaction that commits before the attempt does any
    /// work. Refuses (reserving nothing) while any of them must wait;
    /// returns the subjects this attempt's reservation delayed, for the
    /// activity log if it fails. A success gives the reservation back with
    /// [`App::settle_success`].
    pub(crate) async fn reserve_attempt(
        &self,
        subjects: &[Subject],
    ) -> Result<Vec<Delayed>, AppError> {
        let mut keys: Vec<String> = Vec::with_capacity(subjects.len());
        for subject in subjects {
            if !keys.contains(&subject.key) {
                keys.push(subject.key.clone());
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let forget_before = now.minus(self.auth_rules().forget_failures_after);
        // The blocks a reservation makes due are set before it commits, so
        // concurrent attempts, which queue on the rows, see them.
        let txn = store::begin(self.db()).await?;
        let reserved =
            store::throttles::reserve_all(&txn, &keys, now.as_micros(), forget_before.as_micros())
                .await?;
        if reserved.len() < keys.len() {
            // Blocked: nothing is kept, and the wait is the longest block.
            let rows = store::throttles::find_many(&txn, &keys).await?;
            drop(txn);
            let wait = rows
                .iter()
                .filter(|row| row.last_failure_at >= forget_before.as_micros())
                .map(|row| Timestamp::from_micros(row.blocked_until).since(now))
                .max()
                .unwrap_or_default()
                .max(std::time::Duration::from_millis(1));
            return Err(AppError::Throttled(wait));
        }
        let mut delayed = Vec::new();
        for (key, failures) in reserved {
            if let Some(subject) = subjects.iter().find(|subject| subject.key == key) {
                delayed.extend(block_if_due(&txn, subject, failures, now).await?);
            }
        }
        // Counters are bookkeeping no authentication reads.
        store::commit(txn).await?;
        Ok(delayed)
    }

    /// After a success: forgets every failure of `forgiven` (the success
    /// proved who the caller is) and gives back the one attempt reserved on
    /// each of `released` (a shared address keeps the failures of others).
    pub(crate) async fn settle_success(
        &self,
        conn: &impl ConnectionTrait,
        forgiven: &[Subject],
        released: &[Subject],
    ) -> Result<(), AppError> {
        let keys: Vec<String> = forgiven.iter().map(|s| s.key.clone()).collect();
        store::throttles::clear(conn, &keys).await?;
        for subject in released {
            store::throttles::release(conn, &subject.key, subject.rule.free_failures).await?;
        }
        Ok(())
    }

    /// Forgets the failures counted against `subject` (after a success).
    pub(crate) async fn forgive(
        &self,
        conn: &impl ConnectionTrait,
        subject: &Subject,
    ) -> Result<(), AppError> {
        store::throttles::clear(conn, std::slice::from_ref(&subject.key)).await?;
        Ok(())
    }
}

/// Blocks `subject` for the delay its rule sets after `failures` failures,
/// if any, and says so for the activity log.
async fn block_if_due(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    failures: i32,
    now: Timestamp,
) -> Result<Option<Delayed>, AppError> {
    let failures = u32::try_from(failures).unwrap_or(u32::MAX);
    let delay = subject.rule.delay_after(failures);
    if delay.is_zero() {
        return Ok(None);
    }
    store::throttles::block_until(conn, &subject.key, now.plus(delay).as_micros()).await?;
    Ok(Some(Delayed {
        key: subject.key.clone(),
        failures,
        delay,
        locked: subject.rule.locks_after(failures),
    }))
}
