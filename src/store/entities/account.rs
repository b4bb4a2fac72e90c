//! The `accounts` table.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, AccountStatus, UserId};

/// One client account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// The account's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AccountId,
    /// The name shown for the account.
    pub display_name: String,
    /// The billing contact's full name.
    pub full_name: String,
    /// The company.
    pub company: String,
    /// The billing email address.
    pub email: String,
    /// The first address line.
    pub address_line1: String,
    /// The second address line.
    pub address_line2: String,
    /// The city.
    pub city: String,
    /// The state or region.
    pub state: String,
    /// The postal code.
    pub postcode: String,
    /// ISO 3166-1 alpha-2, or empty.
    pub country: String,
    /// The phone number.
    pub phone: String,
    /// The tax or VAT id.
    pub tax_id: String,
    /// `active` or `closed`.
    pub status: AccountStatus,
    /// The one owner.
    pub owner_user_id: UserId,
    /// Lower-cased display name, company and email; derived by `store::accounts`.
    pub search_text: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    /// Microseconds since the Unix epoch.
    pub closed_at: Option<i64>,
    /// When a member last signed in to it or a billing service last
    /// recorded activity; `None` until then (its creation counts).
    pub last_activity_at: Option<i64>,
    /// Whether retention pruning must leave it alone.
    pub retention_hold: bool,
    /// Why, as the billing service put it.
    pub retention_hold_reason: String,
    /// When its owner was warned it will be deleted for inactivity.
    pub inactivity_warned_at: Option<i64>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
