//! The `sessions` table.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, AuthMethods, SessionId, UserId};

/// One signed-in session of a user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The session's id (not its token).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SessionId,
    /// SHA-256 of the bearer token, hex.
    pub token_hash: String,
    /// The user.
    pub user_id: UserId,
    /// The account the session acts for, once selected.
    pub account_id: Option<AccountId>,
    /// The address it signed in from; empty if unknown.
    pub client_ip: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch; written at most once a minute.
    pub last_seen_at: i64,
    /// Microseconds since the Unix epoch.
    pub absolute_expires_at: i64,
    /// Microseconds since the Unix epoch.
    pub revoked_at: Option<i64>,
    /// Why it was revoked: `logout`, `revoked`, `password_changed`, `password_reset`.
    pub revoke_reason: Option<String>,
    /// How the user proved who they are: `pwd`, `pwd otp`, `pwd backup_code`.
    pub auth_methods: AuthMethods,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
