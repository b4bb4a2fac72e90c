//! An account's billing profile: its fields, how each is checked, and the
//! changes an update makes to it.

use super::{Email, FieldViolation, ValidationError, Validator, bounded_text};

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

/// One field of a billing profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    /// [`AccountProfile::display_name`].
    DisplayName,
    /// [`AccountProfile::full_name`].
    FullName,
    /// [`AccountProfile::company`].
    Company,
    /// [`AccountProfile::email`].
    Email,
    /// [`AccountProfile::address_line1`].
    AddressLine1,
    /// [`AccountProfile::address_line2`].
    AddressLine2,
    /// [`AccountProfile::city`].
    City,
    /// [`AccountProfile::state`].
    State,
    /// [`AccountProfile::postcode`].
    Postcode,
    /// [`AccountProfile::country`].
    Country,
    /// [`AccountProfile::phone`].
    Phone,
    /// [`AccountProfile::tax_id`].
    TaxId,
}

impl ProfileField {
    /// Every field, in the order the API lists them.
    pub const ALL: [ProfileField; 12] = [
        ProfileField::DisplayName,
        ProfileField::FullName,
        ProfileField::Company,
        ProfileField::Email,
        ProfileField::AddressLine1,
        ProfileField::AddressLine2,
        ProfileField::City,
        ProfileField::State,
        ProfileField::Postcode,
        ProfileField::Country,
        ProfileField::Phone,
        ProfileField::TaxId,
    ];

    /// The field's name on the wire and in activity details.
    pub fn name(self) -> &'static str {
        match self {
            ProfileField::DisplayName => "display_name",
            ProfileField::FullName => "full_name",
            ProfileField::Company => "company",
            ProfileField::Email => "email",
            ProfileField::AddressLine1 => "address_line1",
            ProfileField::AddressLine2 => "address_line2",
            ProfileField::City => "city",
            ProfileField::State => "state",
            ProfileField::Postcode => "postcode",
            ProfileField::Country => "country",
            ProfileField::Phone => "phone",
            ProfileField::TaxId => "tax_id",
        }
    }

    /// The field called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.name() == name)
    }

    /// Whether a profile must have it, and its longest length in characters.
    fn limits(self) -> (bool, usize) {
        match self {
            ProfileField::DisplayName | ProfileField::FullName => (true, 128),
            ProfileField::Email => (true, Email::MAX_LEN),
            ProfileField::Company | ProfileField::AddressLine1 | ProfileField::AddressLine2 => {
                (false, 128)
            }
            ProfileField::City | ProfileField::State | ProfileField::TaxId => (false, 64),
            ProfileField::Postcode => (false, 16),
            ProfileField::Country => (false, 2),
            ProfileField::Phone => (false, 32),
        }
    }

    /// This field's text in `input`.
    pub fn text_in<'a>(self, input: &AccountProfileInput<'a>) -> &'a str {
        match self {
            ProfileField::DisplayName => input.display_name,
            ProfileField::FullName => input.full_name,
            ProfileField::Company => input.company,
            ProfileField::Email => input.email,
            ProfileField::AddressLine1 => input.address_line1,
            ProfileField::AddressLine2 => input.address_line2,
            ProfileField::City => input.city,
            ProfileField::State => input.state,
            ProfileField::Postcode => input.postcode,
            ProfileField::Country => input.country,
            ProfileField::Phone => input.phone,
            ProfileField::TaxId => input.tax_id,
        }
    }

    /// Checks a value for this field; `prefix` is prepended to the field
    /// name in violations (such as `profile.`).
    pub fn parse(self, prefix: &str, value: &str) -> Result<String, FieldViolation> {
        let field = format!("{prefix}{}", self.name());
        let (required, max) = self.limits();
        match self {
            ProfileField::Email => Email::parse(&field, value).map(|e| e.as_str().to_owned()),
            ProfileField::Country => {
                let code = value.trim().to_ascii_uppercase();
                if code.is_empty()
                    || (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    Ok(code)
                } else {
                    Err(FieldViolation::new(
                        &field,
                        "must be an ISO 3166-1 alpha-2 code such as DE",
                    ))
                }
            }
            ProfileField::Phone => {
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
}

impl AccountProfile {
    /// The profile of a user's primary account when they sign themselves
    /// up: named after the username, billed to the user, the rest empty
    /// until the owner fills it in.
    pub fn primary(display_name: &str, full_name: &str, email: Email) -> Self {
        Self {
            display_name: display_name.to_owned(),
            full_name: full_name.to_owned(),
            company: String::new(),
            email,
            address_line1: String::new(),
            address_line2: String::new(),
            city: String::new(),
            state: String::new(),
            postcode: String::new(),
            country: String::new(),
            phone: String::new(),
            tax_id: String::new(),
        }
    }

    /// The text of `field` (the email address as given).
    pub fn text(&self, field: ProfileField) -> &str {
        match field {
            ProfileField::DisplayName => &self.display_name,
            ProfileField::FullName => &self.full_name,
            ProfileField::Company => &self.company,
            ProfileField::Email => self.email.as_str(),
            ProfileField::AddressLine1 => &self.address_line1,
            ProfileField::AddressLine2 => &self.address_line2,
            ProfileField::City => &self.city,
            ProfileField::State => &self.state,
            ProfileField::Postcode => &self.postcode,
            ProfileField::Country => &self.country,
            ProfileField::Phone => &self.phone,
            ProfileField::TaxId => &self.tax_id,
        }
    }

    /// Parses every field of a profile, reporting every invalid one with `prefix`.
    pub fn parse(prefix: &str, input: &AccountProfileInput<'_>) -> Result<Self, ValidationError> {
        let mut v = Validator::new();
        let mut field = |field: ProfileField| {
            v.check(field.parse(prefix, field.text_in(input)))
                .unwrap_or_default()
        };
        let display_name = field(ProfileField::DisplayName);
        let full_name = field(ProfileField::FullName);
        let company = field(ProfileField::Company);
        let address_line1 = field(ProfileField::AddressLine1);
        let address_line2 = field(ProfileField::AddressLine2);
        let city = field(ProfileField::City);
        let state = field(ProfileField::State);
        let postcode = field(ProfileField::Postcode);
        let country = field(ProfileField::Country);
        let phone = field(ProfileField::Phone);
        let tax_id = field(ProfileField::TaxId);
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

/// The fields an update sets, each already checked with
/// [`ProfileField::parse`]; a field left `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChanges {
    values: [Option<String>; 12],
}

impl AccountChanges {
    /// Sets `field` to `value`, which [`ProfileField::parse`] returned.
    pub fn set(&mut self, field: ProfileField, value: String) {
        self.values[field as usize] = Some(value);
    }

    /// The new value of `field`, if the update sets it.
    pub fn get(&self, field: ProfileField) -> Option<&str> {
        self.values[field as usize].as_deref()
    }

    /// Whether the update sets no field.
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// The fields the update sets with their new values, in the order the
    /// API lists the fields.
    pub fn into_values(self) -> impl Iterator<Item = (ProfileField, String)> {
        ProfileField::ALL
            .into_iter()
            .zip(self.values)
            .filter_map(|(field, value)| value.map(|value| (field, value)))
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
    fn every_field_is_found_by_its_name_and_holds_its_place() {
        for (index, field) in ProfileField::ALL.into_iter().enumerate() {
            assert_eq!(ProfileField::from_name(field.name()), Some(field));
            assert_eq!(field as usize, index, "{field:?}");
        }
        assert_eq!(ProfileField::from_name("profile"), None);
    }

    #[test]
    fn changes_list_what_they_set_in_catalogue_order() {
        let mut changes = AccountChanges::default();
        assert!(changes.is_empty());
        changes.set(ProfileField::TaxId, "DE1".to_owned());
        changes.set(ProfileField::City, "Berlin".to_owned());
        assert_eq!(changes.get(ProfileField::City), Some("Berlin"));
        assert_eq!(
            changes.into_values().collect::<Vec<_>>(),
            vec![
                (ProfileField::City, "Berlin".to_owned()),
                (ProfileField::TaxId, "DE1".to_owned())
            ]
        );
    }
}
