//! Client accounts: their billing profile, status, the account permission set
//! and the rule for who may manage members.

use std::collections::BTreeSet;

use super::{Email, FieldViolation, ValidationError, Validator, bounded_text};

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

/// A validated billing profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    /// The name shown for the account.
    pub display_name: String,
    /// The billing contact's full name.
    pub full_name: String,
    /// The company.
    pub company: String,
    /// The billing email address.
    pub email: Email,
    /// The first address line.
    pub address_line1: String,
    /// The second address line.
    pub address_line2: String,
    /// The city.
    pub city: String,
    /// The state or region.
    pub state: String,
    /// The postal code.
    pub postcode: String,
    /// The ISO 3166-1 alpha-2 country code, upper case, or empty.
    pub country: String,
    /// The phone number.
    pub phone: String,
    /// The tax or VAT id.
    pub tax_id: String,
}

/// The raw text of a billing profile, as a request carries it.
#[derive(Debug, Clone, Default)]
pub struct AccountProfileInput<'a> {
    /// See [`AccountProfile::display_name`].
    pub display_name: &'a str,
    /// See [`AccountProfile::full_name`].
    pub full_name: &'a str,
    /// See [`AccountProfile::company`].
    pub company: &'a str,
    /// See [`AccountProfile::email`].
    pub email: &'a str,
    /// See [`AccountProfile::address_line1`].
    pub address_line1: &'a str,
    /// See [`AccountProfile::address_line2`].
    pub address_line2: &'a str,
    /// See [`AccountProfile::city`].
    pub city: &'a str,
    /// See [`AccountProfile::state`].
    pub state: &'a str,
    /// See [`AccountProfile::postcode`].
    pub postcode: &'a str,
    /// See [`AccountProfile::country`].
    pub country: &'a str,
    /// See [`AccountProfile::phone`].
    pub phone: &'a str,
    /// See [`AccountProfile::tax_id`].
    pub tax_id: &'a str,
}

/// One profile field: its name, whether it is required, and its longest length.
pub const PROFILE_FIELDS: [(&str, bool, usize); 12] = [
    ("display_name", true, 128),
    ("full_name", true, 128),
    ("company", false, 128),
    ("email", true, Email::MAX_LEN),
    ("address_line1", false, 128),
    ("address_line2", false, 128),
    ("city", false, 64),
    ("state", false, 64),
    ("postcode", false, 16),
    ("country", false, 2),
    ("phone", false, 32),
    ("tax_id", false, 64),
];

/// Checks one profile field's value; `prefix` is prepended to the field name
/// in violations (such as `profile.`).
pub fn parse_profile_field(
    prefix: &str,
    name: &str,
    value: &str,
) -> Result<String, FieldViolation> {
    let field = format!("{prefix}{name}");
    let (_, required, max) = PROFILE_FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .copied()
        .ok_or_else(|| FieldViolation::new(&field, "is not a profile field"))?;
    match name {
        "email" => Email::parse(&field, value).map(|e| e.as_str().to_owned()),
        "country" => {
            let code = value.trim().to_ascii_uppercase();
            if code.is_empty() || (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
            {
                Ok(code)
            } else {
                Err(FieldViolation::new(
                    &field,
                    "must be an ISO 3166-1 alpha-2 code such as DE",
                ))
            }
        }
        "phone" => {
            let phone = bounded_text(&field, value, 0, max)?;
            let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
            if phone.chars().all(allowed) {
                Ok(phone)
            } else {
                Err(FieldViolation::new(
                    &field,
                    "may hold only digits, spaces and + - ( ) .",
                ))
            }
        }
        _ => bounded_text(&field, value, usize::from(required), max),
    }
}

impl AccountProfile {
    /// Parses every field of a profile, reporting every invalid one with `prefix`.
    pub fn parse(prefix: &str, input: &AccountProfileInput<'_>) -> Result<Self, ValidationError> {
        let mut v = Validator::new();
        let mut field = |name: &str, value: &str| {
            v.check(parse_profile_field(prefix, name, value))
                .unwrap_or_default()
        };
        let display_name = field("display_name", input.display_name);
        let full_name = field("full_name", input.full_name);
        let company = field("company", input.company);
        let address_line1 = field("address_line1", input.address_line1);
        let address_line2 = field("address_line2", input.address_line2);
        let city = field("city", input.city);
        let state = field("state", input.state);
        let postcode = field("postcode", input.postcode);
        let country = field("country", input.country);
        let phone = field("phone", input.phone);
        let tax_id = field("tax_id", input.tax_id);
        let email = v.check(Email::parse(&format!("{prefix}email"), input.email));
        v.finish()?;
        let email = email
            .ok_or_else(|| ValidationError::single(format!("{prefix}email"), "is required"))?;
        Ok(Self {
            display_name,
            full_name,
            company,
            email,
            address_line1,
            address_line2,
            city,
            state,
            postcode,
            country,
            phone,
            tax_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AccountProfileInput<'static> {
        AccountProfileInput {
            display_name: "Acme Hosting",
            full_name: "Ann Lee",
            email: "billing@acme.example",
            country: "de",
            phone: "+49 (30) 1234-567",
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_profile_parses_and_normalises_the_country() {
        let profile = AccountProfile::parse("profile.", &input()).unwrap();
        assert_eq!(profile.display_name, "Acme Hosting");
        assert_eq!(profile.country, "DE");
        assert_eq!(profile.email.as_str(), "billing@acme.example");
    }

    #[test]
    fn every_invalid_profile_field_is_reported_with_its_prefix() {
        let long = "x".repeat(129);
        let bad = AccountProfileInput {
            display_name: "",
            company: &long,
            email: "nope",
            country: "Germany",
            phone: "call me",
            ..input()
        };
        let fields: Vec<String> = AccountProfile::parse("profile.", &bad)
            .unwrap_err()
            .violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "profile.display_name",
                "profile.company",
                "profile.country",
                "profile.phone",
                "profile.email"
            ]
        );
    }

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
