//! Secrets: random tokens, their hashes and constant-time checks.

mod password;
mod token;

pub use password::{HashingParams, PasswordHashError, PasswordHasher};
pub use token::{ApiCredentialToken, MalformedToken, hash_secret, random_bytes, secret_matches};
