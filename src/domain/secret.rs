//! Values that must never reach a log line: links with live tokens, codes,
//! passwords, bearer tokens.

use std::fmt;

/// What `{:?}` writes in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// A value that `{:?}` never prints: it writes `[redacted]`, so a struct
/// holding one can derive `Debug` and still be logged. The value is read only
/// through [`Secret::expose`] or [`Secret::into_exposed`], which makes every
/// place that hands it on easy to find. There is deliberately no
/// `PartialEq`: comparing secrets must be constant-time and explicit.
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value, for the one place that must use it (a reply, a hash).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped, for handing it to its owner.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("idi_0123456789abcdef".to_owned());
        let shown = format!("{secret:?} {secret:#?} {:?}", Some(secret.clone()));
        assert!(!shown.contains("idi_"), "{shown}");
        assert_eq!(shown, "[redacted] [redacted] Some([redacted])");
    }

    #[test]
    fn the_value_is_read_only_when_asked_for() {
        let secret = Secret::from(String::from("123456"));
        assert_eq!(secret.expose(), "123456");
        assert_eq!(secret.into_exposed(), "123456");
    }
}
