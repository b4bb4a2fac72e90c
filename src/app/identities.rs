//! External identities linked to users (by an external sign-in): listing
//! and unlinking them, by the user or by staff.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::held_role_if_covered;
use crate::app::error::{AppError, Reason};
use crate::domain::{FieldViolation, Permission, Timestamp, UserId};
use crate::store::{self, external_sign_in::ExternalIdentityRow};

/// A provider's account linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The link's id.
    pub id: String,
    /// The user it signs in.
    pub user_id: UserId,
    /// The provider.
    pub provider_id: String,
    /// The provider's id for the person (`sub`).
    pub subject: String,
    /// The address the provider gave at the last sign-in.
    pub email: String,
    /// When it was linked.
    pub created_at: Timestamp,
    /// When it last signed the user in.
    pub last_sign_in_at: Option<Timestamp>,
}

impl From<ExternalIdentityRow> for ExternalIdentity {
    fn from(row: ExternalIdentityRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            provider_id: row.provider_id,
            subject: row.subject,
            email: row.email,
            created_at: Timestamp::from_micros(row.created_at),
            last_sign_in_at: row.last_sign_in_at.map(Timestamp::from_micros),
        }
    }
}

impl App {
    /// A user's linked identities, oldest first: the caller's own (for an
    /// empty `user_id`), or anyone's for staff holding `users.read`.
    pub async fn list_external_identities(
        &self,
        principal: &Principal,
        user_id: Option<UserId>,
    ) -> Result<Vec<ExternalIdentity>, AppError> {
        let user_id = self.session_subject(principal, user_id, Permission::UsersRead)?;
        let rows = store::external_sign_in::list_identities(self.reader(), user_id).await?;
        Ok(rows.into_iter().map(ExternalIdentity::from).collect())
    }

    /// Unlinks an identity: one of the caller's own, or anyone's for staff
    /// holding `users.write` who cover the user's admin role. Someone else's
    /// identity looks like none at all to a caller without that permission.
    /// A user with no password keeps their last identity: it is their only
    /// way to sign in.
    pub async fn unlink_external_identity(
        &self,
        principal: &Principal,
        identity_id: &str,
    ) -> Result<(), AppError> {
        let identity_id = uuid::Uuid::parse_str(identity_id.trim())
            .map_err(|_| FieldViolation::new("identity_id", "must be a UUID"))?
            .to_string();
        let not_found = || AppError::NotFound(Reason::ExternalIdentityNotFound);
        let txn = store::begin(self.db()).await?;
        let identity = store::external_sign_in::find_identity_by_id(&txn, &identity_id)
            .await?
            .ok_or_else(not_found)?;
        let user = store::users::find_for_update(&txn, identity.user_id)
            .await?
            .ok_or_else(not_found)?;
        if principal.session_user() != Some(user.id) {
            if !principal.permissions.contains(Permission::UsersWrite) {
                return Err(not_found());
            }
            held_role_if_covered(&txn, principal, &user).await?;
        }
        let linked = store::external_sign_in::list_identities(&txn, user.id).await?;
        if user.password_hash.is_none() && linked.len() <= 1 {
            return Err(AppError::FailedPrecondition(Reason::LastSignInMethod));
        }
        store::external_sign_in::delete_identity(&txn, &identity.id).await?;
        let change = Change::new("user.external_identity_unlinked", "user", user.id)
            .detail("identity_id", &identity.id)
            .detail("provider", &identity.provider_id)
            .detail("subject", &identity.subject);
        record_at(&txn, principal, self.now(), change).await?;
        self.commit(txn).await?;
        Ok(())
    }
}
