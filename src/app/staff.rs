//! Staff users: users that hold an admin role.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::{
    ensure_covers, ensure_not_last_full_access, held_role_if_covered, load_admin_role,
    role_permissions,
};
use crate::app::blocks::idempotency::{CreateStart, IdempotencyKey, begin_create};
use crate::app::blocks::links::PasswordLink;
use crate::app::blocks::loads::load_user;
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::Permission;
use crate::domain::{
    Email, Fingerprint, FullName, PageSize, RequestId, RoleId, Timestamp, UserId, UserStatus,
    Username,
};
use crate::store::{self, users::UserRow};

/// A staff user as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    /// The user's id.
    pub id: UserId,
    /// The email address.
    pub email: String,
    /// The username.
    pub username: String,
    /// The full name.
    pub full_name: String,
    /// The status.
    pub status: UserStatus,
    /// The admin role held.
    pub admin_role_id: RoleId,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user last changed.
    pub updated_at: Timestamp,
}

impl StaffUser {
    /// The staff view of a user row, or `None` when the user is not staff.
    fn from_row(row: UserRow) -> Option<Self> {
        Some(Self {
            id: row.id,
            admin_role_id: row.admin_role_id?,
            status: row.status,
            email: row.email,
            username: row.username,
            full_name: row.full_name,
            created_at: Timestamp::from_micros(row.created_at),
            updated_at: Timestamp::from_micros(row.updated_at),
        })
    }
}

/// What a new staff user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaffUser {
    /// The email address.
    pub email: Email,
    /// The username.
    pub username: Username,
    /// The full name.
    pub full_name: FullName,
    /// The admin role to hold.
    pub admin_role_id: RoleId,
    /// Whether to mail a link to set a first password.
    pub send_set_password_email: bool,
}

impl NewStaffUser {
    /// The request as its idempotency key compares it. Every field is named,
    /// so a new one does not compile until it is decided how it enters.
    fn fingerprint(&self) -> Fingerprint {
        let NewStaffUser {
            email,
            username,
            full_name,
            admin_role_id,
            send_set_password_email,
        } = self;
        Fingerprint::new("CreateStaffUser", 1)
            .text("email", email.as_str())
            .text("username", username.as_str())
            .text("full_name", full_name.as_str())
            .text("admin_role_id", &admin_role_id.to_string())
            .flag("send_set_password_email", *send_set_password_email)
    }
}

/// A request for a page of staff users.
#[derive(Debug, Clone)]
pub struct StaffQuery {
    /// Only holders of this admin role.
    pub admin_role_id: Option<RoleId>,
    /// Only active (`true`) or only inactive (`false`) staff users.
    pub active: Option<bool>,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl StaffQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let StaffQuery {
            admin_role_id,
            active,
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListStaffUsers", 2)
            .opt(
                "admin_role_id",
                admin_role_id.map(|id| id.to_string()).as_deref(),
            )
            .opt(
                "active",
                active.map(|active| if active { "active" } else { "inactive" }),
            )
    }
}

/// A page of staff users, oldest first.
#[derive(Debug, Clone)]
pub struct StaffPage {
    /// The staff users.
    pub staff_users: Vec<StaffUser>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

impl App {
    /// Creates an active staff user, without a password, holding an admin role
    /// whose permissions the caller holds itself; on request, mails them a
    /// link to set their first password.
    pub async fn create_staff_user(
        &self,
        principal: &Principal,
        new: NewStaffUser,
        request_id: Option<RequestId>,
    ) -> Result<StaffUser, AppError> {
        let key = IdempotencyKey::new(
            principal,
            "CreateStaffUser",
            request_id.as_ref(),
            &new.fingerprint(),
        );
        let id = UserId::generate();
        let now = self.now();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), id).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                return self.read_staff_user(resource_id).await;
            }
        };
        let role = load_admin_role(&txn, new.admin_role_id).await?;
        ensure_covers(principal, &role_permissions(&role))?;
        let draft = UserDraft {
            email: new.email,
            username: new.username,
            full_name: new.full_name,
            photo_url: None,
            locale: None,
            status: UserStatus::Active,
            password_hash: None,
            admin_role_id: Some(role.id),
        };
        let row = insert_user_at(&txn, id, draft, now).await?;
        let change = Change::new("staff_user.created", "user", id)
            .detail("username", &row.username)
            .detail("admin_role_id", role.id);
        record_at(&txn, principal, now, change).await?;
        if new.send_set_password_email {
            self.issue_password_link(&txn, principal, &row, PasswordLink::Set)
                .await?;
        }
        self.commit(txn).await?;
        StaffUser::from_row(row)
            .ok_or_else(|| AppError::corrupt("created staff user without a role"))
    }

    async fn read_staff_user(&self, id: UserId) -> Result<StaffUser, AppError> {
        store::users::find(self.reader(), id)
            .await?
            .and_then(StaffUser::from_row)
            .ok_or(AppError::NotFound(Reason::StaffUserNotFound))
    }

    /// The staff user with this id.
    /// Staff holding `staff.read` only.
    pub async fn get_staff_user(
        &self,
        principal: &Principal,
        id: UserId,
    ) -> Result<StaffUser, AppError> {
        principal.ensure_staff(Permission::StaffRead)?;
        self.read_staff_user(id).await
    }

    /// A page of staff users, oldest first.
    /// Staff holding `staff.read` only.
    pub async fn list_staff_users(
        &self,
        principal: &Principal,
        query: StaffQuery,
    ) -> Result<StaffPage, AppError> {
        principal.ensure_staff(Permission::StaffRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let page = store::users::list_staff(
            self.reader(),
            query.admin_role_id,
            query.active,
            paging.after(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.to_string());
        let staff_users = page
            .rows
            .into_iter()
            .filter_map(StaffUser::from_row)
            .collect();
        Ok(StaffPage {
            staff_users,
            next_page_token,
        })
    }

    /// Gives a user an admin role, replacing any role they hold. The caller must
    /// hold every permission of both the new and the replaced role.
    pub async fn assign_admin_role(
        &self,
        principal: &Principal,
        user_id: UserId,
        role_id: RoleId,
    ) -> Result<StaffUser, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        let role = load_admin_role(&txn, role_id).await?;
        ensure_covers(principal, &role_permissions(&role))?;
        let previous = held_role_if_covered(&txn, principal, &user).await?;
        if !role.full_access {
            ensure_not_last_full_access(&txn, &user).await?;
        }
        store::users::set_admin_role(&txn, user.id, Some(role.id), now.as_micros()).await?;
        let mut change =
            Change::new("staff.role_assigned", "user", user_id).detail("admin_role_id", role.id);
        if let Some(previous) = previous {
            change = change.detail("previous_admin_role_id", previous.id);
        }
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        self.read_staff_user(user_id).await
    }

    /// Takes a staff user's admin role away, so they and their API credentials
    /// lose every staff permission.
    pub async fn unassign_admin_role(
        &self,
        principal: &Principal,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let user = load_user(&txn, user_id).await?;
        let Some(previous) = held_role_if_covered(&txn, principal, &user).await? else {
            return Err(AppError::FailedPrecondition(Reason::NotStaff));
        };
        ensure_not_last_full_access(&txn, &user).await?;
        store::users::set_admin_role(&txn, user.id, None, now.as_micros()).await?;
        let change = Change::new("staff.role_unassigned", "user", user_id)
            .detail("previous_admin_role_id", previous.id);
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(())
    }
}
