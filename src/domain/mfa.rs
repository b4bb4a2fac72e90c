//! Two-factor authentication: how a session was authenticated and whom the
//! policy requires to have a second factor.

use std::fmt;

/// One way a user proved who they are for a session (RFC 8176 names where
/// it has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// A password (`pwd`).
    Password,
    /// A single-use SSO token minted by staff or a billing service (`sso`).
    Sso,
    /// An external OpenID Connect provider's word (`external`).
    External,
    /// A TOTP code (`otp`).
    Otp,
    /// A two-factor backup code (`backup_code`).
    BackupCode,
}

impl AuthMethod {
    /// Every method.
    pub const ALL: [AuthMethod; 5] = [
        AuthMethod::Password,
        AuthMethod::Sso,
        AuthMethod::External,
        AuthMethod::Otp,
        AuthMethod::BackupCode,
    ];

    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "pwd",
            AuthMethod::Sso => "sso",
            AuthMethod::External => "external",
            AuthMethod::Otp => "otp",
            AuthMethod::BackupCode => "backup_code",
        }
    }

    /// Whether the method is a second factor.
    pub fn is_second_factor(self) -> bool {
        matches!(self, AuthMethod::Otp | AuthMethod::BackupCode)
    }
}

/// The methods a session was authenticated with, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthMethods(Vec<AuthMethod>);

impl AuthMethods {
    /// The methods in `methods`, each once.
    pub fn of(methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        let mut list: Vec<AuthMethod> = methods.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        Self(list)
    }

    /// These methods and `method`.
    pub fn with(&self, method: AuthMethod) -> Self {
        Self::of(self.0.iter().copied().chain([method]))
    }

    /// The methods, in order.
    pub fn iter(&self) -> impl Iterator<Item = AuthMethod> + '_ {
        self.0.iter().copied()
    }

    /// Whether a second factor is among them.
    pub fn has_second_factor(&self) -> bool {
        self.0.iter().any(|method| method.is_second_factor())
    }

    /// Reads the stored form (names separated by spaces); `None` if a name
    /// is unknown.
    pub fn from_stored(stored: &str) -> Option<Self> {
        stored
            .split_whitespace()
            .map(|name| AuthMethod::ALL.into_iter().find(|m| m.as_str() == name))
            .collect::<Option<Vec<_>>>()
            .map(Self::of)
    }
}

impl fmt::Display for AuthMethods {
    /// The stored form: names separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|m| m.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

/// Whom the policy requires to have a second factor (WHMCS: force clients,
/// admins or both to enrol at their next sign-in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaRequirement {
    /// Nobody; two-factor authentication is each user's choice.
    #[default]
    None,
    /// Users who are not staff.
    Clients,
    /// Staff users (those holding an admin role).
    Staff,
    /// Everybody.
    All,
}

impl MfaRequirement {
    /// Whether a user, staff or not, must have a second factor.
    pub fn covers(self, staff: bool) -> bool {
        match self {
            MfaRequirement::None => false,
            MfaRequirement::Clients => !staff,
            MfaRequirement::Staff => staff,
            MfaRequirement::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_stored_in_a_fixed_order_once_each() {
        let methods = AuthMethods::of([AuthMethod::Otp, AuthMethod::Password, AuthMethod::Otp]);
        assert_eq!(methods.to_string(), "pwd otp");
        assert_eq!(AuthMethods::from_stored("otp pwd"), Some(methods.clone()));
        assert!(methods.has_second_factor());
        let password = AuthMethods::of([AuthMethod::Password]);
        assert!(!password.has_second_factor());
        assert_eq!(
            password.with(AuthMethod::BackupCode).to_string(),
            "pwd backup_code"
        );
        assert_eq!(AuthMethods::from_stored("pwd sms"), None);
        assert_eq!(AuthMethods::from_stored(""), Some(AuthMethods::default()));
    }

    #[test]
    fn the_requirement_covers_whom_it_names() {
        for (requirement, client, staff) in [
            (MfaRequirement::None, false, false),
            (MfaRequirement::Clients, true, false),
            (MfaRequirement::Staff, false, true),
            (MfaRequirement::All, true, true),
        ] {
            assert_eq!(requirement.covers(false), client, "{requirement:?}");
            assert_eq!(requirement.covers(true), staff, "{requirement:?}");
        }
    }
}
