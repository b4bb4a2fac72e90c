//! The append-only activity log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivityEvents::Table)
                    // UUIDv7: ordering by id follows time, which keyset paging relies on.
                    .col(string_len(ActivityEvents::Id, 36).primary_key())
                    .col(big_integer(ActivityEvents::OccurredAt))
                    .col(string_len(ActivityEvents::ActorKind, 16))
                    .col(string_len(ActivityEvents::ActorId, 36))
                    .col(string_len_null(ActivityEvents::AccountId, 36))
                    .col(string_len(ActivityEvents::Action, 64))
                    .col(string_len(ActivityEvents::TargetType, 32))
                    .col(string_len(ActivityEvents::TargetId, 64))
                    .col(string_len_null(ActivityEvents::ClientIp, 64))
                    .col(string_len(ActivityEvents::RequestId, 64))
                    // A JSON object of string values.
                    .col(text(ActivityEvents::Details))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("activity_events_actor_id_idx", ActivityEvents::ActorId),
            ("activity_events_account_id_idx", ActivityEvents::AccountId),
            ("activity_events_action_idx", ActivityEvents::Action),
            (
                "activity_events_occurred_at_idx",
                ActivityEvents::OccurredAt,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ActivityEvents::Table)
                        .col(column)
                        .col(ActivityEvents::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ActivityEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ActivityEvents {
    Table,
    Id,
    OccurredAt,
    ActorKind,
    ActorId,
    AccountId,
    Action,
    TargetType,
    TargetId,
    ClientIp,
    RequestId,
    Details,
}
