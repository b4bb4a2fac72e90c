//! The `api_credential_roles` table: which API roles a credential carries.

use sea_orm::entity::prelude::*;

use crate::domain::{ApiCredentialId, RoleId};

/// One API role of one credential.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_credential_roles")]
pub struct Model {
    /// The credential.
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: ApiCredentialId,
    /// The API role.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: RoleId,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
