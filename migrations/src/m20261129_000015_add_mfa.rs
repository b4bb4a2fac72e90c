//! Two-factor authentication: each user's TOTP secret (sealed under the
//! server secret), when their second factor was turned on, and how each
//! session was authenticated. Backup codes and sign-in challenges are
//! `user_tokens` rows (purposes `backup_code` and `mfa_challenge`).

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
                    .table(UserTotp::Table)
                    .col(string_len(UserTotp::UserId, 36).primary_key())
                    // `v1.<key id>.<base64url>`: XChaCha20-Poly1305 of the secret.
                    .col(string_len(UserTotp::SealedSecret, 200))
                    .col(big_integer(UserTotp::CreatedAt))
                    // Unset while the enrolment waits for its first code.
                    .col(big_integer_null(UserTotp::ConfirmedAt))
                    // The last time step whose code was accepted: no code of
                    // it or an earlier step works again.
                    .col(big_integer_null(UserTotp::LastUsedStep))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_totp_user_id_fkey")
                            .from(UserTotp::Table, UserTotp::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer_null(Users::MfaEnabledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    // Space-separated: `pwd`, `pwd otp`, `pwd backup_code`.
                    .add_column(string_len(Sessions::AuthMethods, 64).default("pwd"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::AuthMethods)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::MfaEnabledAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UserTotp::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserTotp {
    Table,
    UserId,
    SealedSecret,
    CreatedAt,
    ConfirmedAt,
    LastUsedStep,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    MfaEnabledAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    AuthMethods,
}
