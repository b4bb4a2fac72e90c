//! Client accounts and their members.
//!
//! Every account has exactly one owner: `accounts.owner_user_id`, a single
//! column, is the only record of it, and transfers lock the account row
//! first, so concurrent transfers run one after another. The owner also has a
//! membership row, and holds every permission whatever that row says.

use std::collections::BTreeMap;

use super::activity::{Change, record_at};
use super::auth::PasswordLink;
use super::idempotency::{CreateStart, IdempotencyKey, begin_create};
use super::users::{UserDraft, insert_user_at};
use super::{App, AppError, Caller, Principal, Reason};
use crate::crypto::random_bytes;
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, AccountProfile, AccountRelation,
    AccountStatus, Email, FullName, Locale, PageCursor, PageSize, Password, Permission, RequestId,
    Timestamp, UserId, UserStatus, Username, may_manage_members,
};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{
    self, ConnectionTrait,
    accounts::{AccountFilter, AccountRow},
    memberships::{MembershipCursor, MembershipRow},
    users::UserRow,
};

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
}

impl TryFrom<AccountRow> for Account {
    type Error = AppError;

    fn try_from(row: AccountRow) -> Result<Self, AppError> {
        let corrupt = |what: &str| AppError::corrupt(format!("account {} {what}", row.id));
        Ok(Self {
            id: AccountId::from_stored(&row.id).ok_or_else(|| corrupt("id"))?,
            status: AccountStatus::from_stored(&row.status).ok_or_else(|| corrupt("status"))?,
            owner_user_id: UserId::from_stored(&row.owner_user_id)
                .ok_or_else(|| corrupt("owner"))?,
            profile: AccountProfile {
                email: Email::parse("email", &row.email).map_err(|_| corrupt("email"))?,
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
        })
    }
}

/// A member of an account as callers see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub account_id: AccountId,
    /// The user.
    pub user_id: UserId,
    /// The user's username.
    pub username: String,
    /// The user's full name.
    pub full_name: String,
    /// The user's email address.
    pub email: String,
    /// Whether the user owns the account.
    pub owner: bool,
    /// What the member may do; everything for the owner.
    pub permissions: AccountPermissions,
    /// When the user became a member.
    pub created_at: Timestamp,
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

/// Profile fields to change: (field name, validated value) pairs.
pub type AccountChanges = Vec<(&'static str, String)>;

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
            &format!("{new:?}"),
        );
        let password_hash = match &new.owner {
            NewAccountOwner::New {
                password: Some(password),
                ..
            } => Some(self.hasher().hash(password.expose()).await?),
            _ => None,
        };
        let id = AccountId::generate();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), &id.to_string()).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                return self.get_account_by_stored_id(&resource_id).await;
            }
        };
        let now = self.now();
        let owner_id = match new.owner {
            NewAccountOwner::Existing(user_id) => {
                store::users::find(&txn, &user_id.to_string())
                    .await?
                    .ok_or(AppError::NotFound(Reason::UserNotFound))?;
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
                    .detail("status", &row.status)
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
        store::commit(txn).await?;
        Account::try_from(row)
    }

    async fn get_account_by_stored_id(&self, id: &str) -> Result<Account, AppError> {
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
        self.get_account_by_stored_id(&id.to_string()).await
    }

    /// A page of accounts matching the query.
    /// Staff holding `accounts.read` only.
    pub async fn list_accounts(
        &self,
        principal: &Principal,
        query: AccountQuery,
    ) -> Result<AccountPage, AppError> {
        principal.ensure_staff(Permission::AccountsRead)?;
        let filters = format!("{:?} newest_first={}", query.filter, query.newest_first);
        let cursor = PageCursor::decode("page_token", &query.page_token, &filters)?;
        let page = store::accounts::list(
            self.reader(),
            &query.filter,
            query.newest_first,
            cursor.as_ref().map(|c| c.after.as_str()),
            query.page_size.get(),
        )
        .await?;
        let next_page_token = page
            .continues_after(|row| &row.id)
            .map(|last| PageCursor::encode(last, &filters));
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
        for (field, value) in changes {
            let slot = match field {
                "display_name" => &mut row.display_name,
                "full_name" => &mut row.full_name,
                "company" => &mut row.company,
                "email" => &mut row.email,
                "address_line1" => &mut row.address_line1,
                "address_line2" => &mut row.address_line2,
                "city" => &mut row.city,
                "state" => &mut row.state,
                "postcode" => &mut row.postcode,
                "country" => &mut row.country,
                "phone" => &mut row.phone,
                "tax_id" => &mut row.tax_id,
                other => return Err(AppError::corrupt(format!("unknown profile field {other}"))),
            };
            *slot = value;
            change = change.detail(field, "changed");
        }
        row.updated_at = now.as_micros();
        store::accounts::update(&txn, &row).await?;
        record_at(&txn, principal, now, change).await?;
        store::commit(txn).await?;
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

    async fn set_account_status(
        &self,
        principal: &Principal,
        id: AccountId,
        status: AccountStatus,
        reason: &str,
    ) -> Result<Account, AppError> {
        let txn = store::begin(self.db()).await?;
        let mut row = load_account_for_update(&txn, id).await?;
        if row.status != status.as_str() {
            let now = self.now();
            row.status = status.as_str().to_owned();
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
        store::commit(txn).await?;
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
        let members = store::memberships::all_for_account(&txn, &row.id).await?;
        store::accounts::delete(&txn, &row.id).await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("account.deleted", "account", id)
                .account(id)
                .detail("display_name", &row.display_name)
                .detail("delete_orphan_users", delete_orphan_users),
        )
        .await?;
        let mut deleted = Vec::new();
        if delete_orphan_users {
            for member in members {
                let Some(user) = store::users::find(&txn, &member.user_id).await? else {
                    continue;
                };
                let orphan = user.admin_role_id.is_none()
                    && store::memberships::count_for_user(&txn, &user.id).await? == 0
                    && store::accounts::count_owned_by(&txn, &user.id).await? == 0;
                if orphan {
                    store::users::delete(&txn, &user.id).await?;
                    let user_id = UserId::from_stored(&user.id)
                        .ok_or_else(|| AppError::corrupt(format!("user id {}", user.id)))?;
                    record_at(
                        &txn,
                        principal,
                        now,
                        Change::new("user.deleted", "user", user_id)
                            .account(id)
                            .detail("username", &user.username)
                            .detail("reason", "orphaned by account deletion"),
                    )
                    .await?;
                    deleted.push(user_id);
                }
            }
        }
        store::commit(txn).await?;
        Ok(deleted)
    }

    /// Makes `new_owner` the owner. The previous owner stays a member with
    /// every permission unless `remove_previous_owner` is set.
    pub async fn transfer_ownership(
        &self,
        principal: &Principal,
        id: AccountId,
        new_owner: UserId,
        remove_previous_owner: bool,
    ) -> Result<Account, AppError> {
        let txn = store::begin(self.db()).await?;
        let mut row = load_active_account(&txn, id).await?;
        let new_owner_id = new_owner.to_string();
        let new_owner_row = store::users::find(&txn, &new_owner_id)
            .await?
            .ok_or(AppError::NotFound(Reason::UserNotFound))?;
        if row.owner_user_id == new_owner_id {
            store::commit(txn).await?;
            return Account::try_from(row);
        }
        let now = self.now();
        let micros = now.as_micros();
        let previous = std::mem::replace(&mut row.owner_user_id, new_owner_id.clone());
        row.updated_at = micros;
        store::accounts::update(&txn, &row).await?;
        match store::memberships::find(&txn, &row.id, &new_owner_id).await? {
            Some(_) => {
                let all = AccountPermissions::all().to_stored();
                store::memberships::set_permissions(&txn, &row.id, &new_owner_id, &all, micros)
                    .await?;
            }
            None => {
                store::memberships::insert(&txn, owner_membership(&row.id, &new_owner_id, micros))
                    .await?;
            }
        }
        if remove_previous_owner {
            store::memberships::delete(&txn, &row.id, &previous).await?;
        } else {
            let all = AccountPermissions::all().to_stored();
            store::memberships::set_permissions(&txn, &row.id, &previous, &all, micros).await?;
        }
        let change = Change::new("account.ownership_transferred", "account", id)
            .account(id)
            .detail("previous_owner_user_id", &previous)
            .detail("new_owner_user_id", &new_owner_id)
            .detail("previous_owner_removed", remove_previous_owner);
        record_at(&txn, principal, now, change).await?;
        // The previous owner's invitations were sent with a right they no
        // longer have.
        self.retire_owner_invitations(
            &txn,
            principal,
            now,
            &row.id,
            &previous,
            "ownership_transferred",
        )
        .await?;
        // Both owners hear of it, in the transaction of the change itself.
        let previous_row = store::users::find(&txn, &previous).await?;
        for (recipient, is_new) in [(Some(&new_owner_row), true), (previous_row.as_ref(), false)] {
            let Some(recipient) = recipient else { continue };
            self.notify_owner_changed(&txn, now, &row, recipient, &new_owner_row, is_new)
                .await?;
        }
        store::commit(txn).await?;
        Account::try_from(row)
    }

    async fn notify_owner_changed(
        &self,
        txn: &impl ConnectionTrait,
        now: Timestamp,
        account: &AccountRow,
        recipient: &UserRow,
        new_owner: &UserRow,
        recipient_is_new_owner: bool,
    ) -> Result<(), AppError> {
        let context = [
            ("recipient_name", recipient.full_name.clone()),
            ("account_name", account.display_name.clone()),
            ("new_owner_name", new_owner.full_name.clone()),
            (
                "recipient_is_new_owner",
                if recipient_is_new_owner { "yes" } else { "" }.to_owned(),
            ),
            ("link", self.link(&format!("/accounts/{}", account.id))),
        ];
        let mail = OutgoingMail {
            kind: MailKind::AccountOwnerChanged,
            to: recipient.email.clone(),
            locale: recipient.locale.clone().unwrap_or_default(),
            account_id: Some(account.id.clone()),
            context: context
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            secrets: Default::default(),
        };
        mail::enqueue_at(txn, now, mail).await?;
        Ok(())
    }

    /// A page of an account's members, owner included, in join order.
    pub async fn list_members(
        &self,
        principal: &Principal,
        account_id: AccountId,
        page_size: PageSize,
        page_token: &str,
    ) -> Result<MembershipPage<Member>, AppError> {
        // Members are the owner's business: other members do not see them.
        principal
            .ensure_account_access(Permission::AccountsRead, account_id, |grant| grant.owner)?;
        let account = store::accounts::find(self.reader(), &account_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        let filters = format!("members of {account_id}");
        let cursor = membership_cursor(page_token, &filters)?;
        let page = store::memberships::list_for_account(
            self.reader(),
            &account.id,
            cursor.as_ref(),
            page_size.get(),
        )
        .await?;
        let next_page_token = next_membership_token(&page, |m| &m.user_id, &filters);
        let user_ids: Vec<String> = page.rows.iter().map(|m| m.user_id.clone()).collect();
        let users: BTreeMap<String, UserRow> = store::users::find_many(self.reader(), &user_ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut entries = Vec::with_capacity(page.rows.len());
        for membership in page.rows {
            let Some(user) = users.get(&membership.user_id) else {
                continue;
            };
            entries.push(member_view(&account, &membership, user)?);
        }
        Ok(MembershipPage {
            entries,
            next_page_token,
        })
    }

    /// Associates an existing user with an account, with permissions.
    pub async fn add_member(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
        permissions: AccountPermissions,
    ) -> Result<Member, AppError> {
        let txn = store::begin(self.db()).await?;
        let account = load_active_account(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let user = store::users::find(&txn, &user_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::UserNotFound))?;
        if store::memberships::find(&txn, &account.id, &user.id)
            .await?
            .is_some()
        {
            return Err(AppError::AlreadyExists(Reason::AlreadyMember));
        }
        let now = self.now();
        let membership = MembershipRow {
            account_id: account.id.clone(),
            user_id: user.id.clone(),
            permissions: permissions.to_stored(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let membership = store::memberships::insert(&txn, membership)
            .await
            .map_err(|err| {
                if err.is_unique_violation_on("memberships") {
                    AppError::AlreadyExists(Reason::AlreadyMember)
                } else {
                    err.into()
                }
            })?;
        let change = Change::new("account.member_added", "user", user_id)
            .account(account_id)
            .detail("permissions", permissions.to_stored());
        record_at(&txn, principal, now, change).await?;
        store::commit(txn).await?;
        member_view(&account, &membership, &user)
    }

    /// Replaces a member's permissions. The owner's permissions are fixed: the
    /// owner holds every permission and cannot edit their own.
    pub async fn update_member_permissions(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
        permissions: AccountPermissions,
    ) -> Result<Member, AppError> {
        let txn = store::begin(self.db()).await?;
        let account = load_active_account(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let mut membership = load_membership(&txn, &account, user_id).await?;
        if membership.user_id == account.owner_user_id {
            return Err(AppError::FailedPrecondition(Reason::OwnerPermissionsFixed));
        }
        let now = self.now();
        membership.permissions = permissions.to_stored();
        membership.updated_at = now.as_micros();
        store::memberships::set_permissions(
            &txn,
            &account.id,
            &membership.user_id,
            &membership.permissions,
            now.as_micros(),
        )
        .await?;
        let change = Change::new("account.member_permissions_updated", "user", user_id)
            .account(account_id)
            .detail("permissions", &membership.permissions);
        record_at(&txn, principal, now, change).await?;
        let user = store::users::find(&txn, &membership.user_id)
            .await?
            .ok_or(AppError::NotFound(Reason::UserNotFound))?;
        store::commit(txn).await?;
        member_view(&account, &membership, &user)
    }

    /// Takes a member's access to an account away; never the owner's. Works
    /// on closed accounts too, so access can always be withdrawn.
    pub async fn remove_member(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let account = load_account_for_update(&txn, account_id).await?;
        self.ensure_may_manage_members(principal, &account)?;
        let membership = load_membership(&txn, &account, user_id).await?;
        if membership.user_id == account.owner_user_id {
            return Err(AppError::FailedPrecondition(Reason::OwnerCannotBeRemoved));
        }
        store::memberships::delete(&txn, &account.id, &membership.user_id).await?;
        record_at(
            &txn,
            principal,
            now,
            Change::new("account.member_removed", "user", user_id).account(account_id),
        )
        .await?;
        // Invitations they sent as this account's owner (before a transfer
        // that kept them as a member) die with their place in it.
        self.retire_owner_invitations(
            &txn,
            principal,
            now,
            &account.id,
            &membership.user_id,
            "inviter_removed",
        )
        .await?;
        store::commit(txn).await?;
        Ok(())
    }

    /// A page of the accounts a user may act for, in the order they joined them.
    pub async fn list_user_accounts(
        &self,
        principal: &Principal,
        user_id: UserId,
        page_size: PageSize,
        page_token: &str,
    ) -> Result<MembershipPage<UserAccount>, AppError> {
        principal.ensure_self_or_staff(Permission::AccountsRead, user_id)?;
        let user = store::users::find(self.reader(), &user_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::UserNotFound))?;
        let filters = format!("accounts of {user_id}");
        let cursor = membership_cursor(page_token, &filters)?;
        let page = store::memberships::list_for_user(
            self.reader(),
            &user.id,
            cursor.as_ref(),
            page_size.get(),
        )
        .await?;
        let next_page_token = next_membership_token(&page, |m| &m.account_id, &filters);
        let account_ids: Vec<String> = page.rows.iter().map(|m| m.account_id.clone()).collect();
        let accounts: BTreeMap<String, AccountRow> =
            store::accounts::find_many(self.reader(), &account_ids)
                .await?
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect();
        let mut entries = Vec::with_capacity(page.rows.len());
        for membership in page.rows {
            let Some(account) = accounts.get(&membership.account_id) else {
                continue;
            };
            let owner = account.owner_user_id == user.id;
            entries.push(UserAccount {
                permissions: effective_permissions(owner, &membership),
                owner,
                account: Account::try_from(account.clone())?,
            });
        }
        Ok(MembershipPage {
            entries,
            next_page_token,
        })
    }

    /// The account permission catalogue.
    pub fn account_permission_catalogue(&self) -> &'static [AccountPermission] {
        &AccountPermission::ALL
    }

    /// Refuses a caller that may not manage this account's members: staff
    /// holding `accounts.write` may; the owner, through a session acting for
    /// the account, may while client user management is enabled. Ownership
    /// is read from `account`, the row the caller's transaction holds.
    fn ensure_may_manage_members(
        &self,
        principal: &Principal,
        account: &AccountRow,
    ) -> Result<(), AppError> {
        self.ensure_manages_members(principal, account, Permission::AccountsWrite)
    }

    /// The rule of [`Self::ensure_may_manage_members`] with `staff` as the
    /// permission that lets staff through (invitations use their own).
    pub(super) fn ensure_manages_members(
        &self,
        principal: &Principal,
        account: &AccountRow,
        staff: Permission,
    ) -> Result<(), AppError> {
        let relation = if principal.permissions.contains(staff) {
            AccountRelation::Staff
        } else {
            match (&principal.caller, &principal.account) {
                (Caller::User { user_id, .. }, Some(grant))
                    if grant.account_id.to_string() == account.id =>
                {
                    if account.owner_user_id == user_id.to_string() {
                        AccountRelation::Owner
                    } else {
                        AccountRelation::Member
                    }
                }
                (Caller::User { .. }, _) => {
                    return Err(AppError::PermissionDenied(Reason::AccountNotSelected));
                }
                _ => AccountRelation::Outsider,
            }
        };
        if may_manage_members(relation, self.client_user_management()) {
            Ok(())
        } else if relation == AccountRelation::Owner {
            Err(AppError::PermissionDenied(
                Reason::ClientUserManagementDisabled,
            ))
        } else {
            tracing::debug!(account_id = %account.id, "member management refused");
            Err(AppError::PermissionDenied(Reason::PermissionDenied))
        }
    }
}

/// Inserts an account owned by `owner_id`, with the owner's membership.
pub(super) async fn insert_account(
    conn: &impl ConnectionTrait,
    id: AccountId,
    owner_id: UserId,
    profile: AccountProfile,
    now: i64,
) -> Result<AccountRow, AppError> {
    let row = AccountRow {
        id: id.to_string(),
        display_name: profile.display_name,
        full_name: profile.full_name,
        company: profile.company,
        email: profile.email.as_str().to_owned(),
        address_line1: profile.address_line1,
        address_line2: profile.address_line2,
        city: profile.city,
        state: profile.state,
        postcode: profile.postcode,
        country: profile.country,
        phone: profile.phone,
        tax_id: profile.tax_id,
        status: AccountStatus::Active.as_str().to_owned(),
        owner_user_id: owner_id.to_string(),
        search_text: String::new(),
        created_at: now,
        updated_at: now,
        closed_at: None,
    };
    let row = store::accounts::insert(conn, row).await?;
    store::memberships::insert(conn, owner_membership(&row.id, &row.owner_user_id, now)).await?;
    Ok(row)
}

fn owner_membership(account_id: &str, user_id: &str, now: i64) -> MembershipRow {
    MembershipRow {
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
        permissions: AccountPermissions::all().to_stored(),
        created_at: now,
        updated_at: now,
    }
}

fn effective_permissions(owner: bool, membership: &MembershipRow) -> AccountPermissions {
    if owner {
        AccountPermissions::all()
    } else {
        AccountPermissions::from_stored(&membership.permissions)
    }
}

pub(super) fn member_view(
    account: &AccountRow,
    membership: &MembershipRow,
    user: &UserRow,
) -> Result<Member, AppError> {
    let owner = account.owner_user_id == user.id;
    let corrupt =
        |what: &str| AppError::corrupt(format!("membership {}/{} {what}", account.id, user.id));
    Ok(Member {
        account_id: AccountId::from_stored(&account.id).ok_or_else(|| corrupt("account id"))?,
        user_id: UserId::from_stored(&user.id).ok_or_else(|| corrupt("user id"))?,
        username: user.username.clone(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        owner,
        permissions: effective_permissions(owner, membership),
        created_at: Timestamp::from_micros(membership.created_at),
    })
}

/// The token for the page after `page`, keyed by join time and `id_of` the
/// last row; the counterpart of [`membership_cursor`].
fn next_membership_token(
    page: &store::Page<MembershipRow>,
    id_of: impl Fn(&MembershipRow) -> &String,
    filters: &str,
) -> Option<String> {
    let last = page.rows.last().filter(|_| page.has_more)?;
    let cursor = MembershipCursor {
        created_at: last.created_at,
        id: id_of(last).clone(),
    };
    Some(PageCursor::encode(&cursor.to_key(), filters))
}

fn membership_cursor(
    page_token: &str,
    filters: &str,
) -> Result<Option<MembershipCursor>, AppError> {
    match PageCursor::decode("page_token", page_token, filters)? {
        None => Ok(None),
        Some(cursor) => MembershipCursor::from_key(&cursor.after)
            .map(Some)
            .ok_or_else(|| {
                crate::domain::FieldViolation::new(
                    "page_token",
                    "is not a page token from this list",
                )
                .into()
            }),
    }
}

pub(super) async fn load_account_for_update(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<AccountRow, AppError> {
    store::accounts::find_for_update(conn, &id.to_string())
        .await?
        .ok_or(AppError::NotFound(Reason::AccountNotFound))
}

/// The account, locked for this transaction, refusing a closed one.
pub(super) async fn load_active_account(
    conn: &impl ConnectionTrait,
    id: AccountId,
) -> Result<AccountRow, AppError> {
    let account = load_account_for_update(conn, id).await?;
    if account.status == AccountStatus::Closed.as_str() {
        return Err(AppError::FailedPrecondition(Reason::AccountClosed));
    }
    Ok(account)
}

async fn load_membership(
    conn: &impl ConnectionTrait,
    account: &AccountRow,
    user_id: UserId,
) -> Result<MembershipRow, AppError> {
    store::memberships::find(conn, &account.id, &user_id.to_string())
        .await?
        .ok_or(AppError::NotFound(Reason::MemberNotFound))
}
