//! Previewing and accepting an invitation by its token.

use crate::app::App;
use crate::app::auth::Registration;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::links::user_mail;
use crate::app::blocks::loads::load_active_account;
use crate::app::blocks::members::Member;
use crate::app::blocks::members::member_view;
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::blocks::throttle::Subject;
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{
    AccountPermissions, FieldViolation, InvitationState, Timestamp, UserId, UserStatus,
};
use crate::mail::{self, MailKind};
use crate::store::{
    self, ConnectionTrait,
    accounts::AccountRow,
    invitations::{self as rows, InvitationRow},
    memberships::MembershipRow,
    users::UserRow,
};

use super::*;

impl App {
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
        let row = self.find_by_token(token).await?.filter(|row| {
            row.status == InvitationState::Pending && row.expires_at > now.as_micros()
        });
        let Some(row) = row else {
            return Err(self.token_failure(&subjects).await);
        };
        // Counted in its own transaction, committed whatever the answer, so
        // a taken username or a known address costs the same as a new one.
        if !mail_subjects.is_empty() {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, &mail_subjects).await?;
            self.commit(txn).await?;
        }
        // Hash before the transaction: it is slow and needs no lock.
        let password_hash = match &acceptor {
            Acceptor::NewUser(new) => Some(self.hasher().hash(new.password.expose()).await?),
            Acceptor::Session => None,
        };
        let txn = store::begin(self.db()).await?;
        // The account first, then the invitation: the order create and
        // resend lock them in, so concurrent calls cannot deadlock.
        let account = load_active_account(&txn, row.account_id).await?;
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
                    self.commit(txn).await?;
                    return Ok(unconfirmed_acceptance(&account, &row, &new, now));
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
                        self.commit(txn).await?;
                        return Ok(unconfirmed_acceptance(&account, &row, &new, now));
                    }
                    Err(err) => return Err(err),
                }
            }
            _ => {
                let user_id = principal
                    .session_user()
                    .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
                let user = store::users::find(&txn, user_id)
                    .await?
                    .ok_or(AppError::Unauthenticated(Reason::SessionInvalid))?;
                ensure_may_accept(&row, &user)?;
                (user, false)
            }
        };
        if !rows::accept(&txn, row.id, &row.token_hash, user.id, now.as_micros()).await? {
            drop(txn);
            return Err(self.token_failure(&subjects).await);
        }
        if store::memberships::find(&txn, account.id, user.id)
            .await?
            .is_some()
        {
            return Err(AppError::AlreadyExists(Reason::AlreadyMember));
        }
        let membership = MembershipRow {
            account_id: account.id,
            user_id: user.id,
            permissions: row.permissions.clone(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let membership = store::memberships::insert(&txn, membership).await?;
        let accepted = Change::new("invitation.accepted", "invitation", row.id)
            .account(account.id)
            .detail("user_id", user.id)
            .detail("new_user", created);
        record_at(&txn, principal, now, accepted).await?;
        let added = Change::new("account.member_added", "user", user.id)
            .account(account.id)
            .detail("permissions", &membership.permissions)
            .detail("invitation_id", row.id);
        record_at(&txn, principal, now, added).await?;
        if let Some(inviter_id) = row.inviter_user_id
            && let Some(inviter) = store::users::find(&txn, inviter_id).await?
        {
            let context = [
                ("recipient_name", inviter.full_name.clone()),
                ("account_name", account.display_name.clone()),
                ("member_name", user.full_name.clone()),
                ("invited_email", row.email.clone()),
            ];
            let mut mail = user_mail(MailKind::InvitationAccepted, &inviter, context, []);
            mail.account_id = Some(account.id);
            mail::enqueue_at(&txn, now, mail).await?;
        }
        let member = member_view(&account, &membership, &user);
        self.commit(txn).await?;
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
    pub(super) async fn insert_invitee(
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
            store::users::mark_email_verified(txn, user.id, now.as_micros()).await?;
            user.email_verified = true;
        } else {
            self.issue_verification_code(txn, &user).await?;
        }
        let change = Change::new("user.created", "user", user_id)
            .account(invitation.account_id)
            .detail("username", &user.username)
            .detail("status", user.status.as_str())
            .detail("invitation_id", invitation.id);
        record_at(txn, principal, now, change).await?;
        Ok(user)
    }

    /// The invitation whose link carries `token`, in any status.
    pub(super) async fn find_by_token(
        &self,
        token: &str,
    ) -> Result<Option<InvitationRow>, AppError> {
        if !TokenKind::Invitation.fits(token) {
            return Ok(None);
        }
        Ok(store::invitations::find_by_token_hash(self.reader(), &hash_secret(token)).await?)
    }

    pub(super) fn invitation_subjects(&self, principal: &Principal) -> Vec<Subject> {
        self.address_subject("invitation", principal.client_ip)
            .into_iter()
            .collect()
    }

    /// Counts a bad token against the client address and returns the answer.
    pub(super) async fn token_failure(&self, subjects: &[Subject]) -> AppError {
        let counted = async {
            let txn = store::begin(self.db()).await?;
            self.count_failures(&txn, subjects).await?;
            self.commit(txn).await?;
            Ok::<_, AppError>(())
        };
        match counted.await {
            Ok(()) => FieldViolation::new("token", Reason::InvitationTokenInvalid.message()).into(),
            Err(err) => err,
        }
    }
}

/// Refuses a signed-in `user` who may not accept `invitation`: its inviter
/// (no granting oneself access), and a staff user for an invitation staff
/// made (staff reach accounts through their role; see create).
pub(super) fn ensure_may_accept(
    invitation: &InvitationRow,
    user: &UserRow,
) -> Result<(), AppError> {
    if invitation.inviter_user_id == Some(user.id) {
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
pub(super) fn unconfirmed_acceptance(
    account: &AccountRow,
    invitation: &InvitationRow,
    new: &Registration,
    now: Timestamp,
) -> Accepted {
    let user_id = UserId::generate();
    Accepted {
        member: Member {
            account_id: account.id,
            user_id,
            username: new.username.as_str().to_owned(),
            full_name: new.full_name.as_str().to_owned(),
            email: new.email.as_str().to_owned(),
            owner: false,
            permissions: AccountPermissions::from_stored(&invitation.permissions),
            created_at: now,
        },
        created_user_id: Some(user_id),
    }
}
