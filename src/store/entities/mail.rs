//! The `mails` table: the outbox.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, MailStatus};

/// One mail in the outbox. Its `Debug` hides the secret template values.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mails")]
pub struct Model {
    /// UUIDv7; also the Message-ID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The mail kind's stored name.
    pub kind: String,
    /// The recipient's address as given.
    pub recipient: String,
    /// The address lower-cased, for filtering.
    pub recipient_normalized: String,
    /// The recipient's locale.
    pub locale: String,
    /// The client account it concerns.
    pub account_id: Option<AccountId>,
    /// Template values kept after delivery (JSON object).
    pub context: String,
    /// Secret template values (JSON object), erased once sent or given up.
    pub secret_context: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub status: MailStatus,
    /// Delivery attempts made.
    pub attempts: i32,
    /// When the next attempt is due (microseconds).
    pub next_attempt_at: i64,
    /// A worker's lease while it sends (microseconds).
    pub claimed_until: Option<i64>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub sent_at: Option<i64>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

redacted_row_debug!("MailRow" {
    id,
    kind,
    recipient,
    recipient_normalized,
    locale,
    account_id,
    context,
    secret_context secret,
    status,
    attempts,
    next_attempt_at,
    claimed_until,
    last_error,
    created_at,
    sent_at,
});
