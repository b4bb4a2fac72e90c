//! Handing an account to another owner.

use super::*;
use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::{load_active_account, load_user};
use crate::app::blocks::new_account::owner_membership;
use crate::app::error::AppError;
use crate::domain::{AccountId, AccountPermissions, Timestamp, UserId};
use crate::mail::{self, MailKind, OutgoingMail};
use crate::store::{self, ConnectionTrait, accounts::AccountRow, users::UserRow};

impl App {
    /// Makes `new_owner` the owner. The previous owner stays a member with
    /// every permission unless `remove_previous_owner` is set.
    pub async fn transfer_ownership(
        &self,
        principal: &Principal,
        id: AccountId,
        new_owner: UserId,
        remove_previous_owner: bool,
    ) -> Result<Account, AppError> {
        let txn = store::begin(self.db()).await?;
        let mut row = load_active_account(&txn, id).await?;
        let new_owner_row = load_user(&txn, new_owner).await?;
        if row.owner_user_id == new_owner {
            self.commit(txn).await?;
            return Account::try_from(row);
        }
        let now = self.now();
        let micros = now.as_micros();
        let previous = std::mem::replace(&mut row.owner_user_id, new_owner);
        row.updated_at = micros;
        store::accounts::update(&txn, &row).await?;
        match store::memberships::find(&txn, row.id, new_owner).await? {
            Some(_) => {
                let all = AccountPermissions::all().to_stored();
                store::memberships::set_permissions(&txn, row.id, new_owner, &all, micros).await?;
            }
            None => {
                store::memberships::insert(&txn, owner_membership(row.id, new_owner, micros))
                    .await?;
            }
        }
        if remove_previous_owner {
            store::memberships::delete(&txn, row.id, previous).await?;
        } else {
            let all = AccountPermissions::all().to_stored();
            store::memberships::set_permissions(&txn, row.id, previous, &all, micros).await?;
        }
        let change = Change::new("account.ownership_transferred", "account", id)
            .account(id)
            .detail("previous_owner_user_id", previous)
            .detail("new_owner_user_id", new_owner)
            .detail("previous_owner_removed", remove_previous_owner);
        record_at(&txn, principal, now, change).await?;
        // The previous owner's invitations were sent with a right they no
        // longer have.
        self.retire_owner_invitations(
            &txn,
            principal,
            now,
            row.id,
            previous,
            "ownership_transferred",
        )
        .await?;
        // Both owners hear of it, in the transaction of the change itself.
        let previous_row = store::users::find(&txn, previous).await?;
        for (recipient, is_new) in [(Some(&new_owner_row), true), (previous_row.as_ref(), false)] {
            let Some(recipient) = recipient else { continue };
            self.notify_owner_changed(&txn, now, &row, recipient, &new_owner_row, is_new)
                .await?;
        }
        self.commit(txn).await?;
        Account::try_from(row)
    }

    pub(super) async fn notify_owner_changed(
        &self,
        txn: &impl ConnectionTrait,
        now: Timestamp,
        account: &AccountRow,
        recipient: &UserRow,
        new_owner: &UserRow,
        recipient_is_new_owner: bool,
    ) -> Result<(), AppError> {
        let context = [
            ("recipient_name", recipient.full_name.clone()),
            ("account_name", account.display_name.clone()),
            ("new_owner_name", new_owner.full_name.clone()),
            (
                "recipient_is_new_owner",
                if recipient_is_new_owner { "yes" } else { "" }.to_owned(),
            ),
            ("link", self.link(&format!("/accounts/{}", account.id))),
        ];
        let mail = OutgoingMail {
            kind: MailKind::AccountOwnerChanged,
            to: recipient.email.clone(),
            locale: recipient.locale.clone().unwrap_or_default(),
            account_id: Some(account.id),
            context: context
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            secrets: Default::default(),
        };
        mail::enqueue_at(txn, now, mail).await?;
        Ok(())
    }
}
