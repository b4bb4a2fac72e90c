//! AdminService messages about staff users.

use crate::app::{NewStaffUser, StaffQuery, StaffUser};
use crate::domain::{
    Email, FullName, RequestId, RoleId, UserId, Username, ValidationError, Validator,
};
use crate::proto as pb;

use super::{filter_id, page_size, timestamp, user_status};

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
    v.finish_with(|| {
        let user = NewStaffUser {
            email: email?,
            username: username?,
            full_name: full_name?,
            admin_role_id: admin_role_id?,
            send_set_password_email,
        };
        Some((user, request_id?))
    })
}

/// A parsed ListStaffUsers request.
pub fn list_staff_users(request: pb::ListStaffUsersRequest) -> Result<StaffQuery, ValidationError> {
    let pb::ListStaffUsersRequest {
        page_size: size,
        page_token,
        admin_role_id,
        state,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let admin_role_id = filter_id(&mut v, &admin_role_id, |s| {
        RoleId::parse("admin_role_id", s)
    });
    let active = match pb::StaffState::try_from(state) {
        Ok(pb::StaffState::Unspecified) => None,
        Ok(pb::StaffState::Active) => Some(true),
        Ok(pb::StaffState::Inactive) => Some(false),
        Err(_) => {
            v.violation(
                "state",
                "must be STAFF_STATE_ACTIVE or STAFF_STATE_INACTIVE",
            );
            None
        }
    };
    v.finish()?;
    Ok(StaffQuery {
        admin_role_id,
        active,
        page_size,
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
    v.finish_with(|| Some((user_id?, role_id?)))
}
