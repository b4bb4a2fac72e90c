use std::fmt;

/// The longest field path a violation keeps, in bytes.
const FIELD_MAX_BYTES: usize = 128;
/// The longest description a violation keeps, in bytes. Descriptions are
/// ours, but some quote a bit of the input; this keeps any echo short.
const DESCRIPTION_MAX_BYTES: usize = 256;
/// The most violations one error carries. A request with 250,000 bad values
/// gets a few violations and a count, not an 11 MB error.
pub const MAX_VIOLATIONS: usize = 20;

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn truncate_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let ellipsis = '…';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text[..end].to_owned();
    cut.push(ellipsis);
    cut
}

/// One problem with one field of a request, in words a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, in proto field-path form (`role.name`, `permissions[2]`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field` described by `description`, each cut to a
    /// bounded length so an error never grows with the input.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Self {
            field: if field.len() > FIELD_MAX_BYTES {
                truncate_text(&field, FIELD_MAX_BYTES)
            } else {
                field
            },
            description: if description.len() > DESCRIPTION_MAX_BYTES {
                truncate_text(&description, DESCRIPTION_MAX_BYTES)
            } else {
                description
            },
        }
    }
}

/// Every problem found in a request, so a caller can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The problems, in the order they were found; never empty.
    pub violations: Vec<FieldViolation>,
}

impl ValidationError {
    /// A validation error with a single violation.
    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            violations: vec![FieldViolation::new(field, description)],
        }
    }
}

impl From<FieldViolation> for ValidationError {
    fn from(violation: FieldViolation) -> Self {
        Self {
            violations: vec![violation],
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        write!(f, "invalid request: {}", parts.join("; "))
    }
}

/// Collects the violations of several fields while parsing a request.
///
/// Each `check` keeps the parsed value when it is valid and records the
/// violation otherwise; `finish` fails if any was recorded. Repeated
/// violations are kept once, and at most [`MAX_VIOLATIONS`] are kept: the
/// rest are counted in one closing violation.
#[derive(Debug, Default)]
pub struct Validator {
    violations: Vec<FieldViolation>,
    /// Distinct violations dropped past [`MAX_VIOLATIONS`].
    dropped: usize,
}

impl Validator {
    /// An empty validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `result`'s value, or records its violations and returns `None`.
    pub fn check<T, E: Into<ValidationError>>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                for violation in error.into().violations {
                    self.record(violation);
                }
                None
            }
        }
    }

    /// Records a violation directly.
    pub fn violation(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.record(FieldViolation::new(field, description));
    }

    fn record(&mut self, violation: FieldViolation) {
        if self.violations.contains(&violation) {
            return;
        }
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(violation);
        } else {
            self.dropped += 1;
        }
    }

    /// Fails with every recorded violation, if there are any.
    pub fn finish(mut self) -> Result<(), ValidationError> {
        if self.violations.is_empty() {
            return Ok(());
        }
        if self.dropped > 0 {
            self.violations.push(FieldViolation::new(
                "request",
                format!("has {} more problems not listed here", self.dropped),
            ));
        }
        Err(ValidationError {
            violations: self.violations,
        })
    }

    /// Fails with every recorded violation; otherwise the value `build`
    /// assembles from the parsed fields (`Some(X { name: name?, .. })`). A
    /// field that failed to parse recorded a violation, so `build` finds every
    /// field present; should one still be missing, the request is refused.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ValidationError> {
        self.finish()?;
        build().ok_or_else(|| ValidationError::single("request", "is invalid"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_with_builds_only_when_nothing_was_recorded() {
        assert_eq!(Validator::new().finish_with(|| Some(7)), Ok(7));
        let mut v = Validator::new();
        v.violation("name", "is required");
        let err = v.finish_with(|| Some(7)).unwrap_err();
        assert_eq!(err.violations[0].field, "name");
        let err = Validator::new().finish_with(|| None::<u8>).unwrap_err();
        assert_eq!(err.violations[0].field, "request");
    }

    #[test]
    fn repeated_violations_are_kept_once() {
        let mut v = Validator::new();
        for _ in 0..3 {
            v.violation("permissions", "is not an account permission");
        }
        let err = v.finish().unwrap_err();
        assert_eq!(err.violations.len(), 1);
    }

    #[test]
    fn a_flood_of_violations_is_capped_and_counted() {
        let mut v = Validator::new();
        for index in 0..250_000 {
            v.violation(
                format!("permissions[{index}]"),
                "is not an account permission",
            );
        }
        let err = v.finish().unwrap_err();
        assert_eq!(err.violations.len(), MAX_VIOLATIONS + 1);
        let last = err.violations.last().unwrap();
        assert_eq!(last.field, "request");
        assert!(
            last.description
                .contains(&(250_000 - MAX_VIOLATIONS).to_string())
        );
    }

    #[test]
    fn long_fields_and_descriptions_are_cut_on_a_character_boundary() {
        let violation = FieldViolation::new("é".repeat(500), format!("{:?}", "ü".repeat(4096)));
        assert!(violation.field.len() <= FIELD_MAX_BYTES);
        assert!(violation.description.len() <= DESCRIPTION_MAX_BYTES);
        assert!(violation.description.ends_with('…'));
        assert_eq!(truncate_text("short", 10), "short");
    }
}
