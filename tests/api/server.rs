//! The server around the API: health, reflection, request ids, bootstrap.

use identityd::proto::ListRolesRequest;
use identityd::startup::Application;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{assert_error, spawn_app, test_settings};

#[tokio::test]
async fn health_reports_serving_without_credentials() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel());
    for service in ["", "identity.v1.AdminService"] {
        let response = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(
            response.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
}

#[tokio::test]
async fn reflection_lists_the_services_in_both_protocol_versions() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let app = spawn_app().await;
    let mut client = ServerReflectionClient::new(app.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a reply")
        .expect("a message");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection reply: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"identity.v1.AdminService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as V1Client;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Request;
    let mut v1 = V1Client::new(app.channel());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(V1Request::ListServices(String::new())),
    };
    let mut responses = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1 reflection")
        .into_inner();
    assert!(responses.message().await.expect("a reply").is_some());
}

#[tokio::test]
async fn the_request_id_is_taken_from_the_caller_and_echoed() {
    let app = spawn_app().await;
    let mut request = tonic::Request::new(ListRolesRequest::default());
    request
        .metadata_mut()
        .insert("x-request-id", "billing-42".parse().expect("ASCII"));
    let response = app
        .admin
        .clone()
        .list_roles(request)
        .await
        .expect("list roles");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("billing-42")
    );

    let mut request = tonic::Request::new(ListRolesRequest::default());
    request
        .metadata_mut()
        .insert("x-request-id", "billing-43".parse().expect("ASCII"));
    let status = app
        .anonymous()
        .list_roles(request)
        .await
        .expect_err("no token");
    assert_error(&status, Code::Unauthenticated, "TOKEN_MISSING");
    let info = tonic_types::StatusExt::get_details_error_info(&status).expect("error info");
    assert_eq!(
        info.metadata.get("request_id").map(String::as_str),
        Some("billing-43")
    );
}

#[tokio::test]
async fn a_generated_request_id_is_echoed_when_the_caller_sends_none() {
    let app = spawn_app().await;
    let response = app
        .admin
        .clone()
        .list_roles(ListRolesRequest::default())
        .await
        .expect("list roles");
    let id = response
        .metadata()
        .get("x-request-id")
        .expect("a request id");
    assert_eq!(id.to_str().expect("ASCII").len(), 36);
}

#[cfg(unix)]
#[tokio::test]
async fn the_bootstrap_token_is_private_and_written_only_on_the_first_start() {
    use std::os::unix::fs::PermissionsExt;

    let app = spawn_app().await;
    let token_path = app.data_path().join("bootstrap-token");
    let mode = std::fs::metadata(&token_path)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(app.token.starts_with("ida_"));

    // A second start on the same database bootstraps nothing new.
    std::fs::remove_file(&token_path).expect("remove token");
    let database_url = app.database_url.clone();
    let postgres = (!database_url.starts_with("sqlite:")).then_some(database_url);
    let dir = app.stop().await;
    let restarted = Application::build(test_settings(dir.path().join("data"), postgres))
        .await
        .expect("restart");
    assert!(
        !token_path.exists(),
        "a restart must not mint another bootstrap credential"
    );
    drop(restarted);
}

#[tokio::test]
async fn an_oversized_request_is_refused_without_reaching_the_store() {
    let app = spawn_app().await;
    let huge = identityd::proto::CreateRoleRequest {
        name: "x".repeat(2 * 1024 * 1024),
        ..Default::default()
    };
    let status = app
        .admin
        .clone()
        .create_role(huge)
        .await
        .expect_err("too large");
    assert!(
        matches!(
            status.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{status:?}"
    );
}
