//! Inviting someone by email, and sending the invitation again.

use crate::app::App;
use crate::app::authn::{Caller, Principal};
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::idempotency::{CreateStart, IdempotencyKey, begin_create};
use crate::app::blocks::loads::load_active_account;
use crate::app::error::{AppError, Reason};
use crate::crypto::{TokenKind, hash_secret};
use crate::domain::{
    InvitationId, InvitationState, Permission, RequestId, Secret, Timestamp, UserId,
};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{
    self, ConnectionTrait, DatabaseTransaction,
    accounts::AccountRow,
    invitations::{self as rows, InvitationRow},
};

use super::*;

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
            &new.fingerprint(),
        );
        let id = InvitationId::generate();
        let txn = match begin_create(self.db(), self.now(), key.as_ref(), id).await? {
            CreateStart::Create(txn) => txn,
            CreateStart::Replay(resource_id) => {
                // The token was shown once; a replay cannot show it again.
                let row = store::invitations::find(self.reader(), resource_id)
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
            if store::memberships::find(&txn, account.id, user.id)
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
        for pending in rows::pending_for(&txn, account.id, &email_normalized).await? {
            let live = pending.expires_at > now.as_micros();
            if live && !new.replace_pending {
                return Err(AppError::AlreadyExists(Reason::InvitationPending));
            }
            if rows::cancel(&txn, pending.id, now.as_micros()).await? {
                let change = Change::new("invitation.cancelled", "invitation", pending.id)
                    .account(account.id)
                    .detail("replaced_by", id)
                    .detail("expired", !live);
                record_at(&txn, principal, now, change).await?;
            }
        }
        let (inviter_user_id, inviter_id) = inviter_of(principal);
        let token = TokenKind::Invitation.generate();
        let row = InvitationRow {
            id,
            account_id: account.id,
            email: new.email.as_str().to_owned(),
            email_normalized,
            permissions: new.permissions.to_stored(),
            inviter_user_id,
            inviter_kind: principal.actor_kind().to_owned(),
            inviter_id,
            token_hash: hash_secret(&token),
            status: InvitationState::Pending,
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
            .account(account.id)
            .detail("email", &row.email)
            .detail("permissions", &row.permissions)
            .detail("send_email", new.send_email);
        record_at(&txn, principal, now, change).await?;
        self.deliver_and_commit(txn, now, &account, row, &token)
            .await
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
        if account.status == crate::domain::AccountStatus::Closed {
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
        if !rows::renew(&txn, row.id, &hash_secret(&token), expires_at, send_email).await? {
            return Err(AppError::FailedPrecondition(Reason::InvitationNotPending));
        }
        let row = store::invitations::find(&txn, row.id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let change = Change::new("invitation.resent", "invitation", id)
            .account(account.id)
            .detail("send_email", send_email);
        record_at(&txn, principal, now, change).await?;
        self.deliver_and_commit(txn, now, &account, row, &token)
            .await
    }

    /// Counts one invitation mail against the inviter's hourly budget, in
    /// the caller's transaction; over the budget the call is refused (and
    /// the transaction, dropped, writes nothing).
    pub(super) async fn spend_mail_budget(
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

    /// The end of creating or resending an invitation: mails the accept
    /// link for `token` (or hands it back when the invitation is not
    /// mailed) and commits.
    async fn deliver_and_commit(
        &self,
        txn: DatabaseTransaction,
        now: Timestamp,
        account: &AccountRow,
        row: InvitationRow,
        token: &str,
    ) -> Result<CreatedInvitation, AppError> {
        let accept_link = self
            .deliver_link(&txn, now, account, &row, token, row.link_mailed)
            .await?;
        let invitation = self.invitation_view(&txn, row).await?;
        self.commit(txn).await?;
        Ok(CreatedInvitation {
            invitation,
            accept_link,
        })
    }

    /// Mails the accept link for `token`, or returns it when not mailing.
    pub(super) async fn deliver_link(
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
            account_id: Some(account.id),
            context: context
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            secrets: [("link".to_owned(), link)].into_iter().collect(),
        };
        mail::enqueue_at(txn, now, mail).await?;
        Ok(None)
    }

    pub(super) async fn inviter_name(
        &self,
        conn: &impl ConnectionTrait,
        row: &InvitationRow,
    ) -> Result<String, AppError> {
        Ok(match row.inviter_user_id {
            Some(id) => store::users::find(conn, id)
                .await?
                .map(|user| user.full_name)
                .unwrap_or_default(),
            None => String::new(),
        })
    }
}

/// Whether the caller may have the link returned instead of mailed, and
/// whether it invites as staff: only staff and API credentials holding
/// `invitations.write` may take a link. A link handed to an account owner
/// would let anyone who signs up mint accounts for addresses nobody proved.
pub(super) fn ensure_may_take_link(
    principal: &Principal,
    send_email: bool,
) -> Result<bool, AppError> {
    let as_staff = principal.permissions.contains(Permission::InvitationsWrite);
    if send_email || as_staff {
        Ok(as_staff)
    } else {
        Err(AppError::PermissionDenied(Reason::LinkRequiresStaff))
    }
}

/// The inviting user (the staff user behind an API credential) and the
/// inviting actor's id.
pub(super) fn inviter_of(principal: &Principal) -> (Option<UserId>, String) {
    match &principal.caller {
        Caller::User { user_id, .. } => (Some(*user_id), user_id.to_string()),
        Caller::ApiCredential {
            credential_id,
            staff_user_id,
        } => (Some(*staff_user_id), credential_id.to_string()),
        Caller::System | Caller::Anonymous => (None, String::new()),
    }
}
