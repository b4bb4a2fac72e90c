//! Client accounts and their members.
//!
//! Every account has exactly one owner: `accounts.owner_user_id`, a single
//! column, is the only record of it, and transfers lock the account row
//! first, so concurrent transfers run one after another. The owner also has a
//! membership row, and holds every permission whatever that row says.

mod activity;
mod contacts;
mod lifecycle;
mod members;
mod ownership;

pub use contacts::{CONTACTS_MAX, Contact, ContactDetails, Correspondent};

use crate::app::error::AppError;
use crate::domain::ProfileField;
use crate::domain::{
    AccountId, AccountPermissions, AccountProfile, AccountStatus, Email, Fingerprint, Locale,
    PageSize, Password, Timestamp, UserId, Username,
};
use crate::store::accounts::{AccountFilter, AccountRow};

/// A client account as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's id.
    pub id: AccountId,
    /// The billing profile.
    pub profile: AccountProfile,
    /// The status.
    pub status: AccountStatus,
    /// The owner.
    pub owner_user_id: UserId,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
    /// When the account was closed.
    pub closed_at: Option<Timestamp>,
    /// When it was last active: a member's sign-in, recorded activity, or
    /// its creation.
    pub last_activity_at: Timestamp,
    /// Whether retention pruning must leave it alone.
    pub retention_hold: bool,
    /// Why it is on hold.
    pub retention_hold_reason: String,
}

impl TryFrom<AccountRow> for Account {
    type Error = AppError;

    fn try_from(row: AccountRow) -> Result<Self, AppError> {
        let email = Email::parse("email", &row.email)
            .map_err(|_| AppError::corrupt(format!("account {} email", row.id)))?;
        Ok(Self {
            id: row.id,
            status: row.status,
            owner_user_id: row.owner_user_id,
            profile: AccountProfile {
                email,
                display_name: row.display_name,
                full_name: row.full_name,
                company: row.company,
                address_line1: row.address_line1,
                address_line2: row.address_line2,
                city: row.city,
                state: row.state,
                postcode: row.postcode,
                country: row.country,
                phone: row.phone,
                tax_id: row.tax_id,
            },
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
            closed_at: row.closed_at.map(Timestamp::from_micros),
            last_activity_at: Timestamp::from_micros(
                row.last_activity_at.unwrap_or(row.created_at),
            ),
            retention_hold: row.retention_hold,
            retention_hold_reason: row.retention_hold_reason,
        })
    }
}

/// One account a user may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccount {
    /// The account.
    pub account: Account,
    /// Whether the user owns it.
    pub owner: bool,
    /// What the user may do in it.
    pub permissions: AccountPermissions,
}

/// Who owns a new account.
#[derive(Debug, Clone)]
pub enum NewAccountOwner {
    /// An existing user.
    Existing(UserId),
    /// A new user built from the billing profile.
    New {
        /// The username; derived from the email address when none is given.
        username: Option<Username>,
        /// An optional password.
        password: Option<Password>,
        /// An optional locale.
        locale: Option<Locale>,
        /// Whether to mail a link to set a first password (only without one).
        send_set_password_email: bool,
    },
}

/// What a new account is.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The billing profile.
    pub profile: AccountProfile,
    /// Who owns it.
    pub owner: NewAccountOwner,
}

impl NewAccount {
    /// The request as its idempotency key compares it. Every field is named,
    /// so a new one does not compile until it is decided how it enters.
    fn fingerprint(&self) -> Fingerprint {
        let NewAccount { profile, owner } = self;
        let fingerprint = ProfileField::ALL.into_iter().fold(
            Fingerprint::new("CreateAccount", 1),
            |fingerprint, field| fingerprint.text(field.name(), profile.text(field)),
        );
        match owner {
            NewAccountOwner::Existing(user_id) => fingerprint
                .text("owner", "existing")
                .text("owner_user_id", &user_id.to_string()),
            NewAccountOwner::New {
                username,
                password,
                locale,
                send_set_password_email,
            } => fingerprint
                .text("owner", "new")
                .opt("owner_username", username.as_ref().map(Username::as_str))
                // Whether a password was given, never the password itself.
                .flag("owner_password_given", password.is_some())
                .opt("owner_locale", locale.as_ref().map(Locale::as_str))
                .flag("send_set_password_email", *send_set_password_email),
        }
    }
}

/// A request for a page of accounts.
#[derive(Debug, Clone)]
pub struct AccountQuery {
    /// The filters.
    pub filter: AccountFilter,
    /// Newest first (the default) or oldest first.
    pub newest_first: bool,
    /// Also count every match.
    pub include_total: bool,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl AccountQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let AccountQuery {
            filter:
                AccountFilter {
                    text,
                    status,
                    member_user_id,
                },
            newest_first,
            include_total: _,
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListAccounts", 1)
            .opt("text", text.as_deref())
            .opt("status", status.map(AccountStatus::as_str))
            .opt(
                "member_user_id",
                member_user_id.map(|id| id.to_string()).as_deref(),
            )
            .flag("newest_first", *newest_first)
    }
}

/// A page of accounts.
#[derive(Debug, Clone)]
pub struct AccountPage {
    /// The accounts.
    pub accounts: Vec<Account>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
    /// How many accounts match, when asked for.
    pub total: Option<u64>,
}

/// A page of members or of a user's accounts.
#[derive(Debug, Clone)]
pub struct MembershipPage<T> {
    /// The entries.
    pub entries: Vec<T>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}
