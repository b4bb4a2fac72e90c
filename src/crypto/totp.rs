//! Time-based one-time passwords (RFC 6238) as every authenticator app
//! speaks them: a 160-bit secret, HMAC-SHA-1, 6 digits, 30-second steps.
//!
//! The arithmetic is `totp-rs`'s; this module fixes the parameters, finds
//! which time step a code belongs to (so a code can be refused once its
//! step was used) and renders the enrolment URI and its QR code.

use qrcode::QrCode;
use qrcode::render::svg;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::random_bytes;

/// Bytes in a secret: 160 bits, the size RFC 4226 recommends.
pub const TOTP_SECRET_BYTES: usize = 20;
/// Digits in a code.
pub const TOTP_DIGITS: usize = 6;
/// Seconds in a time step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Steps of clock difference accepted either side of the server's.
pub const TOTP_SKEW_STEPS: u64 = 1;

/// A TOTP secret. It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; TOTP_SECRET_BYTES]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A fresh secret from the operating system's generator.
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// The secret in `bytes`, if it has the right length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw secret, for sealing it at rest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        // `new_unchecked` skips totp-rs's checks on the label; `label_part`
        // already removed the one character (`:`) the URI format reserves.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            TOTP_DIGITS,
            0,
            TOTP_STEP_SECONDS,
            self.0.to_vec(),
            Some(label_part(issuer)),
            label_part(account),
        )
    }

    /// The secret in base32 (RFC 4648, no padding), for typing into an app.
    pub fn base32(&self) -> String {
        self.totp("", "").get_secret_base32()
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("", "")
            .generate(step.saturating_mul(TOTP_STEP_SECONDS))
    }

    /// The time step `code` belongs to, if it is the code of a step within
    /// [`TOTP_SKEW_STEPS`] of the one holding `unix_seconds`. Every candidate
    /// is compared, in constant time, whatever matched first.
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_seconds / TOTP_STEP_SECONDS;
        let mut found = None;
        for step in now.saturating_sub(TOTP_SKEW_STEPS)..=now.saturating_add(TOTP_SKEW_STEPS) {
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The Key Uri Format URI an authenticator app reads from a QR code:
    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=<issuer>`, with
    /// the default algorithm, digits and period left out, as apps expect.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }
}

/// A QR code of `text` as a standalone SVG document.
pub fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// `text` made safe for one side of a Key Uri Format label, which puts a
/// colon between issuer and account.
fn label_part(text: &str) -> String {
    text.replace(':', " ").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 seed of RFC 6238 appendix B.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").expect("20 bytes")
    }

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        // The RFC lists 8-digit codes; a 6-digit code is their last six digits.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let secret = rfc_secret();
        for (time, eight_digits) in vectors {
            assert_eq!(
                secret.code_at_step(time / TOTP_STEP_SECONDS),
                eight_digits[2..],
                "at {time}"
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_step_either_side_only() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = now / TOTP_STEP_SECONDS;
        for offset in [-1i64, 0, 1] {
            let other = step.checked_add_signed(offset).expect("in range");
            let code = secret.code_at_step(other);
            assert_eq!(secret.matching_step(&code, now), Some(other), "{offset}");
        }
        for offset in [-2i64, 2] {
            let code = secret.code_at_step(step.checked_add_signed(offset).expect("in range"));
            // A code two steps away may collide with a nearer one by chance
            // (one in a million); it must never be reported as its own step.
            assert_ne!(
                secret.matching_step(&code, now),
                step.checked_add_signed(offset)
            );
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("12345a", now), None);
        assert_eq!(secret.matching_step("", now), None);
    }

    #[test]
    fn the_uri_follows_the_key_uri_format() {
        let secret = rfc_secret();
        let uri = secret.otpauth_uri("Acme Billing", "ann@example.com");
        let parsed = url::Url::parse(&uri).expect("a URL");
        assert_eq!(parsed.scheme(), "otpauth");
        assert_eq!(parsed.host_str(), Some("totp"));
        assert_eq!(parsed.path(), "/Acme%20Billing:ann%40example.com");
        let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(query.contains(&("secret".into(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into())));
        assert!(query.contains(&("issuer".into(), "Acme Billing".into())));

        // What an app does with it: read the parameters back and compute codes.
        let read = TOTP::from_url(&uri).expect("an app can read it");
        assert_eq!(read.secret, secret.as_bytes());
        assert_eq!(read.digits, TOTP_DIGITS);
        assert_eq!(read.step, TOTP_STEP_SECONDS);
        assert_eq!(read.algorithm, Algorithm::SHA1);
        assert_eq!(read.issuer.as_deref(), Some("Acme Billing"));
        assert_eq!(read.account_name, "ann@example.com");
        assert_eq!(read.generate(59), "287082");
    }

    #[test]
    fn colons_cannot_break_the_label() {
        let uri = rfc_secret().otpauth_uri("Evil:Corp", "a:b@example.com");
        let read = TOTP::from_url(&uri).expect("readable");
        assert_eq!(read.issuer.as_deref(), Some("Evil Corp"));
        assert_eq!(read.account_name, "a b@example.com");
    }

    #[test]
    fn the_secret_reads_as_base32_and_never_prints() {
        assert_eq!(rfc_secret().base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(<redacted>)");
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
        assert!(TotpSecret::from_bytes(&[0; 19]).is_none());
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQ").expect("fits");
        assert!(svg.starts_with("<?xml"), "{}", &svg[..40]);
        assert!(svg.contains("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
