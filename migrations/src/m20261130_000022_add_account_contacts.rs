//! Account contacts (WHMCS "contacts"): people an account mails about
//! invoices, support or products, who are not logins. They stay with their
//! account and go when it is deleted.

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
                    .table(AccountContacts::Table)
                    .col(string_len(AccountContacts::Id, 36).primary_key())
                    .col(string_len(AccountContacts::AccountId, 36))
                    .col(string_len(AccountContacts::FullName, 128))
                    .col(string_len(AccountContacts::Email, 320))
                    .col(string_len(AccountContacts::EmailNormalized, 320))
                    // Space-separated: `general invoices support products domains`.
                    .col(string_len(AccountContacts::Mails, 128))
                    .col(big_integer(AccountContacts::CreatedAt))
                    .col(big_integer(AccountContacts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("account_contacts_account_id_fkey")
                            .from(AccountContacts::Table, AccountContacts::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_contacts_account_email_normalized_key")
                    .table(AccountContacts::Table)
                    .col(AccountContacts::AccountId)
                    .col(AccountContacts::EmailNormalized)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_contacts_email_idx")
                    .table(AccountContacts::Table)
                    .col(AccountContacts::EmailNormalized)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountContacts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AccountContacts {
    Table,
    Id,
    AccountId,
    FullName,
    Email,
    EmailNormalized,
    Mails,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}
