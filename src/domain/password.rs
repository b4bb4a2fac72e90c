//! Passwords, checked by the NIST 800-63B rules: a minimum length, at most 128
//! characters, no composition rules, and common or easily guessed passwords
//! refused.

use std::fmt;

use super::FieldViolation;

/// The longest password accepted, in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// The zxcvbn score a password must reach: 2 means "somewhat guessable"
/// (about 10^8 guesses), which rules out dictionary words, common passwords,
/// keyboard walks and the user's own name or email with a digit appended.
const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Two;

/// A password that passed the policy. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Checks `value` against the policy. `user_inputs` (name, username,
    /// email) count as easy to guess, as an attacker would try them first.
    pub fn parse(
        field: &str,
        value: &str,
        min_chars: usize,
        user_inputs: &[&str],
    ) -> Result<Self, FieldViolation> {
        let chars = value.chars().count();
        if chars < min_chars {
            return Err(FieldViolation::new(
                field,
                format!("must have at least {min_chars} characters"),
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(FieldViolation::new(
                field,
                format!("must have at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(FieldViolation::new(
                field,
                "must not contain control characters",
            ));
        }
        if zxcvbn::zxcvbn(value, user_inputs).score() < MIN_STRENGTH {
            return Err(FieldViolation::new(
                field,
                "is too common or too easy to guess; a few unrelated words make a strong password",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for weak in [
            "password",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
            "Password1!",
        ] {
            assert!(
                Password::parse("password", weak, 8, &[]).is_err(),
                "{weak:?} was accepted"
            );
        }
        assert!(Password::parse("password", "annlee1984", 8, &["Ann Lee", "annlee"]).is_err());
    }

    #[test]
    fn long_unrelated_passphrases_are_accepted_without_composition_rules() {
        assert!(Password::parse("password", "correct horse battery staple", 8, &[]).is_ok());
        assert!(Password::parse("password", "tidal-lantern-oboe", 8, &[]).is_ok());
    }

    #[test]
    fn length_limits_hold() {
        assert!(Password::parse("password", "aB3$xQ", 8, &[]).is_err());
        let long = "x".repeat(129);
        assert!(Password::parse("password", &long, 8, &[]).is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::parse("password", "tidal-lantern-oboe", 8, &[]).unwrap();
        assert!(!format!("{password:?}").contains("lantern"));
    }
}
