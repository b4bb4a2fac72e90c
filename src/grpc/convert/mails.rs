//! AdminService messages about the mail outbox.

use crate::app::{Mail, MailFilter, MailQuery, MailStatus};
use crate::domain::{ValidationError, Validator};
use crate::mail::MailKind;
use crate::proto as pb;

use super::{page_size, timestamp};

fn mail_status(status: MailStatus) -> pb::MailStatus {
    match status {
        MailStatus::Queued => pb::MailStatus::Queued,
        MailStatus::Sent => pb::MailStatus::Sent,
        MailStatus::Failed => pb::MailStatus::Failed,
    }
}

impl From<Mail> for pb::Mail {
    fn from(mail: Mail) -> Self {
        pb::Mail {
            id: mail.id,
            kind: mail.kind,
            recipient: mail.recipient,
            status: mail_status(mail.status).into(),
            attempts: mail.attempts,
            last_error: mail.last_error.unwrap_or_default(),
            account_id: mail.account_id.map(|id| id.to_string()).unwrap_or_default(),
            create_time: Some(timestamp(mail.created_at)),
            next_attempt_time: mail.next_attempt_at.map(timestamp),
            send_time: mail.sent_at.map(timestamp),
        }
    }
}

/// A parsed ListMails request.
pub fn list_mails(request: pb::ListMailsRequest) -> Result<MailQuery, ValidationError> {
    let pb::ListMailsRequest {
        page_size: size,
        page_token,
        status,
        recipient,
        kind,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let status = match pb::MailStatus::try_from(status) {
        Ok(pb::MailStatus::Unspecified) => None,
        Ok(pb::MailStatus::Queued) => Some(MailStatus::Queued),
        Ok(pb::MailStatus::Sent) => Some(MailStatus::Sent),
        Ok(pb::MailStatus::Failed) => Some(MailStatus::Failed),
        Err(_) => {
            v.violation("status", "is not a known mail status");
            None
        }
    };
    let recipient = recipient.trim();
    if recipient.len() > 254 {
        v.violation("recipient", "must have at most 254 characters");
    }
    let kind = kind.trim();
    if !kind.is_empty() && MailKind::from_str_name(kind).is_none() {
        v.violation("kind", "is not a mail kind, such as account_owner_changed");
    }
    v.finish()?;
    Ok(MailQuery {
        filter: MailFilter {
            status,
            recipient: (!recipient.is_empty()).then(|| recipient.to_lowercase()),
            kind: (!kind.is_empty()).then(|| kind.to_owned()),
        },
        page_size,
        page_token,
    })
}

/// A parsed mail id.
pub fn mail_id(value: &str) -> Result<uuid::Uuid, ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::single("mail_id", "is required"));
    }
    uuid::Uuid::try_parse(value).map_err(|_| ValidationError::single("mail_id", "must be a UUID"))
}

/// A mail kind named in a request (`kind`), or none when empty.
pub fn optional_kind(kind: &str) -> Result<Option<MailKind>, crate::domain::FieldViolation> {
    let kind = kind.trim();
    if kind.is_empty() {
        return Ok(None);
    }
    MailKind::from_str_name(kind).map(Some).ok_or_else(|| {
        crate::domain::FieldViolation::new("kind", "is not a mail kind, such as verification_code")
    })
}
