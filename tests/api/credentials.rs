//! API credentials.

use identityd::proto::{
    ApiCredentialState, CreateApiCredentialRequest, GetApiCredentialRequest,
    ListApiCredentialsRequest, ListRolesRequest, RevokeApiCredentialRequest, RoleKind,
};
use sea_orm::{ConnectionTrait, Statement};
use sha2::{Digest, Sha256};
use tonic::Code;

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
}
