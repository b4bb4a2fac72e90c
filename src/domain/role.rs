//! Role names and kinds.

use super::{FieldViolation, bounded_text};

/// The longest role description.
pub const ROLE_DESCRIPTION_MAX: usize = 500;

/// Who a role is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// Held by a staff user; a staff user has exactly one.
    Admin,
    /// Carried by API credentials; a credential has one or more.
    Api,
}

impl RoleKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Admin => "admin",
            RoleKind::Api => "api",
        }
    }

    /// The kind from its stored form.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(RoleKind::Admin),
            "api" => Some(RoleKind::Api),
            _ => None,
        }
    }
}

/// A role's name: 1 to 64 characters, unique per kind regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// Parses a name from a request field.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        bounded_text(field, value, 1, 64).map(Self)
    }

    /// The name as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that carries uniqueness: lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_compared_without_case() {
        let name = RoleName::parse("name", "  Billing Support ").unwrap();
        assert_eq!(name.as_str(), "Billing Support");
        assert_eq!(name.normalized(), "billing support");
        assert!(RoleName::parse("name", "").is_err());
    }

    #[test]
    fn kinds_round_trip_their_stored_form() {
        for kind in [RoleKind::Admin, RoleKind::Api] {
            assert_eq!(RoleKind::from_stored(kind.as_str()), Some(kind));
        }
        assert_eq!(RoleKind::from_stored("staff"), None);
    }
}
