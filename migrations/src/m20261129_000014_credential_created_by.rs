//! Who created each API credential, so a credential never outlives the
//! permissions of the staff user who minted it; and no live session for a
//! user who is suspended.
//!
//! Existing credentials get their creator from the `api_credential.created`
//! activity event (a credential's creator is the staff user behind it);
//! without one, the owner stands as creator, which is the rule they were made
//! under. Sessions of users suspended before this change are revoked, so
//! activating such a user no longer brings their old tokens back.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiCredentials::Table)
                    .add_column(string_len_null(ApiCredentials::CreatedByUserId, 36))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE api_credentials SET created_by_user_id = COALESCE(\
               (SELECT CASE e.actor_kind \
                         WHEN 'api_credential' THEN \
                           (SELECT p.owner_user_id FROM api_credentials p WHERE p.id = e.actor_id) \
                         WHEN 'system' THEN NULL \
                         ELSE e.actor_id END \
                FROM activity_events e \
                WHERE e.action = 'api_credential.created' AND e.target_id = api_credentials.id \
                ORDER BY e.id LIMIT 1), \
               owner_user_id)",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_credentials_created_by_user_id_idx")
                    .table(ApiCredentials::Table)
                    .col(ApiCredentials::CreatedByUserId)
                    .to_owned(),
            )
            .await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| {
                <i64 as TryFrom<u128>>::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
            })
            .unwrap_or(0);
        db.execute_unprepared(&format!(
            "UPDATE sessions SET revoked_at = {now}, revoke_reason = 'user_suspended' \
             WHERE revoked_at IS NULL \
               AND user_id IN (SELECT id FROM users WHERE status = 'suspended')"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("api_credentials_created_by_user_id_idx")
                    .table(ApiCredentials::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiCredentials::Table)
                    .drop_column(ApiCredentials::CreatedByUserId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ApiCredentials {
    Table,
    CreatedByUserId,
}
