//! The mail outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Mails::Table)
                    .col(string_len(Mails::Id, 36).primary_key())
                    .col(string_len(Mails::Kind, 32))
                    .col(string_len(Mails::Recipient, 254))
                    .col(string_len(Mails::RecipientNormalized, 254))
                    .col(string_len(Mails::Locale, 35))
                    .col(string_len_null(Mails::AccountId, 36))
                    // Template values kept after delivery (JSON object).
                    .col(text(Mails::Context))
                    // Template values that are secrets; erased once sent or given up.
                    .col(text_null(Mails::SecretContext))
                    // queued, sent or failed.
                    .col(string_len(Mails::Status, 16))
                    .col(integer(Mails::Attempts))
                    .col(big_integer(Mails::NextAttemptAt))
                    // A worker's lease on the row while it sends.
                    .col(big_integer_null(Mails::ClaimedUntil))
                    .col(text_null(Mails::LastError))
                    .col(big_integer(Mails::CreatedAt))
                    .col(big_integer_null(Mails::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mails_due_idx")
                    .table(Mails::Table)
                    .col(Mails::Status)
                    .col(Mails::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("mails_recipient_idx")
                    .table(Mails::Table)
                    .col(Mails::RecipientNormalized)
                    .col(Mails::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Mails::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Mails {
    Table,
    Id,
    Kind,
    Recipient,
    RecipientNormalized,
    Locale,
    AccountId,
    Context,
    SecretContext,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}
