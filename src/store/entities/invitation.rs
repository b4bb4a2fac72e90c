//! The `invitations` table: invitations of email addresses to client accounts.

use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, InvitationId, InvitationState, UserId};

/// One invitation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    /// The invitation's id (not its link's token).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: InvitationId,
    /// The account invited to.
    pub account_id: AccountId,
    /// The invited address as given.
    pub email: String,
    /// The invited address, lower-cased.
    pub email_normalized: String,
    /// Space-separated account permission names.
    pub permissions: String,
    /// The inviting user (the staff user behind an API credential).
    pub inviter_user_id: Option<UserId>,
    /// `user`, `staff`, `api_credential` or `system`.
    pub inviter_kind: String,
    /// The inviting actor's id: a user or an API credential.
    pub inviter_id: String,
    /// SHA-256 of the link's token, hex.
    pub token_hash: String,
    /// `pending`, `accepted` or `cancelled`.
    pub status: InvitationState,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// Microseconds since the Unix epoch.
    pub expires_at: i64,
    /// Microseconds since the Unix epoch.
    pub accepted_at: Option<i64>,
    /// The user who accepted.
    pub accepted_user_id: Option<UserId>,
    /// Microseconds since the Unix epoch.
    pub cancelled_at: Option<i64>,
    /// Whether identityd itself mailed the current link to the invited
    /// address (not handed it to the caller).
    pub link_mailed: bool,
    /// How the inviter was allowed to invite: `owner` or `staff`.
    pub inviter_authority: String,
}

/// No relations are navigated through SeaORM; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
