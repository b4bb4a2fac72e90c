//! Secrets: random tokens, their hashes and constant-time checks.

mod password;
mod secret;
mod server_key;
mod threads;
mod token;

pub use password::{HashingParams, PasswordHashError, PasswordHasher};
pub use secret::{TokenKind, is_verification_code, verification_code};
pub use server_key::{
    KeyPurpose, SERVER_SECRET_FILE, SERVER_SECRET_MIN_CHARS, ServerKey, ServerKeyError,
};
pub use token::{
    API_TOKEN_PREFIX, ApiCredentialToken, MalformedToken, hash_secret, random_bytes, secret_matches,
};
