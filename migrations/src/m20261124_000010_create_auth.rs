//! Sessions, one-time user tokens (verification codes, reset links) and
//! brute-force throttles.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 36).primary_key())
                    // SHA-256 of the bearer token, hex; the token itself is never stored.
                    .col(string_len(Sessions::TokenHash, 64).unique_key())
                    .col(string_len(Sessions::UserId, 36))
                    .col(string_len_null(Sessions::AccountId, 36))
                    .col(string_len(Sessions::ClientIp, 45))
                    .col(string_len(Sessions::UserAgent, 256))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer(Sessions::AbsoluteExpiresAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokeReason, 32))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_user_id_fkey")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_account_id_fkey")
                            .from(Sessions::Table, Sessions::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_user_id_idx")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserTokens::Table)
                    .col(string_len(UserTokens::Id, 36).primary_key())
                    .col(string_len(UserTokens::UserId, 36))
                    // email_verification or password_reset.
                    .col(string_len(UserTokens::Purpose, 32))
                    // SHA-256 of the secret (for codes: of the user id and the code).
                    .col(string_len(UserTokens::SecretHash, 64))
                    .col(integer(UserTokens::Attempts))
                    .col(big_integer(UserTokens::CreatedAt))
                    .col(big_integer(UserTokens::ExpiresAt))
                    .col(big_integer_null(UserTokens::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_tokens_user_id_fkey")
                            .from(UserTokens::Table, UserTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_tokens_user_purpose_idx")
                    .table(UserTokens::Table)
                    .col(UserTokens::UserId)
                    .col(UserTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_tokens_secret_hash_idx")
                    .table(UserTokens::Table)
                    .col(UserTokens::SecretHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Throttles::Table)
                    // What is counted, e.g. `login:user:<id>` or `login:ip:<address>`.
                    .col(string_len(Throttles::Subject, 200).primary_key())
                    .col(integer(Throttles::Failures))
                    .col(big_integer(Throttles::LastFailureAt))
                    .col(big_integer(Throttles::BlockedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Throttles::Table.into_iden(),
            UserTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    UserId,
    AccountId,
    ClientIp,
    UserAgent,
    CreatedAt,
    LastSeenAt,
    AbsoluteExpiresAt,
    RevokedAt,
    RevokeReason,
}

#[derive(DeriveIden)]
enum UserTokens {
    Table,
    Id,
    UserId,
    Purpose,
    SecretHash,
    Attempts,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum Throttles {
    Table,
    Subject,
    Failures,
    LastFailureAt,
    BlockedUntil,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}
