//! Optional profile fields of a user: photo URL and locale.

use super::FieldViolation;

/// An http(s) URL of a photo, at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUrl(String);

impl PhotoUrl {
    /// The longest URL accepted.
    pub const MAX_LEN: usize = 2048;

    /// Parses a photo URL: `https` with a host and no credentials, so a
    /// `javascript:` or `data:` URL never reaches a page that shows it, an
    /// https page never loads a plain-http image (mixed content, and the
    /// viewer's address in clear), and no password sits in a URL everyone
    /// who sees the user can read.
    ///
    /// A URL, not uploaded bytes: identityd is not an image store. Billing
    /// front ends already host files on a CDN or object store that resizes
    /// and caches them, and accepting images would make identityd parse and
    /// serve untrusted files and grow every user row by kilobytes.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let value = value.trim();
        if value.len() > Self::MAX_LEN {
            return Err(FieldViolation::new(
                field,
                format!("must have at most {} characters", Self::MAX_LEN),
            ));
        }
        // The URL is stored as given and shown on screens; a hidden or
        // text-direction character would disguise where it points.
        if value
            .chars()
            .any(|c| c.is_control() || super::is_invisible_or_bidi(c))
        {
            return Err(FieldViolation::new(
                field,
                "must not contain control, invisible or text-direction characters",
            ));
        }
        let must = || FieldViolation::new(field, "must be an https URL without credentials");
        let parsed = url::Url::parse(value).map_err(|_| must())?;
        if parsed.scheme() != "https"
            || parsed.host_str().is_none_or(str::is_empty)
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(must());
        }
        Ok(Self(value.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A BCP 47 language tag such as `en`, `pt-BR` or `zh-Hant-TW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    /// Parses a language tag: a 2-3 letter language, then subtags of 1-8
    /// letters or digits, separated by `-`, at most 35 characters in all.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let value = value.trim();
        let invalid =
            || FieldViolation::new(field, "must be a BCP 47 language tag such as en or pt-BR");
        if value.len() > 35 {
            return Err(invalid());
        }
        let mut subtags = value.split('-');
        let language = subtags.next().unwrap_or_default();
        if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(invalid());
        }
        if !subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid());
        }
        Ok(Self(value.to_owned()))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_photo_urls_with_a_host_and_no_credentials_are_accepted() {
        assert!(PhotoUrl::parse("photo_url", "https://cdn.example.com/a.png").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "ftp://x/a.png",
            "http://cdn.example.com/a.png",
            "https://user:secret@cdn.example.com/a.png",
            "https://",
            "photo.png",
            "https://cdn.example.com/\u{202E}gnp.exe",
            "https://cdn.example.com/a\u{200B}.png",
        ] {
            assert!(
                PhotoUrl::parse("photo_url", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(PhotoUrl::parse("photo_url", &long).is_err());
    }

    #[test]
    fn locales_follow_the_bcp47_shape() {
        for good in ["en", "pt-BR", "zh-Hant-TW", "es-419"] {
            assert!(
                Locale::parse("locale", good).is_ok(),
                "{good:?} was refused"
            );
        }
        for bad in ["", "e", "english", "en_US", "en--US", "en-", "123"] {
            assert!(
                Locale::parse("locale", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }
}
