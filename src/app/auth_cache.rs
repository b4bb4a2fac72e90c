//! A short-lived, in-process cache of authenticated bearer tokens.
//!
//! Every authenticated call would otherwise read the database once for the
//! caller's token, and IntrospectSession once more for the token it is asked
//! about. Entries live at most `ttl` on the app's clock, and any commit in
//! this process drops them all (see [`store::write_generation`]): a
//! revocation, suspension, role or membership change made through this
//! replica takes effect on its next call. A change made through another
//! replica takes effect here within `ttl`. A `ttl` of zero turns the cache off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::authn::Authenticated;
use super::sessions::ResolvedSession;
use crate::domain::Timestamp;
use crate::store;

/// What a cached token authenticated as.
#[derive(Debug, Clone)]
pub(super) enum Cached {
    /// An API credential, valid until its expiry if it has one.
    Credential(Authenticated, Option<Timestamp>),
    /// A live user session (boxed: it is several times a credential's size).
    Session(Box<ResolvedSession>),
}

impl Cached {
    /// Whether the cached result still holds at `now` by its own expiry.
    fn holds_at(&self, now: Timestamp) -> bool {
        match self {
            Cached::Credential(_, expires_at) => expires_at.is_none_or(|at| at > now),
            Cached::Session(resolved) => resolved.session.expires_at > now,
        }
    }
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    cached_at: Timestamp,
    value: Cached,
}

/// The cache; clones share it.
#[derive(Debug, Clone)]
pub(super) struct AuthCache {
    ttl: Duration,
    max_entries: usize,
    entries: Arc<Mutex<HashMap<[u8; 32], Entry>>>,
}

/// The key of a token: its SHA-256, so the map holds no usable secrets.
pub(super) fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AuthCache {
    /// A cache keeping entries for `ttl`, at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Arc::default(),
        }
    }

    /// What `key` authenticated as, if cached, fresh and unchanged since.
    pub fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<Cached> {
        if self.ttl.is_zero() {
            return None;
        }
        let generation = store::write_generation();
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        let fresh = entry.generation == generation
            && now >= entry.cached_at
            && now.since(entry.cached_at) < self.ttl
            && entry.value.holds_at(now);
        fresh.then(|| entry.value.clone())
    }

    /// Remembers what `key` authenticated as, read from the database after
    /// `generation` was taken (so a commit during the read voids it).
    pub fn put(&self, key: [u8; 32], generation: u64, now: Timestamp, value: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.max_entries {
            // Simple and bounded: start over rather than track recency.
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation,
                cached_at: now,
                value,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Caller;
    use crate::domain::PermissionSet;

    fn credential(expires_at: Option<Timestamp>) -> Cached {
        let authenticated = Authenticated {
            caller: Caller::System,
            permissions: PermissionSet::none(),
            account: None,
        };
        Cached::Credential(authenticated, expires_at)
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + seconds, 0).expect("in range")
    }

    #[test]
    fn entries_live_for_the_ttl_only() {
        let cache = AuthCache::new(Duration::from_secs(1), 10);
        let key = key_of("ida_token");
        cache.put(key, store::write_generation(), at(0), credential(None));
        assert!(cache.get(&key, at(0)).is_some());
        assert!(cache.get(&key, at(1)).is_none());
        assert!(cache.get(&key, at(-1)).is_none(), "a clock moved back");
        assert!(cache.get(&key_of("ida_other"), at(0)).is_none());
    }

    #[test]
    fn an_entry_read_before_a_commit_is_void() {
        let cache = AuthCache::new(Duration::from_secs(60), 10);
        let key = key_of("ids_token");
        cache.put(
            key,
            store::write_generation().wrapping_sub(1),
            at(0),
            credential(None),
        );
        assert!(cache.get(&key, at(0)).is_none());
    }

    #[test]
    fn a_credential_past_its_expiry_is_not_served() {
        let cache = AuthCache::new(Duration::from_secs(60), 10);
        let key = key_of("ida_token");
        cache.put(
            key,
            store::write_generation(),
            at(0),
            credential(Some(at(5))),
        );
        assert!(cache.get(&key, at(4)).is_some());
        assert!(cache.get(&key, at(5)).is_none());
    }

    #[test]
    fn a_zero_ttl_turns_the_cache_off_and_a_full_cache_starts_over() {
        let off = AuthCache::new(Duration::ZERO, 10);
        off.put(
            key_of("a"),
            store::write_generation(),
            at(0),
            credential(None),
        );
        assert!(off.get(&key_of("a"), at(0)).is_none());
        let small = AuthCache::new(Duration::from_secs(60), 2);
        for name in ["a", "b", "c"] {
            small.put(
                key_of(name),
                store::write_generation(),
                at(0),
                credential(None),
            );
        }
        assert!(small.get(&key_of("a"), at(0)).is_none());
        assert!(small.get(&key_of("c"), at(0)).is_some());
    }
}
