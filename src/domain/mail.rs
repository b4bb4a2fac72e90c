//! Where an outgoing mail stands.

/// Where a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// Waiting for an attempt.
    Queued,
    /// Handed to the transport.
    Sent,
    /// Given up.
    Failed,
}

impl MailStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    /// The status from its stored form.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(MailStatus::Queued),
            "sent" => Some(MailStatus::Sent),
            "failed" => Some(MailStatus::Failed),
            _ => None,
        }
    }
}
