//! The gRPC server itself: the services, the tower stack in front of them
//! and the listener's connection settings.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::ServiceBuilder;

use super::StartupError;
use crate::app::App;
use crate::authz::AuthzLayer;
use crate::config::Settings;
use crate::grpc::{AccountApi, AdminApi, AuthApi, InvitationApi, UserApi};
use crate::limits::{CallLimitsLayer, LimitedIncoming};
use crate::proto::account_service_server::AccountServiceServer;
use crate::proto::admin_service_server::AdminServiceServer;
use crate::proto::auth_service_server::AuthServiceServer;
use crate::proto::invitation_service_server::InvitationServiceServer;
use crate::proto::user_service_server::UserServiceServer;
use crate::telemetry::RequestContextLayer;
use crate::tls::{TlsIncoming, TlsReloader};

/// The server on `listener`, ready to be spawned: it serves every service
/// behind the request context, call limits and authorization layers until
/// `stop` turns true, then finishes the calls in flight.
pub(super) fn serve(
    listener: TcpListener,
    tls: Option<Arc<TlsReloader>>,
    app: &App,
    settings: &Settings,
    health: HealthServer<impl Health>,
    mut stop: watch::Receiver<bool>,
) -> Result<ServerFuture, StartupError> {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // grpcurl 1.8 and Python's reflection client speak only v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let server_settings = &settings.server;
    let max_request = server_settings.max_request_bytes;
    let admin =
        AdminServiceServer::new(AdminApi::new(app.clone())).max_decoding_message_size(max_request);
    let users =
        UserServiceServer::new(UserApi::new(app.clone())).max_decoding_message_size(max_request);
    let accounts = AccountServiceServer::new(AccountApi::new(app.clone()))
        .max_decoding_message_size(max_request);
    let auth =
        AuthServiceServer::new(AuthApi::new(app.clone())).max_decoding_message_size(max_request);
    let invitations = InvitationServiceServer::new(InvitationApi::new(app.clone()))
        .max_decoding_message_size(max_request);

    let layers = ServiceBuilder::new()
        .layer(RequestContextLayer)
        .layer(CallLimitsLayer::new(
            server_settings.max_concurrent_calls,
            Duration::from_millis(server_settings.call_timeout_ms),
        ))
        .layer(
            AuthzLayer::new(app.clone()).require_client_certificates(
                tls.as_ref()
                    .is_some_and(|tls| tls.requires_client_certificates()),
            ),
        )
        .into_inner();
    // Without TCP_NODELAY a response written in two segments waits for
    // the client's delayed ACK: about 40 ms per call.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let incoming = LimitedIncoming::new(incoming, server_settings.max_connections);
    let keepalive_interval = (server_settings.http2_keepalive_interval_secs > 0)
        .then(|| Duration::from_secs(server_settings.http2_keepalive_interval_secs));
    let router = Server::builder()
        .max_concurrent_streams(server_settings.max_concurrent_streams.max(1))
        .http2_keepalive_interval(keepalive_interval)
        .http2_keepalive_timeout(Some(Duration::from_secs(
            server_settings.http2_keepalive_timeout_secs.max(1),
        )))
        .layer(layers)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(admin)
        .add_service(users)
        .add_service(accounts)
        .add_service(auth)
        .add_service(invitations);
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    Ok(match tls {
        Some(tls) => {
            Box::pin(router.serve_with_incoming_shutdown(TlsIncoming::new(incoming, tls), stopped))
        }
        None => Box::pin(router.serve_with_incoming_shutdown(incoming, stopped)),
    })
}

/// The server, running until told to stop.
pub(super) type ServerFuture =
    Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send + 'static>>;
