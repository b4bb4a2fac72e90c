//! Checking and spending a second factor: a TOTP code (each time step
//! once) or an unused backup code (once).

use super::BACKUP_CODE;
use crate::app::App;
use crate::app::blocks::links::token_row;
use crate::app::blocks::throttle::Subject;
use crate::app::error::AppError;
use crate::crypto::{
    BACKUP_CODE_COUNT, KeyPurpose, TOTP_DIGITS, TotpSecret, backup_code, normalize_backup_code,
};
use crate::domain::{AuthMethod, Timestamp, UserId};
use crate::store::{self, ConnectionTrait, mfa::UserTotpRow, users::UserRow};

/// Backup codes never expire on their own; regeneration or use retires them.
const BACKUP_CODE_TTL: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 86_400);

/// A second factor that was checked and spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpentFactor {
    /// Which kind it was.
    pub method: AuthMethod,
    /// Unused backup codes left afterwards (for the notice mail).
    pub backup_codes_left: u64,
}

impl App {
    /// Wrong second-factor codes given by or against one user, from
    /// anywhere: throttled like wrong passwords.
    pub(crate) fn mfa_code_subject(&self, user_id: UserId) -> Subject {
        Subject {
            key: format!("mfa_code:user:{user_id}"),
            rule: self.auth_rules().per_user,
        }
    }

    /// The secret of a TOTP enrolment, opened. A secret sealed under a
    /// previous server secret is sealed again under the current one.
    pub(crate) async fn open_totp(
        &self,
        conn: &impl ConnectionTrait,
        row: &UserTotpRow,
    ) -> Result<TotpSecret, AppError> {
        let context = row.user_id.to_string();
        let unreadable = || {
            AppError::corrupt(format!(
                "the TOTP secret of user {} does not open with the server secrets configured",
                row.user_id
            ))
        };
        let opened = self
            .server_key()
            .open(KeyPurpose::TotpSeal, &row.sealed_secret, &context)
            .map_err(|_| unreadable())?;
        let secret = TotpSecret::from_bytes(&opened.plaintext).ok_or_else(unreadable)?;
        if opened.stale {
            let sealed = self.seal_totp(&secret, row.user_id)?;
            store::mfa::reseal(conn, row.user_id, &sealed).await?;
        }
        Ok(secret)
    }

    /// `secret` sealed for `user_id` under the current server secret.
    pub(crate) fn seal_totp(
        &self,
        secret: &TotpSecret,
        user_id: UserId,
    ) -> Result<String, AppError> {
        self.server_key()
            .seal(
                KeyPurpose::TotpSeal,
                secret.as_bytes(),
                &user_id.to_string(),
            )
            .map_err(|err| AppError::corrupt(err.to_string()))
    }

    /// The time step `code` belongs to for `secret` at `now`, if any.
    pub(crate) fn totp_step(&self, secret: &TotpSecret, code: &str, now: Timestamp) -> Option<i64> {
        let (seconds, _) = now.as_unix();
        let seconds = u64::try_from(seconds).ok()?;
        secret
            .matching_step(code.trim(), seconds)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// Checks `code` as `user`'s second factor and spends it: a current
    /// TOTP code of their confirmed enrolment whose time step was not used
    /// yet, or (when `backup_codes` allows) one of their unused backup codes.
    /// `None` when it is neither; nothing is spent then.
    pub(crate) async fn spend_second_factor(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
        code: &str,
        backup_codes: bool,
    ) -> Result<Option<SpentFactor>, AppError> {
        let now = self.now();
        let typed = code.trim();
        if typed.len() == TOTP_DIGITS && typed.bytes().all(|b| b.is_ascii_digit()) {
            let Some(row) = store::mfa::find(conn, user.id).await? else {
                return Ok(None);
            };
            if row.confirmed_at.is_none() {
                return Ok(None);
            }
            let secret = self.open_totp(conn, &row).await?;
            let Some(step) = self.totp_step(&secret, typed, now) else {
                return Ok(None);
            };
            if !store::mfa::use_step(conn, user.id, step).await? {
                return Ok(None);
            }
            let backup_codes_left = self.backup_codes_left(conn, user.id).await?;
            return Ok(Some(SpentFactor {
                method: AuthMethod::Otp,
                backup_codes_left,
            }));
        }
        let Some(normalized) = normalize_backup_code(typed).filter(|_| backup_codes) else {
            return Ok(None);
        };
        let live =
            store::user_tokens::live_for_user(conn, user.id, BACKUP_CODE, now.as_micros()).await?;
        // Every live code is compared, whichever matches.
        let matched = live.iter().fold(None, |found, row| {
            let matches = self.server_key().digest_matches_any(
                KeyPurpose::BackupCode,
                &normalized,
                &row.secret_hash,
            );
            found.or(matches.then_some(row))
        });
        let Some(row) = matched else {
            return Ok(None);
        };
        if !store::user_tokens::consume(conn, &row.id, now.as_micros()).await? {
            return Ok(None);
        }
        Ok(Some(SpentFactor {
            method: AuthMethod::BackupCode,
            backup_codes_left: u64::try_from(live.len().saturating_sub(1)).unwrap_or_default(),
        }))
    }

    /// Unused backup codes of the user.
    pub(crate) async fn backup_codes_left(
        &self,
        conn: &impl ConnectionTrait,
        user_id: UserId,
    ) -> Result<u64, AppError> {
        let now = self.now().as_micros();
        Ok(store::user_tokens::count_live_for_user(conn, user_id, BACKUP_CODE, now).await?)
    }

    /// Replaces the user's backup codes with [`BACKUP_CODE_COUNT`] new ones,
    /// stored as keyed hashes; returns them, to be shown once.
    pub(crate) async fn issue_backup_codes(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<Vec<String>, AppError> {
        store::user_tokens::delete_for_user(conn, user.id, BACKUP_CODE).await?;
        let now = self.now();
        let mut codes = Vec::with_capacity(BACKUP_CODE_COUNT);
        for _ in 0..BACKUP_CODE_COUNT {
            let code = backup_code();
            let normalized = normalize_backup_code(&code)
                .ok_or_else(|| AppError::corrupt("a fresh backup code does not normalize"))?;
            let hash = self.keyed_digest(KeyPurpose::BackupCode, &normalized);
            store::user_tokens::insert(
                conn,
                token_row(user, BACKUP_CODE, hash, now, BACKUP_CODE_TTL),
            )
            .await?;
            codes.push(code);
        }
        Ok(codes)
    }
}
