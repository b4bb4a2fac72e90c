//! People and accounts for tests that sign in: active users with a known
//! password, accounts they own, and their sessions.

use identityd::proto::{
    AccountProfile, CreateAccountRequest, CreateUserRequest, LoginRequest, LoginResponse, User,
    create_account_request,
};

use crate::helpers::TestApp;

/// The password of every user these helpers make.
pub const PASSWORD: &str = "tidal-lantern-oboe-42";

/// The email address of the user called `username`.
pub fn email_of(username: &str) -> String {
    format!("{username}@example.test")
}

/// A user created by staff, active, with [`PASSWORD`].
pub async fn active_user(app: &TestApp, username: &str) -> User {
    app.users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: format!("{username} Person"),
            username: username.to_owned(),
            email: email_of(username),
            password: PASSWORD.to_owned(),
            ..Default::default()
        })
        .await
        .expect("create a user")
        .into_inner()
        .user
        .expect("a user")
}

/// The id of a new account owned by `owner_id`, named `name`.
pub async fn account_of(app: &TestApp, owner_id: &str, name: &str) -> String {
    app.accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(AccountProfile {
                display_name: name.to_owned(),
                full_name: "Billing Person".to_owned(),
                email: "billing@example.test".to_owned(),
                ..Default::default()
            }),
            owner: Some(create_account_request::Owner::OwnerUserId(
                owner_id.to_owned(),
            )),
            request_id: String::new(),
        })
        .await
        .expect("create an account")
        .into_inner()
        .account
        .expect("an account")
        .id
}

/// `username` signing in with [`PASSWORD`]: a session, or for a user with
/// two-factor authentication, a challenge.
pub async fn sign_in(app: &TestApp, username: &str) -> LoginResponse {
    app.auth_public()
        .login(LoginRequest {
            identifier: username.to_owned(),
            password: PASSWORD.to_owned(),
            user_agent: "tests".to_owned(),
            device_token: String::new(),
        })
        .await
        .expect("sign in")
        .into_inner()
}

/// A session token for `username` (with [`PASSWORD`]), bound to their only
/// account if they have one.
pub async fn session_of(app: &TestApp, username: &str) -> String {
    sign_in(app, username).await.session_token
}

/// Turns two-factor authentication on for `username` (signed in with
/// [`PASSWORD`]) and returns the authenticator app that now makes its codes.
pub async fn enable_totp(app: &TestApp, username: &str) -> totp_rs::TOTP {
    use identityd::proto::{ConfirmTotpEnrollmentRequest, StartTotpEnrollmentRequest};
    let mut auth = app.auth_as(&session_of(app, username).await);
    let started = auth
        .start_totp_enrollment(StartTotpEnrollmentRequest {})
        .await
        .expect("start a TOTP enrolment")
        .into_inner();
    let authenticator = totp_rs::TOTP::from_url(&started.otpauth_uri).expect("readable");
    auth.confirm_totp_enrollment(ConfirmTotpEnrollmentRequest {
        code: authenticator.generate(unix_seconds(app)),
        password: PASSWORD.to_owned(),
    })
    .await
    .expect("confirm the enrolment");
    authenticator
}

/// The server clock's time, in seconds since 1970, for TOTP codes.
pub fn unix_seconds(app: &TestApp) -> u64 {
    u64::try_from(app.clock.now().as_unix().0).expect("after 1970")
}
