//! A user session as callers see it.

use super::{AccountId, AuthMethods, SessionId, Timestamp, UserId};

/// A session as callers see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// The account it acts for, once selected.
    pub account_id: Option<AccountId>,
    /// The address it signed in from; empty if unknown.
    pub client_ip: String,
    /// The client's description of itself.
    pub user_agent: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it was last used, to the minute.
    pub last_seen_at: Timestamp,
    /// When it ends unless used again.
    pub expires_at: Timestamp,
    /// When it ends however much it is used.
    pub absolute_expires_at: Timestamp,
    /// Whether it is the session making the call.
    pub current: bool,
    /// How its user proved who they are.
    pub auth_methods: AuthMethods,
    /// Whether it may only enrol a second factor, which the policy requires
    /// of its user, until they have one.
    pub mfa_enrollment_required: bool,
}
