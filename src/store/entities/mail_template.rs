//! The `mail_templates` table: mail templates changed while identityd runs.

use sea_orm::entity::prelude::*;

/// One stored template: all three parts for one kind and locale.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_templates")]
pub struct Model {
    /// The mail kind, such as `invitation`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The locale, such as `de` or `pt-BR`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub locale: String,
    /// The subject template.
    pub subject: String,
    /// The plain-text body template.
    pub text_body: String,
    /// The HTML body template.
    pub html_body: String,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    /// Who stored it: `user` or `api_credential`.
    pub updated_by_kind: String,
    /// Their id.
    pub updated_by_id: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
