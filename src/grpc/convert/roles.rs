//! AdminService messages about roles.

use std::collections::BTreeSet;

use crate::app::{NewRole, Role, RoleChanges, RoleQuery};
use crate::domain::{
    Description, Permission, PermissionSet, ROLE_DESCRIPTION_MAX, RequestId, RoleId, RoleKind,
    RoleName, ValidationError, Validator,
};
use crate::proto as pb;

use super::{STAFF_PERMISSIONS_MAX, UPDATE_MASK_PATHS_MAX, bounded, page_size, quote, timestamp};

fn role_kind(kind: RoleKind) -> pb::RoleKind {
    match kind {
        RoleKind::Admin => pb::RoleKind::Admin,
        RoleKind::Api => pb::RoleKind::Api,
    }
}

/// A role kind from the wire; `Ok(None)` for unspecified.
fn parse_role_kind(field: &str, value: i32) -> Result<Option<RoleKind>, ValidationError> {
    match pb::RoleKind::try_from(value) {
        Ok(pb::RoleKind::Unspecified) => Ok(None),
        Ok(pb::RoleKind::Admin) => Ok(Some(RoleKind::Admin)),
        Ok(pb::RoleKind::Api) => Ok(Some(RoleKind::Api)),
        Err(_) => Err(ValidationError::single(field, "is not a known role kind")),
    }
}

/// Permission names from the wire: each in the catalogue, repeats ignored.
fn parse_permissions(field: &str, names: &[String]) -> Result<PermissionSet, ValidationError> {
    let mut validator = Validator::new();
    let names = bounded(&mut validator, field, names, STAFF_PERMISSIONS_MAX);
    let mut permissions = BTreeSet::new();
    for (index, name) in names.iter().enumerate() {
        match Permission::from_name(name) {
            Ok(permission) => {
                permissions.insert(permission);
            }
            Err(_) => validator.violation(
                format!("{field}[{index}]"),
                format!(
                    "{} is not a permission; ListPermissions lists them",
                    quote(name)
                ),
            ),
        }
    }
    validator.finish()?;
    Ok(PermissionSet::of(permissions))
}

impl From<Role> for pb::Role {
    fn from(role: Role) -> Self {
        pb::Role {
            id: role.id.to_string(),
            name: role.name,
            description: role.description,
            kind: role_kind(role.kind).into(),
            permissions: role
                .permissions
                .listed()
                .map(|p| p.name().to_owned())
                .collect(),
            full_access: role.permissions.is_full_access(),
            create_time: Some(timestamp(role.created_at)),
            update_time: Some(timestamp(role.updated_at)),
        }
    }
}

/// A parsed CreateRole request.
pub fn create_role(
    request: pb::CreateRoleRequest,
) -> Result<(NewRole, Option<RequestId>), ValidationError> {
    let pb::CreateRoleRequest {
        name,
        description,
        kind,
        permissions,
        full_access,
        request_id,
    } = request;
    let mut v = Validator::new();
    let name = v.check(RoleName::parse("name", &name));
    let description = v.check(Description::parse(
        "description",
        &description,
        ROLE_DESCRIPTION_MAX,
    ));
    let kind = match v.check(parse_role_kind("kind", kind)) {
        Some(None) => {
            v.violation("kind", "is required: ROLE_KIND_ADMIN or ROLE_KIND_API");
            None
        }
        Some(kind) => kind,
        None => None,
    };
    if full_access && !permissions.is_empty() {
        v.violation("permissions", "must be empty when full_access is set");
    }
    let permissions = v.check(parse_permissions("permissions", &permissions));
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish_with(|| {
        let permissions = permissions?;
        let role = NewRole {
            name: name?,
            description: description?,
            kind: kind?,
            permissions: if full_access {
                PermissionSet::full_access()
            } else {
                permissions
            },
        };
        Some((role, request_id?))
    })
}

/// A parsed UpdateRole request: the role id and the masked changes.
pub fn update_role(
    request: pb::UpdateRoleRequest,
) -> Result<(RoleId, RoleChanges), ValidationError> {
    let pb::UpdateRoleRequest { role, update_mask } = request;
    let Some(role) = role else {
        return Err(ValidationError::single("role", "is required"));
    };
    let pb::Role {
        id,
        name,
        description,
        permissions,
        // Output-only or immutable fields; ignored as AIP-134 asks.
        kind: _,
        full_access: _,
        create_time: _,
        update_time: _,
    } = role;
    let mut v = Validator::new();
    let id = v.check(RoleId::parse("role.id", &id));
    let mut changes = RoleChanges::default();
    let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
    if paths.is_empty() {
        v.violation(
            "update_mask",
            "is required: name, description and/or permissions",
        );
    }
    for path in bounded(&mut v, "update_mask.paths", &paths, UPDATE_MASK_PATHS_MAX) {
        match path.as_str() {
            "name" => changes.name = v.check(RoleName::parse("role.name", &name)),
            "description" => {
                changes.description = v.check(Description::parse(
                    "role.description",
                    &description,
                    ROLE_DESCRIPTION_MAX,
                ));
            }
            "permissions" => {
                changes.permissions = v.check(parse_permissions("role.permissions", &permissions))
            }
            other => v.violation(
                "update_mask",
                format!(
                    "{} cannot be updated; use name, description or permissions",
                    quote(other)
                ),
            ),
        }
    }
    v.finish()?;
    let id = id.ok_or_else(|| ValidationError::single("role.id", "is required"))?;
    Ok((id, changes))
}

/// A parsed DuplicateRole request.
pub fn duplicate_role(
    request: pb::DuplicateRoleRequest,
) -> Result<(RoleId, RoleName, Option<RequestId>), ValidationError> {
    let pb::DuplicateRoleRequest {
        role_id,
        name,
        request_id,
    } = request;
    let mut v = Validator::new();
    let role_id = v.check(RoleId::parse("role_id", &role_id));
    let name = v.check(RoleName::parse("name", &name));
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish_with(|| Some((role_id?, name?, request_id?)))
}

/// A parsed ListRoles request.
pub fn list_roles(request: pb::ListRolesRequest) -> Result<RoleQuery, ValidationError> {
    let pb::ListRolesRequest {
        page_size: size,
        page_token,
        kind,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let kind = v.check(parse_role_kind("kind", kind));
    v.finish()?;
    Ok(RoleQuery {
        kind: kind.flatten(),
        page_size,
        page_token,
    })
}
