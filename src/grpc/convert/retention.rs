//! AdminService messages about retention pruning.

use crate::app::{RetentionItem, RetentionReason, RetentionRun, RetentionStatus};
use crate::domain::{ValidationError, Validator};
use crate::proto as pb;

use super::{page_size, timestamp};

fn reason_to_proto(reason: RetentionReason) -> pb::RetentionReason {
    match reason {
        RetentionReason::InactivityWarning => pb::RetentionReason::InactivityWarning,
        RetentionReason::InactiveAccount => pb::RetentionReason::InactiveAccount,
        RetentionReason::ClosedAccount => pb::RetentionReason::ClosedAccount,
        RetentionReason::UnverifiedUser => pb::RetentionReason::UnverifiedUser,
    }
}

const REASONS: [RetentionReason; 4] = [
    RetentionReason::InactivityWarning,
    RetentionReason::InactiveAccount,
    RetentionReason::ClosedAccount,
    RetentionReason::UnverifiedUser,
];

/// The page size and position a PreviewRetention request asks for. The
/// page token is the last item's reason and target id: a cursor, not a secret.
pub fn preview(
    request: pb::PreviewRetentionRequest,
) -> Result<(u64, Option<(RetentionReason, String)>), ValidationError> {
    let pb::PreviewRetentionRequest {
        page_size: size,
        page_token,
    } = request;
    let mut v = Validator::new();
    let size = page_size(&mut v, size).get();
    let after = if page_token.is_empty() {
        None
    } else {
        let parsed = page_token.split_once(':').and_then(|(reason, id)| {
            let reason = REASONS.into_iter().find(|r| r.as_str() == reason)?;
            (!id.is_empty() && id.len() <= 64).then(|| (reason, id.to_owned()))
        });
        if parsed.is_none() {
            v.violation("page_token", "is not a token this method gave out");
        }
        parsed
    };
    v.finish()?;
    Ok((size, after))
}

/// A page of items, with the token for the next when the page is full.
pub fn preview_page(items: Vec<RetentionItem>, size: u64) -> pb::PreviewRetentionResponse {
    let next_page_token = match items.last() {
        Some(last) if items.len() as u64 >= size => {
            format!("{}:{}", last.reason.as_str(), last.target_id)
        }
        _ => String::new(),
    };
    pb::PreviewRetentionResponse {
        items: items
            .into_iter()
            .map(|item| pb::RetentionItem {
                reason: reason_to_proto(item.reason).into(),
                target_id: item.target_id,
                name: item.name,
                since_time: Some(timestamp(item.since)),
            })
            .collect(),
        next_page_token,
    }
}

impl From<RetentionRun> for pb::RetentionRun {
    fn from(run: RetentionRun) -> Self {
        pb::RetentionRun {
            id: run.id,
            trigger: run.trigger,
            start_time: run.started_at.map(timestamp),
            finish_time: run.finished_at.map(timestamp),
            counts: run.counts.into_iter().collect(),
            error: run.error.unwrap_or_default(),
        }
    }
}

impl From<RetentionStatus> for pb::GetRetentionStatusResponse {
    fn from(status: RetentionStatus) -> Self {
        pb::GetRetentionStatusResponse {
            last_run: status.last_run.map(Into::into),
            next_run_time: Some(timestamp(status.next_run_at)),
            enabled: status.enabled,
        }
    }
}
