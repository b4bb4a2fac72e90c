//! The `account_contacts` table: people an account mails who are not logins.

use sea_orm::entity::prelude::*;

use crate::domain::AccountId;

/// One contact of one account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_contacts")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// The contact's name.
    pub full_name: String,
    /// The email address, as given.
    pub email: String,
    /// Lower-cased, for lookups; unique per account.
    pub email_normalized: String,
    /// The mails they get, space-separated.
    pub mails: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
