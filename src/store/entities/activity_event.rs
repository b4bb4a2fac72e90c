//! The `activity_events` table.

use sea_orm::entity::prelude::*;

use crate::domain::AccountId;

/// One entry of the append-only activity log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_events")]
pub struct Model {
    /// UUIDv7, so ordering by id is ordering by time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Microseconds since the Unix epoch.
    pub occurred_at: i64,
    /// `system`, `staff`, `user` or `api_credential`.
    pub actor_kind: String,
    /// The actor's id; empty for the system.
    pub actor_id: String,
    /// The client account the change belongs to.
    pub account_id: Option<AccountId>,
    /// Such as `role.created`.
    pub action: String,
    /// Such as `role`.
    pub target_type: String,
    /// The changed thing's id.
    pub target_id: String,
    /// The caller's network address.
    pub client_ip: Option<String>,
    /// The request id of the call.
    pub request_id: String,
    /// A JSON object of string values.
    pub details: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
