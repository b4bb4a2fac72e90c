//! An index for ListUsers in full-name order (`USER_ORDER_FULL_NAME`), which
//! pages by `(lower(full_name), id)`: without it every page sorts the whole
//! table. Username and email order already have their unique indexes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An expression index; SQLite and PostgreSQL both take this form.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX users_full_name_order_idx ON users (lower(full_name), id)",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX users_full_name_order_idx")
            .await
            .map(drop)
    }
}
