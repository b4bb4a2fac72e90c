//! Secrets: random tokens, their hashes and constant-time checks, one-time
//! passwords, and secrets sealed at rest.

mod backup_code;
mod password;
mod sealed;
mod secret;
mod server_key;
mod threads;
mod token;
mod totp;

pub use backup_code::{BACKUP_CODE_COUNT, backup_code, normalize_backup_code};
pub use password::{
    CALL_DEADLINE, DEFAULT_MAX_WAIT, HashingParams, PasswordHashError, PasswordHasher,
};
pub use sealed::{Opened, SealFailed, Unsealable};
pub use secret::{TokenKind, is_verification_code, verification_code};
pub use server_key::{
    KeyPurpose, SERVER_SECRET_FILE, SERVER_SECRET_MIN_CHARS, ServerKey, ServerKeyError,
};
pub use token::{
    API_TOKEN_PREFIX, ApiCredentialToken, MalformedToken, hash_secret, random_bytes, secret_matches,
};
pub use totp::{
    TOTP_DIGITS, TOTP_SECRET_BYTES, TOTP_SKEW_STEPS, TOTP_STEP_SECONDS, TotpSecret, qr_svg,
};
