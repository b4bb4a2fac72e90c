//! SeaORM entities: one per table, mirroring the migrations.

pub mod account;
pub mod activity_event;
pub mod api_credential;
pub mod api_credential_role;
pub mod idempotency_key;
pub mod invitation;
pub mod mail;
pub mod membership;
pub mod role;
pub mod session;
pub mod setting;
pub mod throttle;
pub mod user;
pub mod user_token;
