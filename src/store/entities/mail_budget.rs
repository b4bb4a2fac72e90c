//! The `mail_budgets` table: mails sent per caller in the current hour.

use sea_orm::entity::prelude::*;

/// How many mails one caller sent in its current hourly window.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_budgets")]
pub struct Model {
    /// Whose budget it is, such as `invitation:<user id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// When the current window started (microseconds since the epoch).
    pub window_started_at: i64,
    /// Mails counted in the current window.
    pub sent: i32,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
