//! InvitationService messages.

use super::accounts::{parse_permissions, permissions_out};
use super::auth::{SignUpFields, sign_up};
use super::{page_size, timestamp};
use crate::app::{
    Acceptor, Invitation, InvitationPreview, InvitationQuery, InvitationStatus, NewInvitation,
};
use crate::domain::{AccountId, AccountPermissions, Email, RequestId, ValidationError, Validator};
use crate::proto as pb;

/// The longest token accepted; real ones are much shorter.
const TOKEN_MAX: usize = 256;

fn status_out(status: InvitationStatus) -> pb::InvitationStatus {
    match status {
        InvitationStatus::Pending => pb::InvitationStatus::Pending,
        InvitationStatus::Accepted => pb::InvitationStatus::Accepted,
        InvitationStatus::Cancelled => pb::InvitationStatus::Cancelled,
        InvitationStatus::Expired => pb::InvitationStatus::Expired,
    }
}

impl From<Invitation> for pb::Invitation {
    fn from(invitation: Invitation) -> Self {
        pb::Invitation {
            id: invitation.id.to_string(),
            account_id: invitation.account_id.to_string(),
            account_name: invitation.account_name,
            email: invitation.email,
            permissions: permissions_out(&invitation.permissions),
            inviter: Some(pb::Inviter {
                user_id: invitation
                    .inviter_user_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                full_name: invitation.inviter_name,
                kind: invitation.inviter_kind,
            }),
            status: status_out(invitation.status).into(),
            create_time: Some(timestamp(invitation.created_at)),
            expire_time: Some(timestamp(invitation.expires_at)),
            accept_time: invitation.accepted_at.map(timestamp),
            accepted_user_id: invitation
                .accepted_user_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            cancel_time: invitation.cancelled_at.map(timestamp),
            link_mailed: invitation.link_mailed,
        }
    }
}

impl From<InvitationPreview> for pb::PreviewInvitationResponse {
    fn from(preview: InvitationPreview) -> Self {
        pb::PreviewInvitationResponse {
            account_name: preview.account_name,
            inviter_name: preview.inviter_name,
            email: preview.email,
            permissions: permissions_out(&preview.permissions),
            expire_time: Some(timestamp(preview.expires_at)),
            status: status_out(preview.status).into(),
        }
    }
}

/// A parsed CreateInvitation request.
pub fn create_invitation(
    request: pb::CreateInvitationRequest,
) -> Result<(NewInvitation, Option<RequestId>), ValidationError> {
    let pb::CreateInvitationRequest {
        account_id,
        email,
        permissions,
        all_permissions,
        send_email,
        replace_pending,
        request_id,
    } = request;
    let mut v = Validator::new();
    let account_id = v.check(AccountId::parse("account_id", &account_id));
    let email = v.check(Email::parse("email", &email));
    let permissions = if all_permissions {
        Some(AccountPermissions::all())
    } else if permissions.is_empty() {
        v.violation(
            "permissions",
            "name at least one permission, or set all_permissions: an invitee with none could do nothing",
        );
        None
    } else {
        v.check(parse_permissions("permissions", &permissions))
    };
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish_with(|| {
        let invitation = NewInvitation {
            account_id: account_id?,
            email: email?,
            permissions: permissions?,
            send_email,
            replace_pending,
        };
        Some((invitation, request_id?))
    })
}

/// A parsed ListInvitations request.
pub fn list_invitations(
    request: pb::ListInvitationsRequest,
) -> Result<InvitationQuery, ValidationError> {
    let pb::ListInvitationsRequest {
        account_id,
        status,
        page_size: size,
        page_token,
    } = request;
    let mut v = Validator::new();
    let account_id = v.check(AccountId::parse("account_id", &account_id));
    let status = match pb::InvitationStatus::try_from(status) {
        Ok(pb::InvitationStatus::Unspecified) => None,
        Ok(pb::InvitationStatus::Pending) => Some(InvitationStatus::Pending),
        Ok(pb::InvitationStatus::Accepted) => Some(InvitationStatus::Accepted),
        Ok(pb::InvitationStatus::Cancelled) => Some(InvitationStatus::Cancelled),
        Ok(pb::InvitationStatus::Expired) => Some(InvitationStatus::Expired),
        Err(_) => {
            v.violation("status", "is not a known invitation status");
            None
        }
    };
    let page_size = page_size(&mut v, size);
    v.finish()?;
    let account_id =
        account_id.ok_or_else(|| ValidationError::single("account_id", "is required"))?;
    Ok(InvitationQuery {
        account_id,
        status,
        page_size,
        page_token,
    })
}

/// A token from a link: trimmed and bounded; its shape is checked with the
/// lookup, so a malformed token gets the same answer as an unknown one.
pub fn token(value: &str) -> Result<String, ValidationError> {
    let token = value.trim();
    if token.is_empty() {
        return Err(ValidationError::single("token", "is required"));
    }
    if token.len() > TOKEN_MAX {
        return Err(ValidationError::single("token", "is too long"));
    }
    Ok(token.to_owned())
}

/// A parsed AcceptInvitation request; `password_min_chars` is the policy.
pub fn accept_invitation(
    request: pb::AcceptInvitationRequest,
    password_min_chars: usize,
) -> Result<(String, Acceptor), ValidationError> {
    let pb::AcceptInvitationRequest {
        token: raw,
        acceptor,
    } = request;
    let mut v = Validator::new();
    let token = v.check(token(&raw));
    let acceptor = match acceptor {
        None => Some(Acceptor::Session),
        Some(pb::accept_invitation_request::Acceptor::NewUser(new_user)) => {
            let pb::InvitedUser {
                full_name,
                username,
                email,
                password,
                locale,
            } = new_user;
            let fields = SignUpFields {
                full_name: &full_name,
                username: &username,
                email: &email,
                password: &password,
                locale: &locale,
            };
            sign_up(&mut v, "new_user.", fields, password_min_chars).map(Acceptor::NewUser)
        }
    };
    v.finish_with(|| Some((token?, acceptor?)))
}
