//! A substring index for user search on SQLite: an FTS5 table with the
//! trigram tokenizer over `users.search_text`, so ListUsers finds rare text
//! without reading every user. PostgreSQL already has its trigram GIN index
//! (migration 7); there this migration does nothing.
//!
//! FTS5 identifies documents by integer rowid, and `users` has a UUID key.
//! Its implicit rowid cannot stand in: `VACUUM` may renumber the rowids of a
//! table without an `INTEGER PRIMARY KEY`, which would silently point the
//! index at other users. So `user_search_docs` gives each user a stable
//! document number, and triggers keep both tables in step with `users`
//! inside the statement that changes a user, hence in its transaction.
//!
//! The index is contentless (`content=''`): it stores trigrams, not a second
//! copy of the text. Such an index forgets a document through its `delete`
//! command given the text it indexed, which the triggers have as
//! `old.search_text`; this works with every SQLite that has the trigram
//! tokenizer (3.34 on), so an operator's `sqlite3` shell can still change
//! users by hand. `case_sensitive 1` compares characters exactly, as `LIKE`
//! does on the already lower-cased text (LIKE folds only ASCII case, which
//! lower-cased text never needs).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Creates the tables and triggers, then indexes the users already there.
const UP: &[&str] = &[
    "CREATE TABLE user_search_docs (doc INTEGER PRIMARY KEY, user_id NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE users_search USING fts5(search_text, content='', \
     tokenize='trigram case_sensitive 1')",
    "INSERT INTO user_search_docs (user_id) SELECT id FROM users ORDER BY id",
    "INSERT INTO users_search (rowid, search_text) \
     SELECT d.doc, u.search_text FROM user_search_docs d JOIN users u ON u.id = d.user_id",
    "CREATE TRIGGER users_search_after_insert AFTER INSERT ON users BEGIN \
       INSERT INTO user_search_docs (user_id) VALUES (new.id); \
       INSERT INTO users_search (rowid, search_text) \
         VALUES ((SELECT doc FROM user_search_docs WHERE user_id = new.id), new.search_text); \
     END",
    "CREATE TRIGGER users_search_after_update AFTER UPDATE OF search_text ON users \
     WHEN old.search_text IS NOT new.search_text BEGIN \
       INSERT INTO users_search (users_search, rowid, search_text) \
         VALUES ('delete', (SELECT doc FROM user_search_docs WHERE user_id = old.id), \
                 old.search_text); \
       INSERT INTO users_search (rowid, search_text) \
         VALUES ((SELECT doc FROM user_search_docs WHERE user_id = new.id), new.search_text); \
     END",
    "CREATE TRIGGER users_search_after_delete AFTER DELETE ON users BEGIN \
       INSERT INTO users_search (users_search, rowid, search_text) \
         VALUES ('delete', (SELECT doc FROM user_search_docs WHERE user_id = old.id), \
                 old.search_text); \
       DELETE FROM user_search_docs WHERE user_id = old.id; \
     END",
];

/// Removes everything [`UP`] made.
const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_search_after_delete",
    "DROP TRIGGER IF EXISTS users_search_after_update",
    "DROP TRIGGER IF EXISTS users_search_after_insert",
    "DROP TABLE IF EXISTS users_search",
    "DROP TABLE IF EXISTS user_search_docs",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_sqlite(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_sqlite(manager, DOWN).await
    }
}

/// Runs `statements` in order on SQLite; nothing on other databases.
async fn run_on_sqlite(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}
