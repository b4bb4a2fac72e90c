//! Single-use SSO tokens: minted by staff or a billing service, redeemed
//! once for a session; expiry on the server's clock, racing redemptions,
//! suspended users, removed members, staff hierarchy and two-factor users.

use std::time::Duration;

use identityd::proto::{
    AccountPermission, ActorKind, AddMemberRequest, CompleteLoginRequest, CreateSsoTokenRequest,
    ListActivityRequest, RedeemSsoTokenRequest, RedeemSsoTokenResponse, RemoveMemberRequest,
    SuspendUserRequest,
};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, hold_mail, spawn_app_with, violated_fields};
use crate::people::{account_of, active_user, enable_totp, unix_seconds};

async fn spawn() -> TestApp {
    spawn_app_with(hold_mail).await
}

async fn mint(app: &TestApp, user_id: &str, account_id: &str) -> String {
    app.auth
        .clone()
        .create_sso_token(CreateSsoTokenRequest {
            user_id: user_id.to_owned(),
            account_id: account_id.to_owned(),
            destination: "https://panel.example/servers/42".to_owned(),
        })
        .await
        .expect("mint an SSO token")
        .into_inner()
        .sso_token
}

async fn redeem(app: &TestApp, token: &str) -> Result<RedeemSsoTokenResponse, tonic::Status> {
    app.auth_public()
        .redeem_sso_token(RedeemSsoTokenRequest {
            sso_token: token.to_owned(),
            user_agent: "control panel".to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn add_member(app: &TestApp, account_id: &str, user_id: &str) {
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            permissions: vec![AccountPermission::Profile.into()],
        })
        .await
        .expect("add a member");
}

#[tokio::test]
async fn a_token_signs_its_user_in_once_to_the_named_account() {
    let app = spawn().await;
    let owner = active_user(&app, "olga").await;
    let first = account_of(&app, &owner.id, "First Ltd").await;
    let second = account_of(&app, &owner.id, "Second Ltd").await;

    let token = mint(&app, &owner.id, &second).await;
    assert!(token.starts_with("ido_") && token.len() == 68);
    let redeemed = redeem(&app, &token).await.expect("redeem");
    assert!(!redeemed.session_token.is_empty());
    assert_eq!(redeemed.destination, "https://panel.example/servers/42");
    let session = redeemed.session.expect("a session");
    assert_eq!(
        session.account_id, second,
        "the named account, not a choice"
    );
    assert_eq!(session.authentication_methods, ["sso"]);
    assert!(!redeemed.account_selection_required);
    assert!(redeemed.mfa_challenge.is_none());

    let again = redeem(&app, &token).await.expect_err("used");
    assert_error(&again, Code::Unauthenticated, "SSO_TOKEN_INVALID");
    let garbage = redeem(&app, "ido_0123").await.expect_err("garbage");
    assert_error(&garbage, Code::Unauthenticated, "SSO_TOKEN_INVALID");

    // Without an account the session is chosen as at sign-in.
    let token = mint(&app, &owner.id, "").await;
    let redeemed = redeem(&app, &token).await.expect("redeem");
    assert!(redeemed.account_selection_required, "two accounts: {first}");

    // Creation is the minting credential's act, redemption the user's.
    let events = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            action: "sso.token_redeemed".into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| {
        let actor = e.actor.as_ref().expect("an actor");
        actor.id == owner.id && actor.kind() == ActorKind::User
    }));
    let created = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            action: "sso.token_created".into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    assert_eq!(created.len(), 2);
    assert!(
        created
            .iter()
            .all(|e| e.actor.as_ref().expect("an actor").kind() == ActorKind::ApiCredential)
    );
}

#[tokio::test]
async fn a_token_expires_after_a_minute_on_the_servers_clock() {
    let app = spawn().await;
    let user = active_user(&app, "eve").await;
    let token = mint(&app, &user.id, "").await;
    app.clock.advance(Duration::from_secs(61));
    let expired = redeem(&app, &token).await.expect_err("expired");
    assert_error(&expired, Code::Unauthenticated, "SSO_TOKEN_INVALID");
}

#[tokio::test]
async fn concurrent_redemptions_make_exactly_one_session() {
    let app = spawn().await;
    let user = active_user(&app, "rita").await;
    let token = mint(&app, &user.id, "").await;
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let mut client = app.auth_public();
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .redeem_sso_token(RedeemSsoTokenRequest {
                        sso_token: token,
                        user_agent: "racer".to_owned(),
                    })
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.expect("the task ran") {
            Ok(_) => won += 1,
            Err(lost) => assert_error(&lost, Code::Unauthenticated, "SSO_TOKEN_INVALID"),
        }
    }
    assert_eq!(won, 1, "exactly one redemption wins");
}

#[tokio::test]
async fn suspended_users_and_removed_members_are_refused_at_redemption() {
    let app = spawn().await;
    let owner = active_user(&app, "otto").await;
    let member = active_user(&app, "mia").await;
    let account = account_of(&app, &owner.id, "Otto GmbH").await;
    add_member(&app, &account, &member.id).await;

    let token = mint(&app, &member.id, &account).await;
    app.accounts
        .clone()
        .remove_member(RemoveMemberRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
        })
        .await
        .expect("remove the member");
    let removed = redeem(&app, &token).await.expect_err("no longer a member");
    assert_error(&removed, Code::Unauthenticated, "SSO_TOKEN_INVALID");

    let token = mint(&app, &owner.id, "").await;
    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: owner.id.clone(),
            reason: "fraud review".into(),
        })
        .await
        .expect("suspend");
    let suspended = redeem(&app, &token).await.expect_err("suspended");
    assert_error(&suspended, Code::Unauthenticated, "SSO_TOKEN_INVALID");

    // Minting refuses what redemption would refuse.
    let refused = app
        .auth
        .clone()
        .create_sso_token(CreateSsoTokenRequest {
            user_id: owner.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("a suspended user");
    assert_error(&refused, Code::FailedPrecondition, "USER_NOT_ACTIVE");
    let refused = app
        .auth
        .clone()
        .create_sso_token(CreateSsoTokenRequest {
            user_id: member.id.clone(),
            account_id: account.clone(),
            ..Default::default()
        })
        .await
        .expect_err("not a member");
    assert_error(&refused, Code::NotFound, "MEMBER_NOT_FOUND");
}

#[tokio::test]
async fn minting_needs_the_permission_and_covering_a_staff_users_role() {
    let app = spawn().await;
    let client = active_user(&app, "cleo").await;
    let (junior, _) = app
        .staff_token_with("desk", &["users.read", "sso.create"])
        .await;
    let (_, senior) = app
        .staff_token_with("boss", &["users.read", "users.write", "roles.write"])
        .await;
    let (no_sso, _) = app.staff_token_with("plain", &["users.read"]).await;

    let denied = app
        .auth_as(&no_sso)
        .create_sso_token(CreateSsoTokenRequest {
            user_id: client.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("sso.create is needed");
    assert_error(&denied, Code::PermissionDenied, "PERMISSION_DENIED");
    let escalation = app
        .auth_as(&junior)
        .create_sso_token(CreateSsoTokenRequest {
            user_id: senior.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("a token for a more powerful colleague");
    assert_error(&escalation, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    app.auth_as(&junior)
        .create_sso_token(CreateSsoTokenRequest {
            user_id: client.id.clone(),
            ..Default::default()
        })
        .await
        .expect("a client user is fine");

    let long = app
        .auth
        .clone()
        .create_sso_token(CreateSsoTokenRequest {
            user_id: client.id.clone(),
            destination: "x".repeat(2049),
            ..Default::default()
        })
        .await
        .expect_err("too long");
    assert_eq!(violated_fields(&long), ["destination"]);
}

#[tokio::test]
async fn a_two_factor_user_still_owes_the_second_factor_unless_the_setting_says_otherwise() {
    for bypass in [false, true] {
        let app = spawn_app_with(|settings| {
            hold_mail(settings);
            settings.auth.sso_bypasses_mfa = bypass;
        })
        .await;
        let user = active_user(&app, "tess").await;
        let account = account_of(&app, &user.id, "Tess Co").await;
        let authenticator = enable_totp(&app, "tess").await;

        let redeemed = redeem(&app, &mint(&app, &user.id, &account).await)
            .await
            .expect("redeem");
        if bypass {
            let session = redeemed.session.expect("a session at once");
            assert_eq!(session.authentication_methods, ["sso"]);
            continue;
        }
        assert!(redeemed.session_token.is_empty());
        let challenge = redeemed.mfa_challenge.expect("a challenge").challenge_token;
        app.clock.advance(Duration::from_secs(31));
        let signed_in = app
            .auth_public()
            .complete_login(CompleteLoginRequest {
                challenge_token: challenge,
                code: authenticator.generate(unix_seconds(&app)),
                user_agent: "control panel".into(),
                device_token: String::new(),
            })
            .await
            .expect("the second factor")
            .into_inner();
        let session = signed_in.session.expect("a session");
        assert_eq!(session.authentication_methods, ["sso", "otp"]);
        assert_eq!(session.account_id, account, "the token's account");
        assert!(signed_in.device_token.is_empty(), "no device token for SSO");
    }
}
