//! API credentials of staff users, and the API roles each one carries.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiCredentials::Table)
                    .col(string_len(ApiCredentials::Id, 36).primary_key())
                    .col(string_len_uniq(ApiCredentials::Identifier, 64))
                    // SHA-256 of the secret, hex; the secret itself is never stored.
                    .col(string_len(ApiCredentials::SecretHash, 64))
                    .col(string_len(ApiCredentials::OwnerUserId, 36))
                    .col(text(ApiCredentials::Description))
                    .col(big_integer(ApiCredentials::CreatedAt))
                    .col(big_integer_null(ApiCredentials::ExpiresAt))
                    .col(big_integer_null(ApiCredentials::RevokedAt))
                    .col(big_integer_null(ApiCredentials::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_credentials_owner_user_id_fkey")
                            .from(ApiCredentials::Table, ApiCredentials::OwnerUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_credentials_owner_user_id_idx")
                    .table(ApiCredentials::Table)
                    .col(ApiCredentials::OwnerUserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiCredentialRoles::Table)
                    .col(string_len(ApiCredentialRoles::CredentialId, 36))
                    .col(string_len(ApiCredentialRoles::RoleId, 36))
                    .primary_key(
                        Index::create()
                            .col(ApiCredentialRoles::CredentialId)
                            .col(ApiCredentialRoles::RoleId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_credential_roles_credential_id_fkey")
                            .from(ApiCredentialRoles::Table, ApiCredentialRoles::CredentialId)
                            .to(ApiCredentials::Table, ApiCredentials::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_credential_roles_role_id_fkey")
                            .from(ApiCredentialRoles::Table, ApiCredentialRoles::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_credential_roles_role_id_idx")
                    .table(ApiCredentialRoles::Table)
                    .col(ApiCredentialRoles::RoleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiCredentialRoles::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ApiCredentials::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ApiCredentials {
    Table,
    Id,
    Identifier,
    SecretHash,
    OwnerUserId,
    Description,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ApiCredentialRoles {
    Table,
    CredentialId,
    RoleId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
}
