//! Keyset paging of list use cases: where a page starts, how many rows it
//! holds, and the token of the next page, bound to the list's filters.

use crate::app::error::AppError;
use crate::domain::{FieldViolation, Fingerprint, PageCursor, PageSize};
use crate::store::Page;

/// The request field a page token comes in.
const FIELD: &str = "page_token";

/// One page request of a list: the decoded token and the filters every
/// token of this list is bound to.
#[derive(Debug, Clone)]
pub struct Paging {
    filters: Fingerprint,
    size: PageSize,
    after: Option<String>,
}

impl Paging {
    /// Decodes `page_token` for a list under `filters`: empty starts at the
    /// first row; a token made under other filters is refused.
    pub fn start(page_token: &str, size: PageSize, filters: Fingerprint) -> Result<Self, AppError> {
        let after = PageCursor::decode(FIELD, page_token, &filters)?.map(|cursor| cursor.after);
        Ok(Self {
            filters,
            size,
            after,
        })
    }

    /// The sort key of the last row already returned, if any.
    pub fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// The sort key of the last row already returned, for lists whose key
    /// has several parts: `parse` reads it back, and a key it cannot read
    /// is refused like any foreign token.
    pub fn after_parsed<K>(
        &self,
        parse: impl FnOnce(&str) -> Option<K>,
    ) -> Result<Option<K>, AppError> {
        match self.after() {
            None => Ok(None),
            Some(key) => parse(key).map(Some).ok_or_else(|| {
                FieldViolation::new(FIELD, "is not a page token from this list").into()
            }),
        }
    }

    /// How many rows the page holds.
    pub fn limit(&self) -> u64 {
        self.size.get()
    }

    /// The token of the page after `page`, from `key_of` its last row; none
    /// when no row follows.
    pub fn next_token<T>(
        &self,
        page: &Page<T>,
        key_of: impl FnOnce(&T) -> String,
    ) -> Option<String> {
        let last = page.rows.last().filter(|_| page.has_more)?;
        Some(PageCursor::encode(&key_of(last), &self.filters))
    }
}
