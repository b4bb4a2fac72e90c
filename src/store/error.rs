use sea_orm::{DbErr, RuntimeErr, SqlErr};

use super::columns::CorruptValue;

/// What can go wrong talking to the database, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the text names the constraint or columns.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// A foreign key refused the write.
    #[error("foreign key constraint violated: {0}")]
    ForeignKeyViolation(String),
    /// The database could not be reached or had no free connection.
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] DbErr),
    /// A stored value that identityd itself wrote could not be read back.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether this is a unique violation that mentions `column`, as both SQLite
    /// ("UNIQUE constraint failed: users.email_normalized") and PostgreSQL
    /// (constraint "users_email_normalized_key") do.
    pub fn is_unique_violation_on(&self, column: &str) -> bool {
        matches!(self, StoreError::UniqueViolation(detail) if detail.contains(column))
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let DbErr::TryIntoErr { source, .. } = &err
            && let Some(corrupt) = source.downcast_ref::<CorruptValue>()
        {
            return StoreError::Corrupt(corrupt.to_string());
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                return StoreError::UniqueViolation(detail);
            }
            Some(SqlErr::ForeignKeyConstraintViolation(detail)) => {
                return StoreError::ForeignKeyViolation(detail);
            }
            _ => {}
        }
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Database(err)
        }
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                SqlxError::Io(_)
                | SqlxError::PoolTimedOut
                | SqlxError::PoolClosed
                | SqlxError::Tls(_) => true,
                SqlxError::Database(db) => db.code().is_some_and(|code| is_unavailable_code(&code)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a PostgreSQL SQLSTATE says the server or the connection went away
/// rather than that the statement was wrong: connection exceptions (class
/// 08) and the shutdown codes (57P01 admin shutdown, 57P02 crash shutdown,
/// 57P03 cannot connect now). A caller may retry those.
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_shutdown_sqlstates_mean_unavailable() {
        for code in [
            "08000", "08003", "08006", "08001", "57P01", "57P02", "57P03",
        ] {
            assert!(is_unavailable_code(code), "{code}");
        }
        for code in ["23505", "40001", "57014", "42P01", "XX000"] {
            assert!(!is_unavailable_code(code), "{code}");
        }
    }
}
