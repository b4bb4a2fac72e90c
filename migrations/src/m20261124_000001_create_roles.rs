//! Roles: named permission sets, for staff users (admin) or API credentials (api).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(string_len(Roles::Id, 36).primary_key())
                    .col(string_len(Roles::Kind, 16))
                    .col(string_len(Roles::Name, 64))
                    .col(string_len(Roles::NameNormalized, 64))
                    .col(text(Roles::Description))
                    // Space-separated, sorted permission names from the catalogue.
                    .col(text(Roles::Permissions))
                    .col(boolean(Roles::FullAccess))
                    // Times are microseconds since the Unix epoch, identical on every backend.
                    .col(big_integer(Roles::CreatedAt))
                    .col(big_integer(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("roles_kind_name_key")
                    .table(Roles::Table)
                    .col(Roles::Kind)
                    .col(Roles::NameNormalized)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Roles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Kind,
    Name,
    NameNormalized,
    Description,
    Permissions,
    FullAccess,
    CreatedAt,
    UpdatedAt,
}
