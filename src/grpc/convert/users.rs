//! UserService messages.

use super::{
    UPDATE_MASK_PATHS_MAX, bounded, page_size, parse_user_status, quote, search_text, timestamp,
    user_status,
};
use crate::app::{NewUser, User, UserChanges, UserKey, UserOrder, UserQuery, UserSortKey};
use crate::domain::{
    AccountId, Email, FullName, Locale, Password, PhotoUrl, RequestId, UserId, UserStatus,
    Username, ValidationError, Validator,
};
use crate::proto as pb;

impl From<User> for pb::User {
    fn from(user: User) -> Self {
        pb::User {
            id: user.id.to_string(),
            email: user.email,
            username: user.username,
            full_name: user.full_name,
            photo_url: user.photo_url.unwrap_or_default(),
            locale: user.locale.unwrap_or_default(),
            status: user_status(user.status).into(),
            email_verified: user.email_verified,
            has_password: user.has_password,
            admin_role_id: user
                .admin_role_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            create_time: Some(timestamp(user.created_at)),
            update_time: Some(timestamp(user.updated_at)),
            last_login_time: user.last_login_at.map(timestamp),
            mfa_enabled: user.mfa_enabled_at.is_some(),
            primary_account_id: user
                .primary_account_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }
    }
}

/// An optional field: empty means none.
fn optional<T, E>(value: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

/// A parsed CreateUser request; `password_min_chars` is the configured policy.
pub fn create_user(
    request: pb::CreateUserRequest,
    password_min_chars: usize,
) -> Result<(NewUser, Option<RequestId>), ValidationError> {
    let pb::CreateUserRequest {
        full_name,
        username,
        email,
        photo_url,
        locale,
        password,
        status,
        request_id,
        send_set_password_email,
        skip_primary_account,
    } = request;
    let mut v = Validator::new();
    if send_set_password_email && !password.is_empty() {
        v.violation(
            "send_set_password_email",
            "cannot be set together with a password",
        );
    }
    if send_set_password_email && status == i32::from(pb::UserStatus::Suspended) {
        v.violation(
            "send_set_password_email",
            "cannot be set for a suspended user",
        );
    }
    let parsed_full_name = v.check(FullName::parse("full_name", &full_name));
    let parsed_username = v.check(Username::parse_unreserved("username", &username));
    let parsed_email = v.check(Email::parse("email", &email));
    let photo_url = v.check(optional(&photo_url, |s| PhotoUrl::parse("photo_url", s)));
    let locale = v.check(optional(&locale, |s| Locale::parse("locale", s)));
    // The user's own details are the first guesses an attacker makes.
    let hints = [full_name.as_str(), username.as_str(), email.as_str()];
    let password = if password.is_empty() {
        Some(None)
    } else {
        v.check(Password::parse("password", &password, password_min_chars, &hints).map(Some))
    };
    let status = v.check(parse_user_status("status", status));
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish_with(|| {
        let user = NewUser {
            full_name: parsed_full_name?,
            username: parsed_username?,
            email: parsed_email?,
            photo_url: photo_url?,
            locale: locale?,
            password: password?,
            status: status?.unwrap_or(UserStatus::Active),
            send_set_password_email,
            skip_primary_account,
        };
        Some((user, request_id?))
    })
}

/// A parsed LookupUser request.
pub fn lookup_user(request: pb::LookupUserRequest) -> Result<UserKey, ValidationError> {
    let pb::LookupUserRequest { key } = request;
    match key {
        Some(pb::lookup_user_request::Key::Email(email)) => {
            Ok(UserKey::Email(Email::parse("email", &email)?))
        }
        Some(pb::lookup_user_request::Key::Username(username)) => {
            Ok(UserKey::Username(Username::parse("username", &username)?))
        }
        None => Err(ValidationError::single("key", "set email or username")),
    }
}

/// A parsed ListUsers request.
pub fn list_users(request: pb::ListUsersRequest) -> Result<UserQuery, ValidationError> {
    let pb::ListUsersRequest {
        page_size: size,
        page_token,
        query,
        status,
        order,
        include_total_size,
        account_id,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let text = search_text(&mut v, &query);
    let status = v.check(parse_user_status("status", status)).flatten();
    let account_id = v
        .check(optional(&account_id, |s| AccountId::parse("account_id", s)))
        .flatten();
    let order = match pb::UserOrder::try_from(order) {
        Ok(pb::UserOrder::Unspecified | pb::UserOrder::NewestFirst) => UserOrder::NewestFirst,
        Ok(pb::UserOrder::OldestFirst) => UserOrder::OldestFirst,
        Ok(pb::UserOrder::FullName) => UserOrder::By(UserSortKey::FullName),
        Ok(pb::UserOrder::Username) => UserOrder::By(UserSortKey::Username),
        Ok(pb::UserOrder::Email) => UserOrder::By(UserSortKey::Email),
        Err(_) => {
            v.violation("order", "is not a known order");
            UserOrder::NewestFirst
        }
    };
    v.finish()?;
    Ok(UserQuery {
        text,
        status,
        account_id,
        order,
        include_total: include_total_size,
        page_size,
        page_token,
    })
}

/// A parsed UpdateUser request: the user id and the masked changes.
pub fn update_user(
    request: pb::UpdateUserRequest,
) -> Result<(UserId, UserChanges), ValidationError> {
    let pb::UpdateUserRequest { user, update_mask } = request;
    let Some(user) = user else {
        return Err(ValidationError::single("user", "is required"));
    };
    let pb::User {
        id,
        email,
        username,
        full_name,
        photo_url,
        locale,
        // Output-only fields, or ones other methods change; ignored as AIP-134 asks.
        status: _,
        email_verified: _,
        has_password: _,
        mfa_enabled: _,
        admin_role_id: _,
        create_time: _,
        update_time: _,
        last_login_time: _,
        primary_account_id: _,
    } = user;
    let mut v = Validator::new();
    let id = v.check(UserId::parse("user.id", &id));
    let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
    if paths.is_empty() {
        v.violation(
            "update_mask",
            "is required: full_name, username, email, photo_url and/or locale",
        );
    }
    let mut changes = UserChanges::default();
    for path in bounded(&mut v, "update_mask.paths", &paths, UPDATE_MASK_PATHS_MAX) {
        match path.as_str() {
            "full_name" => {
                changes.full_name = v.check(FullName::parse("user.full_name", &full_name))
            }
            "username" => {
                changes.username = v.check(Username::parse_unreserved("user.username", &username))
            }
            "email" => changes.email = v.check(Email::parse("user.email", &email)),
            "photo_url" => {
                changes.photo_url = v.check(optional(&photo_url, |s| {
                    PhotoUrl::parse("user.photo_url", s)
                }))
            }
            "locale" => {
                changes.locale = v.check(optional(&locale, |s| Locale::parse("user.locale", s)))
            }
            other => v.violation(
                "update_mask",
                format!(
                    "{} cannot be updated; use full_name, username, email, photo_url or locale",
                    quote(other)
                ),
            ),
        }
    }
    v.finish()?;
    let id = id.ok_or_else(|| ValidationError::single("user.id", "is required"))?;
    Ok((id, changes))
}
