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

use std::collections::BTreeMap;

use super::accounts::{Member, load_account_for_update, load_active_account, member_view};
use super::activity::{Change, record_at};
use super::auth::{Registration, user_mail};
use super::credentials::{ApiCredentialState, state_at};
use super::idempotency::{CreateStart, IdempotencyKey, begin_create};
use super::throttle::Subject;
use super::users::{UserDraft, insert_user_at};
use super::{App, AppError, Caller, Principal, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{
    AccountId, AccountPermissions, Email, FieldViolation, InvitationId, PageCursor, PageSize,
    Permission, PermissionSet, RequestId, RoleKind, Secret, Timestamp, UserId, UserStatus,
};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{
    self, ConnectionTrait,
    accounts::AccountRow,
    invitations::{self as rows, InvitationRow, StatusFilter},
    memberships::MembershipRow,
    users::UserRow,
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
pub(super) const MAIL_BUDGET_WINDOW: std::time::Duration = std::time::Duration::from_secs(60 * 60);

impl App {
    /// Invites an address to an account. See the module docs.
    pub async fn create_invitation(
        &self,
        principal: &Principal,
        new: NewInvitation,
        request_id: Option<RequestId>,
    ) -> Result<CreatedInvitation, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsWrite)?;
        let as_staff = ensure_may_take_link(principal, new.send_email)?;
        let key = IdempotencyKey::new(
            principal,
            "CreateInvitation",
            request_id.as_ref(),
            &format!("{new:?}"),
        );
        let id = InvitationId::generate();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), &id.to_string()).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                // The token was shown once; a replay cannot show it again.
                let row = store::invitations::find(self.reader(), &resource_id)
                    .await?
                    .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
                return Ok(CreatedInvitation {
                    invitation: self.invitation_view(self.reader(), row).await?,
                    accept_link: None,
                });
            }
        };
        let account = load_active_account(&txn, new.account_id).await?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsWrite)?;
        let email_normalized = new.email.normalized();
        if let Some(user) = store::users::find_by_email(&txn, &email_normalized).await? {
            // Staff reach client accounts through their admin role. Letting
            // staff invite a staff address (their own, or a colleague's who
            // returns the favour) would turn `invitations.write` into
            // membership of any account.
            if as_staff && user.admin_role_id.is_some() {
                return Err(AppError::PermissionDenied(Reason::InviteeIsStaff));
            }
            if store::memberships::find(&txn, &account.id, &user.id)
                .await?
                .is_some()
            {
                return Err(AppError::AlreadyExists(Reason::AlreadyMember));
            }
        }
        if new.send_email {
            self.spend_mail_budget(&txn, principal).await?;
        }
        let now = self.now();
        // Expired pending invitations never block; they are retired here so
        // that resending one cannot make two live invitations.
        for pending in rows::pending_for(&txn, &account.id, &email_normalized).await? {
            let live = pending.expires_at > now.as_micros();
            if live && !new.replace_pending {
                return Err(AppError::AlreadyExists(Reason::InvitationPending));
            }
            if rows::cancel(&txn, &pending.id, now.as_micros()).await? {
                let change = Change::new("invitation.cancelled", "invitation", &pending.id)
                    .account(&account.id)
                    .detail("replaced_by", id)
                    .detail("expired", !live);
                record_at(&txn, principal, now, change).await?;
            }
        }
        let (inviter_user_id, inviter_id) = inviter_of(principal);
        let token = TokenKind::Invitation.generate();
        let row = InvitationRow {
            id: id.to_string(),
            account_id: account.id.clone(),
            email: new.email.as_str().to_owned(),
            email_normalized,
            permissions: new.permissions.to_stored(),
            inviter_user_id: inviter_user_id.map(|id| id.to_string()),
            inviter_kind: principal.actor_kind().to_owned(),
            inviter_id,
            token_hash: hash_secret(&token),
            status: rows::PENDING.to_owned(),
            created_at: now.as_micros(),
            expires_at: now.plus(self.invitation_ttl()).as_micros(),
            accepted_at: None,
            accepted_user_id: None,
            cancelled_at: None,
            link_mailed: new.send_email,
            inviter_authority: if as_staff {
                rows::BY_STAFF
            } else {
                rows::BY_OWNER
            }
            .to_owned(),
        };
        let row = store::invitations::insert(&txn, row).await?;
        let change = Change::new("invitation.created", "invitation", id)
            .account(&account.id)
            .detail("email", &row.email)
            .detail("permissions", &row.permissions)
            .detail("send_email", new.send_email);
        record_at(&txn, principal, now, change).await?;
        let accept_link = self
            .deliver_link(&txn, now, &account, &row, &token, new.send_email)
            .await?;
        let invitation = self.invitation_view(&txn, row).await?;
        store::commit(txn).await?;
        Ok(CreatedInvitation {
            invitation,
            accept_link,
        })
    }

    /// One invitation.
    pub async fn get_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<Invitation, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsRead)?;
        let row = store::invitations::find(self.reader(), &id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let account = store::accounts::find(self.reader(), &row.account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsRead)?;
        self.invitation_view(self.reader(), row).await
    }

    /// A page of an account's invitations, newest first.
    pub async fn list_invitations(
        &self,
        principal: &Principal,
        query: InvitationQuery,
    ) -> Result<InvitationPage, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsRead)?;
        principal.ensure_account_access(
            Permission::InvitationsRead,
            query.account_id,
            |grant| grant.owner,
        )?;
        let account = store::accounts::find(self.reader(), &query.account_id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsRead)?;
        let filters = format!("invitations of {} status={:?}", account.id, query.status);
        let cursor = PageCursor::decode("page_token", &query.page_token, &filters)?;
        let status = query.status.map(|status| match status {
            InvitationStatus::Pending => StatusFilter::Pending,
            InvitationStatus::Accepted => StatusFilter::Accepted,
            InvitationStatus::Cancelled => StatusFilter::Cancelled,
            InvitationStatus::Expired => StatusFilter::Expired,
        });
        let page = rows::list(
            self.reader(),
            &account.id,
            status,
            self.now().as_micros(),
            cursor.as_ref().map(|c| c.after.as_str()),
            query.page_size.get(),
        )
        .await?;
        let next_page_token = page
            .continues_after(|row| &row.id)
            .map(|last| PageCursor::encode(last, &filters));
        let inviter_ids: Vec<String> = page
            .rows
            .iter()
            .filter_map(|row| row.inviter_user_id.clone())
            .collect();
        let inviters: BTreeMap<String, UserRow> =
            store::users::find_many(self.reader(), &inviter_ids)
                .await?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect();
        let invitations = page
            .rows
            .into_iter()
            .map(|row| {
                let inviter = row.inviter_user_id.as_ref().and_then(|id| inviters.get(id));
                self.view(row, &account, inviter)
            })
            .collect::<Result<_, _>>()?;
        Ok(InvitationPage {
            invitations,
            next_page_token,
        })
    }

    /// Issues a fresh link for a pending (possibly expired) invitation: the
    /// old link stops working and the expiry starts again.
    pub async fn resend_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
        send_email: bool,
    ) -> Result<CreatedInvitation, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsWrite)?;
        ensure_may_take_link(principal, send_email)?;
        let txn = store::begin(self.db()).await?;
        let (account, row) = self.load_for_change(&txn, principal, id).await?;
        if account.status == crate::domain::AccountStatus::Closed.as_str() {
            return Err(AppError::FailedPrecondition(Reason::AccountClosed));
        }
        if send_email {
            self.spend_mail_budget(&txn, principal).await?;
        }
        let token = TokenKind::Invitation.generate();
        let now = self.now();
        let expires_at = now.plus(self.invitation_ttl()).as_micros();
        // A link handed to the caller makes the invitation unmailed again:
        // accepting with it no longer proves the invited mailbox.
        if !rows::renew(&txn, &row.id, &hash_secret(&token), expires_at, send_email).await? {
            return Err(AppError::FailedPrecondition(Reason::InvitationNotPending));
        }
        let row = store::invitations::find(&txn, &row.id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let change = Change::new("invitation.resent", "invitation", id)
            .account(&account.id)
            .detail("send_email", send_email);
        record_at(&txn, principal, now, change).await?;
        let accept_link = self
            .deliver_link(&txn, now, &account, &row, &token, send_email)
            .await?;
        let invitation = self.invitation_view(&txn, row).await?;
        store::commit(txn).await?;
        Ok(CreatedInvitation {
            invitation,
            accept_link,
        })
    }

    /// Cancels a pending invitation.
    pub async fn cancel_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<Invitation, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsWrite)?;
        let txn = store::begin(self.db()).await?;
        let (account, row) = self.load_for_change(&txn, principal, id).await?;
        let now = self.now();
        if !rows::cancel(&txn, &row.id, now.as_micros()).await? {
            return Err(AppError::FailedPrecondition(Reason::InvitationNotPending));
        }
        let change = Change::new("invitation.cancelled", "invitation", id).account(&account.id);
        record_at(&txn, principal, now, change).await?;
        let row = store::invitations::find(&txn, &row.id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let invitation = self.invitation_view(&txn, row).await?;
        store::commit(txn).await?;
        Ok(invitation)
    }

    /// What the accept page shows for a link's token, whatever its status.
    pub async fn preview_invitation(
        &self,
        principal: &Principal,
        token: &str,
    ) -> Result<InvitationPreview, AppError> {
        let subjects = self.invitation_subjects(principal);
        self.ensure_not_throttled(&subjects).await?;
        let Some(row) = self.find_by_token(token).await? else {
            return Err(self.token_failure(&subjects).await);
        };
        let invitation = self.invitation_view(self.reader(), row).await?;
        Ok(InvitationPreview {
            account_name: invitation.account_name,
            inviter_name: invitation.inviter_name,
            email: invitation.email,
            permissions: invitation.permissions,
            expires_at: invitation.expires_at,
            status: invitation.status,
        })
    }

    /// Accepts an invitation for the caller's user or a new user; see the
    /// module docs. Wrong, expired, cancelled and used tokens get one answer.
    pub async fn accept_invitation(
        &self,
        principal: &Principal,
        token: &str,
        acceptor: Acceptor,
    ) -> Result<Accepted, AppError> {
        let subjects = self.invitation_subjects(principal);
        // A new user's address gets mail whatever happens (a code, or a
        // sign-up notice when it is known), so the attempt counts against it
        // as a sign-up does.
        let mail_subjects = match &acceptor {
            Acceptor::NewUser(new) => self.typed_subjects("mail", principal, new.email.as_str()),
            Acceptor::Session => Vec::new(),
        };
        let all: Vec<Subject> = subjects.iter().chain(&mail_subjects).cloned().collect();
        self.ensure_not_throttled(&all).await?;
        match (&acceptor, principal.session_user()) {
            (Acceptor::Session, None) => {
                return Err(FieldViolation::new(
                    "new_user",
                    "is required when calling without a session",
                )
                .into());
            }
            (Acceptor::NewUser(_), Some(_)) => {
                return Err(FieldViolation::new(
                    "new_user",
                    "must be unset when calling with a session: the session's user accepts",
                )
                .into());
            }
            _ => {}
        }
        let now = self.now();
        let row = self
            .find_by_token(token)
            .await?
            .filter(|row| row.status == rows::PENDING && row.expires_at > now.as_micros());
        let Some(row) = row else {
            return Err(self.token_failure(&subjects).await);
        };
        // Counted in its own transaction, committed whatever the answer, so
        // a taken username or a known address costs the same as a new one.
        if !mail_subjects.is_empty() {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, &mail_subjects).await?;
            store::commit(txn).await?;
        }
        // Hash before the transaction: it is slow and needs no lock.
        let password_hash = match &acceptor {
            Acceptor::NewUser(new) => Some(self.hasher().hash(new.password.expose()).await?),
            Acceptor::Session => None,
        };
        let txn = store::begin(self.db()).await?;
        // The account first, then the invitation: the order create and
        // resend lock them in, so concurrent calls cannot deadlock.
        let account_id = AccountId::from_stored(&row.account_id)
            .ok_or_else(|| AppError::corrupt(format!("invitation {} account", row.id)))?;
        let account = load_active_account(&txn, account_id).await?;
        self.ensure_inviter_may_still_invite(&txn, &row, &account)
            .await?;
        let (user, created) = match (acceptor, password_hash) {
            (Acceptor::NewUser(new), Some(hash)) => {
                if store::users::find_by_username(&txn, &new.username.normalized())
                    .await?
                    .is_some()
                {
                    return Err(AppError::AlreadyExists(Reason::UsernameTaken));
                }
                if let Some(existing) =
                    store::users::find_by_email(&txn, &new.email.normalized()).await?
                {
                    self.notify_sign_up_attempt(&txn, principal, &existing)
                        .await?;
                    store::commit(txn).await?;
                    return unconfirmed_acceptance(&account, &row, &new, now);
                }
                match self
                    .insert_invitee(&txn, principal, now, &row, new.clone(), hash)
                    .await
                {
                    Ok(user) => (user, true),
                    // Another sign-up with this address committed first:
                    // answer as for any known address.
                    Err(AppError::AlreadyExists(Reason::EmailTaken)) => {
                        drop(txn);
                        let txn = store::begin(self.db()).await?;
                        if let Some(existing) =
                            store::users::find_by_email(&txn, &new.email.normalized()).await?
                        {
                            self.notify_sign_up_attempt(&txn, principal, &existing)
                                .await?;
                        }
                        store::commit(txn).await?;
                        return unconfirmed_acceptance(&account, &row, &new, now);
                    }
                    Err(err) => return Err(err),
                }
            }
            _ => {
                let user_id = principal
                    .session_user()
                    .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
                let user = store::users::find(&txn, &user_id.to_string())
                    .await?
                    .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
                ensure_may_accept(&row, &user)?;
                (user, false)
            }
        };
        if !rows::accept(&txn, &row.id, &row.token_hash, &user.id, now.as_micros()).await? {
            drop(txn);
            return Err(self.token_failure(&subjects).await);
        }
        if store::memberships::find(&txn, &account.id, &user.id)
            .await?
            .is_some()
        {
            return Err(AppError::AlreadyExists(Reason::AlreadyMember));
        }
        let membership = MembershipRow {
            account_id: account.id.clone(),
            user_id: user.id.clone(),
            permissions: row.permissions.clone(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let membership = store::memberships::insert(&txn, membership).await?;
        let accepted = Change::new("invitation.accepted", "invitation", &row.id)
            .account(&account.id)
            .detail("user_id", &user.id)
            .detail("new_user", created);
        record_at(&txn, principal, now, accepted).await?;
        let added = Change::new("account.member_added", "user", &user.id)
            .account(&account.id)
            .detail("permissions", &membership.permissions)
            .detail("invitation_id", &row.id);
        record_at(&txn, principal, now, added).await?;
        if let Some(inviter_id) = &row.inviter_user_id
            && let Some(inviter) = store::users::find(&txn, inviter_id).await?
        {
            let context = [
                ("recipient_name", inviter.full_name.clone()),
                ("account_name", account.display_name.clone()),
                ("member_name", user.full_name.clone()),
                ("invited_email", row.email.clone()),
            ];
            let mut mail = user_mail(MailKind::InvitationAccepted, &inviter, context, []);
            mail.account_id = Some(account.id.clone());
            mail::enqueue_at(&txn, now, mail).await?;
        }
        let member = member_view(&account, &membership, &user)?;
        store::commit(txn).await?;
        let created_user_id = if created { Some(member.user_id) } else { None };
        Ok(Accepted {
            member,
            created_user_id,
        })
    }

    /// Creates the user a new invitee asked for: active and verified when
    /// the address is the invited one and identityd itself mailed the link
    /// there (so holding it proves the mailbox), else waiting for a mailed
    /// code.
    async fn insert_invitee(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        now: Timestamp,
        invitation: &InvitationRow,
        new: Registration,
        password_hash: String,
    ) -> Result<UserRow, AppError> {
        let proven =
            invitation.link_mailed && new.email.normalized() == invitation.email_normalized;
        let user_id = UserId::generate();
        let draft = UserDraft {
            email: new.email,
            username: new.username,
            full_name: new.full_name,
            photo_url: None,
            locale: new.locale,
            status: if proven {
                UserStatus::Active
            } else {
                UserStatus::PendingVerification
            },
            password_hash: Some(password_hash),
            admin_role_id: None,
        };
        let mut user = insert_user_at(txn, user_id, draft, now).await?;
        if proven {
            store::users::mark_email_verified(txn, &user.id, now.as_micros()).await?;
            user.email_verified = true;
        } else {
            self.issue_verification_code(txn, &user).await?;
        }
        let change = Change::new("user.created", "user", user_id)
            .account(&invitation.account_id)
            .detail("username", &user.username)
            .detail("status", &user.status)
            .detail("invitation_id", &invitation.id);
        record_at(txn, principal, now, change).await?;
        Ok(user)
    }

    /// Counts one invitation mail against the inviter's hourly budget, in
    /// the caller's transaction; over the budget the call is refused (and
    /// the transaction, dropped, writes nothing).
    async fn spend_mail_budget(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
    ) -> Result<(), AppError> {
        let (inviter_user_id, inviter_id) = inviter_of(principal);
        let subject = match inviter_user_id {
            Some(user_id) => format!("invitation:user:{user_id}"),
            None => format!("invitation:{}:{inviter_id}", principal.actor_kind()),
        };
        let now = self.now();
        let window_expired_at = now.minus(MAIL_BUDGET_WINDOW);
        let (sent, started_at) = rows::spend_mail_budget(
            txn,
            &subject,
            now.as_micros(),
            window_expired_at.as_micros(),
        )
        .await?;
        if u32::try_from(sent).unwrap_or(u32::MAX) > self.invitation_mails_per_hour() {
            let reopens = Timestamp::from_micros(started_at).plus(MAIL_BUDGET_WINDOW);
            return Err(AppError::Throttled(reopens.since(now)));
        }
        Ok(())
    }

    /// Refuses accepting an invitation whose inviter may no longer invite
    /// into `account`: an owner who no longer owns it or no longer may
    /// manage its members, staff who lost `invitations.write`, a revoked or
    /// expired credential. Events that take the right away retire pending
    /// invitations too; this catches the rest (a setting switched off, a
    /// role changed).
    async fn ensure_inviter_may_still_invite(
        &self,
        conn: &impl ConnectionTrait,
        invitation: &InvitationRow,
        account: &AccountRow,
    ) -> Result<(), AppError> {
        let inviter = match &invitation.inviter_user_id {
            Some(id) => store::users::find(conn, id)
                .await?
                .filter(|user| user.status == UserStatus::Active.as_str()),
            None => None,
        };
        let may = match (invitation.inviter_authority.as_str(), &inviter) {
            (rows::BY_OWNER, Some(inviter)) => {
                self.client_user_management() && inviter.id == account.owner_user_id
            }
            (rows::BY_STAFF, _) if invitation.inviter_kind == "system" => true,
            (rows::BY_STAFF, Some(inviter)) => {
                self.staff_may_invite(conn, inviter).await?
                    && (invitation.inviter_kind != "api_credential"
                        || self
                            .credential_may_invite(conn, &invitation.inviter_id)
                            .await?)
            }
            _ => false,
        };
        if may {
            Ok(())
        } else {
            Err(AppError::FailedPrecondition(Reason::InvitationWithdrawn))
        }
    }

    /// Whether `user`'s admin role holds `invitations.write`.
    async fn staff_may_invite(
        &self,
        conn: &impl ConnectionTrait,
        user: &UserRow,
    ) -> Result<bool, AppError> {
        let Some(role_id) = &user.admin_role_id else {
            return Ok(false);
        };
        Ok(store::roles::find(conn, role_id)
            .await?
            .is_some_and(|role| {
                PermissionSet::from_stored(role.full_access, &role.permissions)
                    .contains(Permission::InvitationsWrite)
            }))
    }

    /// Whether the API credential `id` still works and its API roles hold
    /// `invitations.write` (its owner's role is checked separately).
    async fn credential_may_invite(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
    ) -> Result<bool, AppError> {
        let Some(credential) = store::credentials::find(conn, id).await? else {
            return Ok(false);
        };
        if state_at(&credential, self.now()) != ApiCredentialState::Active {
            return Ok(false);
        }
        let role_ids = store::credentials::role_ids_of(conn, std::slice::from_ref(&credential.id))
            .await?
            .remove(&credential.id)
            .unwrap_or_default();
        let roles = store::roles::find_many(conn, &role_ids).await?;
        Ok(roles.iter().any(|role| {
            role.kind == RoleKind::Api.as_str()
                && PermissionSet::from_stored(role.full_access, &role.permissions)
                    .contains(Permission::InvitationsWrite)
        }))
    }

    /// Cancels the pending invitations `inviter_user_id` made to `account_id`
    /// as its owner, with an activity event each, in the caller's
    /// transaction at `now`: they lose the right to invite there (`why`).
    pub(super) async fn retire_owner_invitations(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        now: Timestamp,
        account_id: &str,
        inviter_user_id: &str,
        why: &str,
    ) -> Result<(), AppError> {
        for pending in rows::pending_by_owner(txn, account_id, inviter_user_id).await? {
            if rows::cancel(txn, &pending.id, now.as_micros()).await? {
                let change = Change::new("invitation.cancelled", "invitation", &pending.id)
                    .account(account_id)
                    .detail("reason", why);
                record_at(txn, principal, now, change).await?;
            }
        }
        Ok(())
    }

    /// Refuses, before any lookup, a caller that may manage the invitations
    /// of no account: neither staff holding `staff` nor a session acting as
    /// an account's owner (while client user management is enabled).
    fn ensure_may_invite_somewhere(
        &self,
        principal: &Principal,
        staff: Permission,
    ) -> Result<(), AppError> {
        if principal.permissions.contains(staff) {
            return Ok(());
        }
        match (&principal.caller, &principal.account) {
            (Caller::User { .. }, Some(grant)) if grant.owner => {
                if self.client_user_management() {
                    Ok(())
                } else {
                    Err(AppError::PermissionDenied(
                        Reason::ClientUserManagementDisabled,
                    ))
                }
            }
            (Caller::User { .. }, None) => {
                Err(AppError::PermissionDenied(Reason::AccountNotSelected))
            }
            _ => Err(AppError::PermissionDenied(Reason::PermissionDenied)),
        }
    }

    /// The invitation and its account, locked in this order, after checking
    /// that the caller manages the account's invitations.
    async fn load_for_change(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<(AccountRow, InvitationRow), AppError> {
        let row = store::invitations::find(txn, &id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let account_id = AccountId::from_stored(&row.account_id)
            .ok_or_else(|| AppError::corrupt(format!("invitation {} account", row.id)))?;
        let account = load_account_for_update(txn, account_id).await?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsWrite)?;
        Ok((account, row))
    }

    /// Mails the accept link for `token`, or returns it when not mailing.
    async fn deliver_link(
        &self,
        txn: &impl ConnectionTrait,
        now: Timestamp,
        account: &AccountRow,
        row: &InvitationRow,
        token: &str,
        send_email: bool,
    ) -> Result<Option<Secret<String>>, AppError> {
        let link = self.link(&format!("{ACCEPT_PATH}{token}"));
        if !send_email {
            return Ok(Some(Secret::new(link)));
        }
        let inviter_name = self.inviter_name(txn, row).await?;
        let days = self.invitation_ttl().as_secs().div_ceil(86_400).max(1);
        let context = [
            ("recipient_name", String::new()),
            ("inviter_name", inviter_name),
            ("account_name", account.display_name.clone()),
            ("expires_days", days.to_string()),
        ];
        let mail = OutgoingMail {
            kind: MailKind::Invitation,
            to: row.email.clone(),
            locale: String::new(),
            account_id: Some(account.id.clone()),
            context: context
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            secrets: [("link".to_owned(), link)].into_iter().collect(),
        };
        mail::enqueue_at(txn, now, mail).await?;
        Ok(None)
    }

    async fn inviter_name(
        &self,
        conn: &impl ConnectionTrait,
        row: &InvitationRow,
    ) -> Result<String, AppError> {
        Ok(match &row.inviter_user_id {
            Some(id) => store::users::find(conn, id)
                .await?
                .map(|user| user.full_name)
                .unwrap_or_default(),
            None => String::new(),
        })
    }

    /// The invitation whose link carries `token`, in any status.
    async fn find_by_token(&self, token: &str) -> Result<Option<InvitationRow>, AppError> {
        if !TokenKind::Invitation.fits(token) {
            return Ok(None);
        }
        Ok(store::invitations::find_by_token_hash(self.reader(), &hash_secret(token)).await?)
    }

    fn invitation_subjects(&self, principal: &Principal) -> Vec<Subject> {
        self.address_subject("invitation", principal.client_ip)
            .into_iter()
            .collect()
    }

    /// Counts a bad token against the client address and returns the answer.
    async fn token_failure(&self, subjects: &[Subject]) -> AppError {
        let counted = async {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, subjects).await?;
            store::commit(txn).await?;
            Ok::<_, AppError>(())
        };
        match counted.await {
            Ok(()) => FieldViolation::new("token", Reason::InvitationTokenInvalid.message()).into(),
            Err(err) => err,
        }
    }

    /// `row` as callers see it, with its account's and inviter's names.
    async fn invitation_view(
        &self,
        conn: &impl ConnectionTrait,
        row: InvitationRow,
    ) -> Result<Invitation, AppError> {
        let account = store::accounts::find(conn, &row.account_id)
            .await?
            .ok_or_else(|| AppError::corrupt(format!("invitation {} account", row.id)))?;
        let inviter = match &row.inviter_user_id {
            Some(id) => store::users::find(conn, id).await?,
            None => None,
        };
        self.view(row, &account, inviter.as_ref())
    }

    fn view(
        &self,
        row: InvitationRow,
        account: &AccountRow,
        inviter: Option<&UserRow>,
    ) -> Result<Invitation, AppError> {
        let corrupt = |what: &str| AppError::corrupt(format!("invitation {} {what}", row.id));
        let status = match row.status.as_str() {
            rows::PENDING if row.expires_at <= self.now().as_micros() => InvitationStatus::Expired,
            rows::PENDING => InvitationStatus::Pending,
            rows::ACCEPTED => InvitationStatus::Accepted,
            rows::CANCELLED => InvitationStatus::Cancelled,
            _ => return Err(corrupt("status")),
        };
        Ok(Invitation {
            id: InvitationId::from_stored(&row.id).ok_or_else(|| corrupt("id"))?,
            account_id: AccountId::from_stored(&row.account_id)
                .ok_or_else(|| corrupt("account id"))?,
            account_name: account.display_name.clone(),
            permissions: AccountPermissions::from_stored(&row.permissions),
            inviter_user_id: match &row.inviter_user_id {
                Some(id) => Some(UserId::from_stored(id).ok_or_else(|| corrupt("inviter"))?),
                None => None,
            },
            inviter_name: inviter.map(|u| u.full_name.clone()).unwrap_or_default(),
            inviter_kind: row.inviter_kind,
            status,
            created_at: Timestamp::from_micros(row.created_at),
            expires_at: Timestamp::from_micros(row.expires_at),
            accepted_at: row.accepted_at.map(Timestamp::from_micros),
            accepted_user_id: match &row.accepted_user_id {
                Some(id) => Some(UserId::from_stored(id).ok_or_else(|| corrupt("accepter"))?),
                None => None,
            },
            cancelled_at: row.cancelled_at.map(Timestamp::from_micros),
            link_mailed: row.link_mailed,
            email: row.email,
        })
    }
}

/// Whether the caller may have the link returned instead of mailed, and
/// whether it invites as staff: only staff and API credentials holding
/// `invitations.write` may take a link. A link handed to an account owner
/// would let anyone who signs up mint accounts for addresses nobody proved.
fn ensure_may_take_link(principal: &Principal, send_email: bool) -> Result<bool, AppError> {
    let as_staff = principal.permissions.contains(Permission::InvitationsWrite);
    if send_email || as_staff {
        Ok(as_staff)
    } else {
        Err(AppError::PermissionDenied(Reason::LinkRequiresStaff))
    }
}

/// Refuses a signed-in `user` who may not accept `invitation`: its inviter
/// (no granting oneself access), and a staff user for an invitation staff
/// made (staff reach accounts through their role; see create).
fn ensure_may_accept(invitation: &InvitationRow, user: &UserRow) -> Result<(), AppError> {
    if invitation.inviter_user_id.as_deref() == Some(user.id.as_str()) {
        return Err(AppError::PermissionDenied(Reason::InviterCannotAccept));
    }
    if invitation.inviter_authority != rows::BY_OWNER && user.admin_role_id.is_some() {
        return Err(AppError::PermissionDenied(Reason::InviteeIsStaff));
    }
    Ok(())
}

/// The answer for a new user whose address is already registered: what a
/// new user with an address still to verify gets, so the answer does not
/// tell that the address is known. Nothing is created and the invitation
/// stays pending; the address's owner hears of the attempt by mail.
fn unconfirmed_acceptance(
    account: &AccountRow,
    invitation: &InvitationRow,
    new: &Registration,
    now: Timestamp,
) -> Result<Accepted, AppError> {
    let user_id = UserId::generate();
    let account_id = AccountId::from_stored(&account.id)
        .ok_or_else(|| AppError::corrupt(format!("account {} id", account.id)))?;
    Ok(Accepted {
        member: Member {
            account_id,
            user_id,
            username: new.username.as_str().to_owned(),
            full_name: new.full_name.as_str().to_owned(),
            email: new.email.as_str().to_owned(),
            owner: false,
            permissions: AccountPermissions::from_stored(&invitation.permissions),
            created_at: now,
        },
        created_user_id: Some(user_id),
    })
}

/// The inviting user (the staff user behind an API credential) and the
/// inviting actor's id.
fn inviter_of(principal: &Principal) -> (Option<UserId>, String) {
    match &principal.caller {
        Caller::User { user_id, .. } => (Some(*user_id), user_id.to_string()),
        Caller::ApiCredential {
            credential_id,
            staff_user_id,
        } => (Some(*staff_user_id), credential_id.to_string()),
        Caller::System | Caller::Anonymous => (None, String::new()),
    }
}
