//! Queries on sign-in providers, sign-ins under way and external identities.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};

use super::entities::{external_identity, external_sign_in, sign_in_provider};
use super::{StoreError, insert_row};
use crate::domain::UserId;

pub use external_identity::Model as ExternalIdentityRow;
pub use external_sign_in::Model as ExternalSignInRow;
pub use sign_in_provider::Model as SignInProviderRow;

/// Every provider, by id.
pub async fn list_providers(
    conn: &impl ConnectionTrait,
) -> Result<Vec<SignInProviderRow>, StoreError> {
    Ok(sign_in_provider::Entity::find()
        .order_by_asc(sign_in_provider::Column::Id)
        .all(conn)
        .await?)
}

/// The provider `id`.
pub async fn find_provider(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<SignInProviderRow>, StoreError> {
    Ok(sign_in_provider::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// Stores `row`, replacing the provider with its id (but not its creation time).
pub async fn put_provider(
    conn: &impl ConnectionTrait,
    row: SignInProviderRow,
) -> Result<(), StoreError> {
    use sign_in_provider::Column as C;
    sign_in_provider::Entity::insert(row.into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(C::Id)
                .update_columns([
                    C::DisplayName,
                    C::IssuerUrl,
                    C::ClientId,
                    C::ClientSecret,
                    C::Scopes,
                    C::RedirectUris,
                    C::LinkByEmail,
                    C::Enabled,
                    C::UpdatedAt,
                    C::UpdatedByKind,
                    C::UpdatedById,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Deletes the provider `id`; whether there was one.
pub async fn delete_provider(conn: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let result = sign_in_provider::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Records a sign-in sent to a provider.
pub async fn insert_sign_in(
    conn: &impl ConnectionTrait,
    row: ExternalSignInRow,
) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// The sign-in whose state hashes to `state_hash`, completed or not.
pub async fn find_sign_in(
    conn: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<ExternalSignInRow>, StoreError> {
    Ok(external_sign_in::Entity::find()
        .filter(external_sign_in::Column::StateHash.eq(state_hash))
        .one(conn)
        .await?)
}

/// Marks the sign-in completed unless it already is or has expired at
/// `now`: of two completions racing, exactly one gets `true`.
pub async fn complete_sign_in(
    conn: &impl ConnectionTrait,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let result = external_sign_in::Entity::update_many()
        .col_expr(external_sign_in::Column::CompletedAt, Expr::value(now))
        .filter(external_sign_in::Column::Id.eq(id))
        .filter(external_sign_in::Column::CompletedAt.is_null())
        .filter(external_sign_in::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes sign-ins that expired or completed before `before`.
pub async fn delete_spent_sign_ins(
    conn: &impl ConnectionTrait,
    before: i64,
) -> Result<u64, StoreError> {
    let result = external_sign_in::Entity::delete_many()
        .filter(
            Condition::any()
                .add(external_sign_in::Column::ExpiresAt.lt(before))
                .add(external_sign_in::Column::CompletedAt.lt(before)),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The identity `subject` at `provider_id`, if linked.
pub async fn find_identity(
    conn: &impl ConnectionTrait,
    provider_id: &str,
    subject: &str,
) -> Result<Option<ExternalIdentityRow>, StoreError> {
    Ok(external_identity::Entity::find()
        .filter(external_identity::Column::ProviderId.eq(provider_id))
        .filter(external_identity::Column::Subject.eq(subject))
        .one(conn)
        .await?)
}

/// The identity `id`.
pub async fn find_identity_by_id(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ExternalIdentityRow>, StoreError> {
    Ok(external_identity::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?)
}

/// A user's identities, oldest first.
pub async fn list_identities(
    conn: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Vec<ExternalIdentityRow>, StoreError> {
    Ok(external_identity::Entity::find()
        .filter(external_identity::Column::UserId.eq(user_id))
        .order_by_asc(external_identity::Column::Id)
        .all(conn)
        .await?)
}

/// Links an identity; a unique violation on `subject` means it is linked already.
pub async fn insert_identity(
    conn: &impl ConnectionTrait,
    row: ExternalIdentityRow,
) -> Result<(), StoreError> {
    insert_row(conn, row).await
}

/// Records a sign-in through the identity, with the address it came with.
pub async fn touch_identity(
    conn: &impl ConnectionTrait,
    id: &str,
    email: &str,
    now: i64,
) -> Result<(), StoreError> {
    external_identity::Entity::update_many()
        .col_expr(external_identity::Column::LastSignInAt, Expr::value(now))
        .col_expr(external_identity::Column::Email, Expr::value(email))
        .filter(external_identity::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Unlinks the identity `id`; whether there was one.
pub async fn delete_identity(conn: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let result = external_identity::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
