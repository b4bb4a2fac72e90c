//! Client accounts: their status, the account permission set
//! and the rule for who may manage members.

use std::collections::BTreeSet;

/// What a member may do for an account: the WHMCS permission set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountPermission {
    /// View and change the account's profile.
    Profile,
    /// View and manage contacts.
    Contacts,
    /// View products and services.
    Products,
    /// Manage products and services.
    ManageProducts,
    /// Sign in to products with single sign-on.
    ProductSso,
    /// View domains.
    Domains,
    /// Manage domains.
    ManageDomains,
    /// View and pay invoices.
    Invoices,
    /// View and accept quotes.
    Quotes,
    /// View and open support tickets.
    Tickets,
    /// View and manage the affiliate account.
    Affiliates,
    /// View emails sent to the account.
    Emails,
    /// Place new orders.
    Orders,
}

impl AccountPermission {
    /// Every account permission, in catalogue order.
    pub const ALL: [AccountPermission; 13] = [
        AccountPermission::Profile,
        AccountPermission::Contacts,
        AccountPermission::Products,
        AccountPermission::ManageProducts,
        AccountPermission::ProductSso,
        AccountPermission::Domains,
        AccountPermission::ManageDomains,
        AccountPermission::Invoices,
        AccountPermission::Quotes,
        AccountPermission::Tickets,
        AccountPermission::Affiliates,
        AccountPermission::Emails,
        AccountPermission::Orders,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            AccountPermission::Profile => "profile",
            AccountPermission::Contacts => "contacts",
            AccountPermission::Products => "products",
            AccountPermission::ManageProducts => "manage_products",
            AccountPermission::ProductSso => "product_sso",
            AccountPermission::Domains => "domains",
            AccountPermission::ManageDomains => "manage_domains",
            AccountPermission::Invoices => "invoices",
            AccountPermission::Quotes => "quotes",
            AccountPermission::Tickets => "tickets",
            AccountPermission::Affiliates => "affiliates",
            AccountPermission::Emails => "emails",
            AccountPermission::Orders => "orders",
        }
    }

    /// What the permission allows, in one sentence.
    pub fn description(self) -> &'static str {
        match self {
            AccountPermission::Profile => "View and change the account's billing profile.",
            AccountPermission::Contacts => "View and manage the account's contacts.",
            AccountPermission::Products => "View products and services.",
            AccountPermission::ManageProducts => {
                "Upgrade, cancel and configure products and services."
            }
            AccountPermission::ProductSso => {
                "Sign in to products and services with single sign-on."
            }
            AccountPermission::Domains => "View domains.",
            AccountPermission::ManageDomains => {
                "Renew domains and change their nameservers and contacts."
            }
            AccountPermission::Invoices => "View and pay invoices.",
            AccountPermission::Quotes => "View and accept quotes.",
            AccountPermission::Tickets => "View and open support tickets.",
            AccountPermission::Affiliates => "View and manage the affiliate account.",
            AccountPermission::Emails => "View emails sent to the account.",
            AccountPermission::Orders => "Place new orders.",
        }
    }

    /// The permission with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A member's account permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountPermissions(BTreeSet<AccountPermission>);

impl AccountPermissions {
    /// Exactly these permissions.
    pub fn of(permissions: impl IntoIterator<Item = AccountPermission>) -> Self {
        Self(permissions.into_iter().collect())
    }

    /// Every permission, as the owner holds them.
    pub fn all() -> Self {
        Self::of(AccountPermission::ALL)
    }

    /// Whether `permission` is held.
    pub fn contains(&self, permission: AccountPermission) -> bool {
        self.0.contains(&permission)
    }

    /// The permissions in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = AccountPermission> + '_ {
        self.0.iter().copied()
    }

    /// The stored form: names separated by single spaces.
    pub fn to_stored(&self) -> String {
        self.iter()
            .map(AccountPermission::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Read back from storage; names no longer in the catalogue are dropped.
    pub fn from_stored(stored: &str) -> Self {
        Self(
            stored
                .split_whitespace()
                .filter_map(AccountPermission::from_name)
                .collect(),
        )
    }
}

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// In use.
    Active,
    /// Closed: data kept, no profile or membership changes.
    Closed,
}

impl AccountStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Closed => "closed",
        }
    }

    /// The status from its stored form.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "active" => Some(AccountStatus::Active),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }
}

/// How the caller of a membership change stands to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRelation {
    /// Staff, or a machine caller acting for staff.
    Staff,
    /// The account's owner, acting through their own session.
    Owner,
    /// Another member of the account.
    Member,
    /// Anyone else.
    Outsider,
}

/// Whether a caller may add, change or remove members (or invite): staff
/// always; the owner only while client-side user management is enabled;
/// nobody else.
pub fn may_manage_members(relation: AccountRelation, client_user_management: bool) -> bool {
    match relation {
        AccountRelation::Staff => true,
        AccountRelation::Owner => client_user_management,
        AccountRelation::Member | AccountRelation::Outsider => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_permissions_round_trip_their_stored_form() {
        let set = AccountPermissions::of([AccountPermission::Invoices, AccountPermission::Profile]);
        assert_eq!(set.to_stored(), "profile invoices");
        assert_eq!(
            AccountPermissions::from_stored("profile invoices retired"),
            set
        );
        assert_eq!(AccountPermissions::all().iter().count(), 13);
    }

    #[test]
    fn only_staff_and_an_enabled_owner_manage_members() {
        assert!(may_manage_members(AccountRelation::Staff, false));
        assert!(may_manage_members(AccountRelation::Owner, true));
        assert!(!may_manage_members(AccountRelation::Owner, false));
        assert!(!may_manage_members(AccountRelation::Member, true));
        assert!(!may_manage_members(AccountRelation::Outsider, true));
    }
}
