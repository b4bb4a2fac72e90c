//! The server secret and the keys derived from it.
//!
//! Some stored values are hashes of things an attacker can enumerate: a
//! 6-digit code has a million values and a typed email address is in any
//! list of addresses. A plain SHA-256 of them is reversed by trying every
//! candidate. Keying the hash with a secret that lives outside the database
//! (HMAC-SHA256, RFC 2104) makes a stolen database useless for that.
//!
//! One secret, many uses: each use gets its own key derived from the secret
//! and a purpose label, so a value keyed for one purpose never matches
//! another's, and later uses (an AEAD key for TOTP secrets) add a label.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::random_bytes;

/// The file name of the generated secret inside the data directory.
pub const SERVER_SECRET_FILE: &str = "server-secret";
/// The fewest characters a configured `security.server_secret` may have.
pub const SERVER_SECRET_MIN_CHARS: usize = 32;

const BLOCK: usize = 64;
const KEY_BYTES: usize = 32;

/// What a derived key is used for. Each purpose gets its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Throttling keys made from typed email addresses and identifiers.
    ThrottleSubject,
    /// Stored hashes of mailed verification codes.
    VerificationCode,
    /// Fingerprints of idempotent requests, which may include passwords.
    RequestFingerprint,
    /// Stored hashes of two-factor backup codes.
    BackupCode,
    /// The AEAD key that seals TOTP secrets at rest.
    TotpSeal,
    /// The AEAD key that seals secret run-time settings (the SMTP password,
    /// sign-in providers' client secrets).
    SettingSeal,
    /// The AEAD key that seals the PKCE verifiers of external sign-ins under way.
    SignInSeal,
}

impl KeyPurpose {
    const ALL: [KeyPurpose; 7] = [
        KeyPurpose::ThrottleSubject,
        KeyPurpose::VerificationCode,
        KeyPurpose::RequestFingerprint,
        KeyPurpose::BackupCode,
        KeyPurpose::TotpSeal,
        KeyPurpose::SettingSeal,
        KeyPurpose::SignInSeal,
    ];

    fn label(self) -> &'static [u8] {
        match self {
            KeyPurpose::ThrottleSubject => b"identityd/v1/throttle-subject",
            KeyPurpose::VerificationCode => b"identityd/v1/verification-code",
            KeyPurpose::RequestFingerprint => b"identityd/v1/request-fingerprint",
            KeyPurpose::BackupCode => b"identityd/v1/backup-code",
            KeyPurpose::TotpSeal => b"identityd/v1/totp-seal",
            KeyPurpose::SettingSeal => b"identityd/v1/setting-seal",
            KeyPurpose::SignInSeal => b"identityd/v1/sign-in-seal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why the server secret could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum ServerKeyError {
    /// The file could not be read, created or renamed into place.
    #[error("cannot read or create the server secret file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold 64 hexadecimal digits.
    #[error("the server secret file {0} is damaged: it must hold 64 hexadecimal digits")]
    Malformed(PathBuf),
    /// The configured secret is too short to be a key.
    #[error("security.server_secret must have at least {SERVER_SECRET_MIN_CHARS} characters")]
    TooShort,
}

/// The keys derived from one secret, and that secret's public id.
#[derive(Clone)]
pub(super) struct DerivedKeys {
    /// Names the secret in sealed values without revealing anything of it.
    pub(super) id: String,
    keys: [[u8; KEY_BYTES]; KeyPurpose::ALL.len()],
}

impl DerivedKeys {
    fn from_secret(secret: &[u8]) -> Self {
        let id = hex::encode(&hmac_sha256(secret, b"identityd/v1/key-id")[..4]);
        Self {
            id,
            keys: KeyPurpose::ALL.map(|purpose| hmac_sha256(secret, purpose.label())),
        }
    }

    pub(super) fn key(&self, purpose: KeyPurpose) -> &[u8; KEY_BYTES] {
        &self.keys[purpose.index()]
    }
}

/// The server secret, as the keys derived from it, and the keys of secrets
/// it replaced (see [`ServerKey::with_previous`]). It never prints.
#[derive(Clone)]
pub struct ServerKey {
    current: DerivedKeys,
    previous: Vec<DerivedKeys>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

impl ServerKey {
    /// The keys derived from `secret` (the raw bytes of the server secret).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            current: DerivedKeys::from_secret(secret),
            previous: Vec::new(),
        }
    }

    /// Adds secrets this one replaced (`security.previous_server_secrets`),
    /// as configured text or as the hex contents of an old secret file.
    /// Values sealed or hashed under them still open and match; nothing new
    /// is made with them.
    pub fn with_previous<'a>(mut self, secrets: impl IntoIterator<Item = &'a str>) -> Self {
        for secret in secrets {
            let trimmed = secret.trim();
            self.previous
                .push(DerivedKeys::from_secret(trimmed.as_bytes()));
            // 64 hex digits may be a configured text secret or the contents
            // of an old secret file (which is used as the bytes it spells):
            // keep both readings.
            if let Ok(bytes) = hex::decode(trimmed)
                && bytes.len() == KEY_BYTES
            {
                self.previous.push(DerivedKeys::from_secret(&bytes));
            }
        }
        self
    }

    /// The keys of the current secret.
    pub(super) fn current(&self) -> &DerivedKeys {
        &self.current
    }

    /// The keys of the secret whose id is `id`, current or previous.
    pub(super) fn by_id(&self, id: &str) -> Option<&DerivedKeys> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|keys| keys.id == id)
    }

    /// The keys of a configured `security.server_secret`.
    pub fn from_setting(secret: &str) -> Result<Self, ServerKeyError> {
        if secret.chars().count() < SERVER_SECRET_MIN_CHARS {
            return Err(ServerKeyError::TooShort);
        }
        Ok(Self::from_secret(secret.as_bytes()))
    }

    /// The keys of the secret in `data_dir/server-secret`, creating the file
    /// (256 random bits, mode 0600) on first start. Creation is atomic: the
    /// file appears complete or not at all, and of two starts racing on one
    /// directory both end up with the same secret.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ServerKeyError> {
        let path = data_dir.join(SERVER_SECRET_FILE);
        let io = |source| ServerKeyError::Io {
            path: path.clone(),
            source,
        };
        match fs::read_to_string(&path) {
            Ok(text) => return Self::parse_file(&path, &text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(err)),
        }
        let secret = hex::encode(random_bytes::<KEY_BYTES>());
        let temporary = data_dir.join(format!(
            "{SERVER_SECRET_FILE}.{}.tmp",
            hex::encode(random_bytes::<8>())
        ));
        write_private(&temporary, &secret).map_err(io)?;
        // A hard link fails when the target exists, unlike a rename: a start
        // that loses the race keeps the winner's secret.
        let linked = fs::hard_link(&temporary, &path);
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => Self::parse_file(&path, &secret),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(&path).map_err(io)?;
                Self::parse_file(&path, &text)
            }
            Err(err) => Err(io(err)),
        }
    }

    fn parse_file(path: &Path, text: &str) -> Result<Self, ServerKeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| ServerKeyError::Malformed(path.into()))?;
        if bytes.len() != KEY_BYTES {
            return Err(ServerKeyError::Malformed(path.into()));
        }
        Ok(Self::from_secret(&bytes))
    }

    /// HMAC-SHA256 of `input` under the key for `purpose`, hex encoded.
    pub fn digest(&self, purpose: KeyPurpose, input: &str) -> String {
        hex::encode(hmac_sha256(self.current.key(purpose), input.as_bytes()))
    }

    /// Whether `input` digests to `stored` for `purpose`, compared in
    /// constant time.
    pub fn digest_matches(&self, purpose: KeyPurpose, input: &str, stored: &str) -> bool {
        self.digest(purpose, input)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into()
    }

    /// Like [`Self::digest_matches`], but also under every previous secret:
    /// for long-lived stored digests (backup codes) that must survive a
    /// rotation of the server secret.
    pub fn digest_matches_any(&self, purpose: KeyPurpose, input: &str, stored: &str) -> bool {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .fold(false, |matched, keys| {
                let digest = hex::encode(hmac_sha256(keys.key(purpose), input.as_bytes()));
                matched | bool::from(digest.as_bytes().ct_eq(stored.as_bytes()))
            })
    }
}

/// Writes `text` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

/// HMAC-SHA256 (RFC 2104): SHA-256 over the key padded and masked twice.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; KEY_BYTES] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..KEY_BYTES].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let masked = |mask: u8| block.map(|byte| byte ^ mask);
    let inner = Sha256::new()
        .chain_update(masked(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(masked(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test cases 1, 2 and 6 of RFC 4231 (HMAC-SHA256 test vectors).
    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn purposes_and_secrets_give_different_digests() {
        let key = ServerKey::from_secret(b"one secret of thirty-two bytes!!");
        let other = ServerKey::from_secret(b"another secret of thirty-two b!!");
        let code = key.digest(KeyPurpose::VerificationCode, "123456");
        assert_ne!(code, key.digest(KeyPurpose::ThrottleSubject, "123456"));
        assert_ne!(code, other.digest(KeyPurpose::VerificationCode, "123456"));
        assert!(key.digest_matches(KeyPurpose::VerificationCode, "123456", &code));
        assert!(!key.digest_matches(KeyPurpose::VerificationCode, "123457", &code));
    }

    #[test]
    fn previous_secrets_still_match_but_never_digest() {
        let old = ServerKey::from_secret(b"the old secret of thirty-two b!!");
        let stored = old.digest(KeyPurpose::BackupCode, "abcd-efgh");
        let rotated = ServerKey::from_secret(b"the new secret of thirty-two b!!")
            .with_previous(["the old secret of thirty-two b!!"]);
        assert!(rotated.digest_matches_any(KeyPurpose::BackupCode, "abcd-efgh", &stored));
        assert!(!rotated.digest_matches(KeyPurpose::BackupCode, "abcd-efgh", &stored));
        assert!(!rotated.digest_matches_any(KeyPurpose::BackupCode, "abcd-efgx", &stored));
        assert_ne!(rotated.digest(KeyPurpose::BackupCode, "abcd-efgh"), stored);

        // An old secret file's hex contents name the same secret as its bytes.
        let file_secret = [7u8; KEY_BYTES];
        let from_file = ServerKey::from_secret(&file_secret);
        let stored = from_file.digest(KeyPurpose::BackupCode, "x");
        let rotated = ServerKey::from_secret(b"the new secret of thirty-two b!!")
            .with_previous([hex::encode(file_secret).as_str()]);
        assert!(rotated.digest_matches_any(KeyPurpose::BackupCode, "x", &stored));
    }

    #[test]
    fn the_secret_file_is_created_once_privately_and_read_back() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = ServerKey::load_or_create(dir.path()).expect("create");
        let again = ServerKey::load_or_create(dir.path()).expect("load");
        assert_eq!(
            first.digest(KeyPurpose::ThrottleSubject, "x"),
            again.digest(KeyPurpose::ThrottleSubject, "x")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SERVER_SECRET_FILE))
                .expect("the file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn damaged_files_and_short_settings_are_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fs::write(dir.path().join(SERVER_SECRET_FILE), "not hex").expect("write");
        assert!(matches!(
            ServerKey::load_or_create(dir.path()),
            Err(ServerKeyError::Malformed(_))
        ));
        assert!(matches!(
            ServerKey::from_setting("short"),
            Err(ServerKeyError::TooShort)
        ));
        assert!(ServerKey::from_setting(&"k".repeat(32)).is_ok());
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let key = ServerKey::from_secret(b"one secret of thirty-two bytes!!");
        assert_eq!(format!("{key:?}"), "ServerKey(<redacted>)");
    }
}
