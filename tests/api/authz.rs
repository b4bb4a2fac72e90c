//! The authorization layer: every method has a policy, and every protected
//! method refuses callers without a token or without its permission.

use identityd::FILE_DESCRIPTOR_SET;
use identityd::authz::{POLICIES, Policy, policy_for};
use identityd::domain::Permission;
use prost::Message;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;

use crate::helpers::{assert_error, spawn_app};

/// Every `/package.Service/Method` path in the compiled API.
fn api_methods() -> Vec<String> {
    let descriptors = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
        .expect("a valid descriptor set");
    let mut methods = Vec::new();
    for file in descriptors.file {
        let package = file.package().to_owned();
        for service in &file.service {
            for method in &service.method {
                methods.push(format!("/{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    methods
}

/// Calls `path` with an empty message and an optional bearer token, whatever
/// its real request type: the layer answers before any handler decodes it.
async fn raw_call(
    channel: tonic::transport::Channel,
    path: &str,
    token: Option<&str>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("ASCII");
        request.metadata_mut().insert("authorization", value);
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = PathAndQuery::try_from(path.to_owned()).expect("a valid path");
    grpc.unary(request, path, codec)
        .await
        .expect_err("the call should be refused")
}

#[test]
fn every_method_of_the_api_has_a_policy() {
    let methods = api_methods();
    assert!(
        methods.len() >= 17,
        "the descriptor set looks incomplete: {methods:?}"
    );
    let missing: Vec<&String> = methods.iter().filter(|m| policy_for(m).is_none()).collect();
    assert!(missing.is_empty(), "methods without a policy: {missing:?}");
}

#[test]
fn every_identity_policy_names_a_method_that_exists() {
    let methods = api_methods();
    let stale: Vec<&str> = POLICIES
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| path.starts_with("/identity.") && !methods.iter().any(|m| m == path))
        .collect();
    assert!(
        stale.is_empty(),
        "policies for methods that do not exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_protected_method_needs_a_token_and_its_own_permission() {
    let app = spawn_app().await;
    let mut lacking: std::collections::HashMap<Permission, String> =
        std::collections::HashMap::new();
    for (path, policy) in POLICIES {
        let required = match *policy {
            Policy::Public => continue,
            Policy::OptionalSession => {
                // No token is fine (the handler decides); an API credential is not.
                let status = raw_call(app.channel(), path, Some(&app.token)).await;
                assert_error(&status, Code::PermissionDenied, "SESSION_REQUIRED");
                continue;
            }
            Policy::Staff(required) | Policy::StaffOrSession(required) => required,
            Policy::Session | Policy::EnrollingSession => {
                // Sessions only: even a full-access API credential is refused.
                let status = raw_call(app.channel(), path, None).await;
                assert_error(&status, Code::Unauthenticated, "TOKEN_MISSING");
                let status = raw_call(app.channel(), path, Some(&app.token)).await;
                assert_error(&status, Code::PermissionDenied, "SESSION_REQUIRED");
                continue;
            }
        };

        let status = raw_call(app.channel(), path, None).await;
        assert_error(&status, Code::Unauthenticated, "TOKEN_MISSING");

        // A caller holding every permission but the one this method needs.
        let others: Vec<&str> = Permission::ALL
            .iter()
            .filter(|p| **p != required)
            .map(|p| p.name())
            .collect();
        if let std::collections::hash_map::Entry::Vacant(slot) = lacking.entry(required) {
            let label = format!("lacks-{}", required.name().replace('.', "-"));
            let (token, _) = app.staff_token_with(&label, &others).await;
            slot.insert(token);
        }
        let token = &lacking[&required];
        let status = raw_call(app.channel(), path, Some(token)).await;
        assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    }
}

#[tokio::test]
async fn a_method_missing_from_the_table_is_denied_even_to_full_access() {
    let app = spawn_app().await;
    let status = raw_call(
        app.channel(),
        "/identity.v1.AdminService/DropEverything",
        Some(&app.token),
    )
    .await;
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let path = "/identity.v1.AdminService/ListRoles";
    let cases = [
        ("not-a-token", "TOKEN_MALFORMED"),
        ("ida_1234", "TOKEN_MALFORMED"),
        (&app.token.to_uppercase(), "TOKEN_MALFORMED"),
        // Well-formed, but no such credential.
        (
            "ida_00000000000000000000_0000000000000000000000000000000000000000000000000000000000000000",
            "CREDENTIAL_INVALID",
        ),
    ];
    for (token, reason) in cases {
        let status = raw_call(app.channel(), path, Some(token)).await;
        assert_error(&status, Code::Unauthenticated, reason);
    }
    // The right identifier with a wrong secret.
    let (identifier, _secret) = app.token.rsplit_once('_').expect("identifier_secret");
    let forged = format!("{identifier}_{}", "f".repeat(64));
    assert_error(
        &raw_call(app.channel(), path, Some(&forged)).await,
        Code::Unauthenticated,
        "CREDENTIAL_INVALID",
    );
}

#[tokio::test]
async fn a_non_bearer_authorization_scheme_is_refused() {
    let app = spawn_app().await;
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert(
        "authorization",
        format!("Basic {}", app.token).parse().expect("ASCII"),
    );
    let status = grpc
        .unary(
            request,
            PathAndQuery::from_static("/identity.v1.AdminService/ListRoles"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await
        .expect_err("refused");
    assert_error(&status, Code::Unauthenticated, "TOKEN_MALFORMED");
}

/// Reads check the caller in the use case too, not only in the policy
/// table: a caller without the staff permission that slipped past a
/// loosened policy still gets nothing.
#[tokio::test]
async fn reads_refuse_a_caller_without_the_staff_permission_in_the_use_case() {
    use identityd::app::{AccountQuery, Principal, UserKey, UserQuery};
    use identityd::domain::{Email, PageSize, UserId};
    use identityd::startup::{build_app, open_database};

    let app = spawn_app().await;
    let postgres = (!app.database_url.starts_with("sqlite:")).then(|| app.database_url.clone());
    let settings = crate::helpers::test_settings(app.data_path(), postgres);
    let direct = build_app(&settings, open_database(&settings).await.expect("open"))
        .await
        .expect("build");
    let stranger = Principal::anonymous(None, "test");
    let denied = |result: Result<(), identityd::app::AppError>, what: &str| {
        assert!(
            matches!(result, Err(identityd::app::AppError::PermissionDenied(_))),
            "{what} answered {result:?}"
        );
    };
    denied(
        direct
            .get_user(&stranger, UserId::generate())
            .await
            .map(drop),
        "GetUser",
    );
    let email = Email::parse("email", "anybody@example.com").expect("an address");
    denied(
        direct
            .lookup_user(&stranger, UserKey::Email(email))
            .await
            .map(drop),
        "LookupUser",
    );
    let users = UserQuery {
        text: None,
        status: None,
        account_id: None,
        order: Default::default(),
        include_total: false,
        page_size: PageSize::default(),
        page_token: String::new(),
    };
    denied(
        direct.list_users(&stranger, users).await.map(drop),
        "ListUsers",
    );
    let accounts = AccountQuery {
        filter: Default::default(),
        newest_first: true,
        include_total: false,
        page_size: PageSize::default(),
        page_token: String::new(),
    };
    denied(
        direct.list_accounts(&stranger, accounts).await.map(drop),
        "ListAccounts",
    );
}
