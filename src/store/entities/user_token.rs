//! The `user_tokens` table: one-time secrets mailed to users.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, UserId};

/// One verification code or password reset token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_tokens")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user it was sent to.
    pub user_id: UserId,
    /// `email_verification` or `password_reset`.
    pub purpose: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Wrong guesses so far.
    pub attempts: i32,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub expires_at: i64,
    /// When it was used or replaced; it works at most once.
    pub consumed_at: Option<i64>,
    /// For a sign-in challenge: the account its session will act for
    /// (named by the SSO token it continues); `None` otherwise.
    pub account_id: Option<AccountId>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
