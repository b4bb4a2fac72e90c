//! Sign-in through external OpenID Connect providers: the providers an
//! operator configured, the sign-ins under way (their single-use `state`,
//! nonce and sealed PKCE verifier) and the external identities linked to
//! users.

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
                    .table(SignInProviders::Table)
                    .col(string_len(SignInProviders::Id, 32).primary_key())
                    .col(string_len(SignInProviders::DisplayName, 100))
                    .col(string_len(SignInProviders::IssuerUrl, 2048))
                    .col(string_len(SignInProviders::ClientId, 255))
                    // Sealed with the server secret, bound to the provider id.
                    .col(text(SignInProviders::ClientSecret))
                    // Space-separated, as OAuth writes them.
                    .col(text(SignInProviders::Scopes))
                    // One URI a line.
                    .col(text(SignInProviders::RedirectUris))
                    .col(boolean(SignInProviders::LinkByEmail))
                    .col(boolean(SignInProviders::Enabled))
                    .col(big_integer(SignInProviders::CreatedAt))
                    .col(big_integer(SignInProviders::UpdatedAt))
                    .col(string_len(SignInProviders::UpdatedByKind, 32))
                    .col(string_len(SignInProviders::UpdatedById, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExternalSignIns::Table)
                    .col(string_len(ExternalSignIns::Id, 36).primary_key())
                    // SHA-256 of the `state`, hex.
                    .col(string_len(ExternalSignIns::StateHash, 64).unique_key())
                    .col(string_len(ExternalSignIns::ProviderId, 32))
                    .col(string_len(ExternalSignIns::RedirectUri, 2048))
                    .col(string_len(ExternalSignIns::Nonce, 128))
                    // Sealed with the server secret, bound to the row id.
                    .col(text(ExternalSignIns::PkceVerifier))
                    .col(big_integer(ExternalSignIns::CreatedAt))
                    .col(big_integer(ExternalSignIns::ExpiresAt))
                    .col(big_integer_null(ExternalSignIns::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExternalIdentities::Table)
                    .col(string_len(ExternalIdentities::Id, 36).primary_key())
                    .col(string_len(ExternalIdentities::UserId, 36))
                    .col(string_len(ExternalIdentities::ProviderId, 32))
                    // The provider's `sub`: stable and unique per provider.
                    .col(string_len(ExternalIdentities::Subject, 255))
                    // The address the provider gave at the last sign-in.
                    .col(string_len(ExternalIdentities::Email, 320))
                    .col(big_integer(ExternalIdentities::CreatedAt))
                    .col(big_integer_null(ExternalIdentities::LastSignInAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("external_identities_user_id_fkey")
                            .from(ExternalIdentities::Table, ExternalIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("external_identities_provider_subject_key")
                    .table(ExternalIdentities::Table)
                    .col(ExternalIdentities::ProviderId)
                    .col(ExternalIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("external_identities_user_id_idx")
                    .table(ExternalIdentities::Table)
                    .col(ExternalIdentities::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExternalIdentities::Table.into_iden(),
            ExternalSignIns::Table.into_iden(),
            SignInProviders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SignInProviders {
    Table,
    Id,
    DisplayName,
    IssuerUrl,
    ClientId,
    ClientSecret,
    Scopes,
    RedirectUris,
    LinkByEmail,
    Enabled,
    CreatedAt,
    UpdatedAt,
    UpdatedByKind,
    UpdatedById,
}

#[derive(DeriveIden)]
enum ExternalSignIns {
    Table,
    Id,
    StateHash,
    ProviderId,
    RedirectUri,
    Nonce,
    PkceVerifier,
    CreatedAt,
    ExpiresAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum ExternalIdentities {
    Table,
    Id,
    UserId,
    ProviderId,
    Subject,
    Email,
    CreatedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
