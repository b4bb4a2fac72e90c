//! Single-use SSO tokens (WHMCS `CreateSsoToken`): a staff or API caller
//! sends a person to another app already signed in. And the account a
//! sign-in challenge binds its session to, for a redeemed SSO token that
//! still needs the user's second factor.

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
                    .table(SsoTokens::Table)
                    .col(string_len(SsoTokens::Id, 36).primary_key())
                    // SHA-256 of the token, hex.
                    .col(string_len(SsoTokens::TokenHash, 64).unique_key())
                    .col(string_len(SsoTokens::UserId, 36))
                    .col(string_len_null(SsoTokens::AccountId, 36))
                    // Opaque to identityd: where the other app sends the person.
                    .col(string_len(SsoTokens::Destination, 2048))
                    // Who minted it: `api_credential` or `user`, and its id.
                    .col(string_len(SsoTokens::CreatedByKind, 32))
                    .col(string_len(SsoTokens::CreatedById, 64))
                    .col(big_integer(SsoTokens::CreatedAt))
                    .col(big_integer(SsoTokens::ExpiresAt))
                    .col(big_integer_null(SsoTokens::RedeemedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sso_tokens_user_id_fkey")
                            .from(SsoTokens::Table, SsoTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UserTokens::Table)
                    .add_column(string_len_null(UserTokens::AccountId, 36))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserTokens::Table)
                    .drop_column(UserTokens::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SsoTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SsoTokens {
    Table,
    Id,
    TokenHash,
    UserId,
    AccountId,
    Destination,
    CreatedByKind,
    CreatedById,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UserTokens {
    Table,
    AccountId,
}
