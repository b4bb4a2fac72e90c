//! SeaORM entities: one per table, mirroring the migrations.

/// `Debug` for a row whose columns marked `secret` (each an `Option`) must
/// never be printed: they show only whether they are set. It destructures the
/// row, so a new column fails the build until it is listed here.
macro_rules! redacted_row_debug {
    ($name:literal { $($column:ident $($secret:ident)?),* $(,)? }) => {
        impl std::fmt::Debug for Model {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let Self { $($column),* } = self;
                f.debug_struct($name)
                    $(.field(stringify!($column), redacted_row_debug!(@value $column $($secret)?)))*
                    .finish()
            }
        }
    };
    (@value $column:ident) => {
        $column
    };
    (@value $column:ident secret) => {
        &$column.as_ref().map(|_| crate::domain::REDACTED)
    };
}

pub mod account;
pub mod account_contact;
pub mod activity_event;
pub mod api_credential;
pub mod api_credential_role;
pub mod external_identity;
pub mod external_sign_in;
pub mod idempotency_key;
pub mod invitation;
pub mod job_lease;
pub mod mail;
pub mod mail_budget;
pub mod mail_template;
pub mod membership;
pub mod retention_run;
pub mod role;
pub mod runtime_setting;
pub mod session;
pub mod setting;
pub mod settings_generation;
pub mod sign_in_provider;
pub mod sso_token;
pub mod throttle;
pub mod user;
pub mod user_token;
pub mod user_totp;

#[cfg(test)]
mod tests {
    #[test]
    fn row_debug_hides_secret_columns() {
        let row = super::user::Model {
            id: crate::domain::UserId::generate(),
            email: "a@example.com".into(),
            email_normalized: "a@example.com".into(),
            username: "a".into(),
            username_normalized: "a".into(),
            full_name: "A".into(),
            photo_url: None,
            locale: None,
            status: crate::domain::UserStatus::Active,
            email_verified: true,
            password_hash: Some("$argon2id$secret".into()),
            admin_role_id: None,
            created_at: 1,
            updated_at: 1,
            last_login_at: None,
            mfa_enabled_at: None,
            primary_account_id: None,
            search_text: String::new(),
        };
        let shown = format!("{row:?}");
        assert!(shown.starts_with("UserRow {"), "{shown}");
        assert!(
            shown.contains("password_hash: Some(\"[redacted]\")"),
            "{shown}"
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
