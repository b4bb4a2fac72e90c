//! The staff and API permission catalogue, and sets of its permissions.

use std::collections::BTreeSet;
use std::fmt;

/// One staff or API permission. The catalogue is closed: a role can only grant
/// permissions listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See client accounts and their members.
    AccountsRead,
    /// Create, change, close and delete client accounts and manage their members.
    AccountsWrite,
    /// Read the activity log.
    ActivityRead,
    /// See API credentials.
    CredentialsRead,
    /// Create and revoke API credentials.
    CredentialsWrite,
    /// See invitations.
    InvitationsRead,
    /// Invite people to client accounts, resend and cancel invitations.
    InvitationsWrite,
    /// See outgoing mail (never its body or secrets).
    MailRead,
    /// Retry failed mail.
    MailWrite,
    /// See what retention pruning would delete, and its runs.
    RetentionRead,
    /// Run retention pruning now.
    RetentionRun,
    /// See admin and API roles.
    RolesRead,
    /// Create, change, duplicate and delete roles.
    RolesWrite,
    /// See any user's sessions and introspect session tokens.
    SessionsRead,
    /// End any user's sessions.
    SessionsWrite,
    /// See the run-time settings and mail templates.
    SettingsRead,
    /// Change the run-time settings and mail templates, and send test mail.
    SettingsWrite,
    /// Mint single-use sign-on tokens that sign a user in elsewhere.
    SsoCreate,
    /// See staff users.
    StaffRead,
    /// Create staff users and assign or take away their admin roles.
    StaffWrite,
    /// Turn a user's two-factor authentication off for them.
    UsersMfaReset,
    /// See users and search them.
    UsersRead,
    /// Create, change, suspend and delete users.
    UsersWrite,
}

impl Permission {
    /// Every permission, sorted by name.
    pub const ALL: [Permission; 23] = [
        Permission::AccountsRead,
        Permission::AccountsWrite,
        Permission::ActivityRead,
        Permission::CredentialsRead,
        Permission::CredentialsWrite,
        Permission::InvitationsRead,
        Permission::InvitationsWrite,
        Permission::MailRead,
        Permission::MailWrite,
        Permission::RetentionRead,
        Permission::RetentionRun,
        Permission::RolesRead,
        Permission::RolesWrite,
        Permission::SessionsRead,
        Permission::SessionsWrite,
        Permission::SettingsRead,
        Permission::SettingsWrite,
        Permission::SsoCreate,
        Permission::StaffRead,
        Permission::StaffWrite,
        Permission::UsersMfaReset,
        Permission::UsersRead,
        Permission::UsersWrite,
    ];

    /// The permission's stable name, as callers write it.
    pub fn name(self) -> &'static str {
        match self {
            Permission::AccountsRead => "accounts.read",
            Permission::AccountsWrite => "accounts.write",
            Permission::ActivityRead => "activity.read",
            Permission::CredentialsRead => "credentials.read",
            Permission::CredentialsWrite => "credentials.write",
            Permission::InvitationsRead => "invitations.read",
            Permission::InvitationsWrite => "invitations.write",
            Permission::MailRead => "mail.read",
            Permission::MailWrite => "mail.write",
            Permission::RetentionRead => "retention.read",
            Permission::RetentionRun => "retention.run",
            Permission::RolesRead => "roles.read",
            Permission::RolesWrite => "roles.write",
            Permission::SessionsRead => "sessions.read",
            Permission::SessionsWrite => "sessions.write",
            Permission::SettingsRead => "settings.read",
            Permission::SettingsWrite => "settings.write",
            Permission::SsoCreate => "sso.create",
            Permission::StaffRead => "staff.read",
            Permission::StaffWrite => "staff.write",
            Permission::UsersMfaReset => "users.mfa_reset",
            Permission::UsersRead => "users.read",
            Permission::UsersWrite => "users.write",
        }
    }

    /// What the permission allows, in one sentence.
    pub fn description(self) -> &'static str {
        match self {
            Permission::AccountsRead => "See client accounts and their members.",
            Permission::AccountsWrite => {
                "Create, change, close and delete client accounts and manage their members."
            }
            Permission::ActivityRead => "Read the activity log.",
            Permission::CredentialsRead => "See API credentials (never their secrets).",
            Permission::CredentialsWrite => "Create and revoke API credentials.",
            Permission::InvitationsRead => "See invitations to client accounts.",
            Permission::InvitationsWrite => {
                "Invite people to client accounts, resend and cancel invitations."
            }
            Permission::MailRead => {
                "See outgoing mail and its delivery state (never bodies or secrets)."
            }
            Permission::MailWrite => "Retry failed mail.",
            Permission::RetentionRead => {
                "See what retention pruning would delete and why, and how its runs went."
            }
            Permission::RetentionRun => {
                "Run retention pruning now: delete what the pruning policies say is due."
            }
            Permission::RolesRead => "See admin and API roles.",
            Permission::RolesWrite => "Create, change, duplicate and delete admin and API roles.",
            Permission::SessionsRead => {
                "See any user's sessions; introspect session tokens and check their permissions."
            }
            Permission::SessionsWrite => "End any user's sessions.",
            Permission::SettingsRead => {
                "See the run-time settings (never secrets) and the mail templates."
            }
            Permission::SettingsWrite => {
                "Change the run-time settings and mail templates, and send test mail."
            }
            Permission::SsoCreate => {
                "Mint single-use sign-on tokens that sign a user in to another app (as that user)."
            }
            Permission::StaffRead => "See staff users.",
            Permission::StaffWrite => "Create staff users and assign or take away admin roles.",
            Permission::UsersMfaReset => {
                "Turn a user's two-factor authentication off for them (lost authenticator)."
            }
            Permission::UsersRead => "See users and search them.",
            Permission::UsersWrite => "Create, change, suspend and delete users.",
        }
    }

    /// The permission with this exact name.
    pub fn from_name(name: &str) -> Result<Self, UnknownPermission> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| UnknownPermission(name.to_owned()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not in the permission catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}")]
pub struct UnknownPermission(pub String);

/// What a caller or role may do: a set of permissions, or full access, which
/// also covers permissions added to the catalogue later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    full_access: bool,
    permissions: BTreeSet<Permission>,
}

impl PermissionSet {
    /// No permissions at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every permission, now and later.
    pub fn full_access() -> Self {
        Self {
            full_access: true,
            permissions: BTreeSet::new(),
        }
    }

    /// Exactly these permissions.
    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self {
            full_access: false,
            permissions: permissions.into_iter().collect(),
        }
    }

    /// Whether this is full access.
    pub fn is_full_access(&self) -> bool {
        self.full_access
    }

    /// Whether the set grants `permission`.
    pub fn contains(&self, permission: Permission) -> bool {
        self.full_access || self.permissions.contains(&permission)
    }

    /// Whether everything `other` grants is granted here too, so a holder of
    /// this set may hand `other` on without gaining anything.
    pub fn covers(&self, other: &PermissionSet) -> bool {
        self.full_access || (!other.full_access && other.permissions.is_subset(&self.permissions))
    }

    /// The names of what `self` grants and `holder` does not, sorted:
    /// `full_access` when `self` is full access and `holder` is not. Empty
    /// exactly when `holder` covers `self`.
    pub fn not_covered_by(&self, holder: &PermissionSet) -> Vec<&'static str> {
        if holder.full_access {
            return Vec::new();
        }
        if self.full_access {
            return vec!["full_access"];
        }
        self.permissions
            .difference(&holder.permissions)
            .map(|permission| permission.name())
            .collect()
    }

    /// What both sets grant.
    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        match (self.full_access, other.full_access) {
            (true, true) => PermissionSet::full_access(),
            (true, false) => other.clone(),
            (false, true) => self.clone(),
            (false, false) => {
                PermissionSet::of(self.permissions.intersection(&other.permissions).copied())
            }
        }
    }

    /// What either set grants.
    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        if self.full_access || other.full_access {
            return PermissionSet::full_access();
        }
        PermissionSet::of(self.permissions.union(&other.permissions).copied())
    }

    /// The permissions listed explicitly, sorted by name (empty for full access).
    pub fn listed(&self) -> impl Iterator<Item = Permission> + '_ {
        self.permissions.iter().copied()
    }

    /// The listed permissions as stored: names separated by single spaces.
    pub fn to_stored(&self) -> String {
        self.listed()
            .map(Permission::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A set read back from storage. Names no longer in the catalogue are
    /// dropped, so removing a permission from the catalogue revokes it everywhere.
    pub fn from_stored(full_access: bool, stored: &str) -> Self {
        Self {
            full_access,
            permissions: stored
                .split_whitespace()
                .filter_map(|name| Permission::from_name(name).ok())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_names_round_trip() {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for permission in Permission::ALL {
            assert_eq!(Permission::from_name(permission.name()), Ok(permission));
            assert!(permission.description().ends_with('.'));
        }
        assert!(Permission::from_name("users.delete").is_err());
    }

    #[test]
    fn covers_means_granting_nothing_new() {
        let reader = PermissionSet::of([Permission::UsersRead]);
        let writer = PermissionSet::of([Permission::UsersRead, Permission::UsersWrite]);
        assert!(writer.covers(&reader));
        assert!(!reader.covers(&writer));
        assert!(PermissionSet::full_access().covers(&writer));
        assert!(!writer.covers(&PermissionSet::full_access()));
        assert!(reader.covers(&PermissionSet::none()));
    }

    #[test]
    fn not_covered_by_names_what_covers_misses() {
        let reader = PermissionSet::of([Permission::UsersRead]);
        let writer = PermissionSet::of([Permission::UsersWrite, Permission::RolesRead]);
        assert_eq!(
            writer.not_covered_by(&reader),
            vec!["roles.read", "users.write"]
        );
        assert!(
            reader
                .not_covered_by(&PermissionSet::full_access())
                .is_empty()
        );
        assert_eq!(
            PermissionSet::full_access().not_covered_by(&writer),
            vec!["full_access"]
        );
        for (granted, holder) in [(&reader, &writer), (&writer, &reader), (&reader, &reader)] {
            assert_eq!(
                granted.not_covered_by(holder).is_empty(),
                holder.covers(granted)
            );
        }
    }

    #[test]
    fn intersection_with_full_access_keeps_the_other_side() {
        let reader = PermissionSet::of([Permission::UsersRead]);
        assert_eq!(reader.intersection(&PermissionSet::full_access()), reader);
        assert_eq!(
            reader.intersection(&PermissionSet::of([Permission::RolesRead])),
            PermissionSet::none()
        );
        assert!(
            PermissionSet::full_access()
                .intersection(&PermissionSet::full_access())
                .is_full_access()
        );
    }

    #[test]
    fn stored_form_round_trips_and_drops_unknown_names() {
        let set = PermissionSet::of([Permission::RolesWrite, Permission::ActivityRead]);
        assert_eq!(set.to_stored(), "activity.read roles.write");
        assert_eq!(
            PermissionSet::from_stored(false, "activity.read  roles.write gone.away"),
            set
        );
    }
}
