//! Settings and mail templates an operator changes while identityd runs
//! (AdminService UpdateSettings, UpdateMailTemplate), and the generation
//! number every replica polls to notice such a change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuntimeSettings::Table)
                    // The setting's key, as in the settings file.
                    .col(string_len(RuntimeSettings::Key, 100).primary_key())
                    // JSON; a secret is a JSON string of its sealed form.
                    .col(text(RuntimeSettings::Value))
                    .col(big_integer(RuntimeSettings::UpdatedAt))
                    // Who stored it: `user` or `api_credential`, and its id.
                    .col(string_len(RuntimeSettings::UpdatedByKind, 32))
                    .col(string_len(RuntimeSettings::UpdatedById, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailTemplates::Table)
                    .col(string_len(MailTemplates::Kind, 64))
                    .col(string_len(MailTemplates::Locale, 35))
                    .col(text(MailTemplates::Subject))
                    .col(text(MailTemplates::TextBody))
                    .col(text(MailTemplates::HtmlBody))
                    .col(big_integer(MailTemplates::UpdatedAt))
                    .col(string_len(MailTemplates::UpdatedByKind, 32))
                    .col(string_len(MailTemplates::UpdatedById, 64))
                    .primary_key(
                        Index::create()
                            .col(MailTemplates::Kind)
                            .col(MailTemplates::Locale),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SettingsGeneration::Table)
                    .col(integer(SettingsGeneration::Id).primary_key())
                    // Raised by every change to runtime_settings or mail_templates.
                    .col(big_integer(SettingsGeneration::Generation))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(SettingsGeneration::Table)
                    .columns([SettingsGeneration::Id, SettingsGeneration::Generation])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SettingsGeneration::Table.into_iden(),
            MailTemplates::Table.into_iden(),
            RuntimeSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum RuntimeSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
    UpdatedByKind,
    UpdatedById,
}

#[derive(DeriveIden)]
enum MailTemplates {
    Table,
    Kind,
    Locale,
    Subject,
    TextBody,
    HtmlBody,
    UpdatedAt,
    UpdatedByKind,
    UpdatedById,
}

#[derive(DeriveIden)]
enum SettingsGeneration {
    Table,
    Id,
    Generation,
}
