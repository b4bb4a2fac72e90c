//! Reading, listing and cancelling invitations.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_account_for_update;
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
use crate::domain::{InvitationId, Permission, UserId};
use crate::store::{
    self, ConnectionTrait,
    accounts::AccountRow,
    invitations::{self as rows, InvitationRow, StatusFilter},
    users::UserRow,
};

use super::*;

impl App {
    /// One invitation.
    pub async fn get_invitation(
        &self,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<Invitation, AppError> {
        self.ensure_may_invite_somewhere(principal, Permission::InvitationsRead)?;
        let row = store::invitations::find(self.reader(), id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let account = store::accounts::find(self.reader(), row.account_id)
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
        let account = store::accounts::find(self.reader(), query.account_id)
            .await?
            .ok_or(AppError::NotFound(Reason::AccountNotFound))?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let status = query.status.map(|status| match status {
            InvitationStatus::Pending => StatusFilter::Pending,
            InvitationStatus::Accepted => StatusFilter::Accepted,
            InvitationStatus::Cancelled => StatusFilter::Cancelled,
            InvitationStatus::Expired => StatusFilter::Expired,
        });
        let page = rows::list(
            self.reader(),
            account.id,
            status,
            self.now().as_micros(),
            paging.after(),
            paging.limit(),
        )
        .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.to_string());
        let inviter_ids: Vec<UserId> = page
            .rows
            .iter()
            .filter_map(|row| row.inviter_user_id)
            .collect();
        let inviters: BTreeMap<UserId, UserRow> =
            store::users::find_many(self.reader(), &inviter_ids)
                .await?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
        let invitations = page
            .rows
            .into_iter()
            .map(|row| {
                let inviter = row.inviter_user_id.as_ref().and_then(|id| inviters.get(id));
                self.view(row, &account, inviter)
            })
            .collect();
        Ok(InvitationPage {
            invitations,
            next_page_token,
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
        if !rows::cancel(&txn, row.id, now.as_micros()).await? {
            return Err(AppError::FailedPrecondition(Reason::InvitationNotPending));
        }
        let change = Change::new("invitation.cancelled", "invitation", id).account(account.id);
        record_at(&txn, principal, now, change).await?;
        let row = store::invitations::find(&txn, row.id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let invitation = self.invitation_view(&txn, row).await?;
        self.commit(txn).await?;
        Ok(invitation)
    }

    /// The invitation and its account, locked in this order, after checking
    /// that the caller manages the account's invitations.
    pub(super) async fn load_for_change(
        &self,
        txn: &impl ConnectionTrait,
        principal: &Principal,
        id: InvitationId,
    ) -> Result<(AccountRow, InvitationRow), AppError> {
        let row = store::invitations::find(txn, id)
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let account = load_account_for_update(txn, row.account_id).await?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsWrite)?;
        Ok((account, row))
    }
}
