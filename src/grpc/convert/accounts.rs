//! AccountService messages.

use super::{
    ACCOUNT_PERMISSIONS_MAX, UPDATE_MASK_PATHS_MAX, bounded, filter_id, page_size, quote,
    search_text, timestamp,
};
use crate::app::{
    Account, AccountFilter, AccountQuery, Member, NewAccount, NewAccountOwner, UserAccount,
};
use crate::domain::{
    AccountChanges, AccountId, AccountPermission, AccountPermissions, AccountProfile,
    AccountProfileInput, AccountStatus, Locale, PageSize, Password, ProfileField, RequestId,
    Timestamp, UserId, Username, ValidationError, Validator,
};
use crate::proto as pb;

/// The wire form of an account permission.
pub fn permission(permission: AccountPermission) -> pb::AccountPermission {
    match permission {
        AccountPermission::Profile => pb::AccountPermission::Profile,
        AccountPermission::Contacts => pb::AccountPermission::Contacts,
        AccountPermission::Products => pb::AccountPermission::Products,
        AccountPermission::ManageProducts => pb::AccountPermission::ManageProducts,
        AccountPermission::ProductSso => pb::AccountPermission::ProductSso,
        AccountPermission::Domains => pb::AccountPermission::Domains,
        AccountPermission::ManageDomains => pb::AccountPermission::ManageDomains,
        AccountPermission::Invoices => pb::AccountPermission::Invoices,
        AccountPermission::Quotes => pb::AccountPermission::Quotes,
        AccountPermission::Tickets => pb::AccountPermission::Tickets,
        AccountPermission::Affiliates => pb::AccountPermission::Affiliates,
        AccountPermission::Emails => pb::AccountPermission::Emails,
        AccountPermission::Orders => pb::AccountPermission::Orders,
    }
}

/// Account permissions from the wire: each a known, specified value; repeats ignored.
pub(super) fn parse_permissions(
    field: &str,
    values: &[i32],
) -> Result<AccountPermissions, ValidationError> {
    let mut v = Validator::new();
    let values = bounded(&mut v, field, values, ACCOUNT_PERMISSIONS_MAX);
    let mut permissions = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        let parsed = pb::AccountPermission::try_from(*value).ok().and_then(|p| {
            AccountPermission::ALL
                .into_iter()
                .find(|candidate| permission(*candidate) == p)
        });
        match parsed {
            Some(p) => permissions.push(p),
            None => v.violation(format!("{field}[{index}]"), "is not an account permission"),
        }
    }
    v.finish()?;
    Ok(AccountPermissions::of(permissions))
}

pub(super) fn permissions_out(permissions: &AccountPermissions) -> Vec<i32> {
    permissions.iter().map(|p| permission(p).into()).collect()
}

fn status(status: AccountStatus) -> pb::AccountStatus {
    match status {
        AccountStatus::Active => pb::AccountStatus::Active,
        AccountStatus::Closed => pb::AccountStatus::Closed,
    }
}

fn profile_out(profile: AccountProfile) -> pb::AccountProfile {
    pb::AccountProfile {
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
    }
}

impl From<Account> for pb::Account {
    fn from(account: Account) -> Self {
        pb::Account {
            id: account.id.to_string(),
            profile: Some(profile_out(account.profile)),
            status: status(account.status).into(),
            owner_user_id: account.owner_user_id.to_string(),
            create_time: Some(timestamp(account.created_at)),
            update_time: Some(timestamp(account.updated_at)),
            close_time: account.closed_at.map(timestamp),
            last_activity_time: Some(timestamp(account.last_activity_at)),
            retention_hold: account.retention_hold,
            retention_hold_reason: account.retention_hold_reason,
        }
    }
}

impl From<Member> for pb::Member {
    fn from(member: Member) -> Self {
        pb::Member {
            account_id: member.account_id.to_string(),
            user_id: member.user_id.to_string(),
            username: member.username,
            full_name: member.full_name,
            email: member.email,
            owner: member.owner,
            permissions: permissions_out(&member.permissions),
            create_time: Some(timestamp(member.created_at)),
        }
    }
}

impl From<UserAccount> for pb::UserAccount {
    fn from(entry: UserAccount) -> Self {
        pb::UserAccount {
            permissions: permissions_out(&entry.permissions),
            owner: entry.owner,
            account: Some(entry.account.into()),
        }
    }
}

/// The text fields of a wire profile, for parsing.
fn profile_input(profile: &pb::AccountProfile) -> AccountProfileInput<'_> {
    let pb::AccountProfile {
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
    } = profile;
    AccountProfileInput {
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
    }
}

/// A parsed CreateAccount request; `password_min_chars` is the configured policy.
pub fn create_account(
    request: pb::CreateAccountRequest,
    password_min_chars: usize,
) -> Result<(NewAccount, Option<RequestId>), ValidationError> {
    let pb::CreateAccountRequest {
        profile,
        owner,
        request_id,
    } = request;
    let mut v = Validator::new();
    let wire_profile = profile.unwrap_or_default();
    let profile = v.check(AccountProfile::parse(
        "profile.",
        &profile_input(&wire_profile),
    ));
    let owner = match owner {
        None => {
            v.violation("owner", "set owner_user_id or new_owner");
            None
        }
        Some(pb::create_account_request::Owner::OwnerUserId(id)) => v
            .check(UserId::parse("owner_user_id", &id))
            .map(NewAccountOwner::Existing),
        Some(pb::create_account_request::Owner::NewOwner(new_owner)) => {
            let pb::NewOwner {
                username,
                password,
                locale,
                send_set_password_email,
            } = new_owner;
            if send_set_password_email && !password.is_empty() {
                v.violation(
                    "new_owner.send_set_password_email",
                    "cannot be set together with a password",
                );
            }
            let username = if username.trim().is_empty() {
                Some(None)
            } else {
                v.check(Username::parse_unreserved("new_owner.username", &username).map(Some))
            };
            let hints = [
                wire_profile.full_name.as_str(),
                wire_profile.email.as_str(),
                username
                    .as_ref()
                    .and_then(|u| u.as_ref())
                    .map_or("", |u| u.as_str()),
            ];
            let password = if password.is_empty() {
                Some(None)
            } else {
                v.check(
                    Password::parse("new_owner.password", &password, password_min_chars, &hints)
                        .map(Some),
                )
            };
            let locale = if locale.trim().is_empty() {
                Some(None)
            } else {
                v.check(Locale::parse("new_owner.locale", &locale).map(Some))
            };
            match (username, password, locale) {
                (Some(username), Some(password), Some(locale)) => Some(NewAccountOwner::New {
                    username,
                    password,
                    locale,
                    send_set_password_email,
                }),
                _ => None,
            }
        }
    };
    let request_id = v.check(RequestId::parse_optional("request_id", &request_id));
    v.finish_with(|| {
        let account = NewAccount {
            profile: profile?,
            owner: owner?,
        };
        Some((account, request_id?))
    })
}

/// A parsed ListAccounts request.
pub fn list_accounts(request: pb::ListAccountsRequest) -> Result<AccountQuery, ValidationError> {
    let pb::ListAccountsRequest {
        page_size: size,
        page_token,
        query,
        status,
        member_user_id,
        order,
        include_total_size,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let text = search_text(&mut v, &query);
    let status = match pb::AccountStatus::try_from(status) {
        Ok(pb::AccountStatus::Unspecified) => None,
        Ok(pb::AccountStatus::Active) => Some(AccountStatus::Active),
        Ok(pb::AccountStatus::Closed) => Some(AccountStatus::Closed),
        Err(_) => {
            v.violation("status", "is not a known account status");
            None
        }
    };
    let member = filter_id(&mut v, &member_user_id, |s| {
        UserId::parse("member_user_id", s)
    });
    let newest_first = match pb::AccountOrder::try_from(order) {
        Ok(pb::AccountOrder::Unspecified | pb::AccountOrder::NewestFirst) => true,
        Ok(pb::AccountOrder::OldestFirst) => false,
        Err(_) => {
            v.violation("order", "is not a known order");
            true
        }
    };
    v.finish()?;
    Ok(AccountQuery {
        filter: AccountFilter {
            text,
            status,
            member_user_id: member,
        },
        newest_first,
        include_total: include_total_size,
        page_size,
        page_token,
    })
}

/// A parsed UpdateAccount request: the account and its validated changes.
pub fn update_account(
    request: pb::UpdateAccountRequest,
) -> Result<(AccountId, AccountChanges), ValidationError> {
    let pb::UpdateAccountRequest {
        account_id,
        profile,
        update_mask,
    } = request;
    let mut v = Validator::new();
    let id = v.check(AccountId::parse("account_id", &account_id));
    let profile = profile.unwrap_or_default();
    let input = profile_input(&profile);
    let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
    if paths.is_empty() {
        v.violation(
            "update_mask",
            "is required: name the profile fields to change",
        );
    }
    let mut changes = AccountChanges::default();
    for path in bounded(&mut v, "update_mask.paths", &paths, UPDATE_MASK_PATHS_MAX) {
        let name = path.strip_prefix("profile.").unwrap_or(path);
        let Some(field) = ProfileField::from_name(name) else {
            v.violation(
                "update_mask",
                format!("{} is not a profile field", quote(path)),
            );
            continue;
        };
        if let Some(value) = v.check(field.parse("profile.", field.text_in(&input))) {
            changes.set(field, value);
        }
    }
    v.finish()?;
    let id = id.ok_or_else(|| ValidationError::single("account_id", "is required"))?;
    Ok((id, changes))
}

/// A parsed account and user id pair.
pub fn account_and_user(
    account_id: &str,
    user_field: &str,
    user_id: &str,
) -> Result<(AccountId, UserId), ValidationError> {
    let mut v = Validator::new();
    let account = v.check(AccountId::parse("account_id", account_id));
    let user = v.check(UserId::parse(user_field, user_id));
    v.finish_with(|| Some((account?, user?)))
}

/// A parsed account, user and permission set, as AddMember and
/// UpdateMemberPermissions take them.
pub fn membership(
    account_id: &str,
    user_id: &str,
    permissions: &[i32],
) -> Result<(AccountId, UserId, AccountPermissions), ValidationError> {
    let mut v = Validator::new();
    let ids = v.check(account_and_user(account_id, "user_id", user_id));
    let permissions = v.check(parse_permissions("permissions", permissions));
    v.finish_with(|| {
        let (account, user) = ids?;
        Some((account, user, permissions?))
    })
}

/// A parsed AddMember or UpdateMemberPermissions request: as [`membership`], and the grant must name
/// at least one permission (a member who may do nothing is a mistake, not
/// a choice; staff who want that can grant `PROFILE` alone).
pub fn new_membership(
    account_id: &str,
    user_id: &str,
    permissions: &[i32],
) -> Result<(AccountId, UserId, AccountPermissions), ValidationError> {
    let mut v = Validator::new();
    if permissions.is_empty() {
        v.violation(
            "permissions",
            "name at least one permission: a member with none could do nothing",
        );
    }
    let parsed = v.check(membership(account_id, user_id, permissions));
    v.finish_with(|| parsed)
}

/// A parsed id with a page size, as ListMembers and ListUserAccounts take them.
pub fn paged<T>(
    parse: impl FnOnce(&mut Validator) -> Option<T>,
    size: i32,
) -> Result<(T, PageSize), ValidationError> {
    let mut v = Validator::new();
    let id = parse(&mut v);
    let page_size = page_size(&mut v, size);
    v.finish_with(|| Some((id?, page_size)))
}

/// The account and time a RecordAccountActivity request names.
pub fn record_activity(
    request: pb::RecordAccountActivityRequest,
) -> Result<(AccountId, Option<Timestamp>), ValidationError> {
    let pb::RecordAccountActivityRequest {
        account_id,
        activity_time,
    } = request;
    let id = AccountId::parse("account_id", &account_id);
    let at = activity_time
        .as_ref()
        .map(|t| super::parse_timestamp("activity_time", t))
        .transpose();
    match (id, at) {
        (Ok(id), Ok(at)) => Ok((id, at)),
        (id, at) => Err(ValidationError {
            violations: [id.err().map(ValidationError::from), at.err()]
                .into_iter()
                .flatten()
                .flat_map(|e| e.violations)
                .collect(),
        }),
    }
}
