//! Attacks on sign-in, codes and reset links by someone who knows only a
//! victim's identifier: lockouts, shared addresses, races on attempt limits,
//! uncounted probes and dictionary-reversible stored hashes.

use std::time::Duration;

use identityd::config::Settings;
use identityd::proto::{
    CreateUserRequest, LoginRequest, LoginResponse, RegisterRequest, RequestPasswordResetRequest,
    ResetPasswordRequest, VerifyEmailRequest,
};
use identityd::startup::{Application, StartupError};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, hold_mail, spawn_app_with, test_settings};
use crate::people::{PASSWORD, active_user, email_of};

/// Settings where the tests' loopback peer is a trusted proxy, so each test
/// can speak from many client addresses with `x-forwarded-for`, and delays
/// are long enough that real time passing during a test never ends one.
fn behind_a_proxy(settings: &mut Settings) {
    hold_mail(settings);
    settings.server.trusted_proxies = vec!["127.0.0.1/32".to_owned(), "::1/128".to_owned()];
    settings.auth.throttle_base_delay_ms = 60_000;
}

/// A Login from the client address `from` (via the trusted proxy).
async fn login_from(
    app: &TestApp,
    from: &str,
    identifier: &str,
    password: &str,
    device_token: &str,
) -> Result<LoginResponse, tonic::Status> {
    let mut request = tonic::Request::new(LoginRequest {
        identifier: identifier.to_owned(),
        password: password.to_owned(),
        user_agent: "tests".to_owned(),
        device_token: device_token.to_owned(),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", from.parse().expect("ASCII"));
    app.auth_public()
        .login(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn query_i64(db: &DatabaseConnection, sql: &str, value: &str) -> i64 {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.replace('?', "$1"),
        _ => sql.to_owned(),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [value.into()]))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

#[tokio::test]
async fn a_stranger_cannot_lock_a_user_out_of_a_client_that_signed_in_before() {
    let app = spawn_app_with(|settings| {
        behind_a_proxy(settings);
        settings.auth.user_total_free_failures = 8;
    })
    .await;
    active_user(&app, "victim").await;
    let victim_home = "198.51.100.7";

    // A stranger fails from one address until that address is held back
    // for this user: only that address.
    for _ in 0..6 {
        let status = login_from(&app, "203.0.113.5", "victim", "guess", "")
            .await
            .unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    }
    let status = login_from(&app, "203.0.113.5", "victim", PASSWORD, "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    let first = login_from(&app, victim_home, "victim", PASSWORD, "")
        .await
        .expect("the victim's own address is not held back");
    assert!(first.device_token.starts_with("idd_"));
    assert_eq!(first.device_token.len(), 4 + 64, "256 random bits");

    // The stranger spreads failures over many addresses until the user's
    // loose limit holds back every client without a device token...
    for n in 1..=9 {
        let status = login_from(
            &app,
            &format!("203.0.113.{}", 100 + n),
            "victim",
            "guess",
            "",
        )
        .await
        .unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    }
    let status = login_from(&app, "192.0.2.77", "victim", PASSWORD, "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    // ...but the victim's client that signed in before still gets in.
    let second = login_from(&app, victim_home, "victim", PASSWORD, &first.device_token)
        .await
        .expect("a device token skips the user's lock");
    assert_ne!(second.device_token, first.device_token, "rotated");
    let stored = query_i64(
        &app.database().await,
        "SELECT COUNT(*) FROM user_tokens WHERE secret_hash = ?",
        &second.device_token,
    )
    .await;
    assert_eq!(stored, 0, "device tokens are stored hashed");

    // The rotated-away token no longer exempts anyone.
    for n in 1..=9 {
        login_from(
            &app,
            &format!("203.0.113.{}", 150 + n),
            "victim",
            "guess",
            "",
        )
        .await
        .unwrap_err();
    }
    let status = login_from(&app, victim_home, "victim", PASSWORD, &first.device_token)
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");

    // A stolen current device token buys only its own few guesses.
    for _ in 0..5 {
        let status = login_from(&app, "203.0.113.9", "victim", "guess", &second.device_token)
            .await
            .unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    }
    let status = login_from(
        &app,
        "203.0.113.9",
        "victim",
        PASSWORD,
        &second.device_token,
    )
    .await
    .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
}

#[tokio::test]
async fn a_malformed_device_token_is_a_field_violation() {
    let app = spawn_app_with(behind_a_proxy).await;
    let status = login_from(&app, "198.51.100.1", "someone", PASSWORD, "cookie")
        .await
        .unwrap_err();
    assert_eq!(
        crate::helpers::violated_fields(&status),
        vec!["device_token"]
    );
}

#[tokio::test]
async fn a_stranger_cannot_keep_a_reset_link_from_its_user() {
    let app = spawn_app_with(behind_a_proxy).await;
    active_user(&app, "forgetful").await;
    let request_from = |from: &'static str| {
        let mut auth = app.auth_public();
        async move {
            let mut request = tonic::Request::new(RequestPasswordResetRequest {
                email: email_of("forgetful"),
            });
            request
                .metadata_mut()
                .insert("x-forwarded-for", from.parse().expect("ASCII"));
            auth.request_password_reset(request).await
        }
    };
    for _ in 0..10 {
        request_from("203.0.113.5")
            .await
            .expect("always OK, over the limit too");
    }
    let mailed = app
        .mail_count(&email_of("forgetful"), "password_reset")
        .await;
    assert_eq!(
        mailed, 6,
        "five free requests, then one that starts a delay"
    );

    // The user asks too: OK, nothing new while the last link still works.
    request_from("198.51.100.7").await.expect("OK for the user");
    assert_eq!(
        app.mail_count(&email_of("forgetful"), "password_reset")
            .await,
        mailed
    );
    let link = app
        .queued_secret(&email_of("forgetful"), "password_reset", "link")
        .await
        .expect("a link");
    let token = link.split_once("token=").expect("a token").1.to_owned();
    app.auth_public()
        .reset_password(ResetPasswordRequest {
            token,
            new_password: "brand-new-window-sill-3".to_owned(),
        })
        .await
        .expect("the last link works");

    // With no live link left, a request over the limit sends a new one.
    request_from("198.51.100.7").await.expect("OK");
    assert_eq!(
        app.mail_count(&email_of("forgetful"), "password_reset")
            .await,
        mailed + 1
    );
}

#[tokio::test]
async fn only_a_trusted_proxy_names_the_client_address() {
    // Nobody trusted: a forged x-forwarded-for changes nothing, failures
    // pile up on the real peer address.
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.address_free_failures = 3;
        settings.auth.throttle_base_delay_ms = 60_000;
    })
    .await;
    for n in 0..4 {
        let status = login_from(
            &app,
            &format!("203.0.113.{n}"),
            &format!("ghost{n}"),
            "guess",
            "",
        )
        .await
        .unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    }
    let status = login_from(&app, "198.51.100.7", "ghost9", "guess", "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    drop(app);

    // Behind a trusted proxy, one client's failures hold back only that
    // client, even when it forges an address on the left of the header.
    let app = spawn_app_with(|settings| {
        behind_a_proxy(settings);
        settings.auth.address_free_failures = 3;
    })
    .await;
    active_user(&app, "neighbour").await;
    for n in 0..4 {
        // The client forged 198.51.100.7; the proxy appended its real address.
        let from = "198.51.100.7, 203.0.113.5";
        let status = login_from(&app, from, &format!("ghost{n}"), "guess", "")
            .await
            .unwrap_err();
        assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
    }
    let status = login_from(&app, "203.0.113.5", "ghost9", "guess", "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    let signed_in = login_from(&app, "198.51.100.7", "neighbour", PASSWORD, "")
        .await
        .expect("another client behind the same proxy");
    let session = signed_in.session.expect("a session");
    assert_eq!(session.client_ip, "198.51.100.7");

    // A trusted caller that is not forwarding names its client directly.
    let mut request = tonic::Request::new(LoginRequest {
        identifier: "neighbour".to_owned(),
        password: PASSWORD.to_owned(),
        user_agent: "billing".to_owned(),
        device_token: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-client-ip", "192.0.2.44".parse().expect("ASCII"));
    let signed_in = app
        .auth_public()
        .login(request)
        .await
        .expect("sign in")
        .into_inner();
    assert_eq!(
        signed_in.session.expect("a session").client_ip,
        "192.0.2.44"
    );
}

#[tokio::test]
async fn a_bad_trusted_proxy_block_stops_the_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = test_settings(dir.path().join("data"), None);
    settings.server.trusted_proxies = vec!["10.0.0.1/8".to_owned()];
    let result = Application::build(settings).await;
    assert!(
        matches!(result, Err(StartupError::TrustedProxies(_))),
        "10.0.0.1/8 has host bits set"
    );
}

#[tokio::test]
async fn a_taken_username_at_sign_up_counts_against_the_address() {
    let app = spawn_app_with(behind_a_proxy).await;
    active_user(&app, "taken").await;
    let probe = || {
        let mut auth = app.auth_public();
        async move {
            auth.register(RegisterRequest {
                full_name: "Probe Person".to_owned(),
                username: "taken".to_owned(),
                email: "probe@example.test".to_owned(),
                password: PASSWORD.to_owned(),
                locale: String::new(),
            })
            .await
        }
    };
    for _ in 0..6 {
        let status = probe().await.unwrap_err();
        assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");
    }
    let status = probe().await.unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
}

#[tokio::test]
async fn fifty_concurrent_wrong_codes_get_at_most_five_evaluations() {
    let app = spawn_app_with(hold_mail).await;
    app.auth_public()
        .register(RegisterRequest {
            full_name: "Racer Person".to_owned(),
            username: "racer".to_owned(),
            email: email_of("racer"),
            password: PASSWORD.to_owned(),
            locale: String::new(),
        })
        .await
        .expect("register");
    let code = app
        .queued_secret(&email_of("racer"), "verification_code", "code")
        .await
        .expect("a code");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let mut auth = app.auth_public();
        guesses.spawn(async move {
            auth.verify_email(VerifyEmailRequest {
                email: email_of("racer"),
                code: wrong.to_owned(),
            })
            .await
        });
    }
    let mut refused = 0;
    while let Some(outcome) = guesses.join_next().await {
        let status = outcome.expect("the task").unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::InvalidArgument | Code::ResourceExhausted
            ),
            "{status:?}"
        );
        refused += 1;
    }
    assert_eq!(refused, 50);
    let db = app.database().await;
    let attempts = query_i64(
        &db,
        "SELECT CAST(MAX(attempts) AS BIGINT) FROM user_tokens WHERE purpose = ?",
        "email_verification",
    )
    .await;
    assert!(attempts <= 5, "{attempts} guesses were evaluated");

    // Past the throttle's delay, the right code is refused too: the code's
    // own guesses are used up.
    app.clock.advance(Duration::from_secs(5));
    let status = app
        .auth_public()
        .verify_email(VerifyEmailRequest {
            email: email_of("racer"),
            code,
        })
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&status), vec!["code"]);
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_guesses_than_the_limit() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.auth.throttle_base_delay_ms = 60_000;
    })
    .await;
    active_user(&app, "raced").await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..20 {
        let mut auth = app.auth_public();
        guesses.spawn(async move {
            auth.login(LoginRequest {
                identifier: "raced".to_owned(),
                password: format!("guess-{n}"),
                user_agent: "tests".to_owned(),
                device_token: String::new(),
            })
            .await
        });
    }
    let mut evaluated = 0;
    while let Some(outcome) = guesses.join_next().await {
        let status = outcome.expect("the task").unwrap_err();
        match status.code() {
            Code::Unauthenticated => evaluated += 1,
            Code::ResourceExhausted => {}
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }
    // Five free failures and the one that starts the delay.
    assert!(evaluated <= 6, "{evaluated} passwords were checked");
}

#[tokio::test]
async fn stored_codes_and_throttle_keys_resist_a_dictionary() {
    let app = spawn_app_with(hold_mail).await;
    app.auth_public()
        .register(RegisterRequest {
            full_name: "Hashed Person".to_owned(),
            username: "hashed".to_owned(),
            email: email_of("hashed"),
            password: PASSWORD.to_owned(),
            locale: String::new(),
        })
        .await
        .expect("register");
    let code = app
        .queued_secret(&email_of("hashed"), "verification_code", "code")
        .await
        .expect("a code");
    let db = app.database().await;
    let user_id: String = {
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "SELECT id FROM users WHERE username = $1",
            _ => "SELECT id FROM users WHERE username = ?",
        };
        db.query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            ["hashed".into()],
        ))
        .await
        .expect("query")
        .expect("the user")
        .try_get_by_index(0)
        .expect("an id")
    };
    // The plain SHA-256 a dictionary of a million codes would find is not
    // what is stored, nor the plain hash of the typed address.
    let plain = hex::encode(Sha256::digest(format!("{user_id}:{code}")));
    let stored = query_i64(
        &db,
        "SELECT COUNT(*) FROM user_tokens WHERE secret_hash = ?",
        &plain,
    )
    .await;
    assert_eq!(stored, 0);
    let typed = hex::encode(Sha256::digest(email_of("hashed")));
    let keys = query_i64(
        &db,
        "SELECT COUNT(*) FROM throttles WHERE subject LIKE ?",
        &format!("%{}%", &typed[..32]),
    )
    .await;
    assert_eq!(keys, 0);
    let throttled = query_i64(
        &db,
        "SELECT COUNT(*) FROM throttles WHERE subject LIKE ?",
        "mail:typed:%",
    )
    .await;
    assert_eq!(
        throttled, 1,
        "the address is still throttled, by a keyed hash"
    );
    // The code still works: the server keeps its key.
    app.auth_public()
        .verify_email(VerifyEmailRequest {
            email: email_of("hashed"),
            code,
        })
        .await
        .expect("verify");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_path().join("server-secret"))
            .expect("the server secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_configured_server_secret_replaces_the_file() {
    let app = spawn_app_with(|settings| {
        settings.security.server_secret =
            Some("a shared secret of more than thirty-two characters".into());
    })
    .await;
    assert!(!app.data_path().join("server-secret").exists());
}

#[tokio::test]
async fn a_retried_create_user_with_another_password_reuses_its_request_id() {
    let app = spawn_app_with(hold_mail).await;
    let create = |password: &'static str| {
        let mut users = app.users.clone();
        async move {
            users
                .create_user(CreateUserRequest {
                    skip_primary_account: true,
                    full_name: "Retry Person".to_owned(),
                    username: "retry".to_owned(),
                    email: email_of("retry"),
                    password: password.to_owned(),
                    request_id: "create-retry-1".to_owned(),
                    ..Default::default()
                })
                .await
        }
    };
    let first = create(PASSWORD).await.expect("create").into_inner();
    let again = create(PASSWORD).await.expect("a retry").into_inner();
    assert_eq!(
        first.user.expect("a user").id,
        again.user.expect("a user").id
    );
    let status = create("other-tidal-lantern-77").await.unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn a_reset_link_forgives_failed_sign_ins_and_retires_device_tokens() {
    let app = spawn_app_with(|settings| {
        behind_a_proxy(settings);
        settings.auth.user_total_free_failures = 3;
    })
    .await;
    active_user(&app, "resetter").await;
    let device = login_from(&app, "198.51.100.7", "resetter", PASSWORD, "")
        .await
        .expect("sign in")
        .device_token;
    let lock_out = |round: u8| {
        let app = &app;
        async move {
            for n in 1..=4 {
                let from = format!("203.0.113.{}", round * 10 + n);
                let status = login_from(app, &from, "resetter", "guess", "")
                    .await
                    .unwrap_err();
                assert_error(&status, Code::Unauthenticated, "LOGIN_FAILED");
            }
        }
    };
    lock_out(1).await;
    let status = login_from(&app, "192.0.2.1", "resetter", PASSWORD, "")
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");

    let mut request = tonic::Request::new(RequestPasswordResetRequest {
        email: email_of("resetter"),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", "198.51.100.7".parse().expect("ASCII"));
    app.auth_public()
        .request_password_reset(request)
        .await
        .expect("OK");
    let link = app
        .queued_secret(&email_of("resetter"), "password_reset", "link")
        .await
        .expect("a link");
    let token = link.split_once("token=").expect("a token").1.to_owned();
    app.auth_public()
        .reset_password(ResetPasswordRequest {
            token,
            new_password: "brand-new-window-sill-3".to_owned(),
        })
        .await
        .expect("reset");
    login_from(&app, "192.0.2.1", "resetter", "brand-new-window-sill-3", "")
        .await
        .expect("the reset forgave the failures");

    // The device token from before the reset no longer skips a lock.
    lock_out(2).await;
    let status = login_from(
        &app,
        "198.51.100.7",
        "resetter",
        "brand-new-window-sill-3",
        &device,
    )
    .await
    .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
}
