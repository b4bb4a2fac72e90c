//! The `user_totp` table: each user's TOTP secret, sealed at rest.

use sea_orm::entity::prelude::*;

use crate::domain::UserId;

/// A user's TOTP enrolment. Its `Debug` never shows the sealed secret.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    /// The user; one enrolment each.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// The secret, sealed with the server secret (`crypto::ServerKey::seal`,
    /// the user's id as context).
    pub sealed_secret: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// When a first code confirmed it; `None` while it waits for one.
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted.
    pub last_used_step: Option<i64>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTotpRow")
            .field("user_id", &self.user_id)
            .field("sealed_secret", &crate::domain::REDACTED)
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .finish()
    }
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
