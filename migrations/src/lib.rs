//! identityd's database schema, one migration a file, named by date.
//!
//! Migrations use plain table and column identifiers, never the application's
//! entities, so an old migration never changes when an entity does.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_roles;
mod m20261124_000002_create_users;
mod m20261124_000003_create_api_credentials;
mod m20261124_000004_create_activity_events;
mod m20261124_000005_create_idempotency_keys;
mod m20261124_000006_create_settings;
mod m20261124_000007_add_user_search;
mod m20261124_000008_create_accounts;
mod m20261124_000009_create_mails;
mod m20261124_000010_create_auth;
mod m20261124_000011_create_invitations;
mod m20261129_000012_harden_invitations;
mod m20261129_000014_credential_created_by;
mod m20261129_000015_add_mfa;
mod m20261130_000016_add_sso_tokens;
mod m20261130_000017_index_activity_targets;
mod m20261130_000018_add_runtime_settings;
mod m20261130_000019_add_retention;
mod m20261130_000020_add_external_sign_in;
mod m20261130_000021_add_primary_account;
mod m20261130_000022_add_account_contacts;
mod m20261130_000023_index_user_full_name_order;
mod m20261130_000024_add_sqlite_user_search_index;

/// Every migration of identityd, in the order they apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_roles::Migration),
            Box::new(m20261124_000002_create_users::Migration),
            Box::new(m20261124_000003_create_api_credentials::Migration),
            Box::new(m20261124_000004_create_activity_events::Migration),
            Box::new(m20261124_000005_create_idempotency_keys::Migration),
            Box::new(m20261124_000006_create_settings::Migration),
            Box::new(m20261124_000007_add_user_search::Migration),
            Box::new(m20261124_000008_create_accounts::Migration),
            Box::new(m20261124_000009_create_mails::Migration),
            Box::new(m20261124_000010_create_auth::Migration),
            Box::new(m20261124_000011_create_invitations::Migration),
            Box::new(m20261129_000012_harden_invitations::Migration),
            Box::new(m20261129_000014_credential_created_by::Migration),
            Box::new(m20261129_000015_add_mfa::Migration),
            Box::new(m20261130_000016_add_sso_tokens::Migration),
            Box::new(m20261130_000017_index_activity_targets::Migration),
            Box::new(m20261130_000018_add_runtime_settings::Migration),
            Box::new(m20261130_000019_add_retention::Migration),
            Box::new(m20261130_000020_add_external_sign_in::Migration),
            Box::new(m20261130_000021_add_primary_account::Migration),
            Box::new(m20261130_000022_add_account_contacts::Migration),
            Box::new(m20261130_000023_index_user_full_name_order::Migration),
            Box::new(m20261130_000024_add_sqlite_user_search_index::Migration),
        ]
    }
}
