//! An account's contacts (WHMCS "contacts": people the account mails about
//! invoices, support or products, who are not logins), and telling a
//! support desk who an email address is for an account.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_active_account;
use crate::app::blocks::members::effective_permissions;
use crate::app::error::{AppError, Reason};
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, ContactMails, Email, FieldViolation,
    FullName, Permission, Timestamp, UserId,
};
use crate::store::{self, StoreError, contacts::ContactRow};

/// The most contacts one account keeps.
pub const CONTACTS_MAX: u64 = 100;

/// A contact as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's id.
    pub id: String,
    /// The account.
    pub account_id: AccountId,
    /// The contact's name.
    pub full_name: String,
    /// The email address.
    pub email: String,
    /// The mails they get.
    pub mails: ContactMails,
    /// When the contact was added.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Self {
            id: row.id,
            account_id: row.account_id,
            full_name: row.full_name,
            email: row.email,
            mails: ContactMails::from_stored(&row.mails),
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
        }
    }
}

/// A contact's details, checked.
#[derive(Debug, Clone)]
pub struct ContactDetails {
    /// The name.
    pub full_name: FullName,
    /// The email address.
    pub email: Email,
    /// The mails they get.
    pub mails: ContactMails,
}

/// Who an email address is for an account, as a support desk asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correspondent {
    /// The account's owner.
    Owner(UserId),
    /// A member, with their permissions there.
    AuthorizedUser(UserId, AccountPermissions),
    /// One of the account's contacts.
    SubAccount(Contact),
    /// A staff user.
    Operator(UserId),
    /// A user of identityd with no tie to the account.
    RegisteredUser(UserId),
    /// Nobody identityd knows.
    Guest,
}

impl App {
    /// The account's contacts, oldest first: staff holding `accounts.read`,
    /// or a session acting for the account with the CONTACTS permission.
    pub async fn list_contacts(
        &self,
        principal: &Principal,
        account_id: AccountId,
    ) -> Result<Vec<Contact>, AppError> {
        ensure_contacts_access(principal, Permission::AccountsRead, account_id)?;
        store::accounts::find(self.reader(), account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        let rows = store::contacts::list_for_account(self.reader(), account_id).await?;
        Ok(rows.into_iter().map(Contact::from).collect())
    }

    /// Adds a contact to an active account: staff holding `accounts.write`,
    /// or a session acting for it with CONTACTS. An address is one contact
    /// per account; an account keeps at most [`CONTACTS_MAX`].
    pub async fn add_contact(
        &self,
        principal: &Principal,
        account_id: AccountId,
        details: ContactDetails,
    ) -> Result<Contact, AppError> {
        ensure_contacts_access(principal, Permission::AccountsWrite, account_id)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        load_active_account(&txn, account_id).await?;
        if store::contacts::count_for_account(&txn, account_id).await? >= CONTACTS_MAX {
            return Err(AppError::FailedPrecondition(Reason::ContactLimitReached));
        }
        let row = ContactRow {
            id: uuid::Uuid::now_v7().to_string(),
            account_id,
            full_name: details.full_name.as_str().to_owned(),
            email: details.email.as_str().to_owned(),
            email_normalized: details.email.normalized(),
            mails: details.mails.to_stored(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        store::contacts::insert(&txn, row.clone())
            .await
            .map_err(address_taken)?;
        let change = Change::new("account.contact_added", "account", account_id)
            .account(account_id)
            .detail("contact_id", &row.id)
            .detail("email", &row.email)
            .detail("mails", &row.mails);
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(Contact::from(row))
    }

    /// Replaces a contact's name, address and mails; who may is as for
    /// [`App::add_contact`].
    pub async fn update_contact(
        &self,
        principal: &Principal,
        contact_id: &str,
        details: ContactDetails,
    ) -> Result<Contact, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut row = self.contact_for(principal, &txn, contact_id).await?;
        load_active_account(&txn, row.account_id).await?;
        row.full_name = details.full_name.as_str().to_owned();
        row.email = details.email.as_str().to_owned();
        row.email_normalized = details.email.normalized();
        row.mails = details.mails.to_stored();
        row.updated_at = now.as_micros();
        store::contacts::update(&txn, row.clone())
            .await
            .map_err(address_taken)?;
        let change = Change::new("account.contact_updated", "account", row.account_id)
            .account(row.account_id)
            .detail("contact_id", &row.id)
            .detail("email", &row.email)
            .detail("mails", &row.mails);
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(Contact::from(row))
    }

    /// Removes a contact; who may is as for [`App::add_contact`].
    pub async fn remove_contact(
        &self,
        principal: &Principal,
        contact_id: &str,
    ) -> Result<(), AppError> {
        let txn = store::begin(self.db()).await?;
        let row = self.contact_for(principal, &txn, contact_id).await?;
        store::contacts::delete(&txn, &row.id).await?;
        let change = Change::new("account.contact_removed", "account", row.account_id)
            .account(row.account_id)
            .detail("contact_id", &row.id)
            .detail("email", &row.email);
        record_at(&txn, principal, self.now(), change).await?;
        self.commit(txn).await?;
        Ok(())
    }

    /// Who `email` is for `account_id`, for a support desk deciding what a
    /// mail's sender may ask: the owner, a member (with their permissions),
    /// a contact, staff, another registered user, or a guest, in that
    /// order. Staff holding `accounts.read` and `users.read` (the answer
    /// tells whether an address is registered).
    pub async fn classify_correspondent(
        &self,
        principal: &Principal,
        account_id: AccountId,
        email: &Email,
    ) -> Result<Correspondent, AppError> {
        principal.ensure_staff(Permission::AccountsRead)?;
        principal.ensure_staff(Permission::UsersRead)?;
        let db = self.reader();
        let account = store::accounts::find(db, account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        let normalized = email.normalized();
        let user = store::users::find_by_email(db, &normalized).await?;
        if let Some(user) = &user {
            if account.owner_user_id == user.id {
                return Ok(Correspondent::Owner(user.id));
            }
            if let Some(membership) = store::memberships::find(db, account_id, user.id).await? {
                let permissions = effective_permissions(false, &membership);
                return Ok(Correspondent::AuthorizedUser(user.id, permissions));
            }
        }
        if let Some(contact) = store::contacts::find_by_email(db, account_id, &normalized).await? {
            return Ok(Correspondent::SubAccount(Contact::from(contact)));
        }
        Ok(match user {
            Some(user) if user.admin_role_id.is_some() => Correspondent::Operator(user.id),
            Some(user) => Correspondent::RegisteredUser(user.id),
            None => Correspondent::Guest,
        })
    }

    /// The contact `contact_id`, if the caller may change it; someone
    /// else's contact looks like none at all.
    async fn contact_for(
        &self,
        principal: &Principal,
        conn: &impl store::ConnectionTrait,
        contact_id: &str,
    ) -> Result<ContactRow, AppError> {
        let id = uuid::Uuid::parse_str(contact_id.trim())
            .map_err(|_| FieldViolation::new("contact_id", "must be a UUID"))?
            .to_string();
        let not_found = || AppError::NotFound(Reason::ContactNotFound);
        let row = store::contacts::find(conn, &id)
            .await?
            .ok_or_else(not_found)?;
        match ensure_contacts_access(principal, Permission::AccountsWrite, row.account_id) {
            Ok(()) => Ok(row),
            Err(AppError::PermissionDenied(Reason::AccountNotSelected)) => Err(not_found()),
            Err(other) => Err(other),
        }
    }
}

/// A write the account's one-contact-per-address index refused.
fn address_taken(error: StoreError) -> AppError {
    if error.is_unique_violation_on("email_normalized") {
        AppError::AlreadyExists(Reason::ContactEmailTaken)
    } else {
        error.into()
    }
}

/// Staff holding `staff`, or a session acting for the account with CONTACTS.
fn ensure_contacts_access(
    principal: &Principal,
    staff: Permission,
    account_id: AccountId,
) -> Result<(), AppError> {
    principal.ensure_account_access(staff, account_id, |grant| {
        grant.permissions.contains(AccountPermission::Contacts)
    })
}
