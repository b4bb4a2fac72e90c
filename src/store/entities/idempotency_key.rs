//! The `idempotency_keys` table.

use sea_orm::entity::prelude::*;

/// The first result of a create call sent with a request id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Who sent the request, such as `api_credential:<id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller: String,
    /// The operation, such as `CreateRole`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub operation: String,
    /// The caller's request id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// SHA-256 of the request's content, hex.
    pub fingerprint: String,
    /// The id of what the first call created.
    pub resource_id: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
