//! Domain types as column values. The database keeps them as the same text
//! as ever; reading one back that does not parse fails with one error,
//! [`CorruptValue`], which [`StoreError`](super::StoreError) turns into
//! `StoreError::Corrupt`, so no caller checks stored text itself.

use std::sync::Arc;

use sea_orm::sea_query::{
    ArrayType, ColumnType, Nullable, StringLen, Value, ValueType, ValueTypeErr,
};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable};

use crate::domain::{AccountStatus, InvitationState, MailStatus, RoleKind, UserStatus};

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
/// read back with `<$type>::from_stored`, which returns `None` for text it
/// does not know.
macro_rules! text_column {
    ($type:ty, |$value:ident| $to:expr) => {
        impl From<$type> for Value {
            fn from($value: $type) -> Value {
                Value::String(Some($to.into()))
            }
        }

        impl TryGetable for $type {
            fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
                let text = String::try_get_by(res, index)?;
                <$type>::from_stored(&text).ok_or_else(|| corrupt(stringify!($type)))
            }
        }

        impl ValueType for $type {
            fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
                let text = <String as ValueType>::try_from(value)?;
                <$type>::from_stored(&text).ok_or(ValueTypeErr)
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
    async fn unknown_stored_text_is_one_corrupt_error() {
        let err = read::<RoleKind>("wizard").await.err();
        assert!(
            matches!(&err, Some(StoreError::Corrupt(what)) if what.contains("RoleKind")),
            "{err:?}"
        );
    }
}
