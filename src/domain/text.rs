//! Bounded free text: names, descriptions and request ids.

use super::FieldViolation;

/// Trims `value` and checks it has `min..=max` characters and no control characters.
pub fn bounded_text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    let length = trimmed.chars().count();
    if length < min {
        return Err(FieldViolation::new(
            field,
            if min == 1 {
                "is required".to_owned()
            } else {
                format!("must have at least {min} characters")
            },
        ));
    }
    if length > max {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A free-text description, possibly empty, of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Parses a description of at most `max` characters; line breaks are allowed.
    pub fn parse(field: &str, value: &str, max: usize) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.chars().count() > max {
            return Err(FieldViolation::new(
                field,
                format!("must have at most {max} characters"),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(FieldViolation::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A caller-chosen id that makes a create call safe to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The longest request id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses an optional request id: empty means none.
    pub fn parse_optional(field: &str, value: &str) -> Result<Option<Self>, FieldViolation> {
        if value.is_empty() {
            return Ok(None);
        }
        let valid = value.len() <= Self::MAX_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(Some(Self(value.to_owned())))
        } else {
            Err(FieldViolation::new(
                field,
                format!(
                    "must be at most {} letters, digits, '-' or '_'",
                    Self::MAX_LEN
                ),
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_trims_and_enforces_length() {
        assert_eq!(
            bounded_text("name", "  Support  ", 1, 64).unwrap(),
            "Support"
        );
        assert_eq!(
            bounded_text("name", "   ", 1, 64).unwrap_err().description,
            "is required"
        );
        assert!(bounded_text("name", &"x".repeat(65), 1, 64).is_err());
        assert!(bounded_text("name", "a\u{0}b", 1, 64).is_err());
    }

    #[test]
    fn descriptions_may_be_empty_but_not_too_long() {
        assert_eq!(
            Description::parse("description", "", 10).unwrap().as_str(),
            ""
        );
        assert!(Description::parse("description", "line one\nline two", 100).is_ok());
        assert!(Description::parse("description", &"x".repeat(11), 10).is_err());
    }

    #[test]
    fn request_ids_are_short_and_plain() {
        assert_eq!(RequestId::parse_optional("request_id", "").unwrap(), None);
        assert!(
            RequestId::parse_optional("request_id", "retry-7_b")
                .unwrap()
                .is_some()
        );
        assert!(RequestId::parse_optional("request_id", "has space").is_err());
        assert!(RequestId::parse_optional("request_id", &"a".repeat(65)).is_err());
    }
}
