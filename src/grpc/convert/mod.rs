//! Proto messages to use-case inputs (parsing every field) and use-case
//! results to proto messages, one file per service.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod invitations;
pub mod users;

use crate::domain::{PageSize, Timestamp, UserStatus, ValidationError, Validator};
use crate::proto as pb;

/// A protobuf timestamp of `t`.
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = t.as_unix();
    prost_types::Timestamp { seconds, nanos }
}

/// A timestamp from the wire, checked to be in range.
pub(super) fn parse_timestamp(
    field: &str,
    t: &prost_types::Timestamp,
) -> Result<Timestamp, ValidationError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(ValidationError::single(
            field,
            "nanos must be between 0 and 999999999",
        ));
    }
    Timestamp::from_unix(t.seconds, t.nanos)
        .ok_or_else(|| ValidationError::single(field, "is out of range"))
}

/// The wire form of a user status.
pub(super) fn user_status(status: UserStatus) -> pb::UserStatus {
    match status {
        UserStatus::PendingVerification => pb::UserStatus::PendingVerification,
        UserStatus::Active => pb::UserStatus::Active,
        UserStatus::Suspended => pb::UserStatus::Suspended,
    }
}

/// A user status from the wire; `Ok(None)` for unspecified.
pub(super) fn parse_user_status(
    field: &str,
    value: i32,
) -> Result<Option<UserStatus>, ValidationError> {
    match pb::UserStatus::try_from(value) {
        Ok(pb::UserStatus::Unspecified) => Ok(None),
        Ok(pb::UserStatus::PendingVerification) => Ok(Some(UserStatus::PendingVerification)),
        Ok(pb::UserStatus::Active) => Ok(Some(UserStatus::Active)),
        Ok(pb::UserStatus::Suspended) => Ok(Some(UserStatus::Suspended)),
        Err(_) => Err(ValidationError::single(field, "is not a known user status")),
    }
}

/// A page size from the wire, recorded in `v`; the default when invalid.
pub(super) fn page_size(v: &mut Validator, value: i32) -> PageSize {
    v.check(PageSize::parse("page_size", value))
        .unwrap_or_default()
}
