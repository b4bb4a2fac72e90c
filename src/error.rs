//! The one mapping from application errors to `tonic::Status`.
//!
//! Every status carries `google.rpc.ErrorInfo` with a stable reason and the
//! request id; invalid requests also carry `google.rpc.BadRequest` with one
//! violation per field. Internal failures are logged here, with their cause
//! chain, and reach the caller only as the request id.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::app::{AppError, Reason};

/// The `ErrorInfo.domain` of every identityd error.
pub const ERROR_DOMAIN: &str = "identityd";

/// Renders `err` as the status a caller sees for request `request_id`.
pub fn to_status(err: AppError, request_id: &str) -> Status {
    to_status_with(err, request_id, Vec::new())
}

/// [`to_status`] with `extra` added to the ErrorInfo metadata (never
/// replacing the request id).
fn to_status_with(
    err: AppError,
    request_id: &str,
    mut extra: Vec<(&'static str, String)>,
) -> Status {
    if let AppError::WithMetadata(inner, metadata) = err {
        extra.extend(metadata);
        return to_status_with(*inner, request_id, extra);
    }
    let mut violations = Vec::new();
    let (code, reason) = match &err {
        AppError::Invalid(invalid) => {
            violations = invalid
                .violations
                .iter()
                .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
                .collect();
            (Code::InvalidArgument, Reason::InvalidArgument)
        }
        AppError::Unauthenticated(reason) => (Code::Unauthenticated, *reason),
        AppError::PermissionDenied(reason) => (Code::PermissionDenied, *reason),
        AppError::NotFound(reason) => (Code::NotFound, *reason),
        AppError::AlreadyExists(reason) => (Code::AlreadyExists, *reason),
        AppError::FailedPrecondition(reason) => (Code::FailedPrecondition, *reason),
        AppError::ResourceExhausted(reason) => (Code::ResourceExhausted, *reason),
        AppError::Throttled(_) => (Code::ResourceExhausted, Reason::TooManyAttempts),
        AppError::Unavailable(source) => {
            tracing::warn!(request_id, error = %source, cause = %cause_chain(source), "database unavailable");
            (Code::Unavailable, Reason::DatabaseUnavailable)
        }
        AppError::Busy => (Code::Unavailable, Reason::ServerBusy),
        AppError::TimedOut => (Code::DeadlineExceeded, Reason::CallTimeout),
        AppError::Internal(source) => {
            tracing::error!(request_id, error = %source, cause = %cause_chain(source.as_ref()), "internal error");
            (Code::Internal, Reason::Internal)
        }
        // Peeled off before this match; kept so the match stays exhaustive.
        AppError::WithMetadata(_, _) => (Code::Internal, Reason::Internal),
    };
    let message = match (&err, violations.as_slice()) {
        (AppError::Invalid(invalid), _) => invalid.to_string(),
        (AppError::Internal(_), _) => format!("internal error; quote request id {request_id}"),
        _ => reason.message().to_owned(),
    };
    let mut details = ErrorDetails::new();
    let mut metadata: HashMap<String, String> = extra
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    metadata.insert("request_id".to_owned(), request_id.to_owned());
    details.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    if !violations.is_empty() {
        details.set_bad_request(violations);
    }
    if let AppError::Busy = &err {
        details.set_retry_info(Some(std::time::Duration::from_secs(1)));
    }
    if let AppError::Throttled(delay) = &err {
        // Whole seconds, rounded up, so a client that waits this long gets in.
        let seconds = delay.as_millis().div_ceil(1000);
        details.set_retry_info(Some(std::time::Duration::from_secs(
            u64::try_from(seconds).unwrap_or(u64::MAX),
        )));
    }
    Status::with_error_details(code, message, details)
}

fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    chain.join(": ")
}
