//! Password hashing with argon2id on a bounded pool of low-priority threads.
//!
//! A hash costs tens of milliseconds of CPU and ~19 MiB of memory by design.
//! Running it on the async runtime would stall every other call, so it runs on
//! dedicated low-priority threads ([`super::threads`]), at most `threads` at
//! once, with at most `queue` more waiting. Past that the caller hears "busy"
//! at once, so other RPCs stay fast during a login storm and memory stays
//! bounded.
//!
//! Each hashing thread keeps its ~19 MiB of argon2 working memory between
//! hashes instead of allocating it per hash: the allocator would otherwise
//! either keep every freed buffer (hundreds of MiB after a burst of logins)
//! or map and fault in fresh pages for each hash (slow). Memory for hashing
//! is thus `threads` × `memory_kib`, always.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest a new hash may expect to wait for a thread, unless
/// configured: past it the caller hears "busy" at once.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::random_bytes;
use super::threads::HashingThreads;

/// The argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingParams {
    /// Memory per hash, in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes over memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    /// Every hashing thread is busy and the queue is full; try again shortly.
    #[error("the password hashing queue is full")]
    Busy,
    /// The parameters or a stored hash are invalid.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Hashes and verifies passwords on a bounded pool of low-priority threads.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    params: HashingParams,
    /// Hashes queued or running now.
    in_flight: Arc<AtomicUsize>,
    /// The most hashes queued or running at once: threads plus queue.
    capacity: usize,
    threads: HashingThreads,
    /// A hash of a random password with the current parameters, made on
    /// first use, for checking passwords of users who do not exist.
    decoy: Arc<tokio::sync::OnceCell<String>>,
    /// Queued hashes dropped unstarted because their caller had gone.
    abandoned: Arc<AtomicU64>,
    /// Hashing threads, to turn a queue length into a wait.
    thread_count: usize,
    /// How long a hash measured lately took, in microseconds (0 until one
    /// is measured): a moving average.
    hash_micros: Arc<AtomicU64>,
    /// The longest a new hash may expect to wait for a thread.
    max_wait: Duration,
}

tokio::task_local! {
    /// When the call in progress must be answered (its `grpc-timeout`),
    /// if it said; a hash that cannot finish by then is refused up front.
    pub static CALL_DEADLINE: Option<Instant>;
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// This hashing thread's argon2 working memory, kept between hashes.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Hashes `password` with `salt` into `out` using this thread's kept
/// working memory (grown when a stored hash asks for more).
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), PasswordHashError> {
    WORKING_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = argon2.params().block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| PasswordHashError::Failed(e.to_string()))
    })
}

fn failed(err: impl std::fmt::Display) -> PasswordHashError {
    PasswordHashError::Failed(err.to_string())
}

/// Whether `password` matches the PHC string `stored`, computed with the
/// stored hash's own algorithm, version and parameters, compared in
/// constant time.
fn verify_phc(password: &[u8], stored: &str) -> Result<bool, PasswordHashError> {
    let parsed = PasswordHash::new(stored).map_err(failed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(failed)?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).map_err(failed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(failed)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
    let mut out = vec![0u8; expected.len()];
    hash_into(&argon2, password, salt, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(failed)? == expected)
}

/// A hash's place in the pool, given back when the job ends (or is never
/// queued), whatever happens to its caller.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// A hasher with `params`, hashing on at most `threads` threads with at most
    /// `queue` hashes waiting.
    pub fn new(
        params: HashingParams,
        threads: usize,
        queue: usize,
    ) -> Result<Self, PasswordHashError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| PasswordHashError::Failed(e.to_string()))?;
        Ok(Self {
            argon2: Arc::new(Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                argon_params,
            )),
            params,
            in_flight: Arc::new(AtomicUsize::new(0)),
            capacity: threads.max(1) + queue,
            threads: HashingThreads::start(threads)
                .map_err(|e| PasswordHashError::Failed(format!("starting hashing threads: {e}")))?,
            decoy: Arc::new(tokio::sync::OnceCell::new()),
            abandoned: Arc::new(AtomicU64::new(0)),
            thread_count: threads.max(1),
            hash_micros: Arc::new(AtomicU64::new(0)),
            max_wait: DEFAULT_MAX_WAIT,
        })
    }

    /// This hasher, refusing hashes that would wait longer than `max_wait`
    /// for a thread (the queue is sized by time, not only by count).
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// How long a hash queued now would wait for a thread, and take, by the
    /// hashes measured lately.
    fn expected(&self, ahead: usize) -> (Duration, Duration) {
        let each = Duration::from_micros(self.hash_micros.load(Ordering::Relaxed));
        let rounds = u32::try_from(ahead / self.thread_count).unwrap_or(u32::MAX);
        (each.saturating_mul(rounds), each)
    }

    /// How many queued hashes were dropped unstarted because their caller
    /// had gone (a cancelled call, a passed deadline).
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Hashes queued or running now, and the most there may be.
    pub fn load(&self) -> (usize, usize) {
        (self.in_flight.load(Ordering::Relaxed), self.capacity)
    }

    /// Runs `work` on the next free hashing thread. Jobs wait in the
    /// threads' own queue, so a thread that finishes a hash starts the next
    /// without waiting for the async runtime to hand it over.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, PasswordHashError> {
        let ahead = self.in_flight.fetch_add(1, Ordering::AcqRel);
        // Refused at once, rather than queued to no purpose: when every
        // place is taken, when the wait for a thread would be longer than
        // the queue is meant to hold, or when the caller's deadline passes
        // before the hash could be done.
        let (wait, each) = self.expected(ahead);
        let deadline = CALL_DEADLINE.try_with(|deadline| *deadline).ok().flatten();
        let too_late = deadline.is_some_and(|deadline| Instant::now() + wait + each > deadline);
        if ahead >= self.capacity || wait > self.max_wait || too_late {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            crate::metrics::metrics().hash_rejections.inc();
            return Err(PasswordHashError::Busy);
        }
        let place = Place(self.in_flight.clone());
        let argon2 = self.argon2.clone();
        let abandoned = self.abandoned.clone();
        let measured = self.hash_micros.clone();
        let (reply, result) = tokio::sync::oneshot::channel();
        self.threads
            .submit(move || {
                // A caller that went away while the job waited (its call
                // was cancelled or ran out of time) wants no answer: under
                // a login storm with short deadlines, hashing for it would
                // only delay the callers still waiting.
                if reply.is_closed() {
                    abandoned.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::metrics().hash_abandoned.inc();
                    drop(place);
                    return;
                }
                let started = Instant::now();
                let outcome = work(&argon2);
                let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                // A moving average over about the last eight hashes.
                let _ = measured.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(if old == 0 { took } else { (old * 7 + took) / 8 })
                });
                drop(place);
                let _ = reply.send(outcome);
            })
            .map_err(|e| PasswordHashError::Failed(e.to_string()))?;
        result
            .await
            .map_err(|_| PasswordHashError::Failed("a hashing job failed".into()))
    }

    /// The PHC string of `password` with a fresh 128-bit salt.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        let password = password.to_owned();
        let salt = SaltString::encode_b64(&random_bytes::<16>())
            .map_err(|e| PasswordHashError::Failed(e.to_string()))?;
        self.run(move |argon2| {
            let mut salt_bytes = [0u8; 64];
            let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            hash_into(argon2, password.as_bytes(), raw_salt, &mut out)?;
            let phc = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(argon2.params()).map_err(failed)?,
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).map_err(failed)?),
            };
            Ok(phc.to_string())
        })
        .await?
    }

    /// Whether `password` matches the PHC string `stored` (compared in constant time by argon2).
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, PasswordHashError> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move |_| verify_phc(password.as_bytes(), &stored))
            .await?
    }

    /// Does the work of [`PasswordHasher::verify`] against a hash no password
    /// of a real user has, and returns false. Checking a sign-in for an
    /// unknown user this way makes it cost the same as for a known one, so
    /// response times do not tell who has signed up.
    pub async fn verify_decoy(&self, password: &str) -> Result<bool, PasswordHashError> {
        let decoy = self
            .decoy
            .get_or_try_init(|| async {
                let password = hex::encode(random_bytes::<16>());
                self.hash(&password).await
            })
            .await?
            .clone();
        self.verify(password, &decoy).await.map(|_| false)
    }

    /// Whether `stored` was made with other parameters than the current ones,
    /// so it should be rehashed the next time the password is known.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let current = (
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
        );
        let param = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm.as_str() != "argon2id"
            || (param("m"), param("t"), param("p"))
                != (Some(current.0), Some(current.1), Some(current.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashingParams {
        HashingParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(cheap(), 2, 8).unwrap();
        let stored = hasher.hash("tidal-lantern-oboe").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(hasher.verify("tidal-lantern-oboe", &stored).await.unwrap());
        assert!(!hasher.verify("tidal-lantern-obo", &stored).await.unwrap());
        assert_ne!(
            stored,
            hasher.hash("tidal-lantern-oboe").await.unwrap(),
            "salts differ"
        );
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hashing_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(cheap(), 1, 2).unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = reference
            .hash_password(b"tidal-lantern-oboe", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify("tidal-lantern-oboe", &theirs).await.unwrap());
        assert!(!hasher.verify("tidal-lantern-obo", &theirs).await.unwrap());
        let ours = hasher.hash("tidal-lantern-oboe").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            reference
                .verify_password(b"tidal-lantern-oboe", &parsed)
                .is_ok()
        );
        // A stored hash with more memory than the current settings still
        // verifies (the kept memory grows), and garbage is an error.
        let bigger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"tidal-lantern-oboe", &salt)
        .unwrap()
        .to_string();
        assert!(hasher.verify("tidal-lantern-oboe", &bigger).await.unwrap());
        assert!(hasher.verify("x", "not a phc string").await.is_err());
    }

    #[tokio::test]
    async fn changed_parameters_call_for_a_rehash() {
        let hasher = PasswordHasher::new(cheap(), 1, 1).unwrap();
        let stored = hasher.hash("tidal-lantern-oboe").await.unwrap();
        assert!(!hasher.needs_rehash(&stored));
        let stronger = PasswordHasher::new(
            HashingParams {
                iterations: 2,
                ..cheap()
            },
            1,
            1,
        )
        .unwrap();
        assert!(stronger.needs_rehash(&stored));
        assert!(stronger.needs_rehash("not a phc string"));
    }

    #[tokio::test]
    async fn queued_hashes_of_callers_that_left_are_never_started() {
        let hasher = PasswordHasher::new(cheap(), 1, 8).unwrap();
        // Hold the only thread until released.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .run(move |_| {
                        let _ = held.recv();
                    })
                    .await
            })
        };
        while hasher.in_flight.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        // Three callers queue behind it and give up (their calls end).
        for _ in 0..3 {
            let hasher = hasher.clone();
            let gave_up = tokio::time::timeout(std::time::Duration::from_millis(5), async move {
                hasher.hash("tidal-lantern-oboe").await
            })
            .await;
            assert!(gave_up.is_err(), "the queue is held");
        }
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        // A caller who stays gets its hash; the three who left cost nothing.
        let stored = hasher.hash("tidal-lantern-oboe").await.unwrap();
        assert!(hasher.verify("tidal-lantern-oboe", &stored).await.unwrap());
        assert_eq!(hasher.abandoned(), 3);
        assert_eq!(
            hasher.in_flight.load(Ordering::Acquire),
            0,
            "places returned"
        );
    }

    #[tokio::test]
    async fn a_hash_that_would_wait_too_long_or_miss_its_deadline_is_refused() {
        let slow = HashingParams {
            memory_kib: 8192,
            iterations: 3,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(slow, 1, 100)
            .unwrap()
            .with_max_wait(Duration::from_micros(1));
        // The first hash finds the thread idle (no wait) and is measured.
        hasher
            .hash("tidal-lantern-oboe")
            .await
            .expect("an idle pool hashes");
        // While one runs, the next would wait a whole hash: refused at once,
        // though many queue places are free.
        let running = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash("tidal-lantern-oboe").await })
        };
        while hasher.load().0 == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            hasher.hash("tidal-lantern-oboe").await,
            Err(PasswordHashError::Busy)
        ));
        running.await.unwrap().expect("the running hash completes");

        // With the pool idle again, a caller whose deadline has already
        // passed is refused; one with time enough is served.
        let patient = hasher.clone().with_max_wait(Duration::from_secs(60));
        let past = Some(Instant::now());
        let refused = CALL_DEADLINE
            .scope(past, patient.hash("tidal-lantern-oboe"))
            .await;
        assert!(matches!(refused, Err(PasswordHashError::Busy)));
        let later = Some(Instant::now() + Duration::from_secs(60));
        CALL_DEADLINE
            .scope(later, patient.hash("tidal-lantern-oboe"))
            .await
            .expect("time enough");
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let slow = HashingParams {
            memory_kib: 8192,
            iterations: 3,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(slow, 1, 1).unwrap();
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("tidal-lantern-oboe").await })
            })
            .collect();
        let mut busy = 0;
        let mut hashed = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(_) => hashed += 1,
                Err(PasswordHashError::Busy) => busy += 1,
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert!(hashed >= 1, "at least the running hash completes");
        assert!(
            busy >= 1,
            "eight hashes cannot all fit one thread and one queue place"
        );
        assert_eq!(hashed + busy, 8);
    }
}
