//! Outgoing mail, as operators see and retry it.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::paging::Paging;
use crate::app::error::{AppError, Reason};
pub use crate::domain::MailStatus;
use crate::domain::Permission;
use crate::domain::{AccountId, Fingerprint, PageSize, Timestamp};
use crate::mail::MailKind;
use crate::store::{
    self,
    mails::{MailFilter, MailRow},
};

/// A mail as operators see it: never its body or secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The mail's id.
    pub id: String,
    /// Its kind's stored name.
    pub kind: String,
    /// The recipient.
    pub recipient: String,
    /// Where it stands.
    pub status: MailStatus,
    /// Attempts made.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
    /// The account it concerns.
    pub account_id: Option<AccountId>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When the next attempt is due.
    pub next_attempt_at: Option<Timestamp>,
    /// When it was sent.
    pub sent_at: Option<Timestamp>,
}

impl From<MailRow> for Mail {
    fn from(row: MailRow) -> Self {
        Self {
            next_attempt_at: (row.status == MailStatus::Queued)
                .then(|| Timestamp::from_micros(row.next_attempt_at)),
            id: row.id,
            kind: row.kind,
            recipient: row.recipient,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            account_id: row.account_id,
            created_at: Timestamp::from_micros(row.created_at),
            sent_at: row.sent_at.map(Timestamp::from_micros),
        }
    }
}

/// A request for a page of mail.
#[derive(Debug, Clone)]
pub struct MailQuery {
    /// The filters.
    pub filter: MailFilter,
    /// The page size.
    pub page_size: PageSize,
    /// The raw page token.
    pub page_token: String,
}

impl MailQuery {
    /// The filters the query's page tokens are bound to.
    fn filters(&self) -> Fingerprint {
        let MailQuery {
            filter:
                MailFilter {
                    status,
                    recipient,
                    kind,
                },
            page_size: _,
            page_token: _,
        } = self;
        Fingerprint::new("ListMails", 1)
            .opt("status", status.map(MailStatus::as_str))
            .opt("recipient", recipient.as_deref())
            .opt("kind", kind.as_deref())
    }
}

/// A page of mail, newest first.
#[derive(Debug, Clone)]
pub struct MailPage {
    /// The mails.
    pub mails: Vec<Mail>,
    /// The token for the next page, if there is one.
    pub next_page_token: Option<String>,
}

impl App {
    /// A page of outgoing mail, newest first.
    /// Staff holding `mail.read` only.
    pub async fn list_mails(
        &self,
        principal: &Principal,
        query: MailQuery,
    ) -> Result<MailPage, AppError> {
        principal.ensure_staff(Permission::MailRead)?;
        let paging = Paging::start(&query.page_token, query.page_size, query.filters())?;
        let page = store::mails::list(self.reader(), &query.filter, paging.after(), paging.limit())
            .await?;
        let next_page_token = paging.next_token(&page, |row| row.id.clone());
        let mails = page.rows.into_iter().map(Mail::from).collect();
        Ok(MailPage {
            mails,
            next_page_token,
        })
    }

    /// Queues every failed mail (of `kind`, if given) again, due now, with
    /// its attempts reset; how many. Staff holding `mail.write`.
    pub async fn retry_failed_mails(
        &self,
        principal: &Principal,
        kind: Option<MailKind>,
    ) -> Result<u64, AppError> {
        principal.ensure_staff(Permission::MailWrite)?;
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let requeued =
            store::mails::requeue_failed(&txn, kind.map(MailKind::as_str), now.as_micros()).await?;
        let target = kind.map_or("all", MailKind::as_str);
        let change =
            Change::new("mail.failed_retried", "mail", target).detail("requeued", requeued);
        record_at(&txn, principal, now, change).await?;
        self.commit(txn).await?;
        Ok(requeued)
    }

    /// Queues a failed mail again, due now, with its attempts reset.
    pub async fn retry_mail(
        &self,
        principal: &Principal,
        id: uuid::Uuid,
    ) -> Result<Mail, AppError> {
        let id = id.to_string();
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        let row = store::mails::find(&txn, &id)
            .await?
            .ok_or(AppError::NotFound(Reason::MailNotFound))?;
        if row.status != MailStatus::Failed {
            return Err(AppError::FailedPrecondition(Reason::MailNotFailed));
        }
        store::mails::requeue(&txn, &id, now.as_micros()).await?;
        let mut change = Change::new("mail.retried", "mail", &id)
            .detail("kind", &row.kind)
            .detail("previous_attempts", row.attempts);
        if let Some(account_id) = row.account_id {
            change = change.account(account_id);
        }
        record_at(&txn, principal, now, change).await?;
        let row = store::mails::find(&txn, &id)
            .await?
            .ok_or(AppError::NotFound(Reason::MailNotFound))?;
        self.commit(txn).await?;
        Ok(Mail::from(row))
    }
}
