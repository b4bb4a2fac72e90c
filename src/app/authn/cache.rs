//! A short-lived, in-process cache of authenticated bearer tokens.
//!
//! Every authenticated call would otherwise read the database once for the
//! caller's token, and IntrospectSession once more for the token it is asked
//! about. Entries live at most `ttl` on the app's clock, and every commit
//! that may change an answer empties the cache ([`AuthCache::invalidate`]):
//! a revocation, suspension, role or membership change made through this
//! replica takes effect on its next call. A change made through another
//! replica takes effect here within `ttl`. A `ttl` of zero turns it off.
//!
//! The entries are kept by `moka` (bounded, least-useful entries evicted
//! first, expiring after `ttl` of real time). On top of that each entry
//! carries the cache's generation when its database read began and the app
//! clock's time: a read that raced a commit is never served, and tests that
//! move the app's clock see entries expire with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::Timestamp;

/// A cached answer that may stop holding before the cache would drop it.
pub(super) trait Expiring {
    /// Whether the answer still holds at `now` by its own expiry.
    fn holds_at(&self, now: Timestamp) -> bool;
}

#[derive(Debug, Clone)]
struct Entry<V> {
    generation: u64,
    cached_at: Timestamp,
    value: V,
}

/// The cache; clones share it.
#[derive(Clone)]
pub(super) struct AuthCache<V> {
    ttl: Duration,
    entries: moka::sync::Cache<[u8; 32], Arc<Entry<V>>>,
    generation: Arc<AtomicU64>,
}

impl<V> std::fmt::Debug for AuthCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

/// The key of a token: its SHA-256, so the map holds no usable secrets.
pub(super) fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl<V: Expiring + Clone + Send + Sync + 'static> AuthCache<V> {
    /// A cache keeping entries for `ttl`, at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: u64) -> Self {
        let capacity = if ttl.is_zero() { 0 } else { max_entries };
        let mut builder = moka::sync::Cache::builder().max_capacity(capacity);
        if !ttl.is_zero() {
            builder = builder.time_to_live(ttl);
        }
        Self {
            ttl,
            entries: builder.build(),
            generation: Arc::default(),
        }
    }

    /// The generation to take before reading the database for an answer
    /// and to hand to [`Self::put`] with it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Voids every entry, including those whose reads are still under way.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// What `key` authenticated as, if cached, fresh and unchanged since.
    pub fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let fresh = self.entries.get(key).filter(|entry| {
            entry.generation == self.generation()
                && now >= entry.cached_at
                && now.since(entry.cached_at) < self.ttl
                && entry.value.holds_at(now)
        });
        let metrics = crate::metrics::metrics();
        match &fresh {
            Some(_) => metrics.auth_cache_hits.inc(),
            None => metrics.auth_cache_misses.inc(),
        };
        fresh.map(|entry| entry.value.clone())
    }

    /// Remembers what `key` authenticated as, read from the database after
    /// `generation` was taken (so a commit during the read voids it).
    pub fn put(&self, key: [u8; 32], generation: u64, now: Timestamp, value: V) {
        if self.ttl.is_zero() || generation != self.generation() {
            return;
        }
        let entry = Entry {
            generation,
            cached_at: now,
            value,
        };
        self.entries.insert(key, Arc::new(entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer valid until its expiry, if it has one.
    #[derive(Debug, Clone)]
    struct Answer(Option<Timestamp>);

    impl Expiring for Answer {
        fn holds_at(&self, now: Timestamp) -> bool {
            self.0.is_none_or(|at| at > now)
        }
    }

    fn credential(expires_at: Option<Timestamp>) -> Answer {
        Answer(expires_at)
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix(1_800_000_000 + seconds, 0).expect("in range")
    }

    #[test]
    fn entries_live_for_the_ttl_only() {
        let cache = AuthCache::<Answer>::new(Duration::from_secs(1), 10);
        let key = key_of("ida_token");
        cache.put(key, cache.generation(), at(0), credential(None));
        assert!(cache.get(&key, at(0)).is_some());
        assert!(cache.get(&key, at(1)).is_none());
        assert!(cache.get(&key, at(-1)).is_none(), "a clock moved back");
        assert!(cache.get(&key_of("ida_other"), at(0)).is_none());
    }

    #[test]
    fn an_entry_read_before_a_commit_is_void() {
        let cache = AuthCache::<Answer>::new(Duration::from_secs(60), 10);
        let key = key_of("ids_token");
        let before = cache.generation();
        cache.invalidate();
        cache.put(key, before, at(0), credential(None));
        assert!(cache.get(&key, at(0)).is_none());
        cache.put(key, cache.generation(), at(0), credential(None));
        assert!(cache.get(&key, at(0)).is_some());
        cache.invalidate();
        assert!(cache.get(&key, at(0)).is_none(), "a commit empties it");
    }

    #[test]
    fn a_credential_past_its_expiry_is_not_served() {
        let cache = AuthCache::<Answer>::new(Duration::from_secs(60), 10);
        let key = key_of("ida_token");
        cache.put(key, cache.generation(), at(0), credential(Some(at(5))));
        assert!(cache.get(&key, at(4)).is_some());
        assert!(cache.get(&key, at(5)).is_none());
    }

    #[test]
    fn a_zero_ttl_turns_the_cache_off_and_a_full_cache_stays_bounded() {
        let off = AuthCache::<Answer>::new(Duration::ZERO, 10);
        off.put(key_of("a"), off.generation(), at(0), credential(None));
        assert!(off.get(&key_of("a"), at(0)).is_none());
        let small = AuthCache::<Answer>::new(Duration::from_secs(60), 2);
        for n in 0..50 {
            let key = key_of(&format!("ida_{n}"));
            small.put(key, small.generation(), at(0), credential(None));
            small.entries.run_pending_tasks();
        }
        assert!(small.entries.entry_count() <= 2);
    }
}
