//! Domain types as column values: statuses, kinds and ids. The database
//! keeps them as the same text as ever; reading one back that does not parse
//! fails with one error, [`CorruptValue`], which
//! [`StoreError`](super::StoreError) turns into `StoreError::Corrupt`, so no
//! caller checks stored text itself.

use std::sync::Arc;

use sea_orm::sea_query::{
    ArrayType, ColumnType, Nullable, StringLen, Value, ValueType, ValueTypeErr,
};
use sea_orm::{ColIdx, DbErr, QueryResult, TryFromU64, TryGetError, TryGetable};

use crate::domain::{
    AccountId, AccountStatus, ApiCredentialId, AuthMethods, InvitationId, InvitationState,
    MailStatus, RoleId, RoleKind, SessionId, UserId, UserStatus,
};

/// A stored value identityd wrote itself but cannot read back as `what`.
#[derive(Debug, thiserror::Error)]
#[error("stored value is not a valid {what}")]
pub(super) struct CorruptValue {
    /// The domain type the value should have been.
    pub(super) what: &'static str,
}

/// The error a column read fails with when its text does not parse as `what`.
fn corrupt(what: &'static str) -> TryGetError {
    TryGetError::DbErr(DbErr::TryIntoErr {
        from: "stored text",
        into: what,
        source: Arc::new(CorruptValue { what }),
    })
}

/// Makes `$type` a text column: written as `$to` (an expression of `$value`),
/// read back with `$from` (an `Option` from the text `$text`), by default
/// `<$type>::from_stored`; `None` means text it does not know.
macro_rules! text_column {
    ($type:ty, |$value:ident| $to:expr) => {
        text_column!($type, |$value| $to, |text| <$type>::from_stored(text));
    };
    ($type:ty, |$value:ident| $to:expr, |$text:ident| $from:expr) => {
        impl From<$type> for Value {
            fn from($value: $type) -> Value {
                Value::String(Some($to.into()))
            }
        }

        impl TryGetable for $type {
            fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
                let stored = String::try_get_by(res, index)?;
                let $text = stored.as_str();
                $from.ok_or_else(|| corrupt(stringify!($type)))
            }
        }

        impl ValueType for $type {
            fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
                let stored = <String as ValueType>::try_from(value)?;
                let $text = stored.as_str();
                $from.ok_or(ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($type).to_owned()
            }

            fn array_type() -> ArrayType {
                ArrayType::String
            }

            fn column_type() -> ColumnType {
                ColumnType::String(StringLen::None)
            }
        }

        impl Nullable for $type {
            fn null() -> Value {
                Value::String(None)
            }
        }
    };
}

text_column!(UserStatus, |status| status.as_str());
text_column!(AccountStatus, |status| status.as_str());
text_column!(RoleKind, |kind| kind.as_str());
text_column!(InvitationState, |state| state.as_str());
text_column!(MailStatus, |status| status.as_str());
text_column!(AuthMethods, |methods| methods.to_string());

/// Makes each id type a text column (its hyphenated UUID) that can also be a
/// primary key. SeaORM asks a primary key type to convert from the integer
/// an auto-increment insert returns; a UUID never comes from one, so that
/// conversion always fails.
macro_rules! id_column {
    ($($type:ty),* $(,)?) => {$(
        text_column!($type, |id| id.to_string(), |text| text.parse().ok());

        impl TryFromU64 for $type {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($type)))
            }
        }
    )*};
}

id_column!(
    SessionId,
    UserId,
    RoleId,
    ApiCredentialId,
    AccountId,
    InvitationId,
);

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    use super::*;
    use crate::store::StoreError;

    async fn read<T: TryGetable>(text: &str) -> Result<T, StoreError> {
        let db = Database::connect("sqlite::memory:").await?;
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT ? AS value",
                [text.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("no row".into()))?;
        Ok(T::try_get(&row, "", "value").map_err(DbErr::from)?)
    }

    #[tokio::test]
    async fn stored_text_reads_back_as_the_domain_type() {
        assert_eq!(
            read::<UserStatus>("active").await.ok(),
            Some(UserStatus::Active)
        );
        assert_eq!(
            Value::from(UserStatus::PendingVerification),
            Value::String(Some("pending_verification".into()))
        );
    }

    #[tokio::test]
    async fn stored_ids_read_back_as_the_same_id() {
        let id = UserId::generate();
        assert_eq!(read::<UserId>(&id.to_string()).await.ok(), Some(id));
        assert_eq!(Value::from(id), Value::String(Some(id.to_string())));
        let err = read::<AccountId>("not-a-uuid").await.err();
        assert!(
            matches!(&err, Some(StoreError::Corrupt(what)) if what.contains("AccountId")),
            "{err:?}"
        );
    }

    #[test]
    fn an_id_never_comes_from_an_auto_increment_integer() {
        assert!(matches!(
            RoleId::try_from_u64(1),
            Err(DbErr::ConvertFromU64("RoleId"))
        ));
    }

    #[tokio::test]
    async fn unknown_stored_text_is_one_corrupt_error() {
        let err = read::<RoleKind>("wizard").await.err();
        assert!(
            matches!(&err, Some(StoreError::Corrupt(what)) if what.contains("RoleKind")),
            "{err:?}"
        );
    }
}
