//! API credentials.

use identityd::proto::{
    ActivateUserRequest, ApiCredentialState, AssignAdminRoleRequest, CreateApiCredentialRequest,
    DeleteUserRequest, GetApiCredentialRequest, ListApiCredentialsRequest, ListRolesRequest,
    ListStaffUsersRequest, RevokeApiCredentialRequest, RoleKind, SuspendUserRequest,
};
use sea_orm::{ConnectionTrait, Statement};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{assert_error, spawn_app, violated_fields};

#[tokio::test]
async fn a_credential_shows_its_secret_once_and_stores_only_its_hash() {
    let app = spawn_app().await;
    let admin_role = app
        .create_role("Ops", RoleKind::Admin, &["roles.read"])
        .await;
    let api_role = app
        .create_role("Ops API", RoleKind::Api, &["roles.read"])
        .await;
    let staff = app.create_staff("ops", &admin_role.id).await;
    let created = app
        .admin
        .clone()
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            description: "billing sync".into(),
            role_ids: vec![api_role.id.clone()],
            expire_time: None,
        })
        .await
        .expect("create")
        .into_inner();
    let credential = created.api_credential.expect("a credential");
    assert_eq!(created.secret.len(), 64, "256 bits, hex");
    assert_eq!(
        created.token,
        format!("ida_{}_{}", credential.identifier, created.secret)
    );
    assert_eq!(credential.state(), ApiCredentialState::Active);
    assert_eq!(credential.role_ids, vec![api_role.id]);

    // The token works.
    app.client(&created.token)
        .list_roles(ListRolesRequest::default())
        .await
        .expect("authenticated call");

    // Reads never carry the secret.
    let fetched = app
        .admin
        .clone()
        .get_api_credential(GetApiCredentialRequest {
            api_credential_id: credential.id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert!(!format!("{fetched:?}").contains(&created.secret));
    assert!(
        fetched.last_use_time.is_some(),
        "the call above is recorded as a use"
    );

    // At rest there is only the SHA-256 of the secret.
    let db = app.database().await;
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT secret_hash FROM api_credentials WHERE id = '{}'",
                credential.id
            ),
        ))
        .await
        .expect("query")
        .expect("a row");
    let stored: String = row.try_get("", "secret_hash").expect("secret_hash");
    assert_eq!(
        stored,
        hex::encode(Sha256::digest(created.secret.as_bytes()))
    );
}

#[tokio::test]
async fn a_revoked_credential_stops_working_at_once() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("revokee", &["roles.read"]).await;
    let mut client = app.client(&token);
    client
        .list_roles(ListRolesRequest::default())
        .await
        .expect("works");

    let listed = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: staff.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .api_credentials;
    assert_eq!(listed.len(), 1);
    let id = listed[0].id.clone();

    let revoked = app
        .admin
        .clone()
        .revoke_api_credential(RevokeApiCredentialRequest {
            api_credential_id: id.clone(),
        })
        .await
        .expect("revoke")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert_eq!(revoked.state(), ApiCredentialState::Revoked);
    assert!(revoked.revoke_time.is_some());

    let status = client
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("revoked");
    assert_error(&status, Code::Unauthenticated, "CREDENTIAL_REVOKED");

    // Revoking again changes nothing and is not an error.
    let again = app
        .admin
        .clone()
        .revoke_api_credential(RevokeApiCredentialRequest {
            api_credential_id: id,
        })
        .await
        .expect("revoke again")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert_eq!(again.revoke_time, revoked.revoke_time);

    let active = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: staff.user_id,
            state: ApiCredentialState::Active.into(),
            ..Default::default()
        })
        .await
        .expect("list active")
        .into_inner()
        .api_credentials;
    assert!(active.is_empty());
}

#[tokio::test]
async fn an_expired_credential_is_refused() {
    let app = spawn_app().await;
    let admin_role = app
        .create_role("Temp", RoleKind::Admin, &["roles.read"])
        .await;
    let api_role = app
        .create_role("Temp API", RoleKind::Api, &["roles.read"])
        .await;
    let staff = app.create_staff("temp", &admin_role.id).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    // Far enough ahead that a slow, loaded machine still creates it in time.
    let expires = now + std::time::Duration::from_millis(1500);
    let created = app
        .admin
        .clone()
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id,
            description: String::new(),
            role_ids: vec![api_role.id],
            expire_time: Some(prost_types::Timestamp {
                seconds: expires.as_secs() as i64,
                nanos: expires.subsec_nanos() as i32,
            }),
        })
        .await
        .expect("create")
        .into_inner();
    let until_expired = expires.saturating_sub(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970"),
    );
    tokio::time::sleep(until_expired + std::time::Duration::from_millis(100)).await;
    let status = app
        .client(&created.token)
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("expired");
    assert_error(&status, Code::Unauthenticated, "CREDENTIAL_EXPIRED");
    let credential = app
        .admin
        .clone()
        .get_api_credential(GetApiCredentialRequest {
            api_credential_id: created.api_credential.expect("credential").id,
        })
        .await
        .expect("get")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert_eq!(credential.state(), ApiCredentialState::Expired);
}

#[tokio::test]
async fn a_credential_needs_api_roles_a_staff_owner_and_a_future_expiry() {
    let app = spawn_app().await;
    let admin_role = app.create_role("Admins", RoleKind::Admin, &[]).await;
    let staff = app.create_staff("owner", &admin_role.id).await;
    let mut admin = app.admin.clone();

    let status = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            role_ids: vec![],
            expire_time: Some(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            description: "x".repeat(201),
        })
        .await
        .expect_err("invalid");
    assert_eq!(violated_fields(&status), vec!["description", "role_ids"]);

    let status = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            role_ids: vec![admin_role.id.clone()],
            expire_time: None,
            description: String::new(),
        })
        .await
        .expect_err("admin role");
    assert_error(&status, Code::FailedPrecondition, "ROLE_KIND_MISMATCH");

    let api_role = app.create_role("API", RoleKind::Api, &[]).await;
    let status = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            role_ids: vec![api_role.id.clone()],
            expire_time: Some(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            description: String::new(),
        })
        .await
        .expect_err("past expiry");
    assert_eq!(violated_fields(&status), vec!["expire_time"]);

    let status = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: uuid::Uuid::now_v7().to_string(),
            role_ids: vec![api_role.id.clone()],
            expire_time: None,
            description: String::new(),
        })
        .await
        .expect_err("unknown owner");
    assert_error(&status, Code::NotFound, "USER_NOT_FOUND");

    let status = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id,
            role_ids: vec![uuid::Uuid::now_v7().to_string()],
            expire_time: None,
            description: String::new(),
        })
        .await
        .expect_err("unknown role");
    assert_error(&status, Code::NotFound, "ROLE_NOT_FOUND");
}

#[tokio::test]
async fn a_caller_cannot_mint_a_credential_stronger_than_itself() {
    let app = spawn_app().await;
    let (token, staff) = app
        .staff_token_with("minter", &["credentials.write", "roles.read"])
        .await;
    let strong_api = app
        .create_role("Strong API", RoleKind::Api, &["users.write"])
        .await;
    let status = app
        .client(&token)
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id,
            role_ids: vec![strong_api.id],
            expire_time: None,
            description: String::new(),
        })
        .await
        .expect_err("escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    assert_eq!(
        metadata(&status, "missing_permissions").as_deref(),
        Some("users.write")
    );
}

/// The bootstrap (full-access) staff user.
async fn senior_staff(app: &crate::helpers::TestApp) -> identityd::proto::StaffUser {
    app.admin
        .clone()
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("list staff")
        .into_inner()
        .staff_users
        .remove(0)
}

/// The ErrorInfo metadata value `key` of `status`.
fn metadata(status: &tonic::Status, key: &str) -> Option<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

#[tokio::test]
async fn a_junior_cannot_file_a_credential_under_a_senior_colleague() {
    let app = spawn_app().await;
    let (token, junior) = app
        .staff_token_with("junior", &["credentials.write", "roles.read"])
        .await;
    let reader_api = app
        .create_role("Reader API", RoleKind::Api, &["roles.read"])
        .await;
    let senior = senior_staff(&app).await;

    let status = app
        .client(&token)
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: senior.user_id.clone(),
            description: "filed under the boss".into(),
            role_ids: vec![reader_api.id.clone()],
            expire_time: None,
        })
        .await
        .expect_err("the junior does not cover full access");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    assert_eq!(
        metadata(&status, "missing_permissions"),
        None,
        "the colleague's role is not revealed"
    );
    let filed = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: senior.user_id,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .api_credentials;
    assert_eq!(filed.len(), 1, "only the bootstrap credential");

    // Their own credential, within their role, is theirs to make.
    let own = app
        .client(&token)
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: junior.user_id.clone(),
            description: "own".into(),
            role_ids: vec![reader_api.id],
            expire_time: None,
        })
        .await
        .expect("own credential")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert_eq!(own.created_by_user_id, junior.user_id);
}

#[tokio::test]
async fn a_credential_dies_with_its_creators_demotion_suspension_and_deletion() {
    let app = spawn_app().await;
    let (lead_token, lead) = app
        .staff_token_with(
            "lead",
            &[
                "credentials.write",
                "credentials.read",
                "roles.read",
                "staff.read",
            ],
        )
        .await;
    let colleague_role = app
        .create_role("Colleague", RoleKind::Admin, &["roles.read", "staff.read"])
        .await;
    let colleague = app.create_staff("colleague", &colleague_role.id).await;
    let api_role = app
        .create_role("Sync API", RoleKind::Api, &["roles.read", "staff.read"])
        .await;
    let created = app
        .client(&lead_token)
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: colleague.user_id.clone(),
            description: "made by the lead".into(),
            role_ids: vec![api_role.id.clone()],
            expire_time: None,
        })
        .await
        .expect("the lead covers the colleague's role")
        .into_inner();
    let credential = created.api_credential.expect("a credential");
    assert_eq!(credential.owner_user_id, colleague.user_id);
    assert_eq!(credential.created_by_user_id, lead.user_id);
    let by_lead = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            created_by_user_id: lead.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list by creator")
        .into_inner()
        .api_credentials;
    assert!(by_lead.iter().any(|c| c.id == credential.id));
    let mut made = app.client(&created.token);
    made.list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("works while the lead holds staff.read");

    // Demoting the lead takes back what they handed on, at once.
    let narrower = app
        .create_role("Narrower", RoleKind::Admin, &["roles.read"])
        .await;
    app.admin
        .clone()
        .assign_admin_role(AssignAdminRoleRequest {
            user_id: lead.user_id.clone(),
            role_id: narrower.id,
        })
        .await
        .expect("demote the lead");
    made.list_roles(ListRolesRequest::default())
        .await
        .expect("roles.read is still in every role");
    let status = made
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect_err("staff.read left with the lead's role");
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    assert_eq!(
        metadata(&status, "permission").as_deref(),
        Some("staff.read")
    );

    // Suspending the lead stops it.
    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: lead.user_id.clone(),
            reason: "left the team".into(),
        })
        .await
        .expect("suspend the lead");
    let status = made
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("the creator is suspended");
    assert_error(
        &status,
        Code::Unauthenticated,
        "CREDENTIAL_CREATOR_NOT_STAFF",
    );

    // Deleting the lead stops it for good.
    app.users
        .clone()
        .activate_user(ActivateUserRequest {
            user_id: lead.user_id.clone(),
            reason: "back".into(),
        })
        .await
        .expect("activate the lead");
    made.list_roles(ListRolesRequest::default())
        .await
        .expect("works again within the lead's role");
    app.users
        .clone()
        .delete_user(DeleteUserRequest {
            user_id: lead.user_id,
        })
        .await
        .expect("delete the lead");
    let status = made
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("the creator is gone");
    assert_error(
        &status,
        Code::Unauthenticated,
        "CREDENTIAL_CREATOR_NOT_STAFF",
    );
}

#[tokio::test]
async fn a_junior_cannot_revoke_a_senior_colleagues_credential() {
    let app = spawn_app().await;
    let (token, junior) = app
        .staff_token_with("revoker", &["credentials.write", "credentials.read"])
        .await;
    let mut junior_client = app.client(&token);
    let senior = senior_staff(&app).await;
    let credentials = junior_client
        .list_api_credentials(ListApiCredentialsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .api_credentials;
    let bootstrap = credentials
        .iter()
        .find(|c| c.owner_user_id == senior.user_id)
        .expect("the bootstrap credential");
    let own = credentials
        .iter()
        .find(|c| c.owner_user_id == junior.user_id)
        .expect("the junior's credential");

    let status = junior_client
        .revoke_api_credential(RevokeApiCredentialRequest {
            api_credential_id: bootstrap.id.clone(),
        })
        .await
        .expect_err("cutting off a senior colleague");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    app.admin
        .clone()
        .list_roles(ListRolesRequest::default())
        .await
        .expect("the senior's credential still works");

    let revoked = junior_client
        .revoke_api_credential(RevokeApiCredentialRequest {
            api_credential_id: own.id.clone(),
        })
        .await
        .expect("revoking one's own")
        .into_inner()
        .api_credential
        .expect("a credential");
    assert_eq!(revoked.state(), ApiCredentialState::Revoked);
}

#[tokio::test]
async fn a_credential_beyond_its_owners_admin_role_is_refused_naming_what_is_missing() {
    let app = spawn_app().await;
    let narrow = app
        .create_role("Narrow", RoleKind::Admin, &["roles.read"])
        .await;
    let wide_api = app
        .create_role(
            "Wide API",
            RoleKind::Api,
            &["roles.read", "staff.read", "users.read"],
        )
        .await;
    let owner = app.create_staff("narrow.owner", &narrow.id).await;
    let status = app
        .admin
        .clone()
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: owner.user_id.clone(),
            description: "would fail every call".into(),
            role_ids: vec![wide_api.id],
            expire_time: None,
        })
        .await
        .expect_err("beyond the owner's role");
    assert_error(
        &status,
        Code::FailedPrecondition,
        "CREDENTIAL_EXCEEDS_OWNER",
    );
    assert_eq!(
        metadata(&status, "missing_permissions").as_deref(),
        Some("staff.read users.read")
    );
    let listed = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: owner.user_id,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .api_credentials;
    assert!(listed.is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_credential_without_a_recorded_creator_counts_its_owner_as_creator() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("legacy", &["roles.read"]).await;
    let db = app.database().await;
    db.execute_unprepared(&format!(
        "UPDATE api_credentials SET created_by_user_id = NULL WHERE owner_user_id = '{}'",
        staff.user_id
    ))
    .await
    .expect("forget the creator");
    let listed = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: staff.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .api_credentials;
    assert_eq!(listed[0].created_by_user_id, staff.user_id);
    app.client(&token)
        .list_roles(ListRolesRequest::default())
        .await
        .expect("bounded by its owner alone, as before");
}
