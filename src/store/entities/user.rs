//! The `users` table.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, RoleId, UserId, UserStatus};

/// One user; a user with an admin role is staff. Its `Debug` hides the
/// password hash (a leaked hash can be guessed at offline).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The user's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    /// The address as given.
    pub email: String,
    /// Lower case; unique.
    pub email_normalized: String,
    /// The username as given.
    pub username: String,
    /// Lower case; unique.
    pub username_normalized: String,
    /// The person's full name.
    pub full_name: String,
    /// An http(s) URL of a photo.
    pub photo_url: Option<String>,
    /// A BCP 47 language tag.
    pub locale: Option<String>,
    /// `pending_verification`, `active` or `suspended`.
    pub status: UserStatus,
    /// Whether the email address was proven.
    pub email_verified: bool,
    /// An argon2id PHC string; none until a password is set.
    pub password_hash: Option<String>,
    /// The admin role of a staff user.
    pub admin_role_id: Option<RoleId>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    /// Microseconds since the Unix epoch.
    pub last_login_at: Option<i64>,
    /// When two-factor authentication was turned on (a TOTP enrolment
    /// confirmed), in microseconds since the Unix epoch; `None` when off.
    pub mfa_enabled_at: Option<i64>,
    /// The account made with the user, while it exists.
    pub primary_account_id: Option<AccountId>,
    /// Lower-cased full name, username and email, for substring search.
    /// Derived by `store::users` on every write; callers leave it empty.
    pub search_text: String,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

redacted_row_debug!("UserRow" {
    id,
    email,
    email_normalized,
    username,
    username_normalized,
    full_name,
    photo_url,
    locale,
    status,
    email_verified,
    password_hash secret,
    admin_role_id,
    created_at,
    updated_at,
    last_login_at,
    mfa_enabled_at,
    primary_account_id,
    search_text,
});
