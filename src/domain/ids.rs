//! Typed ids. Every id is a UUIDv7, so ids sort in creation order and paging by
//! id is paging by creation time.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::FieldViolation;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id, ordered after every id made before it in this process.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a request field; `field` names it in the violation.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
                if value.is_empty() {
                    return Err(FieldViolation::new(field, "is required"));
                }
                Uuid::try_parse(value)
                    .map(Self)
                    .map_err(|_| FieldViolation::new(field, "must be a UUID"))
            }
        }

        /// Reads an id back from text identityd wrote itself, such as a
        /// stored column; a request field goes through `parse` instead.
        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(value: &str) -> Result<Self, uuid::Error> {
                Uuid::try_parse(value).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

define_id!(
    /// A user session's id (not its token).
    SessionId
);

define_id!(
    /// The id of a user.
    UserId
);

impl UserId {
    /// The nil UUID, which `generate` never makes: an id no user has, for
    /// queries that must run and match nothing.
    pub const NOBODY: Self = Self(Uuid::nil());
}

define_id!(
    /// The id of an admin or API role.
    RoleId
);
define_id!(
    /// The id of an API credential (not its public identifier).
    ApiCredentialId
);
define_id!(
    /// The id of a client account.
    AccountId
);
define_id!(
    /// The id of an invitation (not its link's token).
    InvitationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_sort_in_creation_order() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first.to_string() < second.to_string());
        assert_eq!(UserId::parse("user_id", &first.to_string()), Ok(first));
        assert_eq!(first.to_string().parse::<UserId>().ok(), Some(first));
    }

    #[test]
    fn empty_and_malformed_ids_are_refused_with_the_field_name() {
        assert_eq!(
            RoleId::parse("role_id", "").unwrap_err(),
            FieldViolation::new("role_id", "is required")
        );
        assert_eq!(
            RoleId::parse("role_id", "not-a-uuid").unwrap_err().field,
            "role_id"
        );
    }
}
