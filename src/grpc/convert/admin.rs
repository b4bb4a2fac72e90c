//! AdminService messages.

use std::collections::BTreeSet;

use crate::app::{
    ActivityEvent, ActivityFilter, ActivityQuery, ApiCredential, ApiCredentialState,
    CredentialQuery, Mail, MailFilter, MailQuery, MailStatus, NewApiCredential, NewRole,
    NewStaffUser, Role, RoleChanges, RoleQuery, StaffQuery, StaffUser,
};
use crate::domain::{
    ApiCredentialId, Description, Email, FullName, PageSize, Permission, PermissionSet,
    ROLE_DESCRIPTION_MAX, RequestId, RoleId, RoleKind, RoleName, Timestamp, UserId, Username,
    ValidationError, Validator,
};
use crate::mail::MailKind;
use crate::proto as pb;

use super::{
    STAFF_PERMISSIONS_MAX, UPDATE_MASK_PATHS_MAX, bounded, parse_timestamp, quote, timestamp,
    user_status,
};

/// The longest API credential description.
const CREDENTIAL_DESCRIPTION_MAX: usize = 200;
/// The most API roles one credential carries.
const CREDENTIAL_ROLES_MAX: usize = 16;
/// The longest action name accepted as a filter.
const ACTION_MAX: usize = 64;

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

fn credential_state(state: ApiCredentialState) -> pb::ApiCredentialState {
    match state {
        ApiCredentialState::Active => pb::ApiCredentialState::Active,
        ApiCredentialState::Expired => pb::ApiCredentialState::Expired,
        ApiCredentialState::Revoked => pb::ApiCredentialState::Revoked,
    }
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

impl From<StaffUser> for pb::StaffUser {
    fn from(user: StaffUser) -> Self {
        pb::StaffUser {
            user_id: user.id.to_string(),
            email: user.email,
            username: user.username,
            full_name: user.full_name,
            status: user_status(user.status).into(),
            admin_role_id: user.admin_role_id.to_string(),
            create_time: Some(timestamp(user.created_at)),
            update_time: Some(timestamp(user.updated_at)),
        }
    }
}

impl From<ApiCredential> for pb::ApiCredential {
    fn from(credential: ApiCredential) -> Self {
        pb::ApiCredential {
            id: credential.id.to_string(),
            identifier: credential.identifier,
            owner_user_id: credential.owner_user_id.to_string(),
            created_by_user_id: credential.created_by_user_id.to_string(),
            description: credential.description,
            role_ids: credential
                .role_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            state: credential_state(credential.state).into(),
            create_time: Some(timestamp(credential.created_at)),
            expire_time: credential.expires_at.map(timestamp),
            revoke_time: credential.revoked_at.map(timestamp),
            last_use_time: credential.last_used_at.map(timestamp),
        }
    }
}

impl From<ActivityEvent> for pb::ActivityEvent {
    fn from(event: ActivityEvent) -> Self {
        let kind = match event.actor_kind.as_str() {
            "system" => pb::ActorKind::System,
            "staff" => pb::ActorKind::Staff,
            "user" => pb::ActorKind::User,
            "api_credential" => pb::ActorKind::ApiCredential,
            "anonymous" => pb::ActorKind::Anonymous,
            _ => pb::ActorKind::Unspecified,
        };
        pb::ActivityEvent {
            id: event.id,
            time: Some(timestamp(event.time)),
            actor: Some(pb::Actor {
                kind: kind.into(),
                id: event.actor_id,
            }),
            account_id: event.account_id.unwrap_or_default(),
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            client_ip: event.client_ip.unwrap_or_default(),
            request_id: event.request_id,
            details: event.details.into_iter().collect(),
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
    v.finish()?;
    match (name, description, kind, permissions, request_id) {
        (Some(name), Some(description), Some(kind), Some(permissions), Some(request_id)) => Ok((
            NewRole {
                name,
                description,
                kind,
                permissions: if full_access {
                    PermissionSet::full_access()
                } else {
                    permissions
                },
            },
            request_id,
        )),
        _ => Err(ValidationError::single("request", "is invalid")),
    }
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
    v.finish()?;
    match (role_id, name, request_id) {
        (Some(role_id), Some(name), Some(request_id)) => Ok((role_id, name, request_id)),
        _ => Err(ValidationError::single("request", "is invalid")),
    }
}

/// A parsed ListRoles request.
pub fn list_roles(request: pb::ListRolesRequest) -> Result<RoleQuery, ValidationError> {
    let pb::ListRolesRequest {
        page_size,
        page_token,
        kind,
    } = request;
    let mut v = Validator::new();
    let page_size = v.check(PageSize::parse("page_size", page_size));
    let kind = v.check(parse_role_kind("kind", kind));
    v.finish()?;
    Ok(RoleQuery {
        kind: kind.flatten(),
        page_size: page_size.unwrap_or_default(),
        page_token,
    })
}

/// A parsed CreateStaffUser request.
pub fn create_staff_user(
    request: pb::CreateStaffUserRequest,
) -> Result<(NewStaffUser, Option<RequestId>), ValidationError> {
    let pb::CreateStaffUserRequest {
        email,
        username,
        full_name,
        admin_role_id,
        request_id,
        send_set_password_email,
    } = request;
    let mut v = Validator::new();
    let email = v.check(Email::parse("email", &email));
    let username = v.check(Username::parse("username", &username));
    let full_name = v.check(FullName::parse("full_name", &full_name));
    let admin_role_id = v.check(RoleId::parse("admin_role_id", &admin_role_id));
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish()?;
    match (email, username, full_name, admin_role_id, request_id) {
        (Some(email), Some(username), Some(full_name), Some(admin_role_id), Some(request_id)) => {
            Ok((
                NewStaffUser {
                    email,
                    username,
                    full_name,
                    admin_role_id,
                    send_set_password_email,
                },
                request_id,
            ))
        }
        _ => Err(ValidationError::single("request", "is invalid")),
    }
}

/// A parsed ListStaffUsers request.
pub fn list_staff_users(request: pb::ListStaffUsersRequest) -> Result<StaffQuery, ValidationError> {
    let pb::ListStaffUsersRequest {
        page_size,
        page_token,
        admin_role_id,
    } = request;
    let mut v = Validator::new();
    let page_size = v.check(PageSize::parse("page_size", page_size));
    let admin_role_id = if admin_role_id.is_empty() {
        None
    } else {
        v.check(RoleId::parse("admin_role_id", &admin_role_id))
    };
    v.finish()?;
    Ok(StaffQuery {
        admin_role_id,
        page_size: page_size.unwrap_or_default(),
        page_token,
    })
}

/// A parsed AssignAdminRole request.
pub fn assign_admin_role(
    request: pb::AssignAdminRoleRequest,
) -> Result<(UserId, RoleId), ValidationError> {
    let pb::AssignAdminRoleRequest { user_id, role_id } = request;
    let mut v = Validator::new();
    let user_id = v.check(UserId::parse("user_id", &user_id));
    let role_id = v.check(RoleId::parse("role_id", &role_id));
    v.finish()?;
    match (user_id, role_id) {
        (Some(user_id), Some(role_id)) => Ok((user_id, role_id)),
        _ => Err(ValidationError::single("request", "is invalid")),
    }
}

/// A parsed CreateApiCredential request.
pub fn create_api_credential(
    request: pb::CreateApiCredentialRequest,
) -> Result<NewApiCredential, ValidationError> {
    let pb::CreateApiCredentialRequest {
        owner_user_id,
        description,
        role_ids,
        expire_time,
    } = request;
    let mut v = Validator::new();
    let owner_user_id = v.check(UserId::parse("owner_user_id", &owner_user_id));
    let description = v.check(Description::parse(
        "description",
        &description,
        CREDENTIAL_DESCRIPTION_MAX,
    ));
    if role_ids.is_empty() {
        v.violation("role_ids", "needs at least one API role");
    }
    let mut parsed_roles = BTreeSet::new();
    let role_ids = bounded(&mut v, "role_ids", &role_ids, CREDENTIAL_ROLES_MAX);
    for (index, id) in role_ids.iter().enumerate() {
        if let Some(id) = v.check(RoleId::parse(&format!("role_ids[{index}]"), id)) {
            parsed_roles.insert(id);
        }
    }
    let expires_at = match expire_time {
        Some(t) => v.check(parse_timestamp("expire_time", &t)),
        None => None,
    };
    v.finish()?;
    match (owner_user_id, description) {
        (Some(owner_user_id), Some(description)) => Ok(NewApiCredential {
            owner_user_id,
            description,
            role_ids: parsed_roles,
            expires_at,
        }),
        _ => Err(ValidationError::single("request", "is invalid")),
    }
}

/// A parsed ListApiCredentials request.
pub fn list_api_credentials(
    request: pb::ListApiCredentialsRequest,
) -> Result<CredentialQuery, ValidationError> {
    let pb::ListApiCredentialsRequest {
        page_size,
        page_token,
        owner_user_id,
        state,
        created_by_user_id,
    } = request;
    let mut v = Validator::new();
    let page_size = v.check(PageSize::parse("page_size", page_size));
    let owner_user_id = if owner_user_id.is_empty() {
        None
    } else {
        v.check(UserId::parse("owner_user_id", &owner_user_id))
    };
    let created_by_user_id = if created_by_user_id.is_empty() {
        None
    } else {
        v.check(UserId::parse("created_by_user_id", &created_by_user_id))
    };
    let state = match pb::ApiCredentialState::try_from(state) {
        Ok(pb::ApiCredentialState::Unspecified) => None,
        Ok(pb::ApiCredentialState::Active) => Some(ApiCredentialState::Active),
        Ok(pb::ApiCredentialState::Expired) => Some(ApiCredentialState::Expired),
        Ok(pb::ApiCredentialState::Revoked) => Some(ApiCredentialState::Revoked),
        Err(_) => {
            v.violation("state", "is not a known credential state");
            None
        }
    };
    v.finish()?;
    Ok(CredentialQuery {
        owner_user_id,
        created_by_user_id,
        state,
        page_size: page_size.unwrap_or_default(),
        page_token,
    })
}

/// A parsed id of an API credential.
pub fn api_credential_id(value: &str) -> Result<ApiCredentialId, ValidationError> {
    Ok(ApiCredentialId::parse("api_credential_id", value)?)
}

/// A parsed ListActivity request.
pub fn list_activity(request: pb::ListActivityRequest) -> Result<ActivityQuery, ValidationError> {
    let pb::ListActivityRequest {
        page_size,
        page_token,
        actor_kind,
        actor_id,
        account_id,
        action,
        start_time,
        end_time,
    } = request;
    let mut v = Validator::new();
    let page_size = v.check(PageSize::parse("page_size", page_size));
    let actor_kind = match pb::ActorKind::try_from(actor_kind) {
        Ok(pb::ActorKind::Unspecified) => None,
        Ok(pb::ActorKind::System) => Some("system"),
        Ok(pb::ActorKind::Staff) => Some("staff"),
        Ok(pb::ActorKind::User) => Some("user"),
        Ok(pb::ActorKind::ApiCredential) => Some("api_credential"),
        Ok(pb::ActorKind::Anonymous) => Some("anonymous"),
        Err(_) => {
            v.violation("actor_kind", "is not a known actor kind");
            None
        }
    };
    let optional_id = |v: &mut Validator, field: &str, value: &str| {
        if value.is_empty() {
            None
        } else {
            v.check(UserId::parse(field, value))
                .map(|id| id.to_string())
        }
    };
    // Actor and account ids are UUIDs whatever they name; parsing them as one
    // kind of id only checks their form.
    let actor_id = optional_id(&mut v, "actor_id", &actor_id);
    let account_id = optional_id(&mut v, "account_id", &account_id);
    if action.len() > ACTION_MAX {
        v.violation(
            "action",
            format!("must have at most {ACTION_MAX} characters"),
        );
    }
    let since = start_time.and_then(|t| v.check(parse_timestamp("start_time", &t)));
    let until = end_time.and_then(|t| v.check(parse_timestamp("end_time", &t)));
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        v.violation("end_time", "must not be before start_time");
    }
    v.finish()?;
    Ok(ActivityQuery {
        filter: ActivityFilter {
            actor_kind: actor_kind.map(str::to_owned),
            actor_id,
            account_id,
            action: (!action.is_empty()).then_some(action),
            since: since.map(Timestamp::as_micros),
            until: until.map(Timestamp::as_micros),
        },
        page_size: page_size.unwrap_or_default(),
        page_token,
    })
}

fn mail_status(status: MailStatus) -> pb::MailStatus {
    match status {
        MailStatus::Queued => pb::MailStatus::Queued,
        MailStatus::Sent => pb::MailStatus::Sent,
        MailStatus::Failed => pb::MailStatus::Failed,
    }
}

impl From<Mail> for pb::Mail {
    fn from(mail: Mail) -> Self {
        pb::Mail {
            id: mail.id,
            kind: mail.kind,
            recipient: mail.recipient,
            status: mail_status(mail.status).into(),
            attempts: mail.attempts,
            last_error: mail.last_error.unwrap_or_default(),
            account_id: mail.account_id.unwrap_or_default(),
            create_time: Some(timestamp(mail.created_at)),
            next_attempt_time: mail.next_attempt_at.map(timestamp),
            send_time: mail.sent_at.map(timestamp),
        }
    }
}

/// A parsed ListMails request.
pub fn list_mails(request: pb::ListMailsRequest) -> Result<MailQuery, ValidationError> {
    let pb::ListMailsRequest {
        page_size: size,
        page_token,
        status,
        recipient,
        kind,
    } = request;
    let mut v = Validator::new();
    let page_size = super::page_size(&mut v, size);
    let status = match pb::MailStatus::try_from(status) {
        Ok(pb::MailStatus::Unspecified) => None,
        Ok(pb::MailStatus::Queued) => Some(MailStatus::Queued),
        Ok(pb::MailStatus::Sent) => Some(MailStatus::Sent),
        Ok(pb::MailStatus::Failed) => Some(MailStatus::Failed),
        Err(_) => {
            v.violation("status", "is not a known mail status");
            None
        }
    };
    let recipient = recipient.trim();
    if recipient.len() > 254 {
        v.violation("recipient", "must have at most 254 characters");
    }
    let kind = kind.trim();
    if !kind.is_empty() && MailKind::from_str_name(kind).is_none() {
        v.violation("kind", "is not a mail kind, such as account_owner_changed");
    }
    v.finish()?;
    Ok(MailQuery {
        filter: MailFilter {
            status: status.map(|s| s.as_str().to_owned()),
            recipient: (!recipient.is_empty()).then(|| recipient.to_lowercase()),
            kind: (!kind.is_empty()).then(|| kind.to_owned()),
        },
        page_size,
        page_token,
    })
}

/// A parsed mail id.
pub fn mail_id(value: &str) -> Result<uuid::Uuid, ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::single("mail_id", "is required"));
    }
    uuid::Uuid::try_parse(value).map_err(|_| ValidationError::single("mail_id", "must be a UUID"))
}
