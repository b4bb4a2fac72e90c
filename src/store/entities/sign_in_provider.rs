//! The `sign_in_providers` table: external OpenID Connect providers people
//! may sign in through.

use sea_orm::entity::prelude::*;

/// One provider, as stored. Its client secret is sealed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_providers")]
pub struct Model {
    /// The operator's name for it (`whmcs`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// What a sign-in page shows.
    pub display_name: String,
    /// The issuer URL, where discovery starts.
    pub issuer_url: String,
    /// identityd's client id at the provider.
    pub client_id: String,
    /// The client secret, sealed with the server secret for this id.
    pub client_secret: String,
    /// The scopes asked for, space-separated.
    pub scopes: String,
    /// The redirect URIs a sign-in may name, one a line.
    pub redirect_uris: String,
    /// Whether a verified email address links to the user who has it.
    pub link_by_email: bool,
    /// Whether sign-ins may start.
    pub enabled: bool,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    /// `user` or `api_credential`.
    pub updated_by_kind: String,
    /// Their id.
    pub updated_by_id: String,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
