//! Brute-force throttling of sign-ins, code guesses and mail requests,
//! counted in the database so every replica sees the same counts.

use std::net::IpAddr;

use super::{App, AppError, Principal};
use crate::crypto::hash_secret;
use crate::domain::{ThrottleRule, Timestamp};
use crate::store::{self, ConnectionTrait};

/// One thing failures are counted against, with the rule that throttles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subject {
    /// The stored key: `<what>:<kind>:<value>`.
    pub key: String,
    /// How it is throttled.
    pub rule: ThrottleRule,
}

/// A subject whose latest failure started a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delayed {
    /// The subject's key.
    pub key: String,
    /// How many failures in a row it has.
    pub failures: u32,
    /// How long it must wait.
    pub delay: std::time::Duration,
    /// Whether the delay is the longest one: a temporary lock.
    pub locked: bool,
}

impl App {
    /// Failures of `what` against one user (or, for identifiers nobody has,
    /// against the identifier, so unknown and known ones behave alike).
    fn user_subject(&self, what: &str, kind: &str, value: &str) -> Subject {
        Subject {
            key: format!("{what}:{kind}:{value}"),
            rule: self.auth_policy().per_user,
        }
    }

    /// Failures of `what` against an email address or identifier a caller
    /// typed. Keys hold a hash, so the table does not collect addresses.
    pub(super) fn typed_subject(&self, what: &str, typed: &str) -> Subject {
        let digest = hash_secret(&typed.trim().to_lowercase());
        self.user_subject(what, "typed", &digest[..32])
    }

    /// Failed sign-ins (and current-password checks) of one known user.
    pub(super) fn login_subject(&self, user_id: &str) -> Subject {
        self.user_subject("login", "user", user_id)
    }

    /// The subjects of `what` for an address or identifier a caller typed:
    /// the typed text (so unknown ones behave like known ones) and the
    /// caller's client address.
    pub(super) fn typed_subjects(
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
    pub(super) fn address_subject(&self, what: &str, address: Option<IpAddr>) -> Option<Subject> {
        address.map(|ip| Subject {
            key: format!("{what}:ip:{ip}"),
            rule: self.auth_policy().per_address,
        })
    }

    /// Refuses the attempt while any of `subjects` must still wait.
    pub(super) async fn ensure_not_throttled(&self, subjects: &[Subject]) -> Result<(), AppError> {
        self.check_throttles(subjects).await.map(|_| ())
    }

    /// Like [`App::ensure_not_throttled`], and returns the keys of the
    /// subjects that have failures counted (the ones worth forgiving).
    pub(super) async fn check_throttles(
        &self,
        subjects: &[Subject],
    ) -> Result<Vec<String>, AppError> {
        let keys: Vec<String> = subjects.iter().map(|s| s.key.clone()).collect();
        let rows = store::throttles::find_many(self.reader(), &keys).await?;
        let now = self.now();
        let forget_before = now.minus(self.auth_policy().forget_failures_after);
        let wait = rows
            .iter()
            .filter(|row| row.last_failure_at >= forget_before.as_micros())
            .map(|row| Timestamp::from_micros(row.blocked_until).since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(rows.into_iter().map(|row| row.subject).collect())
        } else {
            Err(AppError::Throttled(wait))
        }
    }

    /// Counts one failure against each of `subjects` on `conn` (the
    /// transaction that records the failure) and returns those now delayed.
    pub(super) async fn count_failures(
        &self,
        conn: &impl ConnectionTrait,
        subjects: &[Subject],
    ) -> Result<Vec<Delayed>, AppError> {
        let now = self.now();
        let forget_before = now.minus(self.auth_policy().forget_failures_after);
        let mut delayed = Vec::new();
        for subject in subjects {
            let failures = store::throttles::record_failure(
                conn,
                &subject.key,
                now.as_micros(),
                forget_before.as_micros(),
            )
            .await?;
            let failures = u32::try_from(failures).unwrap_or(u32::MAX);
            let delay = subject.rule.delay_after(failures);
            if !delay.is_zero() {
                store::throttles::block_until(conn, &subject.key, now.plus(delay).as_micros())
                    .await?;
                delayed.push(Delayed {
                    key: subject.key.clone(),
                    failures,
                    delay,
                    locked: subject.rule.locks_after(failures),
                });
            }
        }
        Ok(delayed)
    }

    /// Forgets the failures counted against `subject` (after a success).
    pub(super) async fn forgive(
        &self,
        conn: &impl ConnectionTrait,
        subject: &Subject,
    ) -> Result<(), AppError> {
        store::throttles::clear(conn, &subject.key).await?;
        Ok(())
    }
}
