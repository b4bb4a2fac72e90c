//! The `external_sign_ins` table: sign-ins sent to a provider and not yet
//! back.

use sea_orm::entity::prelude::*;

/// One sign-in under way (never its `state`: the state's hash).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_sign_ins")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 of the `state`, hex.
    pub state_hash: String,
    /// The provider it went to.
    pub provider_id: String,
    /// Where the provider sends the person back.
    pub redirect_uri: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier, sealed with the server secret for this row's id.
    pub pkce_verifier: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub expires_at: i64,
    /// When it came back; it completes at most once.
    pub completed_at: Option<i64>,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
