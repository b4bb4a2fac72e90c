//! The `api_credentials` table.

use sea_orm::entity::prelude::*;

use crate::domain::{ApiCredentialId, UserId};

/// One API credential of a staff user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_credentials")]
pub struct Model {
    /// The credential's id (not its public identifier).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ApiCredentialId,
    /// The public half of the bearer token; unique.
    pub identifier: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// The staff user the credential acts for.
    pub owner_user_id: UserId,
    /// The staff user who created it (the owner for the bootstrap credential
    /// and for credentials older than this column). No foreign key: a deleted
    /// creator must leave a credential that refuses to work, not one with
    /// nobody bounding it.
    pub created_by_user_id: Option<UserId>,
    /// Free text.
    pub description: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch; none for never.
    pub expires_at: Option<i64>,
    /// Microseconds since the Unix epoch.
    pub revoked_at: Option<i64>,
    /// Microseconds since the Unix epoch, updated at most once a minute.
    pub last_used_at: Option<i64>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
