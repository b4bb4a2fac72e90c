//! The `external_identities` table: a provider's account linked to a user.

use sea_orm::entity::prelude::*;

use crate::domain::UserId;

/// One link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_identities")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user it signs in.
    pub user_id: UserId,
    /// The provider.
    pub provider_id: String,
    /// The provider's `sub` for the person.
    pub subject: String,
    /// The address the provider gave at the last sign-in.
    pub email: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub last_sign_in_at: Option<i64>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
