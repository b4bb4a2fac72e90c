//! The `roles` table.

use sea_orm::entity::prelude::*;

use crate::domain::{RoleId, RoleKind};

/// One admin or API role.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    /// The role's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RoleId,
    /// `admin` or `api`.
    pub kind: RoleKind,
    /// The name as given.
    pub name: String,
    /// The lower-cased name that carries uniqueness per kind.
    pub name_normalized: String,
    /// Free text.
    pub description: String,
    /// Space-separated permission names.
    pub permissions: String,
    /// Grants every permission, including future ones.
    pub full_access: bool,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
