//! The `throttles` table: failure counters for brute-force throttling.

use sea_orm::entity::prelude::*;

/// The failures counted against one subject.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttles")]
pub struct Model {
    /// What is counted, such as `login:user:<id>` or `login:ip:<address>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// Failures since the counter last started.
    pub failures: i32,
    /// Microseconds since the Unix epoch.
    pub last_failure_at: i64,
    /// No attempt is accepted before this time (microseconds since the epoch).
    pub blocked_until: i64,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
