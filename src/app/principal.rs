//! Who is calling, with what permissions, from where.

use std::net::IpAddr;

use crate::domain::{ApiCredentialId, PermissionSet, UserId};

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented (public methods only).
    Anonymous,
    /// identityd itself: start-up bootstrap and background jobs.
    System,
    /// A machine caller using an API credential of a staff user.
    ApiCredential {
        /// The credential.
        credential_id: ApiCredentialId,
        /// The staff user it belongs to.
        staff_user_id: UserId,
    },
}

/// The caller of one request and everything the rules need to know about it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who is calling.
    pub caller: Caller,
    /// The staff/API permissions the caller holds.
    pub permissions: PermissionSet,
    /// The network address the call came from.
    pub client_ip: Option<IpAddr>,
    /// The request id, for the activity log and error correlation.
    pub request_id: String,
}

impl Principal {
    /// identityd acting on its own behalf, with full access.
    pub fn system(request_id: impl Into<String>) -> Self {
        Self {
            caller: Caller::System,
            permissions: PermissionSet::full_access(),
            client_ip: None,
            request_id: request_id.into(),
        }
    }

    /// A caller that presented no credentials.
    pub fn anonymous(client_ip: Option<IpAddr>, request_id: impl Into<String>) -> Self {
        Self {
            caller: Caller::Anonymous,
            permissions: PermissionSet::none(),
            client_ip,
            request_id: request_id.into(),
        }
    }

    /// The actor kind recorded in the activity log.
    pub fn actor_kind(&self) -> &'static str {
        match self.caller {
            Caller::Anonymous => "anonymous",
            Caller::System => "system",
            Caller::ApiCredential { .. } => "api_credential",
        }
    }

    /// The actor id recorded in the activity log (empty for system and anonymous).
    pub fn actor_id(&self) -> String {
        match &self.caller {
            Caller::Anonymous | Caller::System => String::new(),
            Caller::ApiCredential { credential_id, .. } => credential_id.to_string(),
        }
    }

    /// The key that scopes this caller's request ids.
    pub fn idempotency_scope(&self) -> String {
        format!("{}:{}", self.actor_kind(), self.actor_id())
    }
}
