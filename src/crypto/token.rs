//! API credential tokens.
//!
//! A bearer token is `ida_<identifier>_<secret>`: the `ida_` prefix tells people
//! and secret scanners what leaked, the identifier finds the credential with one
//! indexed lookup, and the 256-bit secret is checked against its stored SHA-256
//! in constant time. A fast hash is right here, unlike for passwords: the
//! secret is uniformly random, so there is nothing to guess offline.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every API credential bearer token.
pub const API_TOKEN_PREFIX: &str = "ida_";
const IDENTIFIER_BYTES: usize = 10;
const SECRET_BYTES: usize = 32;

/// `N` bytes from the operating system's random number generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing means the machine cannot make secrets at all;
    // carrying on with zeros would be far worse than stopping.
    getrandom::fill(&mut bytes).expect("the operating system random number generator failed");
    bytes
}

/// The stored form of a secret: its SHA-256, hex encoded.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// A bearer token that does not have the shape of an API credential token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bearer token is not an identityd API credential token")]
pub struct MalformedToken;

/// The two halves of an API credential bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentialToken {
    /// The public identifier, stored in clear and shown in listings.
    pub identifier: String,
    /// The secret, shown once and stored only as a hash.
    pub secret: String,
}

impl std::fmt::Debug for ApiCredentialToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredentialToken")
            .field("identifier", &self.identifier)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl ApiCredentialToken {
    /// A fresh identifier and secret from the OS random number generator.
    pub fn generate() -> Self {
        Self {
            identifier: hex::encode(random_bytes::<IDENTIFIER_BYTES>()),
            secret: hex::encode(random_bytes::<SECRET_BYTES>()),
        }
    }

    /// The bearer token: prefix, identifier and secret in one string.
    pub fn bearer(&self) -> String {
        format!("{API_TOKEN_PREFIX}{}_{}", self.identifier, self.secret)
    }

    /// Splits a bearer token into identifier and secret, checking their shape.
    pub fn parse(bearer: &str) -> Result<Self, MalformedToken> {
        let rest = bearer
            .strip_prefix(API_TOKEN_PREFIX)
            .ok_or(MalformedToken)?;
        let (identifier, secret) = rest.split_once('_').ok_or(MalformedToken)?;
        let is_lower_hex = |s: &str, bytes: usize| {
            s.len() == bytes * 2
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !is_lower_hex(identifier, IDENTIFIER_BYTES) || !is_lower_hex(secret, SECRET_BYTES) {
            return Err(MalformedToken);
        }
        Ok(Self {
            identifier: identifier.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_carry_256_bit_secrets() {
        let token = ApiCredentialToken::generate();
        assert_eq!(token.secret.len(), 64);
        let bearer = token.bearer();
        assert!(bearer.starts_with("ida_"));
        assert_eq!(ApiCredentialToken::parse(&bearer), Ok(token));
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(
            ApiCredentialToken::generate(),
            ApiCredentialToken::generate()
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = ApiCredentialToken::generate().bearer();
        let cases = [
            String::new(),
            "ida_".to_owned(),
            good.replacen("ida_", "idx_", 1),
            good.to_uppercase(),
            format!("{good}0"),
            good.replacen('_', "-", 2),
        ];
        for bad in cases {
            assert_eq!(
                ApiCredentialToken::parse(&bad),
                Err(MalformedToken),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secrets_match_only_their_own_hash() {
        let token = ApiCredentialToken::generate();
        let stored = hash_secret(&token.secret);
        assert!(secret_matches(&token.secret, &stored));
        assert!(!secret_matches(
            &ApiCredentialToken::generate().secret,
            &stored
        ));
        assert!(!secret_matches(&token.secret, ""));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let token = ApiCredentialToken::generate();
        assert!(!format!("{token:?}").contains(&token.secret));
    }
}
