//! Secrets: random tokens, their hashes and constant-time checks.

mod token;

pub use token::{ApiCredentialToken, MalformedToken, hash_secret, random_bytes, secret_matches};
