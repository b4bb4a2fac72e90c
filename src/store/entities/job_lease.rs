//! The `job_leases` table: which replica runs a background job that must
//! run in one place at a time, and until when.

use sea_orm::entity::prelude::*;

/// One job's lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_leases")]
pub struct Model {
    /// The job, such as `retention`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The run that holds it.
    pub holder: String,
    /// Microseconds since the Unix epoch; past it anyone may take it.
    pub expires_at: i64,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
