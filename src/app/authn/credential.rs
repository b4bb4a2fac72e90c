//! Authenticating API credentials: machine callers acting for a staff user.

use std::time::Duration;

use super::cache::key_of;
use super::principal::Caller;
use super::{Authenticated, Authenticator, Cached};
use crate::app::error::{AppError, Reason};
use crate::crypto::{ApiCredentialToken, secret_matches};
use crate::domain::{PermissionSet, RoleKind, Timestamp, UserStatus};
use crate::store;
use crate::store::credentials::{CredentialRow, GrantingRole};

/// `last_used_at` is written at most this often per credential, so that
/// authenticating stays a read and not a write on every call.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// A hash no secret has, compared against when the identifier is unknown so
/// that unknown and known identifiers take the same work.
const UNKNOWN_CREDENTIAL_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether a credential can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCredentialState {
    /// Usable.
    Active,
    /// Past its expiry time.
    Expired,
    /// Revoked.
    Revoked,
}

/// The state of a stored credential at `now`.
pub fn credential_state(row: &CredentialRow, now: Timestamp) -> ApiCredentialState {
    if row.revoked_at.is_some() {
        ApiCredentialState::Revoked
    } else if row.expires_at.is_some_and(|at| at <= now.as_micros()) {
        ApiCredentialState::Expired
    } else {
        ApiCredentialState::Active
    }
}

impl Authenticator {
    /// Authenticates an API credential bearer token.
    ///
    /// The credential's permissions are those of its API roles, limited to the
    /// permissions of its owner's admin role and of its creator's: a credential
    /// never does more than the staff user it belongs to nor the one who
    /// minted it, and stops working when either stops being active staff.
    pub async fn authenticate_credential(&self, bearer: &str) -> Result<Authenticated, AppError> {
        let token = ApiCredentialToken::parse(bearer)
            .map_err(|_| AppError::Unauthenticated(Reason::TokenMalformed))?;
        let key = key_of(bearer);
        let now = self.clock.now();
        if let Some(Cached::Credential(authenticated, _)) = self.cache.get(&key, now) {
            return Ok(authenticated);
        }
        let generation = self.cache.generation();
        let found =
            store::credentials::find_for_authentication(&self.reader, &token.identifier).await?;
        let Some(found) =
            found.filter(|found| secret_matches(&token.secret, &found.credential.secret_hash))
        else {
            let _ = secret_matches(&token.secret, UNKNOWN_CREDENTIAL_HASH);
            return Err(AppError::Unauthenticated(Reason::CredentialInvalid));
        };
        let row = found.credential;
        // The caller proved it holds the secret, so telling why it no longer
        // works reveals nothing to an outsider.
        match credential_state(&row, now) {
            ApiCredentialState::Active => {}
            ApiCredentialState::Expired => {
                return Err(AppError::Unauthenticated(Reason::CredentialExpired));
            }
            ApiCredentialState::Revoked => {
                return Err(AppError::Unauthenticated(Reason::CredentialRevoked));
            }
        }

        let owner_is_active = found.owner_status == Some(UserStatus::Active);
        let admin_role_id = found
            .owner_admin_role_id
            .filter(|_| owner_is_active)
            .ok_or(AppError::Unauthenticated(Reason::CredentialOwnerNotStaff))?;
        let permissions_of =
            |role: &GrantingRole| PermissionSet::from_stored(role.full_access, &role.permissions);
        let admin_permissions = found
            .roles
            .iter()
            .find(|role| role.id == admin_role_id)
            .map(permissions_of)
            .unwrap_or_default();
        // A credential made by someone other than its owner is also bounded
        // by its creator, so demoting or suspending the creator takes back
        // what they handed on.
        let creator_permissions = match row.created_by_user_id {
            Some(creator) if creator != row.owner_user_id => {
                let creator_is_active = found.creator_status == Some(UserStatus::Active);
                let creator_role_id = found
                    .creator_admin_role_id
                    .filter(|_| creator_is_active)
                    .ok_or(AppError::Unauthenticated(Reason::CredentialCreatorNotStaff))?;
                found
                    .roles
                    .iter()
                    .find(|role| role.id == creator_role_id)
                    .map(permissions_of)
                    .unwrap_or_default()
            }
            _ => PermissionSet::full_access(),
        };
        let api_permissions = found
            .roles
            .iter()
            .filter(|role| role.kind == RoleKind::Api)
            .fold(PermissionSet::none(), |acc, role| {
                acc.union(&permissions_of(role))
            });

        let stale = row
            .last_used_at
            .is_none_or(|at| at < now.minus(LAST_USED_GRANULARITY).as_micros());
        if stale {
            store::credentials::touch_last_used(&self.db, row.id, now.as_micros()).await?;
        }

        let authenticated = Authenticated {
            caller: Caller::ApiCredential {
                credential_id: row.id,
                staff_user_id: row.owner_user_id,
            },
            permissions: api_permissions
                .intersection(&admin_permissions)
                .intersection(&creator_permissions),
            account: None,
            // Machine callers have no second factor to enrol.
            mfa_enrollment_required: false,
        };
        let expires_at = row.expires_at.map(Timestamp::from_micros);
        self.cache.put(
            key,
            generation,
            now,
            Cached::Credential(authenticated.clone(), expires_at),
        );
        Ok(authenticated)
    }
}
