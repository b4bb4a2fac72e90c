//! Invitations of email addresses to client accounts.
//!
//! The owner (while client user management is enabled) or staff invites an
//! address with permissions; the invitee gets a one-time link whose token is
//! stored only as a hash. Accepting is one transaction whose first write is
//! a conditional update of the invitation from pending to accepted, so of
//! concurrent accepts of one token exactly one creates a membership.
//!
//! Any user may accept, whatever their email address (as in WHMCS); binding
//! invitations to the invited address is a later setting. A new user whose
//! address is the invited one starts active and verified only when
//! identityd itself mailed the link there, since only then does holding it
//! prove that mailbox; otherwise the address is verified as on sign-up.
//!
//! Links go back to the caller only for staff and API credentials holding
//! `invitations.write`, never to a user session. Nobody accepts their own
//! invitation, and staff neither invite nor (for staff invitations) accept
//! as staff users. Accepting re-checks that the inviter still may invite
//! into the account, and answers a new user with a registered address as it
//! answers any address still to verify, so it tells nobody who signed up.

mod accept;
mod authority;
mod create;
mod manage;

use std::collections::BTreeMap;

use crate::app::App;
use crate::app::auth::Registration;
use crate::app::blocks::members::Member;
use crate::app::error::AppError;
use crate::domain::{
    AccountId, AccountPermission, AccountPermissions, Email, Fingerprint, InvitationId,
    InvitationState, PageSize, Secret, Timestamp, UserId,
};
use crate::store::{
    self, ConnectionTrait, accounts::AccountRow, invitations::InvitationRow, users::UserRow,
};

/// Where an invitation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Waiting to be accepted; the link works.
    Pending,
    /// Accepted.
    Accepted,
    /// Cancelled or replaced.
    Cancelled,
    /// Pending, but the link's time is up.
    Expired,
}

/// An invitation as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The invitation's id.
    pub id: InvitationId,
    /// The account invited to.
    pub account_id: AccountId,
    /// The account's display name.
    pub account_name: String,
    /// The invited address.
    pub email: String,
    /// The permissions the invitee gets.
    pub permissions: AccountPermissions,
    /// The inviting user, if there is one.
    pub inviter_user_id: Option<UserId>,
    /// The inviting user's full name (empty without one).
    pub inviter_name: String,
    /// The kind of caller that invited.
    pub inviter_kind: String,
    /// The status at the time of reading.
    pub status: InvitationStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// When the current link stops working.
    pub expires_at: Timestamp,
    /// When it was accepted.
    pub accepted_at: Option<Timestamp>,
    /// Who accepted it.
    pub accepted_user_id: Option<UserId>,
    /// When it was cancelled.
    pub cancelled_at: Option<Timestamp>,
    /// Whether identityd mailed the current link to the invited address.
    pub link_mailed: bool,
}

/// What to invite.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The account.
    pub account_id: AccountId,
    /// The address.
    pub email: Email,
    /// The permissions the invitee gets.
    pub permissions: AccountPermissions,
    /// Mail the link; otherwise return it to the caller.
    pub send_email: bool,
    /// Cancel a pending invitation of the same address instead of refusing.
    pub replace_pending: bool,
}

impl NewInvitation {
    /// The request as its idempotency key compares it. Every field is named,
    /// so a new one does not compile until it is decided how it enters.
    fn fingerprint(&self) -> Fingerprint {
        let NewInvitation {
            account_id,
            email,
            permissions,
            send_email,
            replace_pending,
        } = self;
        Fingerprint::new("CreateInvitation", 1)
            .text("account_id", &account_id.to_string())
            .text("email", email.as_str())
            .list(
                "permissions",
                permissions.iter().map(AccountPermission::name),
            )
            .flag("send_email", *send_email)
            .flag("replace_pending", *replace_pending)
    }
}

/// An invitation just created or resent.
#[derive(Debug, Clone)]
pub struct CreatedInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// The accept link, when the caller asked for it instead of a mail;
    /// never printed.
    pub accept_link: Option<Secret<String>>,
}

/// A request for a page of an account's invitations.
#[derive(Debug, Clone)]
pub struct InvitationQuery {
    /// The account.
    pub account_id: AccountId,
    /// Only this status.
    pub status: Option<InvitationStatus>,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl InvitationQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let InvitationQuery {
            account_id,
            status,
            page_size: _,
            page_token: _,
        } = self;
        let status = status.map(|status| match status {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Cancelled => "cancelled",
            InvitationStatus::Expired => "expired",
        });
        Fingerprint::new("ListInvitations", 1)
            .text("account_id", &account_id.to_string())
            .opt("status", status)
    }
}

/// A page of invitations, newest first.
#[derive(Debug, Clone)]
pub struct InvitationPage {
    /// The invitations.
    pub invitations: Vec<Invitation>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

/// What an accept page shows to whoever holds the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationPreview {
    /// The account's display name.
    pub account_name: String,
    /// The inviting user's full name.
    pub inviter_name: String,
    /// The invited address.
    pub email: String,
    /// The permissions the invitee gets.
    pub permissions: AccountPermissions,
    /// When the link stops working.
    pub expires_at: Timestamp,
    /// The status.
    pub status: InvitationStatus,
}

/// Who accepts an invitation.
#[derive(Debug, Clone)]
pub enum Acceptor {
    /// The user of the caller's session.
    Session,
    /// A new user, created by accepting.
    NewUser(Registration),
}

/// The outcome of accepting.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The new membership.
    pub member: Member,
    /// The user accepting created, if any.
    pub created_user_id: Option<UserId>,
}

const ACCEPT_PATH: &str = "/invitations/accept?token=";

/// The window of the per-inviter budget of invitation mails.
pub(crate) const MAIL_BUDGET_WINDOW: std::time::Duration = std::time::Duration::from_secs(60 * 60);

impl App {
    /// `row` as callers see it, with its account's and inviter's names.
    async fn invitation_view(
        &self,
        conn: &impl ConnectionTrait,
        row: InvitationRow,
    ) -> Result<Invitation, AppError> {
        let account = store::accounts::find(conn, row.account_id)
            .await?
            .ok_or_else(|| AppError::corrupt(format!("invitation {} account", row.id)))?;
        let inviter = match row.inviter_user_id {
            Some(id) => store::users::find(conn, id).await?,
            None => None,
        };
        Ok(self.view(row, &account, inviter.as_ref()))
    }

    fn view(
        &self,
        row: InvitationRow,
        account: &AccountRow,
        inviter: Option<&UserRow>,
    ) -> Invitation {
        let status = match row.status {
            InvitationState::Pending if row.expires_at <= self.now().as_micros() => {
                InvitationStatus::Expired
            }
            InvitationState::Pending => InvitationStatus::Pending,
            InvitationState::Accepted => InvitationStatus::Accepted,
            InvitationState::Cancelled => InvitationStatus::Cancelled,
        };
        Invitation {
            id: row.id,
            account_id: row.account_id,
            account_name: account.display_name.clone(),
            permissions: AccountPermissions::from_stored(&row.permissions),
            inviter_user_id: row.inviter_user_id,
            inviter_name: inviter.map(|u| u.full_name.clone()).unwrap_or_default(),
            inviter_kind: row.inviter_kind,
            status,
            created_at: Timestamp::from_micros(row.created_at),
            expires_at: Timestamp::from_micros(row.expires_at),
            accepted_at: row.accepted_at.map(Timestamp::from_micros),
            accepted_user_id: row.accepted_user_id,
            cancelled_at: row.cancelled_at.map(Timestamp::from_micros),
            link_mailed: row.link_mailed,
            email: row.email,
        }
    }
}
