//! Turning a bearer token into a caller and its permissions.

use std::time::Duration;

use super::auth_cache::{Cached, key_of};
use super::credentials::{ApiCredentialState, state_at};
use super::principal::AccountGrant;
use super::{App, AppError, Caller, Reason};
use crate::crypto::{API_TOKEN_PREFIX, ApiCredentialToken, TokenKind, secret_matches};
use crate::domain::{ApiCredentialId, PermissionSet, RoleKind, Timestamp, UserId, UserStatus};
use crate::store;
use crate::store::credentials::GrantingRole;

/// `last_used_at` is written at most this often per credential, so that
/// authenticating stays a read and not a write on every call.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// A hash no secret has, compared against when the identifier is unknown so
/// that unknown and known identifiers take the same work.
const UNKNOWN_CREDENTIAL_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// An authenticated caller and what it may do.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub caller: Caller,
    /// Its staff/API permissions.
    pub permissions: PermissionSet,
    /// For a user session: what it may do in the account it acts for.
    pub account: Option<AccountGrant>,
}

impl App {
    /// Authenticates a bearer token: a user session's or an API credential's,
    /// told apart by their prefixes.
    pub async fn authenticate(&self, bearer: &str) -> Result<Authenticated, AppError> {
        if bearer.starts_with(TokenKind::Session.prefix()) {
            self.authenticate_session(bearer).await
        } else if bearer.starts_with(API_TOKEN_PREFIX) {
            self.authenticate_bearer(bearer).await
        } else {
            Err(AppError::Unauthenticated(Reason::TokenMalformed))
        }
    }

    /// Authenticates an API credential bearer token.
    ///
    /// The credential's permissions are those of its API roles, limited to the
    /// permissions of its owner's admin role and of its creator's: a credential
    /// never does more than the staff user it belongs to nor the one who
    /// minted it, and stops working when either stops being active staff.
    pub async fn authenticate_bearer(&self, bearer: &str) -> Result<Authenticated, AppError> {
        let token = ApiCredentialToken::parse(bearer)
            .map_err(|_| AppError::Unauthenticated(Reason::TokenMalformed))?;
        let key = key_of(bearer);
        let now = self.now();
        if let Some(Cached::Credential(authenticated, _)) = self.auth_cache.get(&key, now) {
            return Ok(authenticated);
        }
        let generation = store::write_generation();
        let found =
            store::credentials::find_for_authentication(self.reader(), &token.identifier).await?;
        let Some(found) =
            found.filter(|found| secret_matches(&token.secret, &found.credential.secret_hash))
        else {
            let _ = secret_matches(&token.secret, UNKNOWN_CREDENTIAL_HASH);
            return Err(AppError::Unauthenticated(Reason::CredentialInvalid));
        };
        let row = found.credential;
        // The caller proved it holds the secret, so telling why it no longer
        // works reveals nothing to an outsider.
        match state_at(&row, now) {
            ApiCredentialState::Active => {}
            ApiCredentialState::Expired => {
                return Err(AppError::Unauthenticated(Reason::CredentialExpired));
            }
            ApiCredentialState::Revoked => {
                return Err(AppError::Unauthenticated(Reason::CredentialRevoked));
            }
        }

        let owner_is_active = found.owner_status.as_deref() == Some(UserStatus::Active.as_str());
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
        let creator_permissions = match row.created_by_user_id.as_deref() {
            Some(creator) if creator != row.owner_user_id => {
                let creator_is_active =
                    found.creator_status.as_deref() == Some(UserStatus::Active.as_str());
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
            .filter(|role| role.kind == RoleKind::Api.as_str())
            .fold(PermissionSet::none(), |acc, role| {
                acc.union(&permissions_of(role))
            });

        let stale = row
            .last_used_at
            .is_none_or(|at| at < now.minus(LAST_USED_GRANULARITY).as_micros());
        if stale {
            store::credentials::touch_last_used(self.db(), &row.id, now.as_micros()).await?;
        }

        let corrupt = || AppError::corrupt(format!("api credential {} ids", row.id));
        let authenticated = Authenticated {
            caller: Caller::ApiCredential {
                credential_id: ApiCredentialId::from_stored(&row.id).ok_or_else(corrupt)?,
                staff_user_id: UserId::from_stored(&row.owner_user_id).ok_or_else(corrupt)?,
            },
            permissions: api_permissions
                .intersection(&admin_permissions)
                .intersection(&creator_permissions),
            account: None,
        };
        let expires_at = row.expires_at.map(Timestamp::from_micros);
        self.auth_cache.put(
            key,
            generation,
            now,
            Cached::Credential(authenticated.clone(), expires_at),
        );
        Ok(authenticated)
    }
}
