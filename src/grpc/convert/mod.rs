//! Proto messages to use-case inputs (parsing every field) and use-case
//! results to proto messages, one file per service.

pub mod accounts;
pub mod activity;
pub mod auth;
pub mod contacts;
pub mod credentials;
pub mod external;
pub mod invitations;
pub mod mails;
pub mod retention;
pub mod roles;
pub mod settings;
pub mod staff;
pub mod users;

use crate::domain::{PageSize, Timestamp, UserStatus, ValidationError, Validator, bounded_text};
use crate::proto as pb;

/// The most values a repeated field of account permissions may hold. There
/// are 13 permissions; a few repeats are tolerated, a flood is refused.
pub(super) const ACCOUNT_PERMISSIONS_MAX: usize = 64;
/// The most names a repeated field of staff permissions may hold.
pub(super) const STAFF_PERMISSIONS_MAX: usize = 256;
/// The most paths an update mask may hold.
pub(super) const UPDATE_MASK_PATHS_MAX: usize = 32;
/// The longest piece of a bad input quoted back in a violation, in characters.
const QUOTE_MAX_CHARS: usize = 40;
/// The longest search text a list accepts.
const QUERY_MAX: usize = 128;
/// The longest reason given for closing or reopening an account, or for
/// suspending or activating a user.
const REASON_MAX: usize = 500;

/// `values`, or nothing when it holds more than `max`: then one violation
/// names the field and the limit, and no value is looked at, so a request
/// with a quarter of a million values costs no more than one with `max`.
pub(super) fn bounded<'a, T>(
    v: &mut Validator,
    field: &str,
    values: &'a [T],
    max: usize,
) -> &'a [T] {
    if values.len() > max {
        v.violation(field, format!("may hold at most {max} values"));
        &[]
    } else {
        values
    }
}

/// `text` quoted for a violation, cut short so an error never echoes a long input.
pub(super) fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_MAX_CHARS {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(QUOTE_MAX_CHARS).collect();
        format!("{head:?}…")
    }
}

/// A protobuf timestamp of `t`.
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = t.as_unix();
    prost_types::Timestamp { seconds, nanos }
}

/// A timestamp from the wire, checked to be within RFC 3339's range, so
/// every time identityd stores can be written as JSON and in mail.
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
    Timestamp::from_unix(t.seconds, t.nanos).ok_or_else(|| {
        ValidationError::single(
            field,
            "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z",
        )
    })
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

/// An id a list is filtered by: empty means no filter; anything else must
/// parse, and a bad one is recorded in `v`.
pub(super) fn filter_id<T, E: Into<ValidationError>>(
    v: &mut Validator,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    if value.is_empty() {
        None
    } else {
        v.check(parse(value))
    }
}

/// A list's search text: trimmed and lower-cased, `None` when empty. One
/// that is too long, or holds control or invisible characters (which no
/// stored name, username or address has, and which a database may refuse),
/// is recorded in `v`.
pub(super) fn search_text(v: &mut Validator, query: &str) -> Option<String> {
    if query.trim().is_empty() {
        return None;
    }
    v.check(bounded_text("query", query, 1, QUERY_MAX))
        .map(|text| text.to_lowercase())
}

/// A parsed id with the reason for a change of status, as CloseAccount,
/// ReopenAccount, SuspendUser and ActivateUser take them.
pub(super) fn with_reason<T, E: Into<ValidationError>>(
    id: Result<T, E>,
    reason: &str,
) -> Result<(T, String), ValidationError> {
    let mut v = Validator::new();
    let id = v.check(id);
    let reason = v.check(bounded_text("reason", reason, 1, REASON_MAX));
    v.finish_with(|| Some((id?, reason?)))
}

/// An actor (who made a change or stored a value) as the API shows it.
pub(super) fn actor(kind: &str, id: String) -> pb::Actor {
    let kind = match kind {
        "system" => pb::ActorKind::System,
        "staff" => pb::ActorKind::Staff,
        "user" => pb::ActorKind::User,
        "api_credential" => pb::ActorKind::ApiCredential,
        "anonymous" => pb::ActorKind::Anonymous,
        _ => pb::ActorKind::Unspecified,
    };
    pb::Actor {
        kind: kind.into(),
        id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_outside_rfc3339_are_refused() {
        let at = |seconds: i64, nanos: i32| prost_types::Timestamp { seconds, nanos };
        assert!(parse_timestamp("expire_time", &at(253_402_300_799, 999_999_999)).is_ok());
        assert!(parse_timestamp("expire_time", &at(-62_135_596_800, 0)).is_ok());
        for (seconds, nanos) in [
            (253_402_300_800, 0),
            (8_994_000_000_000, 0),
            (-62_135_596_801, 999_999_999),
            (i64::MAX, 0),
            (0, -1),
            (0, 1_000_000_000),
        ] {
            let err = parse_timestamp("expire_time", &at(seconds, nanos)).unwrap_err();
            assert_eq!(err.violations[0].field, "expire_time");
        }
    }

    #[test]
    fn long_inputs_are_quoted_short() {
        assert_eq!(quote("abc"), "\"abc\"");
        let quoted = quote(&"é".repeat(4096));
        assert!(quoted.chars().count() < 50, "{quoted}");
    }

    #[test]
    fn too_many_values_make_one_violation_and_no_values() {
        let mut v = Validator::new();
        let many = vec![7; 250_000];
        assert!(bounded(&mut v, "permissions", &many, 64).is_empty());
        let err = v.finish().unwrap_err();
        assert_eq!(err.violations.len(), 1);
        assert_eq!(err.violations[0].field, "permissions");
        assert!(err.violations[0].description.contains("64"));
    }
}
