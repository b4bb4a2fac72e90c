//! Queries on settings and mail templates changed at run time, and on the
//! generation number that tells replicas to reload them.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use super::StoreError;
use super::entities::{mail_template, runtime_setting, settings_generation};

pub use mail_template::Model as MailTemplateRow;
pub use runtime_setting::Model as RuntimeSettingRow;

/// The id of the one generation row.
const GENERATION_ROW: i32 = 1;

/// The current generation: it rises with every stored change.
pub async fn generation(conn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    Ok(settings_generation::Entity::find_by_id(GENERATION_ROW)
        .one(conn)
        .await?
        .map_or(0, |row| row.generation))
}

/// Raises the generation by one and returns the new one. Inside a
/// transaction on PostgreSQL this locks the row until the transaction ends,
/// so concurrent changes to settings take turns.
pub async fn bump_generation(conn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    settings_generation::Entity::update_many()
        .col_expr(
            settings_generation::Column::Generation,
            Expr::col(settings_generation::Column::Generation).add(1),
        )
        .filter(settings_generation::Column::Id.eq(GENERATION_ROW))
        .exec(conn)
        .await?;
    generation(conn).await
}

/// Every stored setting, by key.
pub async fn list_settings(
    conn: &impl ConnectionTrait,
) -> Result<Vec<RuntimeSettingRow>, StoreError> {
    Ok(runtime_setting::Entity::find()
        .order_by_asc(runtime_setting::Column::Key)
        .all(conn)
        .await?)
}

/// Stores `row`, replacing the stored value of its key.
pub async fn put_setting(
    conn: &impl ConnectionTrait,
    row: RuntimeSettingRow,
) -> Result<(), StoreError> {
    runtime_setting::Entity::insert(row.into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(runtime_setting::Column::Key)
                .update_columns([
                    runtime_setting::Column::Value,
                    runtime_setting::Column::UpdatedAt,
                    runtime_setting::Column::UpdatedByKind,
                    runtime_setting::Column::UpdatedById,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Deletes the stored value of `key`, if any.
pub async fn delete_setting(conn: &impl ConnectionTrait, key: &str) -> Result<(), StoreError> {
    runtime_setting::Entity::delete_by_id(key.to_owned())
        .exec(conn)
        .await?;
    Ok(())
}

/// Every stored mail template, by kind and locale.
pub async fn list_templates(
    conn: &impl ConnectionTrait,
) -> Result<Vec<MailTemplateRow>, StoreError> {
    Ok(mail_template::Entity::find()
        .order_by_asc(mail_template::Column::Kind)
        .order_by_asc(mail_template::Column::Locale)
        .all(conn)
        .await?)
}

/// The stored template of `kind` in `locale`, if any.
pub async fn find_template(
    conn: &impl ConnectionTrait,
    kind: &str,
    locale: &str,
) -> Result<Option<MailTemplateRow>, StoreError> {
    Ok(
        mail_template::Entity::find_by_id((kind.to_owned(), locale.to_owned()))
            .one(conn)
            .await?,
    )
}

/// Stores `row`, replacing the stored template of its kind and locale.
pub async fn put_template(
    conn: &impl ConnectionTrait,
    row: MailTemplateRow,
) -> Result<(), StoreError> {
    mail_template::Entity::insert(row.into_active_model().reset_all())
        .on_conflict(
            OnConflict::columns([mail_template::Column::Kind, mail_template::Column::Locale])
                .update_columns([
                    mail_template::Column::Subject,
                    mail_template::Column::TextBody,
                    mail_template::Column::HtmlBody,
                    mail_template::Column::UpdatedAt,
                    mail_template::Column::UpdatedByKind,
                    mail_template::Column::UpdatedById,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Deletes the stored template of `kind` in `locale`; whether there was one.
pub async fn delete_template(
    conn: &impl ConnectionTrait,
    kind: &str,
    locale: &str,
) -> Result<bool, StoreError> {
    let result = mail_template::Entity::delete_by_id((kind.to_owned(), locale.to_owned()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
