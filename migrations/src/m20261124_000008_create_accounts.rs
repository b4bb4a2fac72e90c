//! Client accounts and their memberships.
//!
//! `accounts.owner_user_id` is the single source of who owns an account, so
//! there is exactly one owner by construction; the owner also has a
//! membership row, so "the accounts of a user" is one lookup.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(string_len(Accounts::Id, 36).primary_key())
                    .col(string_len(Accounts::DisplayName, 128))
                    .col(string_len(Accounts::FullName, 128))
                    .col(string_len(Accounts::Company, 128))
                    .col(string_len(Accounts::Email, 254))
                    .col(string_len(Accounts::AddressLine1, 128))
                    .col(string_len(Accounts::AddressLine2, 128))
                    .col(string_len(Accounts::City, 64))
                    .col(string_len(Accounts::State, 64))
                    .col(string_len(Accounts::Postcode, 16))
                    .col(string_len(Accounts::Country, 2))
                    .col(string_len(Accounts::Phone, 32))
                    .col(string_len(Accounts::TaxId, 64))
                    .col(string_len(Accounts::Status, 16))
                    .col(string_len(Accounts::OwnerUserId, 36))
                    // Lower-cased display name, company and email, for substring search.
                    .col(text(Accounts::SearchText))
                    .col(big_integer(Accounts::CreatedAt))
                    .col(big_integer(Accounts::UpdatedAt))
                    .col(big_integer_null(Accounts::ClosedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("accounts_owner_user_id_fkey")
                            .from(Accounts::Table, Accounts::OwnerUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("accounts_owner_user_id_idx", Accounts::OwnerUserId),
            ("accounts_status_idx", Accounts::Status),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Accounts::Table)
                        .col(column)
                        .col(Accounts::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(string_len(Memberships::AccountId, 36))
                    .col(string_len(Memberships::UserId, 36))
                    // Space-separated account permission names; ignored for the owner.
                    .col(text(Memberships::Permissions))
                    .col(big_integer(Memberships::CreatedAt))
                    .col(big_integer(Memberships::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::AccountId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_account_id_fkey")
                            .from(Memberships::Table, Memberships::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("memberships_user_id_fkey")
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_user_id_idx")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .col(Memberships::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_account_created_idx")
                    .table(Memberships::Table)
                    .col(Memberships::AccountId)
                    .col(Memberships::CreatedAt)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX accounts_search_text_trgm_idx ON accounts USING gin (search_text gin_trgm_ops)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Memberships::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    DisplayName,
    FullName,
    Company,
    Email,
    AddressLine1,
    AddressLine2,
    City,
    State,
    Postcode,
    Country,
    Phone,
    TaxId,
    Status,
    OwnerUserId,
    SearchText,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    AccountId,
    UserId,
    Permissions,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
