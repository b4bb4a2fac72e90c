//! Staff turning a user's two-factor authentication off for them, when
//! the user lost both their authenticator and their backup codes.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::held_role_if_covered;
use crate::app::blocks::loads::load_user;
use crate::app::error::{AppError, Reason};
use crate::domain::{Permission, User, UserId};
use crate::mail::MailKind;
use crate::store;

/// Why sessions end when staff reset a user's second factor.
const MFA_RESET: &str = "mfa_reset";

impl App {
    /// Staff holding `users.mfa_reset` turn `id`'s two-factor
    /// authentication off: the TOTP secret and backup codes are deleted,
    /// every session of the user ends (whoever holds one may be the reason
    /// for the reset) and the user is mailed. A staff user's second factor
    /// is reset only by a caller who holds every permission of their role.
    pub async fn reset_user_mfa(
        &self,
        principal: &Principal,
        id: UserId,
        reason: &str,
    ) -> Result<User, AppError> {
        principal.ensure_staff(Permission::UsersMfaReset)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut user = load_user(&txn, id).await?;
        held_role_if_covered(&txn, principal, &user).await?;
        if user.mfa_enabled_at.is_none() && store::mfa::find(&txn, id).await?.is_none() {
            return Err(AppError::FailedPrecondition(Reason::MfaNotEnabled));
        }
        store::mfa::remove(&txn, id, now.as_micros()).await?;
        store::user_tokens::delete_for_user(&txn, id, super::BACKUP_CODE).await?;
        let ended =
            store::sessions::revoke_all_for_user(&txn, id, None, now.as_micros(), MFA_RESET)
                .await?;
        self.mail_mfa_notice(&txn, &user, MailKind::MfaReset, [])
            .await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("user.mfa_reset", "user", id)
                .detail("reason", reason)
                .detail("sessions_ended", ended),
        )
        .await?;
        self.commit(txn).await?;
        user.mfa_enabled_at = None;
        user.updated_at = now.as_micros();
        Ok(User::from(user))
    }
}
