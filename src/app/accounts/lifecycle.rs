//! Creating, reading, changing, closing, reopening and deleting accounts.

use super::*;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::deletion::delete_account_in;
use crate::app::blocks::idempotency::{CreateStart, IdempotencyKey, begin_create};
use crate::app::blocks::links::PasswordLink;
use crate::app::blocks::loads::{load_account_for_update, load_active_account, load_user};
use crate::app::blocks::new_account::insert_account;
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::crypto::random_bytes;
use crate::domain::{AccountChanges, ProfileField};
use crate::domain::{
    AccountId, AccountPermission, AccountStatus, FullName, Permission, RequestId, UserId,
    UserStatus, Username,
};
use crate::store::{self};

impl App {
    /// Creates an account owned by an existing user, or by a new user built
    /// from the billing profile in the same transaction.
    pub async fn create_account(
        &self,
        principal: &Principal,
        new: NewAccount,
        request_id: Option<RequestId>,
    ) -> Result<Account, AppError> {
        let key = IdempotencyKey::new(
            principal,
            "CreateAccount",
            request_id.as_ref(),
            &new.fingerprint(),
        );
        let password_hash = match &new.owner {
            NewAccountOwner::New {
                password: Some(password),
                ..
            } => Some(self.hasher().hash(password.expose()).await?),
            _ => None,
        };
        let id = AccountId::generate();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), id).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                return self.read_account(resource_id).await;
            }
        };
        let now = self.now();
        let owner_id = match new.owner {
            NewAccountOwner::Existing(user_id) => {
                load_user(&txn, user_id).await?;
                user_id
            }
            NewAccountOwner::New {
                username,
                locale,
                send_set_password_email,
                ..
            } => {
                let username = match username {
                    Some(username) => username,
                    None => Username::derive_from_email(
                        &new.profile.email,
                        &hex::encode(random_bytes::<3>()),
                    ),
                };
                let user_id = UserId::generate();
                let draft = UserDraft {
                    email: new.profile.email.clone(),
                    username,
                    full_name: FullName::parse("profile.full_name", &new.profile.full_name)?,
                    photo_url: None,
                    locale,
                    status: UserStatus::Active,
                    password_hash,
                    admin_role_id: None,
                };
                let row = insert_user_at(&txn, user_id, draft, now).await?;
                let change = Change::new("user.created", "user", user_id)
                    .account(id)
                    .detail("username", &row.username)
                    .detail("status", row.status.as_str())
                    .detail("as_owner_of", id);
                record_at(&txn, principal, now, change).await?;
                if send_set_password_email {
                    self.issue_password_link(&txn, principal, &row, PasswordLink::Set)
                        .await?;
                }
                user_id
            }
        };
        let row = insert_account(&txn, id, owner_id, new.profile, now.as_micros()).await?;
        let change = Change::new("account.created", "account", id)
            .account(id)
            .detail("display_name", &row.display_name)
            .detail("owner_user_id", owner_id);
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Account::try_from(row)
    }

    pub(super) async fn read_account(&self, id: AccountId) -> Result<Account, AppError> {
        store::accounts::find(self.reader(), id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))
            .and_then(Account::try_from)
    }

    /// The account with this id.
    pub async fn get_account(
        &self,
        principal: &Principal,
        id: AccountId,
    ) -> Result<Account, AppError> {
        principal.ensure_account_access(Permission::AccountsRead, id, |grant| {
            grant.permissions.contains(AccountPermission::Profile)
        })?;
        self.read_account(id).await
    }

    /// A page of accounts matching the query.
    /// Staff holding `accounts.read` only.
    pub async fn list_accounts(
        &self,
        principal: &Principal,
        query: AccountQuery,
    ) -> Result<AccountPage, AppError> {
        principal.ensure_staff(Permission::AccountsRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let page = store::accounts::list(
            self.reader(),
            &query.filter,
            query.newest_first,
            paging.after(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.to_string());
        let total = if query.include_total {
            Some(store::accounts::count(self.reader(), &query.filter).await?)
        } else {
            None
        };
        let accounts = page
            .rows
            .into_iter()
            .map(Account::try_from)
            .collect::<Result<_, _>>()?;
        Ok(AccountPage {
            accounts,
            next_page_token,
            total,
        })
    }

    /// Changes billing profile fields of an active account.
    pub async fn update_account(
        &self,
        principal: &Principal,
        id: AccountId,
        changes: AccountChanges,
    ) -> Result<Account, AppError> {
        principal.ensure_account_access(Permission::AccountsWrite, id, |grant| {
            grant.permissions.contains(AccountPermission::Profile)
        })?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut row = load_active_account(&txn, id).await?;
        let mut change = Change::new("account.updated", "account", id).account(id);
        for (field, value) in changes.into_values() {
            let slot = match field {
                ProfileField::DisplayName => &mut row.display_name,
                ProfileField::FullName => &mut row.full_name,
                ProfileField::Company => &mut row.company,
                ProfileField::Email => &mut row.email,
                ProfileField::AddressLine1 => &mut row.address_line1,
                ProfileField::AddressLine2 => &mut row.address_line2,
                ProfileField::City => &mut row.city,
                ProfileField::State => &mut row.state,
                ProfileField::Postcode => &mut row.postcode,
                ProfileField::Country => &mut row.country,
                ProfileField::Phone => &mut row.phone,
                ProfileField::TaxId => &mut row.tax_id,
            };
            *slot = value;
            change = change.detail(field.name(), "changed");
        }
        row.updated_at = now.as_micros();
        store::accounts::update(&txn, &row).await?;
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Account::try_from(row)
    }

    /// Closes an account. Closing a closed account changes nothing.
    pub async fn close_account(
        &self,
        principal: &Principal,
        id: AccountId,
        reason: &str,
    ) -> Result<Account, AppError> {
        self.set_account_status(principal, id, AccountStatus::Closed, reason)
            .await
    }

    /// Reopens a closed account. Reopening an active account changes nothing.
    pub async fn reopen_account(
        &self,
        principal: &Principal,
        id: AccountId,
        reason: &str,
    ) -> Result<Account, AppError> {
        self.set_account_status(principal, id, AccountStatus::Active, reason)
            .await
    }

    pub(super) async fn set_account_status(
        &self,
        principal: &Principal,
        id: AccountId,
        status: AccountStatus,
        reason: &str,
    ) -> Result<Account, AppError> {
        let txn = store::begin(self.db()).await?;
        let mut row = load_account_for_update(&txn, id).await?;
        if row.status != status {
            let now = self.now();
            row.status = status;
            row.closed_at = (status == AccountStatus::Closed).then_some(now.as_micros());
            row.updated_at = now.as_micros();
            store::accounts::update(&txn, &row).await?;
            let action = match status {
                AccountStatus::Closed => "account.closed",
                AccountStatus::Active => "account.reopened",
            };
            record_at(
                &txn,
                principal,
                now,
                Change::new(action, "account", id)
                    .account(id)
                    .detail("reason", reason),
            )
            .await?;
        }
        self.commit(txn).await?;
        Account::try_from(row)
    }

    /// Deletes an account with its memberships and, when asked, the users it
    /// leaves without any account (staff users are always kept). Returns the
    /// ids of the deleted users.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        id: AccountId,
        delete_orphan_users: bool,
    ) -> Result<Vec<UserId>, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = load_account_for_update(&txn, id).await?;
        let deleted =
            delete_account_in(&txn, principal, now, &row, delete_orphan_users, &[]).await?;
        self.commit(txn).await?;
        Ok(deleted)
    }
}
