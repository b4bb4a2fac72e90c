//! Errors at the edge: huge or garbage requests get small, well-formed
//! errors with identityd's code, reason and request id; bad timestamps and
//! names that would disguise mail are refused with a field violation.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use identityd::FILE_DESCRIPTOR_SET;
use identityd::authz::{Policy, policy_for};
use identityd::proto::{
    AccountProfile, CreateAccountRequest, CreateApiCredentialRequest, CreateRoleRequest,
    CreateUserRequest, ListActivityRequest, RegisterRequest, RoleKind,
    UpdateMemberPermissionsRequest, create_account_request,
};
use prost::Message;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::ServiceExt;

use crate::helpers::{TestApp, assert_error, spawn_app, violated_fields};
use crate::people::{account_of, active_user, session_of};

/// The request size limit of the test server (`server.max_request_bytes`).
const TEST_MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// What a status costs on the wire, roughly: its message and its details.
fn status_size(status: &Status) -> usize {
    status.message().len() + status.details().len()
}

#[tokio::test]
async fn a_quarter_million_permission_values_get_one_small_invalid_argument() {
    // Arrange: a signed-in user with no permissions anywhere.
    let app = spawn_app().await;
    let user = active_user(&app, "mallory").await;
    let session = session_of(&app, "mallory").await;
    let owner = active_user(&app, "olivia").await;
    let account = account_of(&app, &owner.id, "Olivia's shop").await;

    // Act: 250,000 unknown permission values (500 KB on the wire).
    let status = app
        .accounts_as(&session)
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account,
            user_id: user.id,
            permissions: vec![1000; 250_000],
        })
        .await
        .expect_err("refused");

    // Assert: one violation naming the field and its limit, in a few KiB.
    assert_eq!(violated_fields(&status), ["permissions"]);
    let violation = &status
        .get_details_bad_request()
        .expect("bad request")
        .field_violations[0];
    assert!(violation.description.contains("64"), "{violation:?}");
    assert!(
        status_size(&status) < 1024,
        "{} bytes",
        status_size(&status)
    );
}

#[tokio::test]
async fn many_distinct_bad_values_give_a_bounded_list_of_violations() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Many".to_owned(),
            kind: RoleKind::Admin.into(),
            permissions: (0..200).map(|i| format!("nope.{i}")).collect(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    let fields = violated_fields(&status);
    assert!(fields.len() <= 21, "{} violations", fields.len());
    assert_eq!(fields.last().map(String::as_str), Some("request"));
    assert!(
        status_size(&status) < 4096,
        "{} bytes",
        status_size(&status)
    );
}

#[tokio::test]
async fn a_four_kib_bad_name_in_create_role_answers_invalid_argument() {
    let app = spawn_app().await;
    let long = "\u{00e9}".repeat(4096);
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: long.clone(),
            kind: RoleKind::Admin.into(),
            permissions: vec![long.clone(), long],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    let fields = violated_fields(&status);
    assert!(fields.contains(&"name".to_owned()), "{fields:?}");
    assert!(fields.contains(&"permissions[0]".to_owned()), "{fields:?}");
    // The bad input is never echoed back in full.
    assert!(
        status_size(&status) < 2048,
        "{} bytes",
        status_size(&status)
    );
    assert!(!status.message().contains(&"\u{00e9}".repeat(100)));

    // On the wire the whole status fits well within gRPC's 8 KiB metadata
    // soft limit, although percent-encoding and base64 inflate it.
    let request = CreateRoleRequest {
        name: "\u{202E}".repeat(4096),
        kind: RoleKind::Admin.into(),
        permissions: vec!["\u{00e9}".repeat(4096); 3],
        ..Default::default()
    };
    let block = raw_exchange(
        &app,
        "/identity.v1.AdminService/CreateRole",
        &app.token,
        "long-1",
        message(&request.encode_to_vec()),
        &[],
    )
    .await;
    let status = Status::from_header_map(&block).expect("a status");
    assert_error(&status, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert!(
        header_list_size(&block) < 6 * 1024,
        "{} bytes of trailers",
        header_list_size(&block)
    );
}

/// Every method of identityd's own services, with its policy.
fn identity_methods() -> Vec<(String, Policy)> {
    let descriptors = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
        .expect("a valid descriptor set");
    let mut methods = Vec::new();
    for file in descriptors.file {
        let package = file.package().to_owned();
        if !package.starts_with("identity.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{package}.{}/{}", service.name(), method.name());
                let policy = policy_for(&path).expect("every method has a policy");
                methods.push((path, policy));
            }
        }
    }
    methods
}

/// A gRPC frame: the compression flag, the declared length, then `payload`.
fn frame(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![flag];
    body.extend_from_slice(&declared.to_be_bytes());
    body.extend_from_slice(payload);
    body
}

/// A well-framed message holding `payload`.
fn message(payload: &[u8]) -> Vec<u8> {
    frame(0, u32::try_from(payload.len()).expect("small"), payload)
}

/// Sends `body` as the raw HTTP/2 body of a gRPC call to `path`, over a real
/// connection, and returns the final status (from the headers of a
/// trailers-only answer, or from the trailers) with the echoed request id.
async fn raw_call(
    app: &TestApp,
    path: &str,
    token: &str,
    request_id: &str,
    body: Vec<u8>,
) -> Status {
    raw_call_with(app, path, token, request_id, body, &[]).await
}

/// [`raw_call`] with `extra` request headers.
async fn raw_call_with(
    app: &TestApp,
    path: &str,
    token: &str,
    request_id: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> Status {
    let block = raw_exchange(app, path, token, request_id, body, extra).await;
    Status::from_header_map(&block).expect("a grpc-status")
}

/// Sends a raw call and returns the header block that carries its
/// `grpc-status`: the headers of a trailers-only answer, or the trailers.
async fn raw_exchange(
    app: &TestApp,
    path: &str,
    token: &str,
    request_id: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> http::HeaderMap {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://identityd{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", request_id);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = request
        .body(tonic::body::Body::new(Full::new(Bytes::from(body))))
        .expect("a request");
    let response = app
        .channel()
        .oneshot(request)
        .await
        .expect("an HTTP answer");
    assert_eq!(response.status(), http::StatusCode::OK, "{path}");
    if response.headers().contains_key("grpc-status") {
        return response.headers().clone();
    }
    let collected = response
        .into_body()
        .collect()
        .await
        .expect("a complete body");
    collected.trailers().cloned().unwrap_or_default()
}

/// What HTTP/2 counts against a client's header list limit for `headers`
/// (RFC 9113: name, value and 32 bytes for each field).
fn header_list_size(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// Asserts `status` is one of identityd's errors: any code but INTERNAL or
/// UNKNOWN, with ErrorInfo and the request id the caller sent.
#[track_caller]
fn assert_well_formed(status: &Status, request_id: &str, what: &str) {
    assert!(
        !matches!(status.code(), Code::Internal | Code::Unknown),
        "{what}: {status:?}"
    );
    if status.code() == Code::Ok {
        return;
    }
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("{what}: no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "identityd", "{what}");
    assert_eq!(
        info.metadata.get("request_id").map(String::as_str),
        Some(request_id),
        "{what}"
    );
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Noise(u64);

impl Noise {
    fn step(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = usize::try_from(self.step() % (max as u64 + 1)).expect("small");
        (0..len).map(|_| self.step().to_le_bytes()[0]).collect()
    }
}

#[tokio::test]
async fn garbage_bodies_answer_invalid_argument_or_resource_exhausted_on_every_method() {
    let app = spawn_app().await;
    active_user(&app, "gina").await;
    let session = session_of(&app, "gina").await;
    let methods = identity_methods();
    assert!(methods.len() > 40, "{} methods", methods.len());
    let token_for = |policy: Policy| match policy {
        Policy::Session | Policy::OptionalSession | Policy::EnrollingSession => session.as_str(),
        _ => app.token.as_str(),
    };

    // Bodies no method can decode, and one over the size limit.
    let too_large = u32::try_from(TEST_MAX_REQUEST_BYTES + 1).expect("small");
    let malformed: [(&str, Vec<u8>); 6] = [
        ("an empty body", Vec::new()),
        ("a bad compression flag", frame(7, 2, &[0x08, 0x01])),
        (
            "a compressed flag without an encoding",
            frame(1, 2, &[0x08, 0x01]),
        ),
        ("a truncated message", frame(0, 10, &[0x08])),
        ("an invalid wire type", message(&[0x0f, 0xff, 0xff])),
        ("a field cut short", message(&[0x0a, 0x7f, b'a'])),
    ];
    for (path, policy) in &methods {
        let token = token_for(*policy);
        for (index, (what, body)) in malformed.iter().enumerate() {
            let request_id = format!("malformed-{index}");
            let status = raw_call(&app, path, token, &request_id, body.clone()).await;
            let what = format!("{what} to {path}");
            assert_well_formed(&status, &request_id, &what);
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
            assert_error(&status, Code::InvalidArgument, "MALFORMED_REQUEST");
        }
        let status = raw_call(&app, path, token, "too-large", frame(0, too_large, &[])).await;
        assert_well_formed(&status, "too-large", path);
        assert_error(&status, Code::ResourceExhausted, "REQUEST_TOO_LARGE");
    }

    // Random bodies, framed and not: whatever they decode to, never INTERNAL
    // and always identityd's ErrorInfo. (Run last: one may decode to Logout.)
    let mut noise = Noise(0x1d3a_7c5e_9b20_f146);
    for (path, policy) in &methods {
        let token = token_for(*policy);
        for round in 0..40 {
            let payload = noise.bytes(64);
            let body = if round % 3 == 0 {
                payload
            } else {
                message(&payload)
            };
            let request_id = format!("noise-{round}");
            let status = raw_call(&app, path, token, &request_id, body).await;
            assert_well_formed(
                &status,
                &request_id,
                &format!("noise round {round} to {path}"),
            );
        }
    }
}

#[tokio::test]
async fn garbage_sent_to_health_and_reflection_never_answers_internal() {
    let app = spawn_app().await;
    let status = raw_call(
        &app,
        "/grpc.health.v1.Health/Check",
        &app.token,
        "health-1",
        message(&[0x0f]),
    )
    .await;
    assert_well_formed(&status, "health-1", "health");
    assert_error(&status, Code::InvalidArgument, "MALFORMED_REQUEST");

    // Reflection streams: it drops what it cannot decode and ends the stream.
    for path in [
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        for body in [
            message(&[0x0f]),
            frame(7, 1, &[0]),
            frame(0, 2_000_000, &[]),
        ] {
            let status = raw_call(&app, path, &app.token, "reflection-1", body).await;
            assert_well_formed(&status, "reflection-1", path);
        }
    }
}

#[tokio::test]
async fn a_compressed_body_in_an_unsupported_encoding_gets_identityds_error() {
    let app = spawn_app().await;
    let status = raw_call_with(
        &app,
        "/identity.v1.AdminService/ListRoles",
        &app.token,
        "gzip-1",
        frame(1, 2, &[0x08, 0x01]),
        &[("grpc-encoding", "gzip")],
    )
    .await;
    assert_well_formed(&status, "gzip-1", "gzip");
    assert_error(&status, Code::Unimplemented, "UNIMPLEMENTED");
}

#[tokio::test]
async fn a_credential_expiring_in_the_year_287000_is_refused() {
    let app = spawn_app().await;
    let role = app
        .create_role("Reader", RoleKind::Api, &["roles.read"])
        .await;
    let staff = app
        .admin
        .clone()
        .list_staff_users(identityd::proto::ListStaffUsersRequest::default())
        .await
        .expect("staff")
        .into_inner()
        .staff_users
        .remove(0);
    for seconds in [8_994_000_000_000_i64, 253_402_300_800] {
        let status = app
            .admin
            .clone()
            .create_api_credential(CreateApiCredentialRequest {
                owner_user_id: staff.user_id.clone(),
                description: "far future".to_owned(),
                role_ids: vec![role.id.clone()],
                expire_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            })
            .await
            .expect_err("refused");
        assert_eq!(violated_fields(&status), ["expire_time"]);
    }
    // The last instant RFC 3339 can write is still a valid expiry.
    app.admin
        .clone()
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            description: "end of 9999".to_owned(),
            role_ids: vec![role.id.clone()],
            expire_time: Some(prost_types::Timestamp {
                seconds: 253_402_300_799,
                nanos: 999_999_999,
            }),
        })
        .await
        .expect("a credential expiring at the end of 9999");
}

#[tokio::test]
async fn activity_filters_outside_rfc3339_are_refused() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            start_time: Some(prost_types::Timestamp {
                seconds: -62_135_596_801,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 8_994_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), ["start_time", "end_time"]);
}

#[tokio::test]
async fn names_with_text_direction_controls_are_refused_where_mail_shows_them() {
    let app = spawn_app().await;
    // "Invoice" followed by a right-to-left override: mail would show the
    // rest of the name reversed.
    let disguised = "Ann \u{202E}gnp.exe";

    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: disguised.to_owned(),
            username: "ann".to_owned(),
            email: "ann@example.test".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), ["full_name"]);

    let status = app
        .auth_public()
        .register(RegisterRequest {
            full_name: "Ben\u{2066}Isolated\u{2069}".to_owned(),
            username: "ben".to_owned(),
            email: "ben\u{200F}@example.test".to_owned(),
            password: "tidal-lantern-oboe-42".to_owned(),
            locale: String::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), ["full_name", "email"]);

    let owner = active_user(&app, "carol").await;
    let status = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(AccountProfile {
                display_name: "Carol\u{200B}Shop".to_owned(),
                full_name: "Carol Person".to_owned(),
                company: disguised.to_owned(),
                email: "billing@example.test".to_owned(),
                ..Default::default()
            }),
            owner: Some(create_account_request::Owner::OwnerUserId(owner.id)),
            request_id: String::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(
        violated_fields(&status),
        ["profile.display_name", "profile.company"]
    );

    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Support\u{061C}".to_owned(),
            kind: RoleKind::Admin.into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&status), ["name"]);
}
