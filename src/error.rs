//! The one mapping from application errors to `tonic::Status`.
//!
//! Every status carries `google.rpc.ErrorInfo` with a stable reason and the
//! request id; invalid requests also carry `google.rpc.BadRequest` with one
//! violation per field. Internal failures are logged here, with their cause
//! chain, and reach the caller only as the request id.
//!
//! A status travels in HTTP/2 trailers, which clients cap (gRPC's default
//! soft limit is 8 KiB), so the message and the violations are bounded here:
//! a request with a huge bad input gets a small error, never an echo of it.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::app::{AppError, Reason};
use crate::domain::truncate_text;

/// The `ErrorInfo.domain` of every identityd error.
pub const ERROR_DOMAIN: &str = "identityd";

/// The longest status message, in bytes (percent-encoding can triple it on
/// the wire).
pub const MESSAGE_MAX_BYTES: usize = 512;

/// The most bytes of field paths and descriptions one status carries. With
/// the message (which the encoded `google.rpc.Status` repeats) and base64,
/// a status stays under about 5 KiB on the wire.
pub const VIOLATIONS_MAX_BYTES: usize = 1536;

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
            violations = bounded_violations(&invalid.violations);
            (Code::InvalidArgument, Reason::InvalidArgument)
        }
        AppError::Unauthenticated(reason) => (Code::Unauthenticated, *reason),
        AppError::PermissionDenied(reason) => (Code::PermissionDenied, *reason),
        AppError::NotFound(reason) => (Code::NotFound, *reason),
        AppError::AlreadyExists(reason) => (Code::AlreadyExists, *reason),
        AppError::FailedPrecondition(reason) => (Code::FailedPrecondition, *reason),
        AppError::Aborted(reason) => (Code::Aborted, *reason),
        AppError::ResourceExhausted(reason) => (Code::ResourceExhausted, *reason),
        AppError::Throttled(_) => {
            crate::metrics::metrics().throttle_blocks.inc();
            (Code::ResourceExhausted, Reason::TooManyAttempts)
        }
        AppError::Unavailable(source) => {
            crate::app::note_database_down();
            tracing::warn!(request_id, error = %source, cause = %cause_chain(source), "database unavailable");
            (Code::Unavailable, Reason::DatabaseUnavailable)
        }
        AppError::Upstream(reason) => (Code::Unavailable, *reason),
        AppError::DatabaseDown => (Code::Unavailable, Reason::DatabaseUnavailable),
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
        (AppError::Invalid(invalid), _) => truncate_text(&invalid.to_string(), MESSAGE_MAX_BYTES),
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
    if let AppError::Busy | AppError::DatabaseDown = &err {
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

/// The violations that fit in [`VIOLATIONS_MAX_BYTES`], in order; the
/// message names every field anyway, up to its own bound.
fn bounded_violations(violations: &[crate::domain::FieldViolation]) -> Vec<FieldViolation> {
    let mut budget = VIOLATIONS_MAX_BYTES;
    let mut kept = Vec::new();
    for v in violations {
        let size = v.field.len() + v.description.len();
        if size > budget {
            break;
        }
        budget -= size;
        kept.push(FieldViolation::new(v.field.clone(), v.description.clone()));
    }
    kept
}

/// The status for a failure tonic itself produced before a handler ran: a
/// request body that is not a message of the method's type, or one over the
/// size limit. `code` and `message` are tonic's; the caller gets the code
/// identityd promises (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`), a plain
/// message and the usual `ErrorInfo` with the request id.
pub fn transport_status(code: Code, message: &str, request_id: &str) -> Status {
    let (code, reason, message) = match code {
        // identityd's own internal errors always carry details, so a bare
        // INTERNAL is tonic failing to read the request: bad framing, a bad
        // compression flag, a truncated body or undecodable protobuf.
        Code::Internal | Code::Unknown | Code::InvalidArgument => (
            Code::InvalidArgument,
            Reason::MalformedRequest.as_str(),
            Reason::MalformedRequest.message().to_owned(),
        ),
        Code::OutOfRange | Code::ResourceExhausted => (
            Code::ResourceExhausted,
            Reason::RequestTooLarge.as_str(),
            Reason::RequestTooLarge.message().to_owned(),
        ),
        // Anything else (a timeout, an unsupported encoding) keeps its code
        // and says so in its reason.
        other => (
            other,
            code_name(other),
            truncate_text(message, MESSAGE_MAX_BYTES),
        ),
    };
    let mut details = ErrorDetails::new();
    details.set_error_info(
        reason,
        ERROR_DOMAIN,
        HashMap::from([("request_id".to_owned(), request_id.to_owned())]),
    );
    Status::with_error_details(code, message, details)
}

/// The canonical upper-case name of a gRPC code, as in `google.rpc.Code`.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Gives a trailers-only error response that carries no `ErrorInfo` (so it
/// was made by tonic, not by [`to_status`]) the status [`transport_status`]
/// makes of it. Responses that succeeded, or already carry details, are left
/// alone.
pub fn complete_transport_error<B>(response: &mut http::Response<B>, request_id: &str) {
    let headers = response.headers();
    if headers.contains_key(Status::GRPC_STATUS_DETAILS) {
        return;
    }
    let Some(code) = headers
        .get(Status::GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
    else {
        return;
    };
    if code == Code::Ok {
        return;
    }
    let original = headers
        .get(Status::GRPC_MESSAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    tracing::debug!(request_id, ?code, original = %original, "request refused before its handler");
    let status = transport_status(code, &original, request_id);
    let headers = response.headers_mut();
    headers.remove(Status::GRPC_MESSAGE);
    if status.add_header(headers).is_ok() {
        response.extensions_mut().insert(status);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Validator;

    #[test]
    fn a_flood_of_violations_renders_as_a_small_status() {
        let mut v = Validator::new();
        for index in 0..1_000 {
            v.violation(format!("permissions[{index}]"), "x".repeat(300));
        }
        let err = v.finish().unwrap_err();
        let status = to_status(AppError::Invalid(err), "req-1");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() <= MESSAGE_MAX_BYTES);
        // The encoded google.rpc.Status repeats the message.
        assert!(status.details().len() <= MESSAGE_MAX_BYTES + VIOLATIONS_MAX_BYTES + 512);
    }

    #[test]
    fn tonic_decode_failures_become_invalid_argument_with_error_info() {
        let mut response =
            Status::internal("failed to decode Protobuf message: x").into_http::<()>();
        complete_transport_error(&mut response, "req-2");
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::InvalidArgument);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "MALFORMED_REQUEST");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            info.metadata.get("request_id").map(String::as_str),
            Some("req-2")
        );
    }

    #[test]
    fn oversized_requests_become_resource_exhausted() {
        let mut response =
            Status::out_of_range("Error, decoded message length too large").into_http::<()>();
        complete_transport_error(&mut response, "req-3");
        let status = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "REQUEST_TOO_LARGE"
        );
    }

    #[test]
    fn identityds_own_errors_are_left_alone() {
        let original = to_status(AppError::NotFound(Reason::RoleNotFound), "req-4");
        let mut response = original.into_http::<()>();
        let before = response.headers().clone();
        complete_transport_error(&mut response, "req-5");
        assert_eq!(response.headers(), &before);
    }
}
