//! Bounded free text: names, descriptions and request ids.

use super::FieldViolation;

/// Whether `c` changes how the text around it is shown or is itself
/// invisible: bidirectional controls (which can make `evil.exe` read as
/// `exe.live` in a mail), zero-width and other format characters, line and
/// paragraph separators, and blank fillers that look like nothing.
///
/// ZERO WIDTH NON-JOINER (U+200C) and ZERO WIDTH JOINER (U+200D) are allowed:
/// Persian, the Indic scripts and emoji sequences need them to spell names,
/// and they do not reorder text. Variation selectors are allowed for the same
/// reason (emoji presentation).
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{061C}'                // arabic letter mark
            | '\u{0600}'..='\u{0605}'   // arabic number signs (format)
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{115F}' | '\u{1160}'   // hangul fillers
            | '\u{17B4}' | '\u{17B5}'   // khmer inherent vowels (invisible)
            | '\u{180B}'..='\u{180F}'   // mongolian free variation selectors and separator
            | '\u{200B}'                // zero width space
            | '\u{200E}' | '\u{200F}'   // left-to-right and right-to-left marks
            | '\u{2028}' | '\u{2029}'   // line and paragraph separators
            | '\u{202A}'..='\u{202E}'   // bidi embeddings, overrides and pop
            | '\u{2060}'..='\u{2064}'   // word joiner and invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{206A}'..='\u{206F}'   // deprecated format characters
            | '\u{3164}'                // hangul filler
            | '\u{FEFF}'                // zero width no-break space (BOM)
            | '\u{FFA0}'                // halfwidth hangul filler
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
            | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// Refuses control characters and [`is_invisible_or_bidi`] ones in `value`;
/// `allowed` lists control characters that are fine here (line breaks in a
/// description).
fn check_visible(field: &str, value: &str, allowed: &[char]) -> Result<(), FieldViolation> {
    if value
        .chars()
        .any(|c| c.is_control() && !allowed.contains(&c))
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    if value.chars().any(is_invisible_or_bidi) {
        return Err(FieldViolation::new(
            field,
            "must not contain invisible or text-direction characters (such as U+202E)",
        ));
    }
    Ok(())
}

/// Trims `value` and checks it has `min..=max` characters, no control
/// characters and nothing invisible or reordering ([`is_invisible_or_bidi`]):
/// names and reasons appear in mail and on screens, where such characters
/// disguise what a reader sees.
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
    check_visible(field, trimmed, &[])?;
    Ok(trimmed.to_owned())
}

/// A free-text description, possibly empty, of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Parses a description of at most `max` characters; line breaks and tabs
    /// are allowed, other control and invisible characters are not.
    pub fn parse(field: &str, value: &str, max: usize) -> Result<Self, FieldViolation> {
        let trimmed = value.trim();
        if trimmed.chars().count() > max {
            return Err(FieldViolation::new(
                field,
                format!("must have at most {max} characters"),
            ));
        }
        check_visible(field, trimmed, &['\n', '\t'])?;
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
    fn bidi_controls_and_invisible_characters_are_refused_in_names() {
        for bad in [
            "\u{202A}",
            "\u{202B}",
            "\u{202C}",
            "\u{202D}",
            "\u{202E}",
            "\u{2066}",
            "\u{2067}",
            "\u{2068}",
            "\u{2069}",
            "\u{200E}",
            "\u{200F}",
            "\u{061C}",
            "\u{200B}",
            "\u{FEFF}",
            "\u{2028}",
            "\u{00AD}",
            "\u{3164}",
            "\u{E0041}",
        ] {
            let name = format!("Ann{bad}Lee");
            let err = bounded_text("full_name", &name, 1, 64).unwrap_err();
            assert_eq!(err.field, "full_name");
            assert!(
                Description::parse("description", &name, 100).is_err(),
                "{bad:?} in a description"
            );
        }
        // U+202E after a name that reads "invoice" hides "exe.txt" reversed.
        assert!(bounded_text("company", "Acme \u{202E}txt.exe", 1, 64).is_err());
    }

    #[test]
    fn scripts_that_need_joiners_and_ordinary_unicode_are_accepted() {
        for good in [
            "Zoë Ångström",
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}", // Persian with ZWNJ
            "\u{0915}\u{094D}\u{200D}\u{0937}", // Devanagari with ZWJ
            "\u{05D3}\u{05D5}\u{05D3}",         // Hebrew, right to left by itself
            "Jo \u{2764}\u{FE0F}",              // emoji with a variation selector
            "李小龍",
        ] {
            assert!(bounded_text("full_name", good, 1, 64).is_ok(), "{good:?}");
        }
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
