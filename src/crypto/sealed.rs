//! Secrets identityd must read back (TOTP secrets), sealed at rest with an
//! AEAD under a key derived from the server secret.
//!
//! A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`:
//! XChaCha20-Poly1305 with a random 192-bit nonce (random nonces of that size
//! never collide in practice, so no counter has to be kept across replicas).
//! The associated data binds the value to what it belongs to (a user's id),
//! so a database writer cannot move one user's sealed secret to another.
//! The key id names the server secret that sealed it: after a rotation the
//! old secret, listed in `security.previous_server_secrets`, still opens it,
//! and [`Opened::stale`] tells the caller to seal it again under the new one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::random_bytes;
use super::server_key::{KeyPurpose, ServerKey};

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 24;

/// A sealed value that cannot be opened: damaged, sealed for something
/// else, or under a server secret this server no longer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed value cannot be opened with the server secrets this server knows")]
pub struct Unsealable;

/// A value too large for the AEAD to seal (gigabytes; never a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value is too large to seal")]
pub struct SealFailed;

/// An opened value.
#[derive(Debug)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Whether a previous server secret sealed it (seal it again).
    pub stale: bool,
}

impl ServerKey {
    /// Seals `plaintext` for `context` (what it belongs to) under the
    /// current server secret's key for `purpose`.
    pub fn seal(
        &self,
        purpose: KeyPurpose,
        plaintext: &[u8],
        context: &str,
    ) -> Result<String, SealFailed> {
        let keys = self.current();
        let cipher = XChaCha20Poly1305::new(keys.key(purpose).into());
        let nonce = random_bytes::<NONCE_BYTES>();
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SealFailed)?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&ciphertext);
        Ok(format!(
            "{VERSION}.{}.{}",
            keys.id,
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    /// Opens a value [`Self::seal`] made for `purpose` and `context`.
    pub fn open(
        &self,
        purpose: KeyPurpose,
        sealed: &str,
        context: &str,
    ) -> Result<Opened, Unsealable> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Unsealable);
        };
        let keys = self.by_id(id).ok_or(Unsealable)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| Unsealable)?;
        if body.len() < NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| Unsealable)?;
        let cipher = XChaCha20Poly1305::new(keys.key(purpose).into());
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| Unsealable)?;
        Ok(Opened {
            plaintext,
            stale: keys.id != self.current().id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> ServerKey {
        ServerKey::from_secret(secret)
    }

    #[test]
    fn a_sealed_value_opens_for_its_context_only() {
        let server = key(b"one secret of thirty-two bytes!!");
        let sealed = server
            .seal(KeyPurpose::TotpSeal, b"totp secret bytes", "user-1")
            .expect("seals");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("totp"));
        let opened = server
            .open(KeyPurpose::TotpSeal, &sealed, "user-1")
            .expect("opens");
        assert_eq!(opened.plaintext, b"totp secret bytes");
        assert!(!opened.stale);
        assert_eq!(
            server.open(KeyPurpose::TotpSeal, &sealed, "user-2").err(),
            Some(Unsealable)
        );
        assert_ne!(
            sealed,
            server
                .seal(KeyPurpose::TotpSeal, b"totp secret bytes", "user-1")
                .expect("seals"),
            "fresh nonce"
        );
    }

    #[test]
    fn tampering_or_another_secret_is_refused() {
        let server = key(b"one secret of thirty-two bytes!!");
        let sealed = server
            .seal(KeyPurpose::TotpSeal, b"secret", "user-1")
            .expect("seals");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(
            server.open(KeyPurpose::TotpSeal, &tampered, "user-1").err(),
            Some(Unsealable)
        );
        let stranger = key(b"another secret of thirty-two b!!");
        assert_eq!(
            stranger.open(KeyPurpose::TotpSeal, &sealed, "user-1").err(),
            Some(Unsealable)
        );
        for garbage in ["", "v1", "v1.x.y", "v2.abc.def", "v1..", "plain"] {
            assert_eq!(
                server.open(KeyPurpose::TotpSeal, garbage, "user-1").err(),
                Some(Unsealable)
            );
        }
    }

    #[test]
    fn a_previous_secret_still_opens_and_says_it_is_stale() {
        let old = key(b"the old secret of thirty-two b!!");
        let sealed = old
            .seal(KeyPurpose::TotpSeal, b"secret", "user-1")
            .expect("seals");
        let rotated = key(b"the new secret of thirty-two b!!")
            .with_previous(["the old secret of thirty-two b!!"]);
        let opened = rotated
            .open(KeyPurpose::TotpSeal, &sealed, "user-1")
            .expect("opens");
        assert_eq!(opened.plaintext, b"secret");
        assert!(opened.stale);
        let resealed = rotated
            .seal(KeyPurpose::TotpSeal, &opened.plaintext, "user-1")
            .expect("seals");
        assert!(
            !rotated
                .open(KeyPurpose::TotpSeal, &resealed, "user-1")
                .expect("opens")
                .stale
        );
    }
}
