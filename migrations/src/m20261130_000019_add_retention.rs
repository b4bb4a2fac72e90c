//! Data retention pruning (WHMCS "Data Retention Pruning"): when each
//! client account was last active, a hold a billing service can put on it,
//! the warning mailed before an inactive account is deleted, the lease that
//! lets one replica at a time run the job, and a record of each run.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            // Null until the first sign-in or recorded activity: the
            // account's creation counts until then.
            big_integer_null(Accounts::LastActivityAt),
            boolean(Accounts::RetentionHold).default(false).to_owned(),
            string_len(Accounts::RetentionHoldReason, 500)
                .default("")
                .to_owned(),
            // When the owner was warned that the account will be deleted
            // for inactivity; cleared by any activity.
            big_integer_null(Accounts::InactivityWarnedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("accounts_status_last_activity_idx")
                    .table(Accounts::Table)
                    .col(Accounts::Status)
                    .col(Accounts::LastActivityAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .col(string_len(JobLeases::Name, 64).primary_key())
                    .col(string_len(JobLeases::Holder, 64))
                    .col(big_integer(JobLeases::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RetentionRuns::Table)
                    .col(string_len(RetentionRuns::Id, 36).primary_key())
                    // `schedule` or `manual`.
                    .col(string_len(RetentionRuns::RunTrigger, 16))
                    .col(big_integer(RetentionRuns::StartedAt))
                    .col(big_integer_null(RetentionRuns::FinishedAt))
                    // JSON: what was deleted and warned, by kind.
                    .col(text(RetentionRuns::Counts))
                    .col(text_null(RetentionRuns::Error))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RetentionRuns::Table.into_iden(),
            JobLeases::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("accounts_status_last_activity_idx")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Accounts::InactivityWarnedAt,
            Accounts::RetentionHoldReason,
            Accounts::RetentionHold,
            Accounts::LastActivityAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Status,
    LastActivityAt,
    RetentionHold,
    RetentionHoldReason,
    InactivityWarnedAt,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RetentionRuns {
    Table,
    Id,
    RunTrigger,
    StartedAt,
    FinishedAt,
    Counts,
    Error,
}
