//! One-piece secrets: session tokens, single-use link tokens and mailed codes.
//!
//! A session or link token is `<prefix><64 hex digits>`: 256 bits from the OS
//! generator behind a prefix that tells people and secret scanners what
//! leaked. The whole token is looked up by its SHA-256 (a fast hash is right
//! for uniformly random secrets: there is nothing to guess offline).

use super::random_bytes;

const SECRET_BYTES: usize = 32;

/// The kinds of one-piece token identityd issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A user session's bearer token.
    Session,
    /// A password reset link's token.
    PasswordReset,
    /// An invitation link's token.
    Invitation,
    /// A device token: proof that a client signed in to one user before.
    Device,
    /// A sign-in waiting for its second factor (the password step passed).
    MfaChallenge,
    /// A single-use sign-on token minted by staff or a billing service.
    Sso,
    /// The `state` of a sign-in sent to an external provider.
    ExternalState,
}

impl TokenKind {
    /// The visible prefix of tokens of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "ids_",
            TokenKind::PasswordReset => "idr_",
            TokenKind::Invitation => "idi_",
            TokenKind::Device => "idd_",
            TokenKind::MfaChallenge => "idm_",
            TokenKind::Sso => "ido_",
            TokenKind::ExternalState => "idx_",
        }
    }

    /// A fresh token of this kind.
    pub fn generate(self) -> String {
        format!(
            "{}{}",
            self.prefix(),
            hex::encode(random_bytes::<SECRET_BYTES>())
        )
    }

    /// Whether `token` has the shape of a token of this kind. Checking the
    /// shape first spares the database lookups for garbage.
    pub fn fits(self, token: &str) -> bool {
        token.strip_prefix(self.prefix()).is_some_and(|secret| {
            secret.len() == SECRET_BYTES * 2
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }
}

/// A fresh 6-digit code, uniformly distributed (rejection sampling avoids the
/// bias of a plain modulo).
pub fn verification_code() -> String {
    const RANGE: u32 = 1_000_000;
    let limit = u32::MAX - u32::MAX % RANGE;
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        if n < limit {
            return format!("{:06}", n % RANGE);
        }
    }
}

/// Whether `code` has the shape of a verification code: six ASCII digits.
pub fn is_verification_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_prefix_and_256_bits() {
        for kind in [
            TokenKind::Session,
            TokenKind::PasswordReset,
            TokenKind::Invitation,
            TokenKind::Device,
        ] {
            let token = kind.generate();
            assert!(token.starts_with(kind.prefix()));
            assert_eq!(token.len(), kind.prefix().len() + 64);
            assert!(kind.fits(&token));
            assert_ne!(token, kind.generate());
        }
    }

    #[test]
    fn tokens_of_another_kind_or_shape_do_not_fit() {
        let session = TokenKind::Session.generate();
        assert!(!TokenKind::PasswordReset.fits(&session));
        assert!(!TokenKind::Session.fits(&session.to_uppercase()));
        assert!(!TokenKind::Session.fits(&session[..session.len() - 1]));
        assert!(!TokenKind::Session.fits(&format!("{session}0")));
        assert!(!TokenKind::Session.fits(""));
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = verification_code();
            assert!(is_verification_code(&code), "{code}");
        }
        assert!(!is_verification_code("12345"));
        assert!(!is_verification_code("12345a"));
        assert!(!is_verification_code("١٢٣٤٥٦"));
    }
}
