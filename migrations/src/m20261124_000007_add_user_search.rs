//! User search: a lower-cased `search_text` (full name, username, email) that
//! ListUsers matches substrings in, and the indexes that keep listing fast.
//!
//! On PostgreSQL a trigram GIN index serves `LIKE '%text%'`; `pg_trgm` is a
//! trusted extension, so the database owner may create it. SQLite's index is
//! an FTS5 table added by migration 24.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::SearchText)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET search_text = lower(full_name) || ' ' || username_normalized || ' ' || email_normalized",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_status_id_idx")
                    .table(Users::Table)
                    .col(Users::Status)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            db.execute_unprepared(
                "CREATE INDEX users_search_text_trgm_idx ON users USING gin (search_text gin_trgm_ops)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS users_search_text_trgm_idx")
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("users_status_id_idx")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::SearchText)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Status,
    SearchText,
}
