//! The `retention_runs` table: one row per run of retention pruning.

use sea_orm::entity::prelude::*;

/// One run.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_runs")]
pub struct Model {
    /// The run's id (a UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `schedule` or `manual`.
    pub run_trigger: String,
    /// Microseconds since the Unix epoch.
    pub started_at: i64,
    /// Microseconds since the Unix epoch; `None` while it runs (or if it died).
    pub finished_at: Option<i64>,
    /// JSON: what was deleted and warned, by kind.
    pub counts: String,
    /// The error that stopped it, if one did.
    pub error: Option<String>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
