//! AuthService: sign-up, verification, sign-in, sessions, account choice,
//! password change and reset, introspection, throttling.

use std::time::Duration;

use identityd::proto::{
    AccountPermission, AddMemberRequest, ChangePasswordRequest, CheckPermissionRequest,
    GetAccountRequest, IntrospectSessionRequest, ListActivityRequest, ListMembersRequest,
    ListSessionsRequest, LoginRequest, LoginResponse, LogoutRequest, RegisterRequest,
    RemoveMemberRequest, RequestPasswordResetRequest, ResendVerificationRequest,
    ResetPasswordRequest, RevokeSessionRequest, SelectAccountRequest, SendPasswordResetRequest,
    SuspendUserRequest, SwitchAccountRequest, UpdateMemberPermissionsRequest, UserStatus,
    VerifyEmailRequest, check_permission_request, check_permission_response::Denial,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{TestApp, assert_error, hold_mail, rows_in, spawn_app_with, violated_fields};
use crate::people::{PASSWORD, account_of, active_user, email_of, session_of};

async fn spawn() -> TestApp {
    spawn_app_with(hold_mail).await
}

async fn register(app: &TestApp, username: &str) {
    app.auth_public()
        .register(RegisterRequest {
            full_name: format!("{username} Person"),
            username: username.to_owned(),
            email: email_of(username),
            password: PASSWORD.to_owned(),
            locale: String::new(),
        })
        .await
        .expect("register");
}

async fn code_for(app: &TestApp, username: &str) -> String {
    app.queued_secret(&email_of(username), "verification_code", "code")
        .await
        .expect("a verification code in the outbox")
}

async fn verify(app: &TestApp, username: &str) {
    let code = code_for(app, username).await;
    app.auth_public()
        .verify_email(VerifyEmailRequest {
            email: email_of(username),
            code,
        })
        .await
        .expect("verify the email address");
}

async fn login(
    app: &TestApp,
    identifier: &str,
    password: &str,
) -> Result<LoginResponse, tonic::Status> {
    app.auth_public()
        .login(LoginRequest {
            identifier: identifier.to_owned(),
            password: password.to_owned(),
            user_agent: "tests".to_owned(),
            device_token: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn add_member(
    app: &TestApp,
    account_id: &str,
    user_id: &str,
    permissions: &[AccountPermission],
) {
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            permissions: permissions.iter().map(|p| (*p).into()).collect(),
        })
        .await
        .expect("add a member");
}

async fn token_for(app: &TestApp, username: &str) -> String {
    session_of(app, username).await
}

async fn introspect(app: &TestApp, token: &str) -> identityd::proto::IntrospectSessionResponse {
    app.auth
        .clone()
        .introspect_session(IntrospectSessionRequest {
            session_token: token.to_owned(),
        })
        .await
        .expect("introspect")
        .into_inner()
}

async fn actions(app: &TestApp, action: &str) -> usize {
    app.admin
        .clone()
        .list_activity(ListActivityRequest {
            action: action.to_owned(),
            page_size: 200,
            ..Default::default()
        })
        .await
        .expect("list activity")
        .into_inner()
        .events
        .len()
}

#[tokio::test]
async fn registration_verification_and_login_make_an_active_owner_of_a_primary_account() {
    let app = spawn().await;
    register(&app, "newcomer").await;

    let user = app
        .users
        .clone()
        .lookup_user(identityd::proto::LookupUserRequest {
            key: Some(identityd::proto::lookup_user_request::Key::Email(email_of(
                "newcomer",
            ))),
        })
        .await
        .expect("the user exists")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(user.status(), UserStatus::PendingVerification);
    assert!(!user.email_verified);

    // Unverified users cannot sign in, and are not told why.
    let status = login(&app, "newcomer", PASSWORD).await.unwrap_err();
    assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");

    verify(&app, "newcomer").await;
    let signed_in = login(&app, &email_of("NewComer"), PASSWORD)
        .await
        .expect("sign in after verification");
    assert!(signed_in.session_token.starts_with("ids_"));
    assert_eq!(signed_in.session_token.len(), 4 + 64);
    assert!(!signed_in.account_selection_required);
    let session = signed_in.session.expect("a session");
    assert_eq!(session.user_id, user.id);
    assert!(session.current);

    // The session is bound to the primary account, owned by the new user.
    let account = app
        .accounts_as(&signed_in.session_token)
        .get_account(GetAccountRequest {
            account_id: session.account_id.clone(),
        })
        .await
        .expect("the owner reads their account")
        .into_inner()
        .account
        .expect("an account");
    assert_eq!(account.profile.expect("a profile").display_name, "newcomer");
    assert_eq!(account.owner_user_id, user.id);

    let seen = introspect(&app, &signed_in.session_token).await;
    assert!(seen.active);
    assert!(seen.account_owner);
    assert_eq!(seen.account_permissions.len(), 13);
    assert_eq!(seen.user.expect("a user").status(), UserStatus::Active);
    assert!(seen.staff_permissions.is_empty());
    assert_eq!(actions(&app, "user.registered").await, 1);
    assert_eq!(actions(&app, "user.email_verified").await, 1);
    assert_eq!(actions(&app, "auth.login_succeeded").await, 1);
}

#[tokio::test]
async fn registering_a_known_email_answers_the_same_and_mails_its_owner() {
    let app = spawn().await;
    register(&app, "first").await;
    app.auth_public()
        .register(RegisterRequest {
            full_name: "Somebody Else".to_owned(),
            username: "second".to_owned(),
            email: email_of("FIRST"),
            password: "another-quiet-harbour-7".to_owned(),
            locale: String::new(),
        })
        .await
        .expect("the same answer as a new sign-up");
    assert_eq!(
        app.mail_count(&email_of("first"), "sign_up_attempt").await,
        1
    );
    assert_eq!(
        app.mail_count(&email_of("first"), "verification_code")
            .await,
        1
    );
    let status = app
        .users
        .clone()
        .lookup_user(identityd::proto::LookupUserRequest {
            key: Some(identityd::proto::lookup_user_request::Key::Username(
                "second".to_owned(),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // A taken username is refused whatever the email address, so the answer
    // cannot tell whether an address is registered.
    for email in [email_of("first"), email_of("unknown")] {
        let status = app
            .auth_public()
            .register(RegisterRequest {
                full_name: "Copy Cat".to_owned(),
                username: "first".to_owned(),
                email,
                password: "another-quiet-harbour-7".to_owned(),
                locale: String::new(),
            })
            .await
            .unwrap_err();
        assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");
    }
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_make_exactly_one_user() {
    // Every sign-up counts against the address's mail budget; this test is
    // about uniqueness, so the budget is raised.
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.user_free_failures = 20;
    })
    .await;
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..8 {
        let mut auth = app.auth_public();
        attempts.spawn(async move {
            auth.register(RegisterRequest {
                full_name: "Racing Person".to_owned(),
                username: format!("racer{n}"),
                email: "race@example.test".to_owned(),
                password: PASSWORD.to_owned(),
                locale: String::new(),
            })
            .await
        });
    }
    while let Some(result) = attempts.join_next().await {
        result
            .expect("the task ran")
            .expect("every attempt answers OK");
    }
    let users = app
        .users
        .clone()
        .list_users(identityd::proto::ListUsersRequest {
            query: "race@example.test".to_owned(),
            page_size: 50,
            ..Default::default()
        })
        .await
        .expect("list users")
        .into_inner()
        .users;
    assert_eq!(users.len(), 1);
    assert_eq!(
        app.mail_count("race@example.test", "verification_code")
            .await,
        1
    );
    assert_eq!(
        app.mail_count("race@example.test", "sign_up_attempt").await,
        7
    );
}

#[tokio::test]
async fn every_refused_sign_in_gets_the_same_status_and_reason() {
    let app = spawn().await;
    active_user(&app, "known").await;
    let suspended = active_user(&app, "suspended").await;
    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: suspended.id,
            reason: "tests".to_owned(),
        })
        .await
        .expect("suspend");
    register(&app, "unverified").await;

    let cases = [
        ("nobody", PASSWORD),
        ("nobody@example.test", PASSWORD),
        ("known", "wrong-password-entirely"),
        ("suspended", PASSWORD),
        ("unverified", PASSWORD),
    ];
    for (identifier, password) in cases {
        let status = login(&app, identifier, password).await.unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
        assert_eq!(
            status.message(),
            "the identifier or password is wrong, or this user cannot sign in"
        );
    }
    assert_eq!(actions(&app, "auth.login_failed").await, 5);
    let anonymous = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            actor_kind: identityd::proto::ActorKind::Anonymous.into(),
            action: "auth.login_failed".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list activity")
        .into_inner()
        .events;
    assert_eq!(anonymous.len(), 5);
    let reasons: Vec<&str> = anonymous
        .iter()
        .filter_map(|e| e.details.get("reason").map(String::as_str))
        .collect();
    for reason in ["unknown_user", "wrong_password", "suspended", "unverified"] {
        assert!(reasons.contains(&reason), "{reasons:?}");
    }
    login(&app, "KNOWN", PASSWORD)
        .await
        .expect("the right password works");
}

#[tokio::test]
async fn repeated_failures_are_throttled_alike_for_known_and_unknown_users() {
    let app = spawn().await;
    active_user(&app, "target").await;
    for identifier in ["target", "ghost@example.test"] {
        for _ in 0..5 {
            let status = login(&app, identifier, "not-the-password")
                .await
                .unwrap_err();
            assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
        }
        // The sixth failure starts a delay; the next attempt must wait.
        login(&app, identifier, "not-the-password")
            .await
            .unwrap_err();
        let status = login(&app, identifier, PASSWORD).await.unwrap_err();
        assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
        let retry = status.get_details_retry_info().expect("a RetryInfo detail");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
    }
    assert_eq!(actions(&app, "auth.login_throttled").await, 2);

    app.clock.advance(Duration::from_secs(2));
    login(&app, "target", PASSWORD)
        .await
        .expect("after the delay the right password works");
    // Success forgets the user's failures: one more failure is free again.
    let status = login(&app, "target", "not-the-password").await.unwrap_err();
    assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
}

#[tokio::test]
async fn failures_lock_for_the_longest_delay_then_let_the_user_back_in() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.user_free_failures = 1;
        settings.auth.throttle_max_delay_secs = 4;
    })
    .await;
    active_user(&app, "locked").await;
    // One free failure, then waits of 1, 2 and 4 seconds; 4 is the longest.
    for wait in [0, 1, 2, 4] {
        let status = login(&app, "locked", "not-the-password").await.unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
        app.clock.advance(Duration::from_secs(wait));
    }
    let status = login(&app, "locked", "not-the-password").await.unwrap_err();
    assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    let status = login(&app, "locked", PASSWORD).await.unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    assert!(actions(&app, "auth.login_locked").await >= 1);
    app.clock.advance(Duration::from_secs(5));
    login(&app, "locked", PASSWORD)
        .await
        .expect("the lock ends");
}

#[tokio::test]
async fn a_verification_code_dies_after_five_wrong_guesses_expiry_or_a_resend() {
    let app = spawn().await;
    register(&app, "guesser").await;
    let code = code_for(&app, "guesser").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify_with = |code: String| {
        let mut auth = app.auth_public();
        async move {
            auth.verify_email(VerifyEmailRequest {
                email: email_of("guesser"),
                code,
            })
            .await
        }
    };
    for _ in 0..5 {
        let status = verify_with(wrong.to_owned()).await.unwrap_err();
        assert_eq!(violated_fields(&status), vec!["code"]);
    }
    // Five wrong guesses used the code up; the right one no longer works.
    let status = verify_with(code.clone()).await.unwrap_err();
    assert!(
        status.code() == Code::InvalidArgument || status.code() == Code::ResourceExhausted,
        "{status:?}"
    );

    // A fresh code works; expiry and a resend each kill the one before.
    app.clock.advance(Duration::from_secs(3600));
    app.auth_public()
        .resend_verification(ResendVerificationRequest {
            email: email_of("guesser"),
        })
        .await
        .expect("resend");
    let second = code_for(&app, "guesser").await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let status = verify_with(second).await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["code"]);
    // Each failure past the fifth makes the next guess wait a little longer.
    app.clock.advance(Duration::from_secs(60));
    app.auth_public()
        .resend_verification(ResendVerificationRequest {
            email: email_of("guesser"),
        })
        .await
        .expect("resend");
    let third = code_for(&app, "guesser").await;
    app.auth_public()
        .resend_verification(ResendVerificationRequest {
            email: email_of("guesser"),
        })
        .await
        .expect("resend");
    let fourth = code_for(&app, "guesser").await;
    if third != fourth {
        let status = verify_with(third).await.unwrap_err();
        assert_eq!(violated_fields(&status), vec!["code"]);
        app.clock.advance(Duration::from_secs(60));
    }
    verify_with(fourth).await.expect("the newest code works");

    // Asking for a code for an unknown address answers OK and sends nothing.
    app.auth_public()
        .resend_verification(ResendVerificationRequest {
            email: email_of("nobody"),
        })
        .await
        .expect("the same answer");
    assert_eq!(
        app.mail_count(&email_of("nobody"), "verification_code")
            .await,
        0
    );
}

#[tokio::test]
async fn a_user_with_several_accounts_selects_one_and_can_switch() {
    let app = spawn().await;
    let user = active_user(&app, "juggler").await;
    let first = account_of(&app, &user.id, "First").await;
    let second = account_of(&app, &user.id, "Second").await;
    let other_owner = active_user(&app, "stranger").await;
    let foreign = account_of(&app, &other_owner.id, "Foreign").await;

    let signed_in = login(&app, "juggler", PASSWORD).await.expect("sign in");
    assert!(signed_in.account_selection_required);
    assert_eq!(signed_in.session.expect("a session").account_id, "");
    let token = signed_in.session_token;
    let mut auth = app.auth_as(&token);

    // Nothing account-scoped works before an account is chosen.
    let status = app
        .accounts_as(&token)
        .get_account(GetAccountRequest {
            account_id: first.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    let status = auth
        .switch_account(SwitchAccountRequest {
            account_id: first.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "NO_ACCOUNT_SELECTED");
    let status = auth
        .select_account(SelectAccountRequest {
            account_id: foreign.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, "ACCOUNT_NOT_FOUND");

    let session = auth
        .select_account(SelectAccountRequest {
            account_id: first.clone(),
        })
        .await
        .expect("select")
        .into_inner()
        .session
        .expect("a session");
    assert_eq!(session.account_id, first);
    let status = auth
        .select_account(SelectAccountRequest {
            account_id: second.clone(),
        })
        .await
        .unwrap_err();
    assert_error(
        &status,
        Code::FailedPrecondition,
        "ACCOUNT_ALREADY_SELECTED",
    );
    let session = auth
        .switch_account(SwitchAccountRequest {
            account_id: second.clone(),
        })
        .await
        .expect("switch")
        .into_inner()
        .session
        .expect("a session");
    assert_eq!(session.account_id, second);
    assert_eq!(
        introspect(&app, &token)
            .await
            .session
            .expect("a session")
            .account_id,
        second
    );
    let status = app
        .accounts_as(&token)
        .get_account(GetAccountRequest { account_id: first })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    assert_eq!(actions(&app, "session.account_switched").await, 1);
}

#[tokio::test]
async fn owner_and_member_sessions_get_their_own_rights_in_the_account() {
    let app = spawn().await;
    let owner = active_user(&app, "owner").await;
    let account = account_of(&app, &owner.id, "Bakery").await;
    let member = active_user(&app, "member").await;
    add_member(&app, &account, &member.id, &[AccountPermission::Invoices]).await;
    let other = active_user(&app, "other").await;
    add_member(&app, &account, &other.id, &[AccountPermission::Profile]).await;

    let owner_token = token_for(&app, "owner").await;
    let member_token = token_for(&app, "member").await;
    let other_token = token_for(&app, "other").await;

    // The owner manages members.
    let mut as_owner = app.accounts_as(&owner_token);
    let members = as_owner
        .list_members(ListMembersRequest {
            account_id: account.clone(),
            ..Default::default()
        })
        .await
        .expect("the owner lists members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 3);
    as_owner
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
            permissions: vec![
                AccountPermission::Invoices.into(),
                AccountPermission::Tickets.into(),
            ],
        })
        .await
        .expect("the owner changes a member's permissions");

    // A member may not, and sees only what their permissions allow.
    let mut as_member = app.accounts_as(&member_token);
    let status = as_member
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
            permissions: vec![AccountPermission::Profile.into()],
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = as_member
        .list_members(ListMembersRequest {
            account_id: account.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = as_member
        .get_account(GetAccountRequest {
            account_id: account.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    app.accounts_as(&other_token)
        .get_account(GetAccountRequest {
            account_id: account.clone(),
        })
        .await
        .expect("the profile permission shows the account");

    // Staff-only methods stay staff-only for every session.
    let status = as_owner
        .add_member(AddMemberRequest {
            account_id: account.clone(),
            user_id: other.id.clone(),
            permissions: vec![],
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");

    // Other services see the same rights.
    let check = |token: String, permission: AccountPermission| {
        let mut auth = app.auth.clone();
        async move {
            auth.check_permission(CheckPermissionRequest {
                session_token: token,
                permission: Some(check_permission_request::Permission::AccountPermission(
                    permission.into(),
                )),
                account_id: String::new(),
            })
            .await
            .expect("check")
            .into_inner()
        }
    };
    assert!(
        check(member_token.clone(), AccountPermission::Tickets)
            .await
            .allowed
    );
    let denied = check(member_token.clone(), AccountPermission::Orders).await;
    assert!(!denied.allowed);
    assert_eq!(denied.denial(), Denial::NotGranted);
    assert!(
        check(owner_token.clone(), AccountPermission::Orders)
            .await
            .allowed
    );
    let member_view = introspect(&app, &member_token).await;
    assert!(!member_view.account_owner);
    assert_eq!(
        member_view.account_permissions,
        vec![
            i32::from(AccountPermission::Invoices),
            i32::from(AccountPermission::Tickets)
        ]
    );

    // The owner removes a member; their session keeps the user signed in
    // but no longer acts for the account.
    as_owner
        .remove_member(RemoveMemberRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
        })
        .await
        .expect("the owner removes a member");
    let gone = check(member_token.clone(), AccountPermission::Invoices).await;
    assert_eq!(gone.denial(), Denial::NotAMember);
    assert!(
        introspect(&app, &member_token)
            .await
            .account_permissions
            .is_empty()
    );
}

#[tokio::test]
async fn with_client_user_management_disabled_owners_cannot_manage_members() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.accounts.client_user_management = false;
    })
    .await;
    let owner = active_user(&app, "owner").await;
    let account = account_of(&app, &owner.id, "Managed").await;
    let member = active_user(&app, "member").await;
    add_member(&app, &account, &member.id, &[AccountPermission::Invoices]).await;
    let token = token_for(&app, "owner").await;
    let status = app
        .accounts_as(&token)
        .remove_member(RemoveMemberRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
        })
        .await
        .unwrap_err();
    assert_error(
        &status,
        Code::PermissionDenied,
        "CLIENT_USER_MANAGEMENT_DISABLED",
    );
    app.accounts
        .clone()
        .remove_member(RemoveMemberRequest {
            account_id: account,
            user_id: member.id,
        })
        .await
        .expect("staff still may");
}

#[tokio::test]
async fn sessions_are_listed_and_ended_by_their_user_or_by_staff() {
    let app = spawn().await;
    active_user(&app, "traveller").await;
    let other = active_user(&app, "neighbour").await;
    let laptop = token_for(&app, "traveller").await;
    let phone = token_for(&app, "traveller").await;
    let neighbour = token_for(&app, "neighbour").await;

    let mut auth = app.auth_as(&laptop);
    let sessions = auth
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect("list own sessions")
        .into_inner()
        .sessions;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    let phone_id = sessions
        .iter()
        .find(|s| !s.current)
        .expect("the phone")
        .id
        .clone();

    // Another user's sessions are neither listed nor revocable.
    let status = auth
        .list_sessions(ListSessionsRequest {
            user_id: other.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let neighbour_session = introspect(&app, &neighbour)
        .await
        .session
        .expect("a session")
        .id;
    let status = auth
        .revoke_session(RevokeSessionRequest {
            session_id: neighbour_session.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::NotFound, "SESSION_NOT_FOUND");

    auth.revoke_session(RevokeSessionRequest {
        session_id: phone_id,
    })
    .await
    .expect("end the phone's session");
    assert!(!introspect(&app, &phone).await.active);
    let status = app
        .auth_as(&phone)
        .logout(LogoutRequest {})
        .await
        .unwrap_err();
    assert_error(&status, Code::Unauthenticated, "SESSION_INVALID");

    // Staff see and end anyone's sessions.
    let listed = app
        .auth
        .clone()
        .list_sessions(ListSessionsRequest {
            user_id: other.id.clone(),
            ..Default::default()
        })
        .await
        .expect("staff list")
        .into_inner()
        .sessions;
    assert_eq!(listed.len(), 1);
    app.auth
        .clone()
        .revoke_session(RevokeSessionRequest {
            session_id: neighbour_session,
        })
        .await
        .expect("staff end a session");
    assert!(!introspect(&app, &neighbour).await.active);

    auth.logout(LogoutRequest {}).await.expect("log out");
    assert!(!introspect(&app, &laptop).await.active);
    assert_eq!(actions(&app, "auth.logout").await, 1);
    assert_eq!(actions(&app, "session.revoked").await, 2);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_expiry() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.session_idle_timeout_secs = 600;
        settings.auth.session_absolute_timeout_secs = 1500;
    })
    .await;
    active_user(&app, "sleepy").await;
    let idle = token_for(&app, "sleepy").await;
    let busy = token_for(&app, "sleepy").await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(300));
        assert!(introspect(&app, &busy).await.active);
    }
    assert!(!introspect(&app, &idle).await.active, "idle for 20 minutes");
    app.clock.advance(Duration::from_secs(400));
    assert!(
        !introspect(&app, &busy).await.active,
        "past the absolute expiry"
    );
    let status = app
        .auth_as(&busy)
        .logout(LogoutRequest {})
        .await
        .unwrap_err();
    assert_error(&status, Code::Unauthenticated, "SESSION_INVALID");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_mails_a_notice() {
    let app = spawn().await;
    active_user(&app, "changer").await;
    let here = token_for(&app, "changer").await;
    let elsewhere = token_for(&app, "changer").await;
    let mut auth = app.auth_as(&here);

    let status = auth
        .change_password(ChangePasswordRequest {
            current_password: "not-my-password".to_owned(),
            new_password: "fresh-meadow-cobalt-9".to_owned(),
            mfa_code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), vec!["current_password"]);
    let status = auth
        .change_password(ChangePasswordRequest {
            current_password: PASSWORD.to_owned(),
            new_password: "changer".to_owned(),
            mfa_code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), vec!["new_password"]);

    auth.change_password(ChangePasswordRequest {
        current_password: PASSWORD.to_owned(),
        new_password: "fresh-meadow-cobalt-9".to_owned(),
        mfa_code: String::new(),
    })
    .await
    .expect("change the password");
    assert!(introspect(&app, &here).await.active);
    assert!(!introspect(&app, &elsewhere).await.active);
    assert_eq!(
        app.mail_count(&email_of("changer"), "password_changed")
            .await,
        1
    );
    let status = login(&app, "changer", PASSWORD).await.unwrap_err();
    assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    login(&app, "changer", "fresh-meadow-cobalt-9")
        .await
        .expect("the new password works");

    // Only sessions change passwords.
    let status = app
        .auth
        .clone()
        .change_password(ChangePasswordRequest {
            current_password: PASSWORD.to_owned(),
            new_password: "fresh-meadow-cobalt-9".to_owned(),
            mfa_code: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "SESSION_REQUIRED");
}

#[tokio::test]
async fn a_reset_link_works_once_within_the_hour_and_ends_every_session() {
    let app = spawn().await;
    let user = active_user(&app, "forgetful").await;
    let session = token_for(&app, "forgetful").await;
    let request_reset = |email: String| {
        let mut auth = app.auth_public();
        async move {
            auth.request_password_reset(RequestPasswordResetRequest { email })
                .await
                .expect("always OK")
        }
    };
    request_reset(email_of("nobody")).await;
    assert_eq!(
        app.mail_count(&email_of("nobody"), "password_reset").await,
        0
    );

    request_reset(email_of("forgetful")).await;
    let first_link = app
        .queued_secret(&email_of("forgetful"), "password_reset", "link")
        .await
        .expect("a reset link");
    let first = first_link
        .split_once("token=")
        .expect("a token in the link")
        .1
        .to_owned();
    assert!(first_link.starts_with("https://accounts.example.test/password/reset?token=idr_"));
    request_reset(email_of("forgetful")).await;
    let second_link = app
        .queued_secret(&email_of("forgetful"), "password_reset", "link")
        .await
        .expect("a second link");
    let second = second_link
        .split_once("token=")
        .expect("a token")
        .1
        .to_owned();

    let reset = |token: String, password: &'static str| {
        let mut auth = app.auth_public();
        async move {
            auth.reset_password(ResetPasswordRequest {
                token,
                new_password: password.to_owned(),
            })
            .await
        }
    };
    let status = reset(first.clone(), "short").await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["new_password"]);
    reset(first.clone(), "brand-new-window-sill-3")
        .await
        .expect("reset with the first link");
    let status = reset(first, "another-new-window-4").await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        vec!["token"],
        "a token works once"
    );
    let status = reset(second, "another-new-window-4").await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["token"], "other links died");
    assert!(!introspect(&app, &session).await.active, "sessions ended");
    login(&app, "forgetful", "brand-new-window-sill-3")
        .await
        .expect("the new password works");

    // Staff can send a link; it expires after an hour.
    app.auth
        .clone()
        .send_password_reset(SendPasswordResetRequest { user_id: user.id })
        .await
        .expect("staff send a link");
    let link = app
        .queued_secret(&email_of("forgetful"), "password_reset", "link")
        .await
        .expect("a staff-sent link");
    let token = link.split_once("token=").expect("a token").1.to_owned();
    app.clock.advance(Duration::from_secs(61 * 60));
    let status = reset(token, "brand-new-window-sill-5").await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["token"], "expired");
    assert_eq!(actions(&app, "auth.password_reset").await, 1);
}

#[tokio::test]
async fn introspection_reports_staff_permissions_and_inactive_tokens() {
    let app = spawn().await;
    let (_, staff) = app.staff_token_with("Support", &["users.read"]).await;
    // Staff users sign in like anyone once they have a password.
    let reset_token = {
        app.auth
            .clone()
            .send_password_reset(SendPasswordResetRequest {
                user_id: staff.user_id.clone(),
            })
            .await
            .expect("send a link");
        let email = staff.email.clone();
        // A staff user who never had a password is asked to set one.
        let link = app
            .queued_secret(&email, "set_password", "link")
            .await
            .expect("a link");
        link.split_once("token=").expect("a token").1.to_owned()
    };
    app.auth_public()
        .reset_password(ResetPasswordRequest {
            token: reset_token,
            new_password: PASSWORD.to_owned(),
        })
        .await
        .expect("set a password");
    let username = staff.username.clone();
    let token = token_for(&app, &username).await;
    let seen = introspect(&app, &token).await;
    assert!(seen.active);
    assert_eq!(seen.staff_permissions, vec!["users.read".to_owned()]);
    let allowed = app
        .auth
        .clone()
        .check_permission(CheckPermissionRequest {
            session_token: token.clone(),
            permission: Some(check_permission_request::Permission::StaffPermission(
                "users.read".to_owned(),
            )),
            account_id: String::new(),
        })
        .await
        .expect("check")
        .into_inner();
    assert!(allowed.allowed);
    // The staff session authorizes staff calls by its admin role.
    app.users_as(&token)
        .get_user(identityd::proto::GetUserRequest {
            user_id: staff.user_id.clone(),
        })
        .await
        .expect("users.read through a staff session");
    let status = app
        .users_as(&token)
        .suspend_user(SuspendUserRequest {
            user_id: staff.user_id.clone(),
            reason: "no".to_owned(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");

    for garbage in ["", "ids_short", "ida_x", &format!("ids_{}", "0".repeat(64))] {
        let seen = introspect(&app, garbage).await;
        assert!(!seen.active);
        assert!(seen.user.is_none());
    }
    let denied = app
        .auth
        .clone()
        .check_permission(CheckPermissionRequest {
            session_token: "ids_nothing".to_owned(),
            permission: Some(check_permission_request::Permission::StaffPermission(
                "users.read".to_owned(),
            )),
            account_id: String::new(),
        })
        .await
        .expect("check")
        .into_inner();
    assert_eq!(denied.denial(), Denial::SessionInactive);

    // A suspended user's sessions stop at once.
    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: staff.user_id,
            reason: "left".to_owned(),
        })
        .await
        .expect("suspend");
    assert!(!introspect(&app, &token).await.active);
}

#[tokio::test]
async fn introspection_needs_the_sessions_read_permission() {
    let app = spawn().await;
    active_user(&app, "private").await;
    let token = token_for(&app, "private").await;
    let status = app
        .auth_as(&token)
        .introspect_session(IntrospectSessionRequest {
            session_token: token.clone(),
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let (reader, _) = app.staff_token_with("Billing", &["sessions.read"]).await;
    let seen = app
        .auth_as(&reader)
        .introspect_session(IntrospectSessionRequest {
            session_token: token,
        })
        .await
        .expect("introspect with sessions.read")
        .into_inner();
    assert!(seen.active);
}

#[tokio::test]
async fn login_rehashes_a_password_stored_with_old_parameters() {
    let app = spawn().await;
    let user = active_user(&app, "veteran").await;
    let cheap = identityd::crypto::PasswordHasher::new(
        identityd::crypto::HashingParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        1,
        1,
    )
    .expect("a hasher");
    let old_hash = cheap.hash(PASSWORD).await.expect("hash");
    let db = app.database().await;
    let backend = db.get_database_backend();
    let update = match backend {
        sea_orm::DbBackend::Postgres => "UPDATE users SET password_hash = $1 WHERE id = $2",
        _ => "UPDATE users SET password_hash = ? WHERE id = ?",
    };
    use sea_orm::ConnectionTrait;
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        update,
        [old_hash.clone().into(), user.id.clone().into()],
    ))
    .await
    .expect("store an old hash");

    login(&app, "veteran", PASSWORD).await.expect("sign in");
    let select = match backend {
        sea_orm::DbBackend::Postgres => "SELECT password_hash FROM users WHERE id = $1",
        _ => "SELECT password_hash FROM users WHERE id = ?",
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            select,
            [user.id.into()],
        ))
        .await
        .expect("read")
        .expect("a row");
    let stored: String = row.try_get("", "password_hash").expect("a hash");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    login(&app, "veteran", PASSWORD)
        .await
        .expect("the rehashed password still works");
}

/// Rows in `table`, read straight from the database.
#[tokio::test]
async fn ended_sessions_spent_links_and_old_failures_are_swept() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.sweep_interval_secs = 1;
        settings.auth.session_idle_timeout_secs = 10 * 86_400;
        settings.auth.session_absolute_timeout_secs = 30 * 86_400;
    })
    .await;
    active_user(&app, "tidy").await;
    let live = token_for(&app, "tidy").await;
    let ended = token_for(&app, "tidy").await;
    app.auth_as(&ended)
        .logout(LogoutRequest {})
        .await
        .expect("log out");
    login(&app, "tidy", "not-the-password").await.unwrap_err();
    app.auth_public()
        .request_password_reset(RequestPasswordResetRequest {
            email: email_of("tidy"),
        })
        .await
        .expect("a reset link");
    assert_eq!(rows_in(&app, "sessions").await, 2);
    // The reset link and the two sign-ins' device tokens.
    assert_eq!(rows_in(&app, "user_tokens").await, 3);
    assert!(rows_in(&app, "throttles").await >= 1);

    app.clock.advance(Duration::from_secs(2 * 86_400));
    let mut waited = 0;
    while rows_in(&app, "sessions").await != 1 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(rows_in(&app, "sessions").await, 1, "the ended session went");
    assert_eq!(
        rows_in(&app, "user_tokens").await,
        2,
        "live device tokens stay"
    );
    assert_eq!(rows_in(&app, "throttles").await, 0);
    assert!(
        introspect(&app, &live).await.active,
        "the live session stays"
    );
}

#[tokio::test]
async fn a_user_created_without_a_password_gets_a_link_to_set_one() {
    let app = spawn().await;
    let user = app
        .users
        .clone()
        .create_user(identityd::proto::CreateUserRequest {
            skip_primary_account: true,
            full_name: "Welcome Person".to_owned(),
            username: "welcome".to_owned(),
            email: email_of("welcome"),
            send_set_password_email: true,
            ..Default::default()
        })
        .await
        .expect("create a user")
        .into_inner()
        .user
        .expect("a user");
    assert!(!user.has_password);
    let link = app
        .queued_secret(&email_of("welcome"), "set_password", "link")
        .await
        .expect("a set-password link");
    assert!(link.starts_with("https://accounts.example.test/password/set?token=idr_"));
    let token = link.split_once("token=").expect("a token").1.to_owned();
    // The link works for three days, where a reset link works for one hour.
    app.clock.advance(Duration::from_secs(48 * 3600));
    app.auth_public()
        .reset_password(ResetPasswordRequest {
            token,
            new_password: "first-own-password-rising".to_owned(),
        })
        .await
        .expect("set the first password");
    login(&app, "welcome", "first-own-password-rising")
        .await
        .expect("sign in with it");
    assert_eq!(actions(&app, "auth.set_password_sent").await, 1);

    let status = app
        .users
        .clone()
        .create_user(identityd::proto::CreateUserRequest {
            skip_primary_account: true,
            full_name: "Both Ways".to_owned(),
            username: "bothways".to_owned(),
            email: email_of("bothways"),
            password: PASSWORD.to_owned(),
            send_set_password_email: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), vec!["send_set_password_email"]);
}
