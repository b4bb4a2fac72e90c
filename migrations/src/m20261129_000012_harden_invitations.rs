//! Hardening of invitations (issue 11).
//!
//! - `link_mailed`: whether identityd itself mailed the current link to the
//!   invited address. Only then does accepting with that address prove the
//!   mailbox. Existing invitations start unmailed: nothing recorded says
//!   otherwise, and the safe side is a verification code.
//! - `inviter_authority`: how the inviter was allowed to invite, `owner`
//!   (a session acting as the account's owner) or `staff` (staff or an API
//!   credential holding `invitations.write`), so accepting can check that the
//!   inviter still may. Invitations made by user sessions were owner ones.
//! - `mail_budgets`: mails sent per caller in the current hour, so one
//!   caller cannot flood strangers' mailboxes with invitations.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .add_column(boolean(Invitations::LinkMailed).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .add_column(string_len(Invitations::InviterAuthority, 16).default("staff"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Invitations::Table)
                    .value(Invitations::InviterAuthority, "owner")
                    .and_where(Expr::col(Invitations::InviterKind).eq("user"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_inviter_user_id_idx")
                    .table(Invitations::Table)
                    .col(Invitations::InviterUserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailBudgets::Table)
                    // `invitation:<user id>` and the like.
                    .col(string_len(MailBudgets::Subject, 100).primary_key())
                    // Microseconds since the Unix epoch.
                    .col(big_integer(MailBudgets::WindowStartedAt))
                    .col(integer(MailBudgets::Sent))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailBudgets::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("invitations_inviter_user_id_idx")
                    .table(Invitations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .drop_column(Invitations::InviterAuthority)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Invitations::Table)
                    .drop_column(Invitations::LinkMailed)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    InviterUserId,
    InviterKind,
    LinkMailed,
    InviterAuthority,
}

#[derive(DeriveIden)]
enum MailBudgets {
    Table,
    Subject,
    WindowStartedAt,
    Sent,
}
