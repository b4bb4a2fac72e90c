//! Page sizes and opaque keyset page tokens.
//!
//! A page token names the last row of the previous page (its sort key) and a
//! fingerprint of the filters it was made under. Rows inserted while a caller
//! pages never shift later pages, and a token reused with other filters is refused
//! instead of silently skipping rows.

use super::{FieldViolation, Fingerprint};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How many rows one page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u64);

impl PageSize {
    /// The size of a page when the caller does not say.
    pub const DEFAULT: u64 = 50;
    /// The largest page a caller can ask for.
    pub const MAX: u64 = 500;

    /// Parses `page_size`: 0 means the default; larger than the maximum is capped.
    pub fn parse(field: &str, value: i32) -> Result<Self, FieldViolation> {
        match u64::try_from(value) {
            Err(_) => Err(FieldViolation::new(field, "must not be negative")),
            Ok(0) => Ok(Self(Self::DEFAULT)),
            Ok(size) => Ok(Self(size.min(Self::MAX))),
        }
    }

    /// The number of rows.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Where the next page starts: after the row with this sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// The sort key of the last row already returned.
    pub after: String,
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    #[serde(rename = "k")]
    key: String,
    #[serde(rename = "f")]
    filters: String,
}

/// The filters as a token carries them: eight bytes of their digest are
/// enough to catch a token reused under other filters.
fn fingerprint(filters: &Fingerprint) -> String {
    hex::encode(&filters.digest()[..8])
}

impl PageCursor {
    /// Decodes `page_token` made under the same `filters`; empty means the first page.
    pub fn decode(
        field: &str,
        token: &str,
        filters: &Fingerprint,
    ) -> Result<Option<Self>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || FieldViolation::new(field, "is not a page token from this list");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let body: TokenBody = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if body.filters != fingerprint(filters) {
            return Err(FieldViolation::new(
                field,
                "was made for a list with other filters; start again without a page token",
            ));
        }
        Ok(Some(Self { after: body.key }))
    }

    /// The token for the page after the row with sort key `last_key`.
    pub fn encode(last_key: &str, filters: &Fingerprint) -> String {
        let body = TokenBody {
            key: last_key.to_owned(),
            filters: fingerprint(filters),
        };
        // Serialising two strings cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(
            PageSize::parse("page_size", 0).unwrap().get(),
            PageSize::DEFAULT
        );
        assert_eq!(PageSize::parse("page_size", 7).unwrap().get(), 7);
        assert_eq!(
            PageSize::parse("page_size", 10_000).unwrap().get(),
            PageSize::MAX
        );
        assert!(PageSize::parse("page_size", -1).is_err());
    }

    #[test]
    fn tokens_round_trip_under_the_same_filters_only() {
        let api = Fingerprint::new("ListRoles", 1).opt("kind", Some("api"));
        let admin = Fingerprint::new("ListRoles", 1).opt("kind", Some("admin"));
        let token = PageCursor::encode("0190-abc", &api);
        assert_eq!(
            PageCursor::decode("page_token", &token, &api).unwrap(),
            Some(PageCursor {
                after: "0190-abc".into()
            })
        );
        assert!(PageCursor::decode("page_token", &token, &admin).is_err());
        assert_eq!(PageCursor::decode("page_token", "", &api).unwrap(), None);
        assert!(PageCursor::decode("page_token", "!!not-base64!!", &api).is_err());
        assert!(PageCursor::decode("page_token", "bm90IGpzb24", &api).is_err());
    }
}
