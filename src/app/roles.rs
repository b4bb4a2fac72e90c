//! Admin and API roles: named permission sets.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::ensure_covers;
use crate::app::blocks::idempotency::{CreateStart, IdempotencyKey, begin_create, conflict_as};
use crate::app::blocks::loads::load_role;
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::{
    Description, Fingerprint, PageSize, Permission, PermissionSet, ROLE_DESCRIPTION_MAX, RequestId,
    RoleId, RoleKind, RoleName, Timestamp,
};
use crate::store::{self, ConnectionTrait, roles::RoleRow};

/// A role as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's id.
    pub id: RoleId,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Who it is given to.
    pub kind: RoleKind,
    /// What it grants.
    pub permissions: PermissionSet,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            permissions: PermissionSet::from_stored(row.full_access, &row.permissions),
            name: row.name,
            description: row.description,
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
        }
    }
}

/// What a new role is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    /// Its name.
    pub name: RoleName,
    /// What it is for.
    pub description: Description,
    /// Who it is for.
    pub kind: RoleKind,
    /// What it grants.
    pub permissions: PermissionSet,
}

impl NewRole {
    /// The request as its idempotency key compares it. Every field is named,
    /// so a new one does not compile until it is decided how it enters.
    fn fingerprint(&self) -> Fingerprint {
        let NewRole {
            name,
            description,
            kind,
            permissions,
        } = self;
        Fingerprint::new("CreateRole", 1)
            .text("name", name.as_str())
            .text("description", description.as_str())
            .text("kind", kind.as_str())
            .flag("full_access", permissions.is_full_access())
            .list("permissions", permissions.listed().map(Permission::name))
    }
}

/// DuplicateRole's request as its idempotency key compares it.
fn duplicate_fingerprint(source_id: RoleId, name: &RoleName) -> Fingerprint {
    Fingerprint::new("DuplicateRole", 1)
        .text("source_id", &source_id.to_string())
        .text("name", name.as_str())
}

/// The fields of a role to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleChanges {
    /// A new name.
    pub name: Option<RoleName>,
    /// A new description.
    pub description: Option<Description>,
    /// A new permission set; full access cannot be given or taken this way.
    pub permissions: Option<PermissionSet>,
}

/// A request for a page of roles.
#[derive(Debug, Clone)]
pub struct RoleQuery {
    /// Only roles of this kind.
    pub kind: Option<RoleKind>,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl RoleQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let RoleQuery {
            kind,
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListRoles", 1).opt("kind", kind.map(RoleKind::as_str))
    }
}

/// A page of roles, oldest first.
#[derive(Debug, Clone)]
pub struct RolePage {
    /// The roles.
    pub roles: Vec<Role>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

impl App {
    /// The permission catalogue, sorted by name.
    /// Staff holding `roles.read` only.
    pub fn permission_catalogue(
        &self,
        principal: &Principal,
    ) -> Result<&'static [Permission], AppError> {
        principal.ensure_staff(Permission::RolesRead)?;
        Ok(&Permission::ALL)
    }

    /// Creates a role with permissions the caller holds itself.
    pub async fn create_role(
        &self,
        principal: &Principal,
        new: NewRole,
        request_id: Option<RequestId>,
    ) -> Result<Role, AppError> {
        let key = IdempotencyKey::new(
            principal,
            "CreateRole",
            request_id.as_ref(),
            &new.fingerprint(),
        );
        let details = Change::new("role.created", "role", "");
        self.insert_role(principal, new, key, details).await
    }

    /// Copies a role's kind, description and permissions under a new name.
    pub async fn duplicate_role(
        &self,
        principal: &Principal,
        source_id: RoleId,
        name: RoleName,
        request_id: Option<RequestId>,
    ) -> Result<Role, AppError> {
        let content = duplicate_fingerprint(source_id, &name);
        let key = IdempotencyKey::new(principal, "DuplicateRole", request_id.as_ref(), &content);
        if let Some(resource_id) = replay(&key, self.db()).await? {
            return self.read_role(resource_id).await;
        }
        let source = self.read_role(source_id).await?;
        let new = NewRole {
            name,
            description: Description::parse(
                "description",
                &source.description,
                ROLE_DESCRIPTION_MAX,
            )?,
            kind: source.kind,
            permissions: source.permissions,
        };
        let change = Change::new("role.duplicated", "role", "").detail("source_role_id", source_id);
        self.insert_role(principal, new, key, change).await
    }

    async fn insert_role(
        &self,
        principal: &Principal,
        new: NewRole,
        key: Option<IdempotencyKey>,
        change: Change,
    ) -> Result<Role, AppError> {
        ensure_covers(principal, &new.permissions)?;
        let now = self.now();
        let id = RoleId::generate();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), id).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                return self.read_role(resource_id).await;
            }
        };
        let row = RoleRow {
            id,
            kind: new.kind,
            name: new.name.as_str().to_owned(),
            name_normalized: new.name.normalized(),
            description: new.description.as_str().to_owned(),
            permissions: new.permissions.to_stored(),
            full_access: new.permissions.is_full_access(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let row = store::roles::insert(&txn, row)
            .await
            .map_err(|e| conflict_as(e, "name", Reason::RoleNameTaken))?;
        let change = Change {
            target_id: id.to_string(),
            ..change
        }
        .detail("name", &row.name)
        .detail("kind", row.kind.as_str())
        .detail("permissions", describe(&new.permissions));
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(Role::from(row))
    }

    async fn read_role(&self, id: RoleId) -> Result<Role, AppError> {
        let row = store::roles::find(self.reader(), id).await?;
        row.map(Role::from)
            .ok_or(AppError::NotFound(Reason::RoleNotFound))
    }

    /// The role with this id.
    /// Staff holding `roles.read` only.
    pub async fn get_role(&self, principal: &Principal, id: RoleId) -> Result<Role, AppError> {
        principal.ensure_staff(Permission::RolesRead)?;
        self.read_role(id).await
    }

    /// A page of roles, oldest first.
    /// Staff holding `roles.read` only.
    pub async fn list_roles(
        &self,
        principal: &Principal,
        query: RoleQuery,
    ) -> Result<RolePage, AppError> {
        principal.ensure_staff(Permission::RolesRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let page =
            store::roles::list(self.reader(), query.kind, paging.after(), paging.limit()).await?;
        let next_page_token = paging.next_token(&page, |row| row.id.to_string());
        let roles = page.rows.into_iter().map(Role::from).collect();
        Ok(RolePage {
            roles,
            next_page_token,
        })
    }

    /// Changes a role. The caller must hold every permission the role grants
    /// before and after the change.
    pub async fn update_role(
        &self,
        principal: &Principal,
        id: RoleId,
        changes: RoleChanges,
    ) -> Result<Role, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut row = load_role(&txn, id).await?;
        let current = PermissionSet::from_stored(row.full_access, &row.permissions);
        ensure_covers(principal, &current)?;
        let mut change = Change::new("role.updated", "role", id);
        if let Some(name) = &changes.name {
            change = change.detail("name", name.as_str());
            row.name = name.as_str().to_owned();
            row.name_normalized = name.normalized();
        }
        if let Some(description) = &changes.description {
            change = change.detail("description", "changed");
            row.description = description.as_str().to_owned();
        }
        if let Some(permissions) = &changes.permissions {
            ensure_covers(principal, permissions)?;
            if row.full_access {
                // Full access covers every permission already; a listed set
                // would be meaningless beside it.
                return Err(AppError::FailedPrecondition(Reason::FullAccessRoleFixed));
            }
            change = change.detail("permissions", describe(permissions));
            row.permissions = permissions.to_stored();
        }
        row.updated_at = now.as_micros();
        store::roles::update(&txn, &row)
            .await
            .map_err(|e| conflict_as(e, "name", Reason::RoleNameTaken))?;
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(Role::from(row))
    }

    /// Deletes a role that no staff user holds and no unrevoked credential carries.
    pub async fn delete_role(&self, principal: &Principal, id: RoleId) -> Result<(), AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = load_role(&txn, id).await?;
        ensure_covers(
            principal,
            &PermissionSet::from_stored(row.full_access, &row.permissions),
        )?;
        let holders = store::roles::count_holders(&txn, row.id).await?;
        let credentials = store::roles::count_unrevoked_credentials(&txn, row.id).await?;
        if holders > 0 || credentials > 0 {
            return Err(AppError::FailedPrecondition(Reason::RoleInUse));
        }
        store::roles::delete(&txn, row.id).await?;
        let change = Change::new("role.deleted", "role", id)
            .detail("name", &row.name)
            .detail("kind", row.kind.as_str());
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(())
    }
}

/// The role an earlier call with `key` created, if there is a key and a call.
pub(crate) async fn replay(
    key: &Option<IdempotencyKey>,
    conn: &impl ConnectionTrait,
) -> Result<Option<RoleId>, AppError> {
    match key {
        Some(key) => key.replay(conn).await,
        None => Ok(None),
    }
}

/// A permission set as one activity-log detail.
pub(crate) fn describe(permissions: &PermissionSet) -> String {
    if permissions.is_full_access() {
        "*".to_owned()
    } else {
        permissions.to_stored()
    }
}
