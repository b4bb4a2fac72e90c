//! Role coverage: nobody hands on, changes or takes away permissions they
//! do not hold themselves, and full access is never left to nobody.

use crate::app::authn::Principal;
use crate::app::error::{AppError, Reason};
use crate::domain::{PermissionSet, RoleId, RoleKind};
use crate::store::{self, ConnectionTrait, roles::RoleRow, users::UserRow};

/// The admin role `user` holds now, if any, checking the caller could have
/// granted it: nobody demotes, changes or deletes a more powerful colleague.
pub(crate) async fn held_role_if_covered(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    user: &UserRow,
) -> Result<Option<RoleRow>, AppError> {
    let Some(current_id) = user.admin_role_id else {
        return Ok(None);
    };
    let current = store::roles::find(conn, current_id)
        .await?
        .ok_or_else(|| AppError::corrupt(format!("user {} holds a missing role", user.id)))?;
    // Unlike a grant the caller asks for, the refusal does not name what is
    // missing: that would tell a junior what a colleague's role holds.
    if !principal.permissions.covers(&role_permissions(&current)) {
        return Err(AppError::PermissionDenied(Reason::PrivilegeEscalation));
    }
    Ok(Some(current))
}

/// The admin role with this id; an API role is refused.
pub(crate) async fn load_admin_role(
    conn: &impl ConnectionTrait,
    id: RoleId,
) -> Result<RoleRow, AppError> {
    let role = store::roles::find(conn, id)
        .await?
        .ok_or(AppError::NotFound(Reason::RoleNotFound))?;
    if role.kind != RoleKind::Admin {
        return Err(AppError::FailedPrecondition(Reason::RoleKindMismatch));
    }
    Ok(role)
}

pub(crate) fn role_permissions(role: &RoleRow) -> PermissionSet {
    PermissionSet::from_stored(role.full_access, &role.permissions)
}

/// Refuses to take full access from `user` when no other active staff user has it,
/// which would leave nobody able to manage staff.
pub(crate) async fn ensure_not_last_full_access(
    conn: &impl ConnectionTrait,
    user: &UserRow,
) -> Result<(), AppError> {
    let holders = store::users::full_access_staff_ids(conn).await?;
    if holders.len() == 1 && holders[0] == user.id {
        return Err(AppError::FailedPrecondition(Reason::LastFullAccessStaff));
    }
    Ok(())
}

/// Refuses a caller that would hand on or change permissions it does not hold
/// itself: holding `roles.write` must not be a path to every other permission.
/// The error names what the caller lacks, so an operator can tell which
/// permission to ask for.
pub fn ensure_covers(principal: &Principal, permissions: &PermissionSet) -> Result<(), AppError> {
    let missing = permissions.not_covered_by(&principal.permissions);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(Reason::PrivilegeEscalation)
            .with_metadata("missing_permissions", missing.join(" ")))
    }
}
