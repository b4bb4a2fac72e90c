//! Users: login identities. A user holding an admin role is staff.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(string_len(Users::Email, 254))
                    // Lower-cased copies carry the case-insensitive uniqueness.
                    .col(string_len_uniq(Users::EmailNormalized, 254))
                    .col(string_len(Users::Username, 32))
                    .col(string_len_uniq(Users::UsernameNormalized, 32))
                    .col(string_len(Users::FullName, 128))
                    .col(text_null(Users::PhotoUrl))
                    .col(string_len_null(Users::Locale, 35))
                    .col(string_len(Users::Status, 32))
                    .col(boolean(Users::EmailVerified))
                    .col(text_null(Users::PasswordHash))
                    .col(string_len_null(Users::AdminRoleId, 36))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .col(big_integer_null(Users::LastLoginAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_admin_role_id_fkey")
                            .from(Users::Table, Users::AdminRoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_admin_role_id_idx")
                    .table(Users::Table)
                    .col(Users::AdminRoleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    Username,
    UsernameNormalized,
    FullName,
    PhotoUrl,
    Locale,
    Status,
    EmailVerified,
    PasswordHash,
    AdminRoleId,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
}
