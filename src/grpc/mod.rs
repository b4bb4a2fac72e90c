//! The gRPC transport: one tonic service per proto service. Handlers only
//! translate between proto messages and use cases; the rules live in `app`.

mod accounts;
mod admin;
mod auth;
mod convert;
mod invitations;
mod redact;
mod users;

pub use accounts::AccountApi;
pub use admin::AdminApi;
pub use auth::AuthApi;
pub use invitations::InvitationApi;
pub use users::UserApi;

use tonic::{Request, Response, Status};

use crate::app::{AppError, Principal, Reason};
use crate::domain::ValidationError;
use crate::error::to_status;

/// The principal the authorization layer attached to this call.
fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        // Unreachable behind the authorization layer; refusing is the safe answer.
        .ok_or_else(|| to_status(AppError::Unauthenticated(Reason::TokenMissing), ""))
}

/// Parses a request (or one field of it), rendering validation errors with
/// the call's request id.
fn parse<T, E: Into<ValidationError>>(
    principal: &Principal,
    parsed: Result<T, E>,
) -> Result<T, Status> {
    parsed.map_err(|err| to_status(AppError::from(err.into()), &principal.request_id))
}

/// A use case's result as a gRPC reply.
fn reply<T, U>(
    principal: &Principal,
    result: Result<T, AppError>,
    render: impl FnOnce(T) -> U,
) -> Result<Response<U>, Status> {
    result
        .map(|value| Response::new(render(value)))
        .map_err(|err| to_status(err, &principal.request_id))
}
