//! Two-factor authentication: TOTP enrolment, backup codes, turning it off,
//! staff resets, and checking a second factor (for sign-in and step-up).
//!
//! A user's TOTP secret is sealed at rest under the server secret, bound to
//! the user's id. A code is accepted once: the last accepted time step is
//! kept and only later steps pass, under any concurrency. Backup codes are
//! `user_tokens` rows holding a keyed hash each. Wrong codes count against
//! the user like wrong passwords ([`App::mfa_code_subject`]).

mod enrollment;
mod factor;
mod reset;

use std::time::Duration;

pub use enrollment::{MfaStatus, TotpEnrollment};

/// How long a started TOTP enrolment waits for its first code.
pub const TOTP_ENROLLMENT_TTL: Duration = Duration::from_secs(10 * 60);

/// The `user_tokens` purpose of backup codes.
pub(crate) const BACKUP_CODE: &str = "backup_code";
