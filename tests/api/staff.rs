//! Staff users and their admin roles.

use identityd::proto::{
    ActivateUserRequest, AssignAdminRoleRequest, CreateStaffUserRequest, GetStaffUserRequest,
    GetUserRequest, ListApiCredentialsRequest, ListRolesRequest, ListSessionsRequest,
    ListStaffUsersRequest, LoginRequest, ResetPasswordRequest, RevokeSessionRequest, RoleKind,
    SendPasswordResetRequest, StaffState, SuspendUserRequest, UnassignAdminRoleRequest, UserStatus,
};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{assert_error, hold_mail, spawn_app, spawn_app_with, violated_fields};
use crate::people::{PASSWORD, active_user, session_of};

fn new_staff(username: &str, email: &str, role_id: &str) -> CreateStaffUserRequest {
    CreateStaffUserRequest {
        email: email.into(),
        username: username.into(),
        full_name: "Ann Lee".into(),
        admin_role_id: role_id.into(),
        request_id: String::new(),
        send_set_password_email: false,
    }
}

#[tokio::test]
async fn a_staff_user_is_created_active_and_can_be_found() {
    let app = spawn_app().await;
    let role = app
        .create_role("Support", RoleKind::Admin, &["users.read"])
        .await;
    let created = app.create_staff("ann.lee", &role.id).await;
    assert_eq!(created.status(), UserStatus::Active);
    assert_eq!(created.admin_role_id, role.id);

    let fetched = app
        .admin
        .clone()
        .get_staff_user(GetStaffUserRequest {
            user_id: created.user_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .staff_user
        .expect("a staff user");
    assert_eq!(fetched, created);

    let listed = app
        .admin
        .clone()
        .list_staff_users(ListStaffUsersRequest {
            admin_role_id: role.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .staff_users;
    assert_eq!(listed, vec![created]);
}

#[tokio::test]
async fn emails_and_usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    let role = app.create_role("Support", RoleKind::Admin, &[]).await;
    let mut admin = app.admin.clone();
    admin
        .create_staff_user(new_staff("ann", "ann@example.com", &role.id))
        .await
        .expect("first");
    let status = admin
        .create_staff_user(new_staff("ann2", "ANN@Example.com", &role.id))
        .await
        .expect_err("email taken");
    assert_error(&status, Code::AlreadyExists, "EMAIL_TAKEN");
    let status = admin
        .create_staff_user(new_staff("ANN", "other@example.com", &role.id))
        .await
        .expect_err("username taken");
    assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");
}

#[tokio::test]
async fn concurrent_creates_of_one_email_give_exactly_one_staff_user() {
    let app = spawn_app().await;
    let role = app.create_role("Support", RoleKind::Admin, &[]).await;
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let mut admin = app.admin.clone();
            let request = new_staff(&format!("racer{i}"), "race@example.com", &role.id);
            tokio::spawn(async move { admin.create_staff_user(request).await })
        })
        .collect();
    let mut created = 0;
    for handle in handles {
        match handle.await.expect("task") {
            Ok(_) => created += 1,
            Err(status) => assert_error(&status, Code::AlreadyExists, "EMAIL_TAKEN"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn invalid_staff_fields_are_all_reported() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .create_staff_user(CreateStaffUserRequest {
            email: "not-an-email".into(),
            username: "-x".into(),
            full_name: String::new(),
            admin_role_id: "nope".into(),
            request_id: String::new(),
            send_set_password_email: false,
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        vec!["email", "username", "full_name", "admin_role_id"]
    );
}

#[tokio::test]
async fn staff_hold_admin_roles_not_api_roles() {
    let app = spawn_app().await;
    let api_role = app.create_role("Integrations", RoleKind::Api, &[]).await;
    let status = app
        .admin
        .clone()
        .create_staff_user(new_staff("bob", "bob@example.com", &api_role.id))
        .await
        .expect_err("api role");
    assert_error(&status, Code::FailedPrecondition, "ROLE_KIND_MISMATCH");
}

#[tokio::test]
async fn a_retried_staff_create_returns_the_first_user() {
    let app = spawn_app().await;
    let role = app.create_role("Support", RoleKind::Admin, &[]).await;
    let request = CreateStaffUserRequest {
        request_id: "staff-create-7".into(),
        ..new_staff("carol", "carol@example.com", &role.id)
    };
    let first = app
        .admin
        .clone()
        .create_staff_user(request.clone())
        .await
        .expect("first");
    let retry = app
        .admin
        .clone()
        .create_staff_user(request)
        .await
        .expect("retry");
    assert_eq!(first.into_inner(), retry.into_inner());
}

#[tokio::test]
async fn taking_the_admin_role_away_stops_the_users_credentials() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("dave", &["roles.read"]).await;
    let mut dave = app.client(&token);
    dave.list_roles(ListRolesRequest::default())
        .await
        .expect("works while staff");

    app.admin
        .clone()
        .unassign_admin_role(UnassignAdminRoleRequest {
            user_id: staff.user_id.clone(),
        })
        .await
        .expect("unassign");
    let status = dave
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("no longer staff");
    assert_error(&status, Code::Unauthenticated, "CREDENTIAL_OWNER_NOT_STAFF");

    let status = app
        .admin
        .clone()
        .get_staff_user(GetStaffUserRequest {
            user_id: staff.user_id,
        })
        .await
        .expect_err("not staff");
    assert_error(&status, Code::NotFound, "STAFF_USER_NOT_FOUND");
}

#[tokio::test]
async fn a_credential_never_exceeds_its_owners_admin_role() {
    let app = spawn_app().await;
    let wide_admin = app
        .create_role("Wide", RoleKind::Admin, &["roles.read", "staff.read"])
        .await;
    let wide_api = app
        .create_role("Wide API", RoleKind::Api, &["roles.read", "staff.read"])
        .await;
    let staff = app.create_staff("erin", &wide_admin.id).await;
    let token = app.mint_credential(&staff.user_id, &[&wide_api.id]).await;
    let mut erin = app.client(&token);
    erin.list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("in both roles");

    // Narrowing the admin role narrows the credential at once, and the
    // refusal names the permission that is missing.
    let narrow_admin = app
        .create_role("Readers", RoleKind::Admin, &["roles.read"])
        .await;
    app.admin
        .clone()
        .assign_admin_role(AssignAdminRoleRequest {
            user_id: staff.user_id.clone(),
            role_id: narrow_admin.id,
        })
        .await
        .expect("narrow");
    erin.list_roles(ListRolesRequest::default())
        .await
        .expect("in both roles");
    let status = erin
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect_err("only in the API role");
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(
        info.metadata.get("permission").map(String::as_str),
        Some("staff.read")
    );

    // Widening it again widens the credential at once.
    app.admin
        .clone()
        .assign_admin_role(AssignAdminRoleRequest {
            user_id: staff.user_id,
            role_id: wide_admin.id,
        })
        .await
        .expect("assign");
    erin.list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("now allowed");
}

#[tokio::test]
async fn the_last_full_access_staff_user_keeps_full_access() {
    let app = spawn_app().await;
    let bootstrap_staff = app
        .admin
        .clone()
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("list")
        .into_inner()
        .staff_users
        .remove(0);
    let status = app
        .admin
        .clone()
        .unassign_admin_role(UnassignAdminRoleRequest {
            user_id: bootstrap_staff.user_id.clone(),
        })
        .await
        .expect_err("last full access");
    assert_error(&status, Code::FailedPrecondition, "LAST_FULL_ACCESS_STAFF");

    let lesser = app
        .create_role("Lesser", RoleKind::Admin, &["roles.read"])
        .await;
    let status = app
        .admin
        .clone()
        .assign_admin_role(AssignAdminRoleRequest {
            user_id: bootstrap_staff.user_id,
            role_id: lesser.id,
        })
        .await
        .expect_err("demoting the last full access");
    assert_error(&status, Code::FailedPrecondition, "LAST_FULL_ACCESS_STAFF");
}

#[tokio::test]
async fn a_weaker_caller_cannot_demote_a_stronger_colleague() {
    let app = spawn_app().await;
    let (token, _) = app
        .staff_token_with("frank", &["staff.write", "staff.read"])
        .await;
    let strong_role = app
        .create_role("Strong", RoleKind::Admin, &["users.write"])
        .await;
    let strong = app.create_staff("grace", &strong_role.id).await;
    let status = app
        .client(&token)
        .unassign_admin_role(UnassignAdminRoleRequest {
            user_id: strong.user_id,
        })
        .await
        .expect_err("escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
}

#[tokio::test]
async fn concurrent_demotions_never_remove_the_last_full_access() {
    let app = spawn_app().await;
    let full = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            kind: RoleKind::Admin.into(),
            ..Default::default()
        })
        .await
        .expect("roles")
        .into_inner()
        .roles
        .into_iter()
        .find(|r| r.full_access)
        .expect("the bootstrap full-access role");
    let second = app.create_staff("second.admin", &full.id).await;
    let first = app
        .admin
        .clone()
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("staff")
        .into_inner()
        .staff_users
        .remove(0);
    let calls: Vec<_> = [first.user_id, second.user_id]
        .into_iter()
        .map(|user_id| {
            let mut admin = app.admin.clone();
            tokio::spawn(async move {
                admin
                    .unassign_admin_role(UnassignAdminRoleRequest { user_id })
                    .await
            })
        })
        .collect();
    let mut demoted = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => demoted += 1,
            // The caller's own credential belongs to the first staff user, so
            // a call that runs after that user's demotion cannot authenticate.
            Err(status) if status.code() == Code::Unauthenticated => {
                assert_error(&status, Code::Unauthenticated, "CREDENTIAL_OWNER_NOT_STAFF")
            }
            Err(status) => {
                assert_error(&status, Code::FailedPrecondition, "LAST_FULL_ACCESS_STAFF")
            }
        }
    }
    assert_eq!(demoted, 1, "exactly one demotion succeeds");
    let db = app.database().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS holders FROM users WHERE admin_role_id = '{}' AND status = 'active'",
                full.id
            ),
        ))
        .await
        .expect("count")
        .expect("a row");
    let holders: i64 = row.try_get("", "holders").expect("holders");
    assert_eq!(holders, 1, "one full-access staff user remains");
}

#[tokio::test]
async fn a_junior_cannot_end_a_senior_colleagues_sessions() {
    let app = spawn_app().await;
    let full = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            kind: RoleKind::Admin.into(),
            ..Default::default()
        })
        .await
        .expect("roles")
        .into_inner()
        .roles
        .into_iter()
        .find(|r| r.full_access)
        .expect("the bootstrap full-access role");
    let senior = active_user(&app, "senior").await;
    app.admin
        .clone()
        .assign_admin_role(AssignAdminRoleRequest {
            user_id: senior.id.clone(),
            role_id: full.id,
        })
        .await
        .expect("make the senior full-access staff");
    let senior_token = session_of(&app, "senior").await;
    active_user(&app, "client").await;
    let client_token = session_of(&app, "client").await;
    let (junior_token, _) = app
        .staff_token_with("junior", &["sessions.read", "sessions.write"])
        .await;
    let mut junior = app.auth_as(&junior_token);

    let senior_sessions = junior
        .list_sessions(ListSessionsRequest {
            user_id: senior.id.clone(),
            ..Default::default()
        })
        .await
        .expect("sessions.read sees them")
        .into_inner()
        .sessions;
    assert_eq!(senior_sessions.len(), 1);
    let status = junior
        .revoke_session(RevokeSessionRequest {
            session_id: senior_sessions[0].id.clone(),
        })
        .await
        .expect_err("ending a more powerful colleague's session");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    app.auth_as(&senior_token)
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect("the senior's session still works");

    // A client user's session is the junior's to end.
    let client_sessions = app
        .auth_as(&client_token)
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect("own sessions")
        .into_inner()
        .sessions;
    junior
        .revoke_session(RevokeSessionRequest {
            session_id: client_sessions[0].id.clone(),
        })
        .await
        .expect("end a client's session");
    let status = app
        .auth_as(&client_token)
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect_err("ended");
    assert_error(&status, Code::Unauthenticated, "SESSION_INVALID");
}

#[tokio::test]
async fn a_new_staff_user_sets_a_first_password_without_a_password_changed_notice() {
    let app = spawn_app_with(hold_mail).await;
    let role = app
        .create_role("Support", RoleKind::Admin, &["users.read"])
        .await;
    app.admin
        .clone()
        .create_staff_user(CreateStaffUserRequest {
            send_set_password_email: true,
            ..new_staff("newcomer", "newcomer@example.com", &role.id)
        })
        .await
        .expect("create");
    let link = app
        .queued_secret("newcomer@example.com", "set_password", "link")
        .await
        .expect("a set-password link");
    assert!(link.starts_with("https://accounts.example.test/password/set?token="));
    assert_eq!(
        app.mail_count("newcomer@example.com", "password_reset")
            .await,
        0,
        "no reset mail for a password never set"
    );
    let token = link.split_once("token=").expect("a token").1.to_owned();
    app.auth_public()
        .reset_password(ResetPasswordRequest {
            token,
            new_password: PASSWORD.to_owned(),
        })
        .await
        .expect("set the first password");
    assert_eq!(
        app.mail_count("newcomer@example.com", "password_changed")
            .await,
        0,
        "a first password is not a change to warn about"
    );
    app.auth_public()
        .login(LoginRequest {
            identifier: "newcomer".to_owned(),
            password: PASSWORD.to_owned(),
            user_agent: "tests".to_owned(),
            device_token: String::new(),
        })
        .await
        .expect("sign in with it");

    // A staff user created without the mail gets the same wording from
    // SendPasswordReset while they have no password.
    let quiet = app.create_staff("quiet", &role.id).await;
    app.auth
        .clone()
        .send_password_reset(SendPasswordResetRequest {
            user_id: quiet.user_id,
        })
        .await
        .expect("send");
    assert_eq!(app.mail_count("quiet@example.com", "set_password").await, 1);
    assert_eq!(
        app.mail_count("quiet@example.com", "password_reset").await,
        0
    );
}

#[tokio::test]
async fn inactive_staff_stay_listed_with_their_credentials_but_are_stopped() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("ines", &["users.read"]).await;
    let (_, colleague) = app.staff_token_with("carl", &["users.read"]).await;
    let listed = |state: StaffState| {
        let mut admin = app.admin.clone();
        async move {
            admin
                .list_staff_users(ListStaffUsersRequest {
                    state: state.into(),
                    ..Default::default()
                })
                .await
                .expect("list staff")
                .into_inner()
                .staff_users
                .into_iter()
                .map(|s| s.user_id)
                .collect::<Vec<_>>()
        }
    };

    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: staff.user_id.clone(),
            reason: "left the company".into(),
        })
        .await
        .expect("deactivate");
    let inactive = listed(StaffState::Inactive).await;
    assert_eq!(inactive.len(), 1);
    assert_eq!(inactive[0], staff.user_id);
    let active = listed(StaffState::Active).await;
    assert!(active.contains(&colleague.user_id) && !active.contains(&staff.user_id));
    assert!(
        listed(StaffState::Unspecified)
            .await
            .contains(&staff.user_id)
    );

    // Stopped: the credential no longer works, but it is still listed.
    let refused = app
        .users_as(&token)
        .get_user(GetUserRequest {
            user_id: colleague.user_id.clone(),
        })
        .await
        .expect_err("an inactive staff user's credential");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let credentials = app
        .admin
        .clone()
        .list_api_credentials(ListApiCredentialsRequest {
            owner_user_id: staff.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list credentials")
        .into_inner();
    assert_eq!(credentials.api_credentials.len(), 1);

    app.users
        .clone()
        .activate_user(ActivateUserRequest {
            user_id: staff.user_id.clone(),
            reason: "came back".into(),
        })
        .await
        .expect("reactivate");
    assert!(listed(StaffState::Active).await.contains(&staff.user_id));
    app.users_as(&token)
        .get_user(GetUserRequest {
            user_id: colleague.user_id,
        })
        .await
        .expect("works again");
}
