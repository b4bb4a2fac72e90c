//! The `sso_tokens` table: single-use sign-on tokens minted by staff.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, UserId};

/// One SSO token (never the token itself: its hash).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_tokens")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Whom it signs in.
    pub user_id: UserId,
    /// The account the session acts for, if one was named.
    pub account_id: Option<AccountId>,
    /// Where the other app sends the person; opaque to identityd.
    pub destination: String,
    /// Who minted it: `api_credential` or `user`.
    pub created_by_kind: String,
    /// The minting credential's or staff user's id.
    pub created_by_id: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub expires_at: i64,
    /// When it was redeemed; it works at most once.
    pub redeemed_at: Option<i64>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
