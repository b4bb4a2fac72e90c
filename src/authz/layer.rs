//! The tower layer that authenticates each call and enforces its method's policy.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use std::net::IpAddr;

use http::{HeaderValue, Request, Response};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use super::policy::{Policy, policy_for};
use crate::app::{App, AppError, CALL_MET_DATABASE_DOWN, Caller, Principal, Reason};
use crate::domain::TrustedProxies;
use crate::error::to_status;
use crate::telemetry::RequestId;

/// Authenticates every call and checks it against [`policy_for`]; a call that
/// passes reaches its handler with a [`Principal`] in its extensions.
#[derive(Debug, Clone)]
pub struct AuthzLayer {
    app: App,
    client_certificates: bool,
}

impl AuthzLayer {
    /// A layer that authenticates against `app`'s credentials.
    pub fn new(app: App) -> Self {
        Self {
            app,
            client_certificates: false,
        }
    }

    /// Requires a verified client certificate (mutual TLS) for every method
    /// but the health check, when `required`.
    pub fn require_client_certificates(mut self, required: bool) -> Self {
        self.client_certificates = required;
        self
    }
}

impl<S> Layer<S> for AuthzLayer {
    type Service = Authz<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authz {
            inner,
            app: self.app.clone(),
            client_certificates: self.client_certificates,
        }
    }
}

/// The service made by [`AuthzLayer`].
#[derive(Debug, Clone)]
pub struct Authz<S> {
    inner: S,
    app: App,
    client_certificates: bool,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, ReqBody> Service<Request<ReqBody>> for Authz<S>
where
    S: Service<Request<ReqBody>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let app = self.app.clone();
        let call = CallFacts::of(&request, app.trusted_proxies());
        let certificate_missing = self.client_certificates
            && !call.path.starts_with(HEALTH_PREFIX)
            && !call.client_certificate;
        let needs_database = call.path.starts_with(API_PREFIX);
        Box::pin(async move {
            if certificate_missing {
                let refused = AppError::Unauthenticated(Reason::ClientCertificateRequired);
                return Ok(to_status(refused, &call.request_id).into_http());
            }
            // A database known to be down fails the call at once, rather than
            // after the connect timeout: callers with short deadlines get a
            // clear UNAVAILABLE, and calls do not pile up. The health watch
            // probes it meanwhile and lifts this when it answers.
            let database = app.database_state().clone();
            if needs_database && database.is_down() {
                return Ok(to_status(AppError::DatabaseDown, &call.request_id).into_http());
            }
            let met_database_down = Arc::new(AtomicBool::new(false));
            let answer = CALL_MET_DATABASE_DOWN
                .scope(met_database_down.clone(), async move {
                    match authorize(&app, &call).await {
                        Ok(principal) => {
                            tracing::Span::current()
                                .record("caller", describe_caller(&principal.caller));
                            request.extensions_mut().insert(principal);
                            inner.call(request).await
                        }
                        Err(err) => Ok(to_status(err, &call.request_id).into_http()),
                    }
                })
                .await;
            if met_database_down.load(Ordering::Acquire) {
                database.mark_down();
            }
            answer
        })
    }
}

/// identityd's own services, which all need the database.
const API_PREFIX: &str = "/identity.v1.";

/// The health service's methods, open to probes without a client certificate.
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// The header a proxy appends the address it received a call from to.
const FORWARDED_FOR: &str = "x-forwarded-for";
/// The header a trusted caller (a front end calling for its users) names
/// its client's address in.
const CLIENT_IP: &str = "x-client-ip";

/// What authorization needs from a request, taken before any await so the
/// request body never has to cross threads by reference.
struct CallFacts {
    path: String,
    request_id: String,
    client_ip: Option<IpAddr>,
    authorization: Option<HeaderValue>,
    /// Whether the caller presented a client certificate the TLS handshake
    /// verified against the configured CA.
    client_certificate: bool,
}

impl CallFacts {
    fn of<B>(request: &Request<B>, proxies: &TrustedProxies) -> Self {
        let extensions = request.extensions();
        let tls = extensions.get::<TlsConnectInfo<TcpConnectInfo>>();
        let peer = extensions
            .get::<TcpConnectInfo>()
            .or_else(|| tls.map(TlsConnectInfo::get_ref))
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        let client_certificate = tls
            .and_then(TlsConnectInfo::peer_certs)
            .is_some_and(|certs| !certs.is_empty());
        let headers = request.headers();
        // Header values that are not text are ignored, as if absent.
        let forwarded_for = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok());
        let client_ip = headers.get(CLIENT_IP).and_then(|value| value.to_str().ok());
        Self {
            path: request.uri().path().to_owned(),
            request_id: request
                .extensions()
                .get::<RequestId>()
                .map(|id| id.0.clone())
                .unwrap_or_default(),
            client_ip: proxies.client_address(peer, forwarded_for, client_ip),
            authorization: request.headers().get(http::header::AUTHORIZATION).cloned(),
            client_certificate,
        }
    }
}

async fn authorize(app: &App, call: &CallFacts) -> Result<Principal, AppError> {
    let policy =
        policy_for(&call.path).ok_or(AppError::PermissionDenied(Reason::PermissionDenied))?;
    let anonymous_allowed = policy == Policy::Public
        || (policy == Policy::OptionalSession && call.authorization.is_none());
    if anonymous_allowed {
        return Ok(Principal::anonymous(
            call.client_ip,
            call.request_id.clone(),
        ));
    }
    let bearer = bearer_token(call.authorization.as_ref())?;
    let authenticated = app.authenticate(bearer).await?;
    let is_session = matches!(authenticated.caller, Caller::User { .. });
    // A session the policy requires to enrol a second factor reaches the
    // enrolment methods and nothing else, whatever its user could do.
    if authenticated.mfa_enrollment_required && policy != Policy::EnrollingSession {
        return Err(AppError::FailedPrecondition(Reason::MfaEnrollmentRequired));
    }
    let allowed = match policy {
        Policy::Public => true,
        Policy::Session | Policy::OptionalSession | Policy::EnrollingSession => is_session,
        Policy::Staff(permission) => authenticated.permissions.contains(permission),
        Policy::StaffOrSession(permission) => {
            is_session || authenticated.permissions.contains(permission)
        }
    };
    if !allowed {
        return Err(match policy {
            Policy::Session | Policy::OptionalSession | Policy::EnrollingSession => {
                AppError::PermissionDenied(Reason::SessionRequired)
            }
            // Naming the permission tells the operator what to grant; the
            // policy table is public knowledge, so it reveals nothing.
            Policy::Staff(permission) | Policy::StaffOrSession(permission) => {
                AppError::PermissionDenied(Reason::PermissionDenied)
                    .with_metadata("permission", permission.name())
            }
            Policy::Public => AppError::PermissionDenied(Reason::PermissionDenied),
        });
    }
    Ok(Principal {
        caller: authenticated.caller,
        permissions: authenticated.permissions,
        account: authenticated.account,
        client_ip: call.client_ip,
        request_id: call.request_id.clone(),
    })
}

/// The token of an `authorization: Bearer <token>` header.
fn bearer_token(header: Option<&HeaderValue>) -> Result<&str, AppError> {
    let header = header.ok_or(AppError::Unauthenticated(Reason::TokenMissing))?;
    let value = header
        .to_str()
        .map_err(|_| AppError::Unauthenticated(Reason::TokenMalformed))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(AppError::Unauthenticated(Reason::TokenMalformed))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthenticated(Reason::TokenMalformed));
    }
    Ok(token.trim())
}

fn describe_caller(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous => "anonymous".to_owned(),
        Caller::System => "system".to_owned(),
        Caller::ApiCredential { credential_id, .. } => format!("api_credential:{credential_id}"),
        Caller::User {
            user_id,
            session_id,
            ..
        } => format!("user:{user_id} session:{session_id}"),
    }
}
