//! Two-factor backup codes: ten single-use codes a user keeps on paper for
//! when their authenticator is gone.
//!
//! A code is ten characters from a 32-letter alphabet without look-alikes
//! (no `0` or `o`, no `1` or `l`), 50 bits, shown as `xxxxx-xxxxx`. Stored codes
//! are keyed hashes ([`KeyPurpose::BackupCode`](super::KeyPurpose)), so a
//! copy of the database alone cannot be searched for them.

use super::random_bytes;

/// Codes issued at enrolment and on every regeneration.
pub const BACKUP_CODE_COUNT: usize = 10;

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
const LETTERS: usize = 10;

/// A fresh backup code, as shown to the user.
pub fn backup_code() -> String {
    // 32 symbols: each random byte's low five bits pick one without bias.
    let bytes = random_bytes::<LETTERS>();
    let letters: String = bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
        .collect();
    format!("{}-{}", &letters[..5], &letters[5..])
}

/// The form a typed backup code is hashed in: lower case, without the
/// dash and spaces people type or leave out. `None` when it cannot be a
/// backup code, so garbage is refused without a lookup.
pub fn normalize_backup_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (letters.len() == LETTERS && letters.bytes().all(|b| ALPHABET.contains(&b))).then_some(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_documented_shape_and_normalize_back() {
        let code = backup_code();
        assert_eq!(code.len(), 11);
        assert_eq!(code.as_bytes()[5], b'-');
        let normalized = normalize_backup_code(&code).expect("a code");
        assert_eq!(normalized, code.replace('-', ""));
        assert_eq!(
            normalize_backup_code(&format!(" {} ", code.to_uppercase())),
            Some(normalized)
        );
        assert_ne!(backup_code(), backup_code());
    }

    #[test]
    fn other_text_is_not_a_backup_code() {
        for typed in [
            "",
            "123456",
            "abcde-fghi",
            "abcde-fghjk1",
            "abcde-fgh0k",
            "ab cd",
        ] {
            assert_eq!(normalize_backup_code(typed), None, "{typed}");
        }
    }
}
