//! The `runtime_settings` table: settings changed while identityd runs.

use sea_orm::entity::prelude::*;

/// One stored setting, overriding the settings file's value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runtime_settings")]
pub struct Model {
    /// The setting's key, as in the settings file.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The value as JSON; a secret's is its sealed form, never the secret.
    pub value: String,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    /// Who stored it: `user` or `api_credential`.
    pub updated_by_kind: String,
    /// Their id.
    pub updated_by_id: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
