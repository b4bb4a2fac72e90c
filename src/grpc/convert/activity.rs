//! AdminService messages about the activity log.

use crate::app::{ActivityEvent, ActivityFilter, ActivityQuery};
use crate::domain::{ACTIONS, AccountId, Timestamp, UserId, ValidationError, Validator};
use crate::proto as pb;

use super::{actor, filter_id, page_size, parse_timestamp, timestamp};

/// The longest action name accepted as a filter.
const ACTION_MAX: usize = 64;

impl From<ActivityEvent> for pb::ActivityEvent {
    fn from(event: ActivityEvent) -> Self {
        pb::ActivityEvent {
            id: event.id,
            time: Some(timestamp(event.time)),
            actor: Some(actor(&event.actor_kind, event.actor_id)),
            account_id: event
                .account_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            client_ip: event.client_ip.unwrap_or_default(),
            request_id: event.request_id,
            details: event.details.into_iter().collect(),
        }
    }
}

/// The target types activity events name: those of the action catalogue,
/// and `identifier` (a sign-in for a name nobody has).
fn target_types() -> Vec<&'static str> {
    let mut types: Vec<&'static str> = ACTIONS.iter().map(|action| action.target_type).collect();
    types.push("identifier");
    types.sort_unstable();
    types.dedup();
    types
}

/// The longest target id a filter may name.
const TARGET_ID_MAX: usize = 128;

/// A parsed ListActivity request.
pub fn list_activity(request: pb::ListActivityRequest) -> Result<ActivityQuery, ValidationError> {
    let pb::ListActivityRequest {
        page_size: size,
        page_token,
        actor_kind,
        actor_id,
        account_id,
        action,
        start_time,
        end_time,
        target_type,
        target_id,
        action_prefix,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let actor_kind = match pb::ActorKind::try_from(actor_kind) {
        Ok(pb::ActorKind::Unspecified) => None,
        Ok(pb::ActorKind::System) => Some("system"),
        Ok(pb::ActorKind::Staff) => Some("staff"),
        Ok(pb::ActorKind::User) => Some("user"),
        Ok(pb::ActorKind::ApiCredential) => Some("api_credential"),
        Ok(pb::ActorKind::Anonymous) => Some("anonymous"),
        Err(_) => {
            v.violation("actor_kind", "is not a known actor kind");
            None
        }
    };
    // An actor id is a UUID whatever it names (a user or an API credential);
    // parsing it as a user id only checks its form.
    let actor_id = filter_id(&mut v, &actor_id, |s| UserId::parse("actor_id", s));
    let account_id = filter_id(&mut v, &account_id, |s| AccountId::parse("account_id", s));
    if action.len() > ACTION_MAX {
        v.violation(
            "action",
            format!("must have at most {ACTION_MAX} characters"),
        );
    }
    if action_prefix.len() > ACTION_MAX {
        v.violation(
            "action_prefix",
            format!("must have at most {ACTION_MAX} characters"),
        );
    }
    let known = target_types();
    if !target_type.is_empty() && !known.contains(&target_type.as_str()) {
        v.violation(
            "target_type",
            format!("must be one of {}", known.join(", ")),
        );
    }
    if target_id.chars().count() > TARGET_ID_MAX {
        v.violation(
            "target_id",
            format!("must have at most {TARGET_ID_MAX} characters"),
        );
    }
    let since = start_time.and_then(|t| v.check(parse_timestamp("start_time", &t)));
    let until = end_time.and_then(|t| v.check(parse_timestamp("end_time", &t)));
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        v.violation("end_time", "must not be before start_time");
    }
    v.finish()?;
    Ok(ActivityQuery {
        filter: ActivityFilter {
            actor_kind: actor_kind.map(str::to_owned),
            actor_id: actor_id.map(|id| id.to_string()),
            account_id,
            action: (!action.is_empty()).then_some(action),
            action_prefix: (!action_prefix.is_empty()).then_some(action_prefix),
            target_type: (!target_type.is_empty()).then_some(target_type),
            target_id: (!target_id.is_empty()).then_some(target_id),
            since: since.map(Timestamp::as_micros),
            until: until.map(Timestamp::as_micros),
        },
        page_size,
        page_token,
    })
}
