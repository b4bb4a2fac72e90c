//! API credentials: how machine callers act for a staff user.

use std::collections::BTreeSet;

use crate::app::App;
use crate::app::authn::{ApiCredentialState, Principal, credential_state};
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::{ensure_covers, held_role_if_covered, role_permissions};
use crate::app::blocks::loads::load_user;
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::crypto::{ApiCredentialToken, hash_secret};
use crate::domain::Permission;
use crate::domain::{
    ApiCredentialId, Description, Fingerprint, PageSize, PermissionSet, RoleId, RoleKind,
    Timestamp, UserId, UserStatus,
};
use crate::store::{
    self,
    credentials::{CredentialRow, StateFilter},
};

/// An API credential as callers see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCredential {
    /// The credential's id.
    pub id: ApiCredentialId,
    /// The public identifier inside its bearer token.
    pub identifier: String,
    /// The staff user it acts for.
    pub owner_user_id: UserId,
    /// The staff user who created it; it works only while they are active
    /// staff, and never beyond their admin role.
    pub created_by_user_id: UserId,
    /// What it is for.
    pub description: String,
    /// Its API roles.
    pub role_ids: Vec<RoleId>,
    /// Whether it can be used now.
    pub state: ApiCredentialState,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it last authenticated a call, to within a minute.
    pub last_used_at: Option<Timestamp>,
}

impl ApiCredential {
    fn from_row(row: CredentialRow, role_ids: Vec<RoleId>, now: Timestamp) -> Self {
        let state = credential_state(&row, now);
        Self {
            id: row.id,
            owner_user_id: row.owner_user_id,
            // Credentials older than the column name no creator: their owner
            // stands as one, the rule they were made under.
            created_by_user_id: row.created_by_user_id.unwrap_or(row.owner_user_id),
            role_ids,
            state,
            identifier: row.identifier,
            description: row.description,
            created_at: Timestamp::from_micros(row.created_at),
            expires_at: row.expires_at.map(Timestamp::from_micros),
            revoked_at: row.revoked_at.map(Timestamp::from_micros),
            last_used_at: row.last_used_at.map(Timestamp::from_micros),
        }
    }
}

/// Role ids as one activity-log detail, separated by spaces.
fn space_separated(ids: &[RoleId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The admin role `user` holds; a user without one is not staff.
async fn load_held_role(
    conn: &impl store::ConnectionTrait,
    user: &store::users::UserRow,
) -> Result<store::roles::RoleRow, AppError> {
    let role_id = user
        .admin_role_id
        .ok_or(AppError::FailedPrecondition(Reason::NotStaff))?;
    store::roles::find(conn, role_id)
        .await?
        .ok_or_else(|| AppError::corrupt(format!("user {} holds a missing role", user.id)))
}

/// What a new credential is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiCredential {
    /// The staff user it acts for.
    pub owner_user_id: UserId,
    /// What it is for.
    pub description: Description,
    /// Its API roles: one to sixteen, no repeats.
    pub role_ids: BTreeSet<RoleId>,
    /// When it stops working; must be in the future.
    pub expires_at: Option<Timestamp>,
}

/// A created credential and the bearer token that is shown only this once.
#[derive(Debug, Clone)]
pub struct CreatedApiCredential {
    /// The credential.
    pub credential: ApiCredential,
    /// The identifier and secret.
    pub token: ApiCredentialToken,
}

/// A request for a page of credentials.
#[derive(Debug, Clone)]
pub struct CredentialQuery {
    /// Only credentials of this staff user.
    pub owner_user_id: Option<UserId>,
    /// Only credentials this staff user created.
    pub created_by_user_id: Option<UserId>,
    /// Only credentials in this state.
    pub state: Option<ApiCredentialState>,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl CredentialQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let CredentialQuery {
            owner_user_id,
            created_by_user_id,
            state,
            page_size: _,
            page_token: _,
        } = self;
        let state = state.map(|state| match state {
            ApiCredentialState::Active => "active",
            ApiCredentialState::Expired => "expired",
            ApiCredentialState::Revoked => "revoked",
        });
        Fingerprint::new("ListApiCredentials", 1)
            .opt(
                "owner_user_id",
                owner_user_id.map(|id| id.to_string()).as_deref(),
            )
            .opt(
                "created_by_user_id",
                created_by_user_id.map(|id| id.to_string()).as_deref(),
            )
            .opt("state", state)
    }
}

/// A page of credentials, oldest first.
#[derive(Debug, Clone)]
pub struct CredentialPage {
    /// The credentials.
    pub credentials: Vec<ApiCredential>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

impl App {
    /// Mints a credential for an active staff user, carrying API roles whose
    /// permissions the caller holds itself and the owner's admin role grants.
    ///
    /// A credential for someone else needs covering their admin role, like
    /// every other hand-over of power: otherwise a junior could file a
    /// credential under a senior colleague. The caller is recorded as its
    /// creator, and the credential works only while the creator stays active
    /// staff, within the creator's admin role.
    ///
    /// There is no request id: a retry could only be answered with the secret,
    /// which is never stored. A caller that lost the response revokes the
    /// credential it cannot use and creates another.
    pub async fn create_api_credential(
        &self,
        principal: &Principal,
        new: NewApiCredential,
    ) -> Result<CreatedApiCredential, AppError> {
        let now = self.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(crate::domain::ValidationError::single(
                "expire_time",
                "must be in the future",
            )
            .into());
        }
        let txn = store::begin(self.db()).await?;
        let owner = load_user(&txn, new.owner_user_id).await?;
        if owner.admin_role_id.is_none() {
            return Err(AppError::FailedPrecondition(Reason::NotStaff));
        }
        if owner.status != UserStatus::Active {
            return Err(AppError::FailedPrecondition(Reason::UserNotActive));
        }
        let creator = principal.acting_user();
        let owner_role = if creator == Some(owner.id) {
            load_held_role(&txn, &owner).await?
        } else {
            held_role_if_covered(&txn, principal, &owner)
                .await?
                .ok_or(AppError::FailedPrecondition(Reason::NotStaff))?
        };
        let role_ids: Vec<RoleId> = new.role_ids.iter().copied().collect();
        let roles = store::roles::find_many(&txn, &role_ids).await?;
        if roles.len() != role_ids.len() {
            return Err(AppError::NotFound(Reason::RoleNotFound));
        }
        if roles.iter().any(|role| role.kind != RoleKind::Api) {
            return Err(AppError::FailedPrecondition(Reason::RoleKindMismatch));
        }
        let granted = roles.iter().fold(PermissionSet::none(), |acc, role| {
            acc.union(&role_permissions(role))
        });
        ensure_covers(principal, &granted)?;
        // A credential never does more than its owner, so roles beyond the
        // owner's admin role would only make a credential that fails its
        // calls: refuse it and say what is missing.
        let missing = granted.not_covered_by(&role_permissions(&owner_role));
        if !missing.is_empty() {
            return Err(AppError::FailedPrecondition(Reason::CredentialExceedsOwner)
                .with_metadata("missing_permissions", missing.join(" ")));
        }

        let id = ApiCredentialId::generate();
        let token = ApiCredentialToken::generate();
        // A caller acting for no user (identityd itself) creates on the
        // owner's behalf.
        let created_by = creator.unwrap_or(owner.id);
        let row = CredentialRow {
            id,
            identifier: token.identifier.clone(),
            secret_hash: hash_secret(&token.secret),
            owner_user_id: owner.id,
            created_by_user_id: Some(created_by),
            description: new.description.as_str().to_owned(),
            created_at: now.as_micros(),
            expires_at: new.expires_at.map(Timestamp::as_micros),
            revoked_at: None,
            last_used_at: None,
        };
        let row = store::credentials::insert(&txn, row, &role_ids).await?;
        let change = Change::new("api_credential.created", "api_credential", id)
            .detail("identifier", &token.identifier)
            .detail("owner_user_id", owner.id)
            .detail("created_by_user_id", created_by)
            .detail("role_ids", space_separated(&role_ids));
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(CreatedApiCredential {
            credential: ApiCredential::from_row(row, role_ids, now),
            token,
        })
    }

    /// The credential with this id.
    /// Staff holding `credentials.read` only.
    pub async fn get_api_credential(
        &self,
        principal: &Principal,
        id: ApiCredentialId,
    ) -> Result<ApiCredential, AppError> {
        principal.ensure_staff(Permission::CredentialsRead)?;
        self.load_api_credential(id).await
    }

    async fn load_api_credential(&self, id: ApiCredentialId) -> Result<ApiCredential, AppError> {
        let row = store::credentials::find(self.reader(), id)
            .await?
            .ok_or(AppError::NotFound(Reason::ApiCredentialNotFound))?;
        let mut roles = store::credentials::role_ids_of(self.reader(), &[row.id]).await?;
        let role_ids = roles.remove(&row.id).unwrap_or_default();
        Ok(ApiCredential::from_row(row, role_ids, self.now()))
    }

    /// A page of credentials, oldest first.
    /// Staff holding `credentials.read` only.
    pub async fn list_api_credentials(
        &self,
        principal: &Principal,
        query: CredentialQuery,
    ) -> Result<CredentialPage, AppError> {
        principal.ensure_staff(Permission::CredentialsRead)?;
        let state = query.state.map(|state| match state {
            ApiCredentialState::Active => StateFilter::Active,
            ApiCredentialState::Expired => StateFilter::Expired,
            ApiCredentialState::Revoked => StateFilter::Revoked,
        });
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let now = self.now();
        let page = store::credentials::list(
            self.reader(),
            query.owner_user_id,
            query.created_by_user_id,
            state,
            now.as_micros(),
            paging.after(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.to_string());
        let ids: Vec<ApiCredentialId> = page.rows.iter().map(|row| row.id).collect();
        let mut roles = store::credentials::role_ids_of(self.reader(), &ids).await?;
        let credentials = page
            .rows
            .into_iter()
            .map(|row| {
                let role_ids = roles.remove(&row.id).unwrap_or_default();
                ApiCredential::from_row(row, role_ids, now)
            })
            .collect();
        Ok(CredentialPage {
            credentials,
            next_page_token,
        })
    }

    /// Revokes a credential at once. Revoking a revoked credential changes
    /// nothing. Its owner and its creator may revoke it; anyone else must
    /// cover the owner's admin role, so a junior cannot cut off a senior
    /// colleague's integrations.
    pub async fn revoke_api_credential(
        &self,
        principal: &Principal,
        id: ApiCredentialId,
    ) -> Result<ApiCredential, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = store::credentials::find(&txn, id)
            .await?
            .ok_or(AppError::NotFound(Reason::ApiCredentialNotFound))?;
        let own = principal.acting_user().is_some_and(|acting| {
            acting == row.owner_user_id || Some(acting) == row.created_by_user_id
        });
        if !own && let Some(owner) = store::users::find(&txn, row.owner_user_id).await? {
            held_role_if_covered(&txn, principal, &owner).await?;
        }
        if store::credentials::revoke(&txn, row.id, now.as_micros()).await? {
            let change = Change::new("api_credential.revoked", "api_credential", id)
                .detail("identifier", &row.identifier)
                .detail("owner_user_id", row.owner_user_id);
            record_at(&txn, principal, now, change).await?;
        }
        self.commit(txn).await?;
        self.load_api_credential(id).await
    }
}
