//! Email addresses.

use std::str::FromStr;

use super::FieldViolation;

/// A syntactically valid email address (RFC 5321/5322 via `email_address`) of at
/// most 254 characters. Uniqueness is case-insensitive over the whole address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP can carry.
    pub const MAX_LEN: usize = 254;

    /// Parses an address from a request field.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(FieldViolation::new(
                field,
                format!("must have at most {} characters", Self::MAX_LEN),
            ));
        }
        // An address is shown in mail and on screens; a hidden or
        // text-direction character would make it read as another one.
        if trimmed
            .chars()
            .any(|c| c.is_control() || super::is_invisible_or_bidi(c))
        {
            return Err(FieldViolation::new(
                field,
                "must not contain control, invisible or text-direction characters",
            ));
        }
        // Display names ("Ann <ann@example.com>") are accepted by the crate; an
        // identity needs the bare address only.
        match email_address::EmailAddress::from_str(trimmed) {
            Ok(parsed) if parsed.as_str() == trimmed && !trimmed.contains(['<', '>', ' ']) => {
                Ok(Self(trimmed.to_owned()))
            }
            _ => Err(FieldViolation::new(
                field,
                "must be an email address like name@example.com",
            )),
        }
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that carries uniqueness: lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The part after the last `@`, lower case.
    pub fn domain(&self) -> String {
        self.0
            .rsplit_once('@')
            .map_or_else(String::new, |(_, domain)| domain.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_accepted_and_normalized() {
        let email = Email::parse("email", " Ann.Lee@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(email.domain(), "example.com");
        assert_eq!(email.normalized(), "ann.lee@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "Ann <ann@example.com>",
            "a b@example.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse("email", &long).is_err());
    }
}
