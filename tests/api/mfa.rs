//! Two-factor authentication end to end: enrolment, the sign-in challenge,
//! replay and clock skew, backup codes, forced enrolment, disabling, staff
//! resets and step-up. Codes come from a real TOTP generator (`totp-rs`
//! reading the `otpauth://` URI, as an authenticator app does) on the
//! server's clock, which the tests move.

use std::time::Duration;

use identityd::domain::MfaRequirement;
use identityd::proto::{
    ChangePasswordRequest, CheckPermissionRequest, CompleteLoginRequest, CompleteLoginResponse,
    ConfirmTotpEnrollmentRequest, DisableTotpRequest, GetMfaStatusRequest, GetUserRequest,
    IntrospectSessionRequest, ListSessionsRequest, LoginResponse, RegenerateBackupCodesRequest,
    ResetUserMfaRequest, StartTotpEnrollmentRequest, StartTotpEnrollmentResponse,
    check_permission_request, check_permission_response::Denial,
};
use tonic::Code;
use totp_rs::TOTP;

use crate::helpers::{TestApp, assert_error, hold_mail, rows_in, spawn_app_with, violated_fields};
use crate::people::{PASSWORD, active_user, email_of, session_of, sign_in};

const STEP: u64 = 30;

async fn spawn() -> TestApp {
    spawn_app_with(hold_mail).await
}

/// What an authenticator app holds after scanning the QR code.
struct Authenticator(TOTP);

impl Authenticator {
    fn from(enrollment: &StartTotpEnrollmentResponse) -> Self {
        let app = TOTP::from_url(&enrollment.otpauth_uri).expect("an app reads the URI");
        assert_eq!(app.get_secret_base32(), enrollment.secret);
        Self(app)
    }

    /// The code of the time step `offset` steps from the server's clock.
    fn code(&self, app: &TestApp, offset: i64) -> String {
        let (seconds, _) = app.clock.now().as_unix();
        let at = seconds + offset * i64::try_from(STEP).expect("small");
        self.0.generate(u64::try_from(at).expect("after 1970"))
    }
}

/// Moves the server's clock to the start of a fresh time step, at least
/// one step on, so the next code was never used.
fn next_step(app: &TestApp) {
    let (seconds, _) = app.clock.now().as_unix();
    let into_step = u64::try_from(seconds).expect("after 1970") % STEP;
    app.clock.advance(Duration::from_secs(STEP - into_step + 1));
}

async fn login(app: &TestApp, username: &str) -> LoginResponse {
    sign_in(app, username).await
}

/// Signs in with a password and answers the challenge with `code`.
async fn complete(
    app: &TestApp,
    challenge_token: &str,
    code: &str,
) -> Result<CompleteLoginResponse, tonic::Status> {
    app.auth_public()
        .complete_login(CompleteLoginRequest {
            challenge_token: challenge_token.to_owned(),
            code: code.to_owned(),
            user_agent: "tests".to_owned(),
            device_token: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn challenge_of(response: &LoginResponse) -> String {
    assert!(response.session_token.is_empty(), "no session before 2FA");
    assert!(response.session.is_none());
    response
        .mfa_challenge
        .as_ref()
        .expect("an MFA challenge")
        .challenge_token
        .clone()
}

/// Enrols `username` (signed in as `session`); returns their
/// authenticator and backup codes.
async fn enrol(app: &TestApp, session: &str) -> (Authenticator, Vec<String>) {
    let mut auth = app.auth_as(session);
    let started = auth
        .start_totp_enrollment(StartTotpEnrollmentRequest {})
        .await
        .expect("start enrolment")
        .into_inner();
    let authenticator = Authenticator::from(&started);
    let codes = auth
        .confirm_totp_enrollment(ConfirmTotpEnrollmentRequest {
            code: authenticator.code(app, 0),
            password: PASSWORD.to_owned(),
        })
        .await
        .expect("confirm enrolment")
        .into_inner()
        .backup_codes;
    (authenticator, codes)
}

async fn methods_of(app: &TestApp, token: &str) -> Vec<String> {
    app.auth
        .clone()
        .introspect_session(IntrospectSessionRequest {
            session_token: token.to_owned(),
        })
        .await
        .expect("introspect")
        .into_inner()
        .session
        .expect("a live session")
        .authentication_methods
}

#[tokio::test]
async fn enrolment_confirmation_and_the_sign_in_challenge() {
    let app = spawn().await;
    let user = active_user(&app, "tina").await;
    let session = session_of(&app, "tina").await;
    let mut auth = app.auth_as(&session);

    let status = auth
        .get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert!(!status.totp_enabled && !status.required_by_policy);

    let started = auth
        .start_totp_enrollment(StartTotpEnrollmentRequest {})
        .await
        .expect("start")
        .into_inner();
    assert!(
        started
            .otpauth_uri
            .starts_with("otpauth://totp/identityd:tina%40example.test?")
    );
    assert!(started.qr_code_svg.contains("<svg"));
    assert_eq!(started.secret.len(), 32, "160 bits in base32");
    let authenticator = Authenticator::from(&started);

    // Until confirmed nothing changes at sign-in.
    assert!(!login(&app, "tina").await.session_token.is_empty());

    let wrong = auth
        .confirm_totp_enrollment(ConfirmTotpEnrollmentRequest {
            code: authenticator.code(&app, 5),
            password: PASSWORD.to_owned(),
        })
        .await
        .expect_err("a code of another time");
    assert_eq!(violated_fields(&wrong), ["code"]);
    // A stolen session token alone cannot put the thief's authenticator on
    // the account.
    let thief = auth
        .confirm_totp_enrollment(ConfirmTotpEnrollmentRequest {
            code: authenticator.code(&app, 0),
            password: "guessed-password".to_owned(),
        })
        .await
        .expect_err("the password is needed too");
    assert_eq!(violated_fields(&thief), ["password"]);

    let codes = auth
        .confirm_totp_enrollment(ConfirmTotpEnrollmentRequest {
            code: authenticator.code(&app, 0),
            password: PASSWORD.to_owned(),
        })
        .await
        .expect("confirm")
        .into_inner()
        .backup_codes;
    assert_eq!(codes.len(), 10);
    assert_eq!(app.mail_count(&email_of("tina"), "mfa_enabled").await, 1);
    assert_eq!(methods_of(&app, &session).await, ["pwd", "otp"]);
    let shown = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: user.id.clone(),
        })
        .await
        .expect("get user")
        .into_inner()
        .user
        .expect("user");
    assert!(shown.mfa_enabled);
    let again = auth
        .start_totp_enrollment(StartTotpEnrollmentRequest {})
        .await
        .expect_err("already on");
    assert_error(&again, Code::FailedPrecondition, "MFA_ALREADY_ENABLED");

    // The password alone now opens a challenge, not a session.
    let response = login(&app, "tina").await;
    let methods = &response.mfa_challenge.as_ref().expect("challenge").methods;
    assert_eq!(methods, &["totp", "backup_code"]);
    let challenge = challenge_of(&response);

    // The code that confirmed the enrolment was spent: a replay fails.
    let replay = complete(&app, &challenge, &authenticator.code(&app, 0))
        .await
        .expect_err("a replayed code");
    assert_error(&replay, Code::Unauthenticated, "MFA_CODE_INVALID");

    next_step(&app);
    let code = authenticator.code(&app, 0);
    let signed_in = complete(&app, &challenge, &code).await.expect("sign in");
    let session = signed_in.session.expect("a session");
    assert_eq!(session.authentication_methods, ["pwd", "otp"]);
    assert_eq!(
        methods_of(&app, &signed_in.session_token).await,
        ["pwd", "otp"]
    );
    assert!(!signed_in.device_token.is_empty());

    // A challenge works once, and a code once, on any challenge.
    let used = complete(&app, &challenge, &code)
        .await
        .expect_err("a used challenge");
    assert_error(&used, Code::Unauthenticated, "MFA_CHALLENGE_INVALID");
    let fresh = challenge_of(&login(&app, "tina").await);
    let replay = complete(&app, &fresh, &code)
        .await
        .expect_err("the same code again");
    assert_error(&replay, Code::Unauthenticated, "MFA_CODE_INVALID");

    // Garbage and expired challenges get the same answer.
    let garbage = complete(&app, "idm_nonsense", &code)
        .await
        .expect_err("garbage");
    assert_error(&garbage, Code::Unauthenticated, "MFA_CHALLENGE_INVALID");
    app.clock.advance(Duration::from_secs(6 * 60));
    let expired = complete(&app, &fresh, &authenticator.code(&app, 0))
        .await
        .expect_err("expired");
    assert_error(&expired, Code::Unauthenticated, "MFA_CHALLENGE_INVALID");
}

#[tokio::test]
async fn a_step_of_clock_skew_either_way_is_accepted_and_two_are_not() {
    let app = spawn().await;
    active_user(&app, "sam").await;
    let session = session_of(&app, "sam").await;
    let (authenticator, _) = enrol(&app, &session).await;
    app.clock.advance(Duration::from_secs(10 * STEP));

    let challenge = challenge_of(&login(&app, "sam").await);
    for offset in [2, -2] {
        let refused = complete(&app, &challenge, &authenticator.code(&app, offset))
            .await
            .expect_err("two steps off");
        assert_error(&refused, Code::Unauthenticated, "MFA_CODE_INVALID");
    }
    complete(&app, &challenge, &authenticator.code(&app, -1))
        .await
        .expect("a step behind");
    let challenge = challenge_of(&login(&app, "sam").await);
    complete(&app, &challenge, &authenticator.code(&app, 1))
        .await
        .expect("a step ahead");
    // The step ahead was used: the current step is now in the past.
    let challenge = challenge_of(&login(&app, "sam").await);
    let stale = complete(&app, &challenge, &authenticator.code(&app, 0))
        .await
        .expect_err("a step before the last one used");
    assert_error(&stale, Code::Unauthenticated, "MFA_CODE_INVALID");
}

#[tokio::test]
async fn a_backup_code_works_once_and_regeneration_replaces_them_all() {
    let app = spawn().await;
    active_user(&app, "bea").await;
    let session = session_of(&app, "bea").await;
    let (authenticator, codes) = enrol(&app, &session).await;

    let challenge = challenge_of(&login(&app, "bea").await);
    // Case, dashes and spaces do not matter.
    let typed = format!(" {} ", codes[0].to_uppercase().replace('-', ""));
    let signed_in = complete(&app, &challenge, &typed)
        .await
        .expect("a backup code signs in");
    assert_eq!(
        signed_in.session.expect("session").authentication_methods,
        ["pwd", "backup_code"]
    );
    assert_eq!(
        app.mail_count(&email_of("bea"), "backup_code_used").await,
        1
    );
    let status = app
        .auth_as(&signed_in.session_token)
        .get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.backup_codes_remaining, 9);

    let challenge = challenge_of(&login(&app, "bea").await);
    let reused = complete(&app, &challenge, &codes[0])
        .await
        .expect_err("a used backup code");
    assert_error(&reused, Code::Unauthenticated, "MFA_CODE_INVALID");

    // New codes need a current TOTP code, not a backup code.
    let mut auth = app.auth_as(&session);
    let refused = auth
        .regenerate_backup_codes(RegenerateBackupCodesRequest {
            code: codes[1].clone(),
        })
        .await
        .expect_err("a backup code cannot renew the list");
    assert_eq!(violated_fields(&refused), ["code"]);
    next_step(&app);
    let renewed = auth
        .regenerate_backup_codes(RegenerateBackupCodesRequest {
            code: authenticator.code(&app, 0),
        })
        .await
        .expect("regenerate")
        .into_inner()
        .backup_codes;
    assert_eq!(renewed.len(), 10);
    assert!(renewed.iter().all(|code| !codes.contains(code)));
    assert_eq!(
        app.mail_count(&email_of("bea"), "backup_codes_regenerated")
            .await,
        1
    );
    let old = complete(&app, &challenge, &codes[1])
        .await
        .expect_err("an old backup code");
    assert_error(&old, Code::Unauthenticated, "MFA_CODE_INVALID");
    complete(&app, &challenge, &renewed[0])
        .await
        .expect("a new backup code");
}

#[tokio::test]
async fn five_wrong_codes_kill_the_challenge() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        // The per-user throttle is tested below; here only the challenge counts.
        settings.auth.user_free_failures = 50;
    })
    .await;
    active_user(&app, "wes").await;
    let session = session_of(&app, "wes").await;
    let (authenticator, _) = enrol(&app, &session).await;
    next_step(&app);

    let challenge = challenge_of(&login(&app, "wes").await);
    for _ in 0..5 {
        let wrong = complete(&app, &challenge, "000000")
            .await
            .expect_err("a wrong code");
        assert_error(&wrong, Code::Unauthenticated, "MFA_CODE_INVALID");
    }
    let dead = complete(&app, &challenge, &authenticator.code(&app, 0))
        .await
        .expect_err("the right code on a dead challenge");
    assert_error(&dead, Code::Unauthenticated, "MFA_CHALLENGE_INVALID");
    let challenge = challenge_of(&login(&app, "wes").await);
    complete(&app, &challenge, &authenticator.code(&app, 0))
        .await
        .expect("a new challenge works");
}

#[tokio::test]
async fn wrong_codes_across_challenges_are_throttled_per_user() {
    let app = spawn().await;
    active_user(&app, "tom").await;
    let session = session_of(&app, "tom").await;
    enrol(&app, &session).await;

    // An attacker who knows the password opens challenge after challenge.
    let mut throttled = false;
    for _ in 0..4 {
        let challenge = challenge_of(&login(&app, "tom").await);
        for _ in 0..3 {
            match complete(&app, &challenge, "123456").await {
                Err(status) if status.code() == Code::ResourceExhausted => throttled = true,
                Err(status) => assert_eq!(status.code(), Code::Unauthenticated, "{status:?}"),
                Ok(_) => panic!("a wrong code signed in"),
            }
        }
    }
    assert!(throttled, "guesses across challenges were never throttled");
}

#[tokio::test]
async fn a_forced_enrolment_restricts_the_session_until_confirmed() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.mfa_required = MfaRequirement::Clients;
    })
    .await;
    active_user(&app, "fay").await;
    let session = session_of(&app, "fay").await;
    let mut auth = app.auth_as(&session);

    let status = auth
        .get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect("status is allowed")
        .into_inner();
    assert!(status.required_by_policy && !status.totp_enabled);
    let refused = auth
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect_err("everything else waits for enrolment");
    assert_error(
        &refused,
        Code::FailedPrecondition,
        "MFA_ENROLLMENT_REQUIRED",
    );

    // Other services see the restriction too, and no permissions.
    let introspected = app
        .auth
        .clone()
        .introspect_session(IntrospectSessionRequest {
            session_token: session.clone(),
        })
        .await
        .expect("introspect")
        .into_inner();
    assert!(introspected.active);
    assert!(
        introspected
            .session
            .as_ref()
            .expect("session")
            .mfa_enrollment_required
    );
    assert!(introspected.account_permissions.is_empty());
    let verdict = app
        .auth
        .clone()
        .check_permission(CheckPermissionRequest {
            session_token: session.clone(),
            permission: Some(check_permission_request::Permission::StaffPermission(
                "users.read".to_owned(),
            )),
            account_id: String::new(),
        })
        .await
        .expect("check")
        .into_inner();
    assert!(!verdict.allowed);
    assert_eq!(verdict.denial(), Denial::MfaEnrollmentRequired);

    enrol(&app, &session).await;
    auth.list_sessions(ListSessionsRequest::default())
        .await
        .expect("the same session is free once enrolled");
}

#[tokio::test]
async fn staff_reset_a_lost_second_factor_and_users_turn_theirs_off() {
    let app = spawn().await;
    let lena = active_user(&app, "lena").await;
    let session = session_of(&app, "lena").await;
    enrol(&app, &session).await;

    // Staff may reset only with the permission, and only colleagues they cover.
    let (junior, _) = app
        .staff_token_with("junior", &["users.read", "users.write"])
        .await;
    let refused = app
        .users_as(&junior)
        .reset_user_mfa(ResetUserMfaRequest {
            user_id: lena.id.clone(),
            reason: "lost phone".into(),
        })
        .await
        .expect_err("users.mfa_reset is needed");
    assert_error(&refused, Code::PermissionDenied, "PERMISSION_DENIED");
    let (helpdesk, helpdesk_user) = app
        .staff_token_with("helpdesk", &["users.read", "users.mfa_reset"])
        .await;
    let reset = app
        .users_as(&helpdesk)
        .reset_user_mfa(ResetUserMfaRequest {
            user_id: lena.id.clone(),
            reason: "lost phone, identity checked by call-back".into(),
        })
        .await
        .expect("reset")
        .into_inner()
        .user
        .expect("user");
    assert!(!reset.mfa_enabled);
    assert_eq!(app.mail_count(&email_of("lena"), "mfa_reset").await, 1);
    let ended = app
        .auth_as(&session)
        .get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect_err("every session ended");
    assert_eq!(ended.code(), Code::Unauthenticated);
    assert!(!login(&app, "lena").await.session_token.is_empty());

    // A helpdesk user cannot reset a colleague with more power than theirs.
    let (_, senior) = app
        .staff_token_with("senior", &["users.read", "users.write", "roles.write"])
        .await;
    let escalation = app
        .users_as(&helpdesk)
        .reset_user_mfa(ResetUserMfaRequest {
            user_id: senior.user_id,
            reason: "asked nicely".into(),
        })
        .await
        .expect_err("not covered");
    assert_error(&escalation, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    assert_ne!(helpdesk_user.user_id, lena.id);

    // The user turns it off with their password and a current code.
    let session = session_of(&app, "lena").await;
    let (authenticator, _) = enrol(&app, &session).await;
    let mut auth = app.auth_as(&session);
    next_step(&app);
    let wrong_password = auth
        .disable_totp(DisableTotpRequest {
            password: "not-it".into(),
            code: authenticator.code(&app, 0),
        })
        .await
        .expect_err("a wrong password");
    assert_eq!(violated_fields(&wrong_password), ["password"]);
    auth.disable_totp(DisableTotpRequest {
        password: PASSWORD.into(),
        code: authenticator.code(&app, 0),
    })
    .await
    .expect("disable");
    assert_eq!(app.mail_count(&email_of("lena"), "mfa_disabled").await, 1);
    assert!(!login(&app, "lena").await.session_token.is_empty());
}

#[tokio::test]
async fn changing_the_password_of_a_two_factor_user_needs_a_current_code() {
    let app = spawn().await;
    active_user(&app, "cal").await;
    let session = session_of(&app, "cal").await;
    let (authenticator, _) = enrol(&app, &session).await;
    let mut auth = app.auth_as(&session);
    let change = |mfa_code: String| ChangePasswordRequest {
        current_password: PASSWORD.into(),
        new_password: "brisk-harbor-quartz-7".into(),
        mfa_code,
    };
    let missing = auth
        .change_password(change(String::new()))
        .await
        .expect_err("no code");
    assert_eq!(violated_fields(&missing), ["mfa_code"]);
    next_step(&app);
    auth.change_password(change(authenticator.code(&app, 0)))
        .await
        .expect("with a current code");
}

#[tokio::test]
async fn enrolments_never_confirmed_are_swept_and_confirmed_ones_stay() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.sweep_interval_secs = 1;
        settings.auth.session_idle_timeout_secs = 10 * 86_400;
        settings.auth.session_absolute_timeout_secs = 30 * 86_400;
    })
    .await;
    active_user(&app, "kept").await;
    active_user(&app, "left").await;
    let kept = session_of(&app, "kept").await;
    enrol(&app, &kept).await;
    let left = session_of(&app, "left").await;
    app.auth_as(&left)
        .start_totp_enrollment(StartTotpEnrollmentRequest {})
        .await
        .expect("start, never confirmed");
    assert_eq!(rows_in(&app, "user_totp").await, 2);

    app.clock.advance(Duration::from_secs(2 * 86_400));
    let mut waited = 0;
    while rows_in(&app, "user_totp").await != 1 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(
        rows_in(&app, "user_totp").await,
        1,
        "the abandoned enrolment went"
    );
    let status = app
        .auth_as(&kept)
        .get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert!(status.totp_enabled, "the confirmed one stays");
}
