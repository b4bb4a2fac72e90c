//! Creating an account with its owner's membership, whoever creates it.

use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::error::AppError;
use crate::domain::{
    AccountId, AccountPermissions, AccountProfile, AccountStatus, Email, Timestamp, UserId,
};
use crate::store::{
    self, ConnectionTrait, accounts::AccountRow, memberships::MembershipRow, users::UserRow,
};

/// Makes `user`'s primary account (Awanio's "primary organization"): named
/// after the username, billed to the user, owned by them; marks it primary
/// and records `account.created`, inside `conn`.
pub(crate) async fn create_primary_account(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    now: Timestamp,
    user: &UserRow,
) -> Result<AccountId, AppError> {
    let email = Email::parse("email", &user.email)
        .map_err(|_| AppError::corrupt(format!("user {} has an unreadable email", user.id)))?;
    let profile = AccountProfile::primary(&user.username, &user.full_name, email);
    let account_id = AccountId::generate();
    insert_account(conn, account_id, user.id, profile, now.as_micros()).await?;
    store::users::set_primary_account(conn, user.id, Some(account_id), now.as_micros()).await?;
    let change = Change::new("account.created", "account", account_id)
        .account(account_id)
        .detail("display_name", &user.username)
        .detail("owner_user_id", user.id)
        .detail("primary", true);
    record_at(conn, principal, now, change).await?;
    Ok(account_id)
}

/// Inserts an account owned by `owner_id`, with the owner's membership.
pub(crate) async fn insert_account(
    conn: &impl ConnectionTrait,
    id: AccountId,
    owner_id: UserId,
    profile: AccountProfile,
    now: i64,
) -> Result<AccountRow, AppError> {
    let row = AccountRow {
        id,
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
        status: AccountStatus::Active,
        owner_user_id: owner_id,
        search_text: String::new(),
        created_at: now,
        updated_at: now,
        closed_at: None,
        last_activity_at: None,
        retention_hold: false,
        retention_hold_reason: String::new(),
        inactivity_warned_at: None,
    };
    let row = store::accounts::insert(conn, row).await?;
    store::memberships::insert(conn, owner_membership(row.id, row.owner_user_id, now)).await?;
    Ok(row)
}

pub(crate) fn owner_membership(account_id: AccountId, user_id: UserId, now: i64) -> MembershipRow {
    MembershipRow {
        account_id,
        user_id,
        permissions: AccountPermissions::all().to_stored(),
        created_at: now,
        updated_at: now,
    }
}
