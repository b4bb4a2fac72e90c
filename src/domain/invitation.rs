//! Invitation states.

/// What the database records about an invitation. Whether a pending
/// invitation has expired follows from the time, so it is not a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// Waiting to be accepted.
    Pending,
    /// Accepted.
    Accepted,
    /// Cancelled or replaced.
    Cancelled,
}

impl InvitationState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Cancelled => "cancelled",
        }
    }

    /// The state from its stored form.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(InvitationState::Pending),
            "accepted" => Some(InvitationState::Accepted),
            "cancelled" => Some(InvitationState::Cancelled),
            _ => None,
        }
    }
}
