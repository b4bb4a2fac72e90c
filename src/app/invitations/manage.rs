//! Reading, listing and cancelling invitations.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_account_for_update;
use crate::app::error::{AppError, Reason};
use crate::domain::{AccountId, InvitationId, PageCursor, Permission};
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
        let row = store::invitations::find(txn, &id.to_string())
            .await?
            .ok_or(AppError::NotFound(Reason::InvitationNotFound))?;
        let account_id = AccountId::from_stored(&row.account_id)
            .ok_or_else(|| AppError::corrupt(format!("invitation {} account", row.id)))?;
        let account = load_account_for_update(txn, account_id).await?;
        self.ensure_manages_members(principal, &account, Permission::InvitationsWrite)?;
        Ok((account, row))
    }
}
