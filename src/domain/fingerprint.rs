//! Explicit, versioned encodings of requests, for idempotency keys and page
//! tokens.
//!
//! A fingerprint must stay the same across deploys for the same request, or a
//! retry after a deploy is refused as a reused request id and a page token is
//! refused as made for other filters. So it never comes from `Debug` (which
//! changes when a field or a derive does): each request type names its fields
//! here one by one, and a change to what enters it comes with a new version.
//!
//! The encoding is a sequence of self-delimiting items: the kind and version,
//! then for each field its length-prefixed name, a one-byte tag for the shape
//! of the value, and the value (length-prefixed where it has a length). No two
//! different sequences of fields encode to the same bytes, so `("ab", "c")`
//! and `("a", "bc")` differ, and so do `None` and `Some("")`.

use sha2::{Digest, Sha256};

/// The canonical encoding of one request (or one list's filters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    bytes: Vec<u8>,
}

/// The tag in front of each value, naming its shape.
mod tag {
    pub const TEXT: u8 = b'T';
    pub const NONE: u8 = b'N';
    pub const SOME: u8 = b'S';
    pub const FLAG: u8 = b'B';
    pub const INT: u8 = b'I';
    pub const NO_INT: u8 = b'n';
    pub const SOME_INT: u8 = b'i';
    pub const LIST: u8 = b'L';
}

impl Fingerprint {
    /// Starts the encoding of a `kind` of request (`"CreateUser"`) in its
    /// `version`; bump the version whenever what enters it changes.
    pub fn new(kind: &str, version: u32) -> Self {
        let mut fingerprint = Self { bytes: Vec::new() };
        fingerprint.put_bytes(kind.as_bytes());
        fingerprint.bytes.extend_from_slice(&version.to_be_bytes());
        fingerprint
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.put_name(name, tag::TEXT);
        self.put_bytes(value.as_bytes());
        self
    }

    /// Adds an optional text field; `None` and `Some("")` differ.
    pub fn opt(mut self, name: &str, value: Option<&str>) -> Self {
        match value {
            None => self.put_name(name, tag::NONE),
            Some(value) => {
                self.put_name(name, tag::SOME);
                self.put_bytes(value.as_bytes());
            }
        }
        self
    }

    /// Adds a yes/no field.
    pub fn flag(mut self, name: &str, value: bool) -> Self {
        self.put_name(name, tag::FLAG);
        self.bytes.push(u8::from(value));
        self
    }

    /// Adds a whole number.
    pub fn int(mut self, name: &str, value: i64) -> Self {
        self.put_name(name, tag::INT);
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Adds an optional whole number.
    pub fn opt_int(mut self, name: &str, value: Option<i64>) -> Self {
        match value {
            None => self.put_name(name, tag::NO_INT),
            Some(value) => {
                self.put_name(name, tag::SOME_INT);
                self.bytes.extend_from_slice(&value.to_be_bytes());
            }
        }
        self
    }

    /// Adds a list of texts, in the order given (sort a set first).
    pub fn list<I>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let values: Vec<I::Item> = values.into_iter().collect();
        self.put_name(name, tag::LIST);
        self.put_len(values.len());
        for value in &values {
            self.put_bytes(value.as_ref().as_bytes());
        }
        self
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 digest of the encoding.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// The SHA-256 digest of the encoding, as lower-case hex.
    pub fn hex_digest(&self) -> String {
        hex::encode(self.digest())
    }

    fn put_name(&mut self, name: &str, tag: u8) {
        self.put_bytes(name.as_bytes());
        self.bytes.push(tag);
    }

    fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len());
        self.bytes.extend_from_slice(bytes);
    }

    fn put_len(&mut self, len: usize) {
        // usize is at most 64 bits on every supported target.
        self.bytes.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fingerprint {
        Fingerprint::new("CreateThing", 1)
            .text("name", "Ann")
            .opt("locale", None)
            .opt("photo", Some(""))
            .flag("send", true)
            .int("count", -2)
            .opt_int("since", Some(7))
            .opt_int("until", None)
            .list("tags", ["a", "bc"])
    }

    #[test]
    fn the_encoding_is_stable() {
        // A change to these bytes changes every stored fingerprint and page
        // token: it needs a new version of the requests it affects, not a
        // new expected value here.
        let small = Fingerprint::new("K", 2).text("a", "b").flag("f", false);
        assert_eq!(
            hex::encode(small.as_bytes()),
            concat!(
                "00000000000000014b",
                "00000002",
                "000000000000000161",
                "54",
                "000000000000000162",
                "000000000000000166",
                "42",
                "00",
            )
        );
        assert_eq!(
            sample().hex_digest(),
            "073e324192f80d94d4c1ac1e629b25d584225609780c73c523139a6ab320aed6"
        );
    }

    #[test]
    fn none_differs_from_the_empty_text() {
        let none = Fingerprint::new("K", 1).opt("x", None);
        let empty = Fingerprint::new("K", 1).opt("x", Some(""));
        let text = Fingerprint::new("K", 1).text("x", "");
        assert_ne!(none, empty);
        assert_ne!(empty, text);
        assert_ne!(none, text);
        assert_ne!(
            Fingerprint::new("K", 1).opt_int("x", None),
            Fingerprint::new("K", 1).opt_int("x", Some(0))
        );
    }

    #[test]
    fn names_order_kind_and_version_matter() {
        let base = Fingerprint::new("K", 1).text("a", "1").text("b", "2");
        assert_ne!(base, Fingerprint::new("K", 1).text("b", "2").text("a", "1"));
        assert_ne!(base, Fingerprint::new("K", 1).text("a", "1").text("c", "2"));
        assert_ne!(base, Fingerprint::new("L", 1).text("a", "1").text("b", "2"));
        assert_ne!(base, Fingerprint::new("K", 2).text("a", "1").text("b", "2"));
        assert_eq!(base, Fingerprint::new("K", 1).text("a", "1").text("b", "2"));
    }

    #[test]
    fn boundaries_between_values_are_unambiguous() {
        let split =
            |first: &str, second: &str| Fingerprint::new("K", 1).text("x", first).text("y", second);
        assert_ne!(split("ab", "c"), split("a", "bc"));
        assert_ne!(
            Fingerprint::new("K", 1).list("x", ["ab", "c"]),
            Fingerprint::new("K", 1).list("x", ["a", "bc"])
        );
        assert_ne!(
            Fingerprint::new("K", 1)
                .list("x", ["a"])
                .list("y", Vec::<&str>::new()),
            Fingerprint::new("K", 1)
                .list("x", Vec::<&str>::new())
                .list("y", ["a"])
        );
        // A value that spells out another field cannot pass for it.
        assert_ne!(
            Fingerprint::new("K", 1).text("x", "a").text("y", "b"),
            Fingerprint::new("K", 1).text("x", "a\0\0\0\0\0\0\0\x01yT\0\0\0\0\0\0\0\x01b")
        );
        assert_ne!(
            Fingerprint::new("K", 1).text("x", "1"),
            Fingerprint::new("K", 1).flag("x", true)
        );
    }
}
