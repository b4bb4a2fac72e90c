//! Creating a user row, whoever creates it: registration, staff, invitations
//! and bootstrap all go through [`insert_user_at`].

use crate::app::error::{AppError, Reason};
use crate::domain::{
    Email, FullName, Locale, PhotoUrl, REDACTED, RoleId, Timestamp, UserId, UserStatus, Username,
};
use crate::store::{self, ConnectionTrait, StoreError, users::UserRow};

/// Everything a new user row is made from, whoever creates it. Its `Debug`
/// hides the password hash.
#[derive(Clone)]
pub(crate) struct UserDraft {
    pub email: Email,
    pub username: Username,
    pub full_name: FullName,
    pub photo_url: Option<PhotoUrl>,
    pub locale: Option<Locale>,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub admin_role_id: Option<RoleId>,
}

impl std::fmt::Debug for UserDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            email,
            username,
            full_name,
            photo_url,
            locale,
            status,
            password_hash,
            admin_role_id,
        } = self;
        f.debug_struct("UserDraft")
            .field("email", email)
            .field("username", username)
            .field("full_name", full_name)
            .field("photo_url", photo_url)
            .field("locale", locale)
            .field("status", status)
            .field("password_hash", &password_hash.as_ref().map(|_| REDACTED))
            .field("admin_role_id", admin_role_id)
            .finish()
    }
}

/// Inserts a new user created at `now` (the use case's time from the app's
/// clock), answering EMAIL_TAKEN or USERNAME_TAKEN when the database's
/// case-insensitive unique indexes refuse it.
pub(crate) async fn insert_user_at(
    conn: &impl ConnectionTrait,
    id: UserId,
    draft: UserDraft,
    now: Timestamp,
) -> Result<UserRow, AppError> {
    let now = now.as_micros();
    let row = UserRow {
        id,
        email: draft.email.as_str().to_owned(),
        email_normalized: draft.email.normalized(),
        username: draft.username.as_str().to_owned(),
        username_normalized: draft.username.normalized(),
        full_name: draft.full_name.as_str().to_owned(),
        photo_url: draft.photo_url.map(|url| url.as_str().to_owned()),
        locale: draft.locale.map(|locale| locale.as_str().to_owned()),
        status: draft.status,
        email_verified: false,
        password_hash: draft.password_hash,
        admin_role_id: draft.admin_role_id,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        mfa_enabled_at: None,
        primary_account_id: None,
        search_text: String::new(),
    };
    store::users::insert(conn, row)
        .await
        .map_err(identity_conflict)
}

/// Maps a unique violation on email or username to its reason.
pub(crate) fn identity_conflict(err: StoreError) -> AppError {
    if err.is_unique_violation_on("email") {
        AppError::AlreadyExists(Reason::EmailTaken)
    } else if err.is_unique_violation_on("username") {
        AppError::AlreadyExists(Reason::UsernameTaken)
    } else {
        err.into()
    }
}
