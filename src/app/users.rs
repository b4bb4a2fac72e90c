//! Users: the login identities, as operators and billing services manage them.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::coverage::{ensure_not_last_full_access, held_role_if_covered};
use crate::app::blocks::idempotency::{CreateStart, IdempotencyKey, begin_create};
use crate::app::blocks::links::PasswordLink;
use crate::app::blocks::loads::load_user;
use crate::app::blocks::new_account::create_primary_account;
use crate::app::blocks::new_user::identity_conflict;
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::Permission;
use crate::domain::User;
use crate::domain::{
    Email, Fingerprint, FullName, Locale, PageSize, Password, PhotoUrl, RequestId, UserId,
    UserStatus, Username,
};
use crate::store::{
    self, ConnectionTrait,
    users::{UserFilter, UserRow, UserSortKey},
};

/// The revoke reason of sessions ended by suspending their user.
const SUSPENDED: &str = "user_suspended";

/// What a new user is.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The full name.
    pub full_name: FullName,
    /// The username (not a reserved one).
    pub username: Username,
    /// The email address.
    pub email: Email,
    /// The photo URL.
    pub photo_url: Option<PhotoUrl>,
    /// The locale.
    pub locale: Option<Locale>,
    /// The password; none leaves the user without one.
    pub password: Option<Password>,
    /// The starting status.
    pub status: UserStatus,
    /// Whether to mail a link to set a first password (only without one).
    pub send_set_password_email: bool,
    /// Whether to leave out the primary account (for users who will only
    /// be invited into other accounts).
    pub skip_primary_account: bool,
}

impl NewUser {
    /// The request as its idempotency key compares it. Every field is named,
    /// so a new one does not compile until it is decided how it enters.
    fn fingerprint(&self) -> Fingerprint {
        let NewUser {
            full_name,
            username,
            email,
            photo_url,
            locale,
            // Enters keyed, through `IdempotencyKey::with_secret`.
            password: _,
            status,
            send_set_password_email,
            skip_primary_account,
        } = self;
        Fingerprint::new("CreateUser", 1)
            .text("full_name", full_name.as_str())
            .text("username", username.as_str())
            .text("email", email.as_str())
            .opt("photo_url", photo_url.as_ref().map(PhotoUrl::as_str))
            .opt("locale", locale.as_ref().map(Locale::as_str))
            .text("status", status.as_str())
            .flag("send_set_password_email", *send_set_password_email)
            .flag("skip_primary_account", *skip_primary_account)
    }
}

/// How to find one user.
#[derive(Debug, Clone)]
pub enum UserKey {
    /// By email address, regardless of case.
    Email(Email),
    /// By username, regardless of case.
    Username(Username),
}

/// A request for a page of users.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// Text the full name, username or email must contain.
    pub text: Option<String>,
    /// Only this status.
    pub status: Option<UserStatus>,
    /// Only members (or the owner) of this account.
    pub account_id: Option<crate::domain::AccountId>,
    /// The order.
    pub order: UserOrder,
    /// Also count every match.
    pub include_total: bool,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl UserQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let UserQuery {
            text,
            status,
            account_id,
            order,
            include_total: _,
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListUsers", 2)
            .opt("text", text.as_deref())
            .opt("status", status.map(UserStatus::as_str))
            .opt("account_id", account_id.map(|id| id.to_string()).as_deref())
            .opt("order", Some(order.as_str()))
    }
}

/// How ListUsers orders users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    /// Newest first (the default).
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// By a name, A to Z regardless of case.
    By(UserSortKey),
}

impl UserOrder {
    fn as_str(self) -> &'static str {
        match self {
            UserOrder::NewestFirst => "newest_first",
            UserOrder::OldestFirst => "oldest_first",
            UserOrder::By(UserSortKey::FullName) => "full_name",
            UserOrder::By(UserSortKey::Username) => "username",
            UserOrder::By(UserSortKey::Email) => "email",
        }
    }
}

/// A sorted page's cursor: the last row's key, a newline, and its id
/// (keys never hold a newline: names and addresses refuse control characters).
fn sorted_cursor(key: UserSortKey, row: &UserRow) -> String {
    format!("{}\n{}", key.of(row), row.id)
}

/// A page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users.
    pub users: Vec<User>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
    /// How many users match, when asked for.
    pub total: Option<u64>,
}

/// The fields of a user to change; `None` leaves a field as it is, and
/// `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// A new full name.
    pub full_name: Option<FullName>,
    /// A new username.
    pub username: Option<Username>,
    /// A new email address, which then counts as unverified.
    pub email: Option<Email>,
    /// A new or no photo URL.
    pub photo_url: Option<Option<PhotoUrl>>,
    /// A new or no locale.
    pub locale: Option<Option<Locale>>,
}

impl App {
    /// Creates a user. A password, if given, is hashed with argon2id off the
    /// async runtime; staff-created users are active unless asked otherwise.
    pub async fn create_user(
        &self,
        principal: &Principal,
        new: NewUser,
        request_id: Option<RequestId>,
    ) -> Result<User, AppError> {
        // The password enters the fingerprint keyed, so a retry with another
        // password is refused, not silently ignored.
        let key = IdempotencyKey::new(
            principal,
            "CreateUser",
            request_id.as_ref(),
            &new.fingerprint(),
        )
        .map(|key| key.with_secret(self, new.password.as_ref().map(|p| p.expose())));
        let password_hash = match &new.password {
            Some(password) => Some(self.hasher().hash(password.expose()).await?),
            None => None,
        };
        let id = UserId::generate();
        let now = self.now();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), id).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                return self.read_user(resource_id).await;
            }
        };
        let draft = UserDraft {
            email: new.email,
            username: new.username,
            full_name: new.full_name,
            photo_url: new.photo_url,
            locale: new.locale,
            status: new.status,
            password_hash,
            admin_role_id: None,
        };
        let mut row = insert_user_at(&txn, id, draft, now).await?;
        let change = Change::new("user.created", "user", id)
            .detail("username", &row.username)
            .detail("status", row.status.as_str())
            .detail("password_set", row.password_hash.is_some())
            .detail("primary_account", !new.skip_primary_account);
        record_at(&txn, principal, now, change).await?;
        if !new.skip_primary_account {
            create_primary_account(&txn, principal, now, &row).await?;
            row = load_user(&txn, id).await?;
        }
        if new.send_set_password_email {
            self.issue_password_link(&txn, principal, &row, PasswordLink::Set)
                .await?;
        }
        self.commit(txn).await?;
        Ok(User::from(row))
    }

    async fn read_user(&self, id: UserId) -> Result<User, AppError> {
        store::users::find(self.reader(), id)
            .await?
            .map(User::from)
            .ok_or(AppError::NotFound(Reason::UserNotFound))
    }

    /// The user with this id.
    /// Staff holding `users.read` only.
    pub async fn get_user(&self, principal: &Principal, id: UserId) -> Result<User, AppError> {
        principal.ensure_staff(Permission::UsersRead)?;
        self.read_user(id).await
    }

    /// The user with this email address or username, regardless of case.
    /// Staff holding `users.read` only.
    pub async fn lookup_user(&self, principal: &Principal, key: UserKey) -> Result<User, AppError> {
        principal.ensure_staff(Permission::UsersRead)?;
        let row = match key {
            UserKey::Email(email) => {
                store::users::find_by_email(self.reader(), &email.normalized()).await?
            }
            UserKey::Username(username) => {
                store::users::find_by_username(self.reader(), &username.normalized()).await?
            }
        };
        row.map(User::from)
            .ok_or(AppError::NotFound(Reason::UserNotFound))
    }

    /// A page of users matching the query.
    /// Staff holding `users.read` only.
    pub async fn list_users(
        &self,
        principal: &Principal,
        query: UserQuery,
    ) -> Result<UserPage, AppError> {
        principal.ensure_staff(Permission::UsersRead)?;
        let filter = UserFilter {
            text: query.text.clone(),
            status: query.status,
            account_id: query.account_id,
        };
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let (page, next_page_token) = match query.order {
            UserOrder::By(key) => {
                let after = paging.after_parsed(|cursor| {
                    let (value, id) = cursor.rsplit_once('\n')?;
                    Some((value.to_owned(), id.parse::<UserId>().ok()?))
                })?;
                let page =
                    store::users::list_sorted(self.reader(), &filter, key, after, paging.limit())
                        .await?;
                let next = paging.next_token(&page, |row| sorted_cursor(key, row));
                (page, next)
            }
            order => {
                let page = store::users::list(
                    self.reader(),
                    &filter,
                    order == UserOrder::NewestFirst,
                    paging.after(),
                    paging.limit(),
                )
                .await?;
                let next = paging.next_token(&page, |row| row.id.to_string());
                (page, next)
            }
        };
        let total = if query.include_total {
            Some(store::users::count(self.reader(), &filter).await?)
        } else {
            None
        };
        let users = page.rows.into_iter().map(User::from).collect();
        Ok(UserPage {
            users,
            next_page_token,
            total,
        })
    }

    /// Changes a user's profile. Changing the email marks it unverified.
    pub async fn update_user(
        &self,
        principal: &Principal,
        id: UserId,
        changes: UserChanges,
    ) -> Result<User, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut row = load_user(&txn, id).await?;
        ensure_may_manage(&txn, principal, &row).await?;
        let mut change = Change::new("user.updated", "user", id);
        if let Some(full_name) = changes.full_name {
            change = change.detail("full_name", "changed");
            row.full_name = full_name.as_str().to_owned();
        }
        if let Some(username) = changes.username {
            change = change.detail("username", username.as_str());
            row.username = username.as_str().to_owned();
            row.username_normalized = username.normalized();
        }
        if let Some(email) = changes.email
            && email.normalized() != row.email_normalized
        {
            change = change.detail("email", "changed");
            row.email = email.as_str().to_owned();
            row.email_normalized = email.normalized();
            row.email_verified = false;
        }
        if let Some(photo_url) = changes.photo_url {
            change = change.detail(
                "photo_url",
                if photo_url.is_some() {
                    "changed"
                } else {
                    "cleared"
                },
            );
            row.photo_url = photo_url.map(|url| url.as_str().to_owned());
        }
        if let Some(locale) = changes.locale {
            change = change.detail("locale", locale.as_ref().map_or("", |l| l.as_str()));
            row.locale = locale.map(|locale| locale.as_str().to_owned());
        }
        row.updated_at = now.as_micros();
        store::users::update_profile(&txn, &row)
            .await
            .map_err(identity_conflict)?;
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(User::from(row))
    }

    /// Suspends a user: they can no longer sign in or act, every session
    /// they had is revoked (so activating them later brings no old token
    /// back), and if they are staff their API credentials, and those they
    /// created for others, stop working. Suspending a suspended user changes
    /// nothing.
    pub async fn suspend_user(
        &self,
        principal: &Principal,
        id: UserId,
        reason: &str,
    ) -> Result<User, AppError> {
        self.set_user_status(
            principal,
            id,
            UserStatus::Suspended,
            "user.suspended",
            reason,
        )
        .await
    }

    /// Activates a suspended or unverified user. Activating an active user
    /// changes nothing.
    pub async fn activate_user(
        &self,
        principal: &Principal,
        id: UserId,
        reason: &str,
    ) -> Result<User, AppError> {
        self.set_user_status(principal, id, UserStatus::Active, "user.activated", reason)
            .await
    }

    async fn set_user_status(
        &self,
        principal: &Principal,
        id: UserId,
        status: UserStatus,
        action: &'static str,
        reason: &str,
    ) -> Result<User, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let mut row = load_user(&txn, id).await?;
        ensure_may_manage(&txn, principal, &row).await?;
        if row.status != status {
            if status != UserStatus::Active {
                ensure_not_last_full_access(&txn, &row).await?;
            }
            store::users::set_status(&txn, row.id, status, now.as_micros()).await?;
            let mut change = Change::new(action, "user", id)
                .detail("previous_status", row.status.as_str())
                .detail("reason", reason);
            if status == UserStatus::Suspended {
                let ended = store::sessions::revoke_all_for_user(
                    &txn,
                    row.id,
                    None,
                    now.as_micros(),
                    SUSPENDED,
                )
                .await?;
                change = change.detail("sessions_ended", ended);
            }
            record_at(&txn, principal, now, change).await?;
            row.status = status;
            row.updated_at = now.as_micros();
        }
        self.commit(txn).await?;
        Ok(User::from(row))
    }

    /// Deletes a user for good, with their API credentials and memberships.
    /// A user who owns an account is refused until ownership moves. The
    /// activity log keeps what they did.
    pub async fn delete_user(&self, principal: &Principal, id: UserId) -> Result<(), AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = load_user(&txn, id).await?;
        ensure_may_manage(&txn, principal, &row).await?;
        ensure_not_last_full_access(&txn, &row).await?;
        if store::accounts::count_owned_by(&txn, row.id).await? > 0 {
            return Err(AppError::FailedPrecondition(Reason::UserOwnsAccount));
        }
        store::users::delete(&txn, row.id).await?;
        let change = Change::new("user.deleted", "user", id)
            .detail("username", &row.username)
            .detail("was_staff", row.admin_role_id.is_some());
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(())
    }
}

/// A staff user may only be changed, suspended or deleted by a caller who
/// holds every permission of their admin role.
async fn ensure_may_manage(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    user: &UserRow,
) -> Result<(), AppError> {
    held_role_if_covered(conn, principal, user).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

    #[test]
    fn a_user_draft_never_shows_its_password_hash() {
        let draft = UserDraft {
            email: Email::parse("email", "ann@example.com").unwrap(),
            username: Username::parse("username", "ann").unwrap(),
            full_name: FullName::parse("full_name", "Ann Example").unwrap(),
            photo_url: None,
            locale: None,
            status: UserStatus::Active,
            password_hash: Some(HASH.to_owned()),
            admin_role_id: None,
        };
        let shown = format!("{draft:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(
            shown.contains("password_hash: Some(\"[redacted]\")"),
            "{shown}"
        );
    }

    #[test]
    fn a_stored_user_row_never_shows_its_password_hash() {
        let row = UserRow {
            id: UserId::generate(),
            email: "ann@example.com".to_owned(),
            email_normalized: "ann@example.com".to_owned(),
            username: "ann".to_owned(),
            username_normalized: "ann".to_owned(),
            full_name: "Ann Example".to_owned(),
            photo_url: None,
            locale: None,
            status: UserStatus::Active,
            email_verified: true,
            password_hash: Some(HASH.to_owned()),
            admin_role_id: None,
            created_at: 0,
            updated_at: 0,
            last_login_at: None,
            mfa_enabled_at: None,
            primary_account_id: None,
            search_text: String::new(),
        };
        let shown = format!("{row:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(shown.contains("ann@example.com"), "{shown}");
    }
}
