//! Invitations of email addresses to client accounts.
//!
//! "One pending invitation per (account, email)" is not a unique index: a
//! partial unique index is not portable between SQLite and PostgreSQL, and an
//! expired pending invitation must not block a new one. The create use case
//! enforces it under the account's row lock instead.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(string_len(Invitations::Id, 36).primary_key())
                    .col(string_len(Invitations::AccountId, 36))
                    .col(string_len(Invitations::Email, 254))
                    .col(string_len(Invitations::EmailNormalized, 254))
                    // Space-separated account permission names, as memberships keep them.
                    .col(text(Invitations::Permissions))
                    .col(string_len_null(Invitations::InviterUserId, 36))
                    // user, staff, api_credential or system.
                    .col(string_len(Invitations::InviterKind, 32))
                    // The session user's or API credential's id.
                    .col(string_len(Invitations::InviterId, 36))
                    // SHA-256 of the link's token, hex; the token itself is never stored.
                    .col(string_len(Invitations::TokenHash, 64).unique_key())
                    // pending, accepted or cancelled; expired is computed.
                    .col(string_len(Invitations::Status, 16))
                    .col(big_integer(Invitations::CreatedAt))
                    .col(big_integer(Invitations::ExpiresAt))
                    .col(big_integer_null(Invitations::AcceptedAt))
                    .col(string_len_null(Invitations::AcceptedUserId, 36))
                    .col(big_integer_null(Invitations::CancelledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_account_id_fkey")
                            .from(Invitations::Table, Invitations::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_inviter_user_id_fkey")
                            .from(Invitations::Table, Invitations::InviterUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_accepted_user_id_fkey")
                            .from(Invitations::Table, Invitations::AcceptedUserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_account_id_idx")
                    .table(Invitations::Table)
                    .col(Invitations::AccountId)
                    .col(Invitations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_account_email_idx")
                    .table(Invitations::Table)
                    .col(Invitations::AccountId)
                    .col(Invitations::EmailNormalized)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    AccountId,
    Email,
    EmailNormalized,
    Permissions,
    InviterUserId,
    InviterKind,
    InviterId,
    TokenHash,
    Status,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    AcceptedUserId,
    CancelledAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
