//! User names and statuses.

use super::{AccountId, FieldViolation, RoleId, Timestamp, UserId, bounded_text};

/// Where a user stands in their lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Signed up, email address not yet verified.
    PendingVerification,
    /// May sign in and act.
    Active,
    /// Suspended by staff.
    Suspended,
}

impl UserStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::PendingVerification => "pending_verification",
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
        }
    }

    /// The status from its stored form.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "pending_verification" => Some(UserStatus::PendingVerification),
            "active" => Some(UserStatus::Active),
            "suspended" => Some(UserStatus::Suspended),
            _ => None,
        }
    }
}

/// A username: 3 to 32 ASCII letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username from a request field.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if !(3..=32).contains(&value.len()) {
            return Err(FieldViolation::new(field, "must have 3 to 32 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_well = value.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !value.chars().all(allowed) || !starts_well {
            return Err(FieldViolation::new(
                field,
                "must use only letters, digits, '.', '_' or '-', and start with a letter or digit",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// A username made from what an external provider said (a preferred
    /// username or an email address's local part): the characters usernames
    /// allow, 3 to 32 of them, with `-suffix` when given. The result may
    /// still be taken or reserved; the caller tries another suffix then.
    pub fn suggest(base: &str, suffix: Option<&str>) -> Self {
        let kept: String = base
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .skip_while(|c| !c.is_ascii_alphanumeric())
            .take(24)
            .collect();
        let mut name = if kept.len() < 3 {
            format!("user{kept}")
        } else {
            kept
        };
        if let Some(suffix) = suffix {
            name.push('-');
            name.extend(suffix.chars().filter(char::is_ascii_alphanumeric).take(7));
        }
        Self(name)
    }

    /// Parses a username for a new or renamed client user: the rules above,
    /// and not a reserved name, which could pass for staff or the service itself.
    pub fn parse_unreserved(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let username = Self::parse(field, value)?;
        if RESERVED_USERNAMES.contains(&username.normalized().as_str()) {
            return Err(FieldViolation::new(field, "is reserved"));
        }
        Ok(username)
    }

    /// A username made from an email address's local part and a random
    /// `suffix` (hex), for users created without one, such as a new account's
    /// owner: `ann.lee@example.com` with `3f9a1c` gives `ann.lee-3f9a1c`.
    pub fn derive_from_email(email: &super::Email, suffix: &str) -> Self {
        let local = email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut base: String = local
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .skip_while(|c| !c.is_ascii_alphanumeric())
            .take(24)
            .collect();
        if base.is_empty() {
            base.push_str("user");
        }
        let suffix: String = suffix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(7)
            .collect();
        Self(format!("{base}-{suffix}"))
    }

    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that carries uniqueness: lower case.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Names a client user may not take. Staff usernames are chosen by operators
/// and may use them (the bootstrap staff user is `admin`).
const RESERVED_USERNAMES: &[&str] = &[
    "abuse",
    "account",
    "accounts",
    "admin",
    "administrator",
    "api",
    "billing",
    "help",
    "helpdesk",
    "hostmaster",
    "identityd",
    "info",
    "mailer-daemon",
    "me",
    "noc",
    "noreply",
    "no-reply",
    "null",
    "operator",
    "postmaster",
    "root",
    "sales",
    "security",
    "staff",
    "support",
    "sysadmin",
    "system",
    "webmaster",
];

/// A person's full name: 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// Parses a full name from a request field.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        bounded_text(field, value, 1, 128).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(
            Username::parse("username", "Ann.Lee-2")
                .unwrap()
                .normalized(),
            "ann.lee-2"
        );
        for bad in ["", "ab", "-ann", "ann lee", "änn", &"a".repeat(33)] {
            assert!(
                Username::parse("username", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn suggested_usernames_always_follow_the_rules() {
        for base in ["", "ab", "-ann", "ann lee", "änn", &"a".repeat(40), "a@b"] {
            for suffix in [None, Some("x1"), Some("-- 9f3a2b7c1d --")] {
                let suggested = Username::suggest(base, suffix);
                assert!(
                    Username::parse("username", suggested.as_str()).is_ok(),
                    "{base:?} {suffix:?} gave {suggested:?}"
                );
            }
        }
        assert_eq!(Username::suggest("Ann Lee", None).as_str(), "AnnLee");
        assert_eq!(
            Username::suggest("..bob", Some("a1b2")).as_str(),
            "bob-a1b2"
        );
        assert_eq!(Username::suggest("jo", None).as_str(), "userjo");
    }

    #[test]
    fn reserved_names_are_refused_for_client_users_only() {
        assert!(Username::parse("username", "Admin").is_ok());
        assert_eq!(
            Username::parse_unreserved("username", "Admin")
                .unwrap_err()
                .description,
            "is reserved"
        );
        assert!(Username::parse_unreserved("username", "admin2").is_ok());
    }

    #[test]
    fn derived_usernames_are_valid_and_keep_the_local_part() {
        let email = |s: &str| super::super::Email::parse("email", s).unwrap();
        let derived = Username::derive_from_email(&email("Ann.Lee+billing@example.com"), "3f9a1c");
        assert_eq!(derived.as_str(), "ann.lee-billing-3f9a1c");
        assert!(Username::parse("username", derived.as_str()).is_ok());
        let odd = Username::derive_from_email(&email("__@example.com"), "00aa11");
        assert_eq!(odd.as_str(), "user-00aa11");
        let long = Username::derive_from_email(
            &email(&format!("{}@example.com", "a".repeat(60))),
            "abcdef",
        );
        assert!(Username::parse("username", long.as_str()).is_ok());
    }

    #[test]
    fn statuses_round_trip_their_stored_form() {
        for status in [
            UserStatus::PendingVerification,
            UserStatus::Active,
            UserStatus::Suspended,
        ] {
            assert_eq!(UserStatus::from_stored(status.as_str()), Some(status));
        }
    }

    #[test]
    fn full_names_are_required() {
        assert!(FullName::parse("full_name", " ").is_err());
        assert_eq!(
            FullName::parse("full_name", "Ann Lee").unwrap().as_str(),
            "Ann Lee"
        );
    }
}

/// A user as callers see it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The email address.
    pub email: String,
    /// The username.
    pub username: String,
    /// The full name.
    pub full_name: String,
    /// The photo URL.
    pub photo_url: Option<String>,
    /// The BCP 47 locale.
    pub locale: Option<String>,
    /// The status.
    pub status: UserStatus,
    /// Whether the email address was proven.
    pub email_verified: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// The admin role, for staff.
    pub admin_role_id: Option<RoleId>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user last changed.
    pub updated_at: Timestamp,
    /// When the user last signed in.
    pub last_login_at: Option<Timestamp>,
    /// When the user turned two-factor authentication on; `None` when off.
    pub mfa_enabled_at: Option<Timestamp>,
    /// The account made with the user, while it exists.
    pub primary_account_id: Option<AccountId>,
}
