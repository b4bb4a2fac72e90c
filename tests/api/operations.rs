//! Operating identityd: server limits, private files, the sweep's retention,
//! and the `identityd` command as an operator runs it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use identityd::proto::{
    CreateAccountRequest, CreateInvitationRequest, CreateRoleRequest, GetInvitationRequest,
    InvitationStatus, ListRolesRequest, ListStaffUsersRequest, PreviewInvitationRequest, RoleKind,
    SuspendUserRequest, create_account_request,
};
use identityd::startup::{build_app, open_database};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with, test_settings};
use crate::people::active_user;

/// The number of rows in `table`.
async fn rows_in(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count rows")
        .expect("a row");
    row.try_get("", "n").expect("a count")
}

/// Locks the roles table until the returned transaction ends, so any call
/// that touches roles waits: a call that cannot finish, made on demand.
async fn lock_roles(db: &DatabaseConnection) -> sea_orm::DatabaseTransaction {
    let txn = db.begin().await.expect("begin");
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "LOCK TABLE roles IN ACCESS EXCLUSIVE MODE",
        // Any write takes SQLite's single write lock.
        _ => "UPDATE roles SET updated_at = updated_at",
    };
    txn.execute_unprepared(sql).await.expect("lock roles");
    txn
}

fn role_named(name: &str) -> CreateRoleRequest {
    CreateRoleRequest {
        name: name.to_owned(),
        kind: RoleKind::Admin.into(),
        permissions: vec!["roles.read".to_owned()],
        ..Default::default()
    }
}

async fn role_exists(app: &TestApp, name: &str) -> bool {
    app.admin
        .clone()
        .list_roles(ListRolesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list roles")
        .into_inner()
        .roles
        .iter()
        .any(|role| role.name == name)
}

#[tokio::test]
async fn a_call_that_runs_past_the_time_limit_is_stopped_with_deadline_exceeded() {
    let app = spawn_app_with(|s| s.server.call_timeout_ms = 300).await;
    let db = app.database().await;
    let lock = lock_roles(&db).await;

    let status = app
        .admin
        .clone()
        .create_role(role_named("Stuck"))
        .await
        .expect_err("the call cannot finish while roles are locked");

    assert_error(&status, Code::DeadlineExceeded, "CALL_TIMEOUT");
    let info = tonic_types::StatusExt::get_details_error_info(&status).expect("error info");
    assert!(info.metadata.contains_key("request_id"), "{info:?}");
    lock.rollback().await.expect("unlock");
    // The connection still works, and the stopped call changed nothing.
    assert!(!role_exists(&app, "Stuck").await);
}

#[tokio::test]
async fn a_call_beyond_the_limit_of_calls_in_progress_is_refused_with_unavailable() {
    let app = spawn_app_with(|s| s.server.max_concurrent_calls = 1).await;
    // A first call records the credential's use, so the stuck call below
    // waits on the roles, not on that write.
    assert!(!role_exists(&app, "Patient").await);
    let db = app.database().await;
    let lock = lock_roles(&db).await;
    let mut admin = app.admin.clone();
    let stuck = tokio::spawn(async move { admin.create_role(role_named("Patient")).await });

    // Once the stuck call holds the only place, every other call is refused
    // at once, before anything else is looked at; the health service never
    // is. The probe is anonymous, so it never touches the locked table: it
    // answers TOKEN_MISSING until the stuck call has taken the place.
    let mut refused = None;
    for _ in 0..200 {
        let status = app
            .anonymous()
            .list_roles(ListRolesRequest::default())
            .await
            .expect_err("anonymous calls are refused one way or another");
        if status.code() != Code::Unauthenticated {
            refused = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = refused.expect("a call is refused while another is in progress");
    assert_error(&status, Code::Unavailable, "SERVER_BUSY");
    let retry = tonic_types::StatusExt::get_details_retry_info(&status).expect("retry info");
    assert!(retry.retry_delay.is_some());
    let health = HealthClient::new(app.channel())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health is exempt from the limit")
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);

    lock.rollback().await.expect("unlock");
    stuck
        .await
        .expect("the task")
        .expect("the waiting call finishes once roles are unlocked");
    assert!(role_exists(&app, "Patient").await);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    // The test's own clients hold one connection.
    let app = spawn_app_with(|s| s.server.max_connections = 2).await;
    let url = format!("http://{}", app.address());
    let connect = || {
        tonic::transport::Channel::from_shared(url.clone())
            .expect("a valid URI")
            .connect_lazy()
    };
    let health = |channel| async move {
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
    };
    let first = connect();
    health(first.clone())
        .await
        .expect("the second connection is served");

    let second = connect();
    let waiting = tokio::spawn(health(second));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a connection over the limit is not served"
    );

    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a connection closes")
        .expect("the task");
    assert_eq!(
        answer.expect("not refused").into_inner().status(),
        ServingStatus::Serving
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_database_and_mail_files_are_private_even_if_they_were_not() {
    use std::os::unix::fs::PermissionsExt;

    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let open = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    // An installation made before files were private: everything readable by all.
    let app = spawn_app_with(|s| {
        let mail = s.data_dir.join("mail");
        std::fs::create_dir_all(&mail).expect("create the mail directory");
        std::fs::write(
            mail.join("old.eml"),
            "Subject: old\r\n\r\nhttps://x/?token=old\r\n",
        )
        .expect("an old mail");
        std::fs::write(s.data_dir.join("identityd.db"), "").expect("an empty database file");
        open(&s.data_dir, 0o755);
        open(&mail, 0o755);
        open(&mail.join("old.eml"), 0o644);
        open(&s.data_dir.join("identityd.db"), 0o644);
        s.mail.transport = identityd::config::MailTransportKind::File;
    })
    .await;
    let data = app.data_path();
    let mail = data.join("mail");

    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&mail), 0o700);
    assert_eq!(mode(&mail.join("old.eml")), 0o600);
    if app.database_url.starts_with("sqlite:") {
        for name in ["identityd.db", "identityd.db-wal", "identityd.db-shm"] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    }

    // A new mail with a live link is private too, and its link can be read
    // straight out of the file.
    let owner = active_user(&app, "filer").await;
    let account_id = account_with_request_id(&app, &owner.id, "").await;
    invite_by_staff(&app, &account_id, "reader@example.test").await;
    let file = wait_for_mail_file(&mail, "reader@example.test").await;
    assert_eq!(mode(&file), 0o600);
    let raw = std::fs::read_to_string(&file).expect("read the mail");
    assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
    assert!(
        !raw.contains("=\r\n"),
        "no quoted-printable soft breaks: {raw}"
    );
    let token = raw
        .lines()
        .find_map(|line| line.split_once("token=").map(|(_, rest)| rest))
        .and_then(|rest| {
            rest.split(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .next()
        })
        .expect("a link with a token")
        .to_owned();
    let preview = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest { token })
        .await
        .expect("the token read from the file works")
        .into_inner();
    assert_eq!(preview.status(), InvitationStatus::Pending);
}

/// The .eml file of the mail to `recipient`, once the worker has written it.
async fn wait_for_mail_file(dir: &Path, recipient: &str) -> std::path::PathBuf {
    for _ in 0..500 {
        let found = std::fs::read_dir(dir)
            .expect("the mail directory")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                std::fs::read_to_string(path)
                    .is_ok_and(|text| text.contains(&format!("To: {recipient}")))
            });
        if let Some(path) = found {
            return path;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail to {recipient} in {}", dir.display());
}

async fn account_with_request_id(app: &TestApp, owner_id: &str, request_id: &str) -> String {
    app.accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(identityd::proto::AccountProfile {
                display_name: "Sweepers".to_owned(),
                full_name: "Billing Person".to_owned(),
                email: "billing@example.test".to_owned(),
                ..Default::default()
            }),
            owner: Some(create_account_request::Owner::OwnerUserId(
                owner_id.to_owned(),
            )),
            request_id: request_id.to_owned(),
        })
        .await
        .expect("create an account")
        .into_inner()
        .account
        .expect("an account")
        .id
}

async fn invite_by_staff(app: &TestApp, account_id: &str, email: &str) -> String {
    app.invitations()
        .create_invitation(CreateInvitationRequest {
            account_id: account_id.to_owned(),
            email: email.to_owned(),
            permissions: vec![identityd::proto::AccountPermission::Invoices.into()],
            send_email: true,
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .invitation
        .expect("an invitation")
        .id
}

#[tokio::test]
async fn the_sweep_prunes_request_ids_sent_mail_and_long_expired_invitations_after_their_retention()
{
    let app = spawn_app().await;
    let owner = active_user(&app, "sweeper").await;
    let account_id = account_with_request_id(&app, &owner.id, "sweep-account-1").await;
    let invitation_id = invite_by_staff(&app, &account_id, "stale@example.test").await;
    let db = app.database().await;
    for _ in 0..500 {
        let queued = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM mails WHERE status <> 'sent'".to_owned(),
            ))
            .await
            .expect("count")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("a count");
        if queued == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mails = rows_in(&db, "mails").await;
    assert!(mails >= 1);
    assert_eq!(rows_in(&db, "idempotency_keys").await, 1);

    // A second process on the same database, on the server's clock, sweeps.
    let postgres = (!app.database_url.starts_with("sqlite:")).then(|| app.database_url.clone());
    let settings = test_settings(app.data_path(), postgres);
    let sweeper = build_app(&settings, open_database(&settings).await.expect("open"))
        .await
        .expect("build")
        .with_clock(app.clock.clone());
    let day = Duration::from_secs(24 * 3600);

    sweeper.sweep().await.expect("sweep");
    assert_eq!(rows_in(&db, "idempotency_keys").await, 1);
    assert_eq!(rows_in(&db, "invitations").await, 1);
    assert_eq!(
        rows_in(&db, "mail_budgets").await,
        1,
        "the inviter's open window"
    );
    assert_eq!(rows_in(&db, "mails").await, mails);

    // Past the request ids' 7 days and the invitation's expiry: the request
    // id goes; the invitation stays, listed as expired, for 30 more days.
    app.clock.advance(day * 8);
    let swept = sweeper.sweep().await.expect("sweep");
    assert_eq!(swept.request_ids, 1);
    assert_eq!(rows_in(&db, "idempotency_keys").await, 0);
    assert_eq!(
        swept.mail_budgets, 1,
        "the inviter's hourly window has closed"
    );
    assert_eq!(rows_in(&db, "mail_budgets").await, 0);
    let status = app
        .invitations()
        .get_invitation(GetInvitationRequest {
            invitation_id: invitation_id.clone(),
        })
        .await
        .expect("an expired invitation still shows")
        .into_inner()
        .invitation
        .expect("an invitation")
        .status();
    assert_eq!(status, InvitationStatus::Expired);

    // 30 days past its expiry the invitation goes; sent mail stays 90 days.
    app.clock.advance(day * 30);
    let swept = sweeper.sweep().await.expect("sweep");
    assert_eq!(swept.invitations, 1);
    let status = app
        .invitations()
        .get_invitation(GetInvitationRequest { invitation_id })
        .await
        .expect_err("the invitation is gone");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(rows_in(&db, "mails").await, mails);

    app.clock.advance(day * 53);
    let swept = sweeper.sweep().await.expect("sweep");
    assert_eq!(i64::try_from(swept.mails).expect("small"), mails);
    assert_eq!(rows_in(&db, "mails").await, 0);
}

/// Runs the `identityd` binary with `args` against `app`'s database, in an
/// empty working directory, with logging at info.
async fn identityd(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let cwd = tempfile::tempdir().expect("a working directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_identityd"));
    command
        .args(args)
        .current_dir(cwd.path())
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("IDENTITYD__DATA_DIR", app.data_path())
        .env("IDENTITYD__LOG__LEVEL", "info");
    if !app.database_url.starts_with("sqlite:") {
        command.env("IDENTITYD__DATABASE__URL", &app.database_url);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    // The server runs on this test's runtime: wait for the process elsewhere.
    tokio::task::spawn_blocking(move || {
        let output = command.output().expect("run identityd");
        drop(cwd);
        output
    })
    .await
    .expect("the process task")
}

/// Whether `text` is exactly one bearer token of an API credential and a newline.
fn is_token_line(text: &str) -> bool {
    let Some(token) = text.strip_suffix('\n') else {
        return false;
    };
    let parts: Vec<&str> = token.splitn(3, '_').collect();
    matches!(
        parts.as_slice(),
        ["ida", identifier, secret]
            if identifier.len() == 20
                && secret.len() == 64
                && identifier.chars().chain(secret.chars()).all(|c| c.is_ascii_hexdigit())
    )
}

#[tokio::test]
async fn a_bare_bootstrap_after_the_first_start_prints_only_a_working_token() {
    let app = spawn_app().await;

    let first = identityd(&app, &["bootstrap"], &[]).await;
    let second = identityd(&app, &["bootstrap"], &[]).await;

    for output in [&first, &second] {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "stderr: {stderr}");
        assert!(
            is_token_line(&stdout),
            "stdout is the token alone: {stdout:?}"
        );
        assert!(
            !stderr.contains('\u{1b}'),
            "no colours off a terminal: {stderr:?}"
        );
        assert!(!stderr.contains(stdout.trim()), "the token is never logged");
        let token = stdout.trim();
        app.client(token)
            .list_roles(ListRolesRequest::default())
            .await
            .expect("the printed token works");
    }
    assert_ne!(first.stdout, second.stdout);
}

#[tokio::test]
async fn a_bare_bootstrap_brings_a_suspended_bootstrap_administrator_back() {
    let app = spawn_app().await;
    let roles = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list roles")
        .into_inner()
        .roles;
    let role_id = |name: &str| {
        roles
            .iter()
            .find(|role| role.name == name)
            .map(|role| role.id.clone())
            .expect("a bootstrap role")
    };
    let ops = app
        .create_staff("ops", &role_id("Full Administrator"))
        .await;
    let ops_token = app
        .mint_credential(&ops.user_id, &[&role_id("Full Access API")])
        .await;
    let admin = app
        .admin
        .clone()
        .list_staff_users(ListStaffUsersRequest::default())
        .await
        .expect("list staff")
        .into_inner()
        .staff_users
        .into_iter()
        .find(|staff| staff.username == "admin")
        .expect("the bootstrap administrator");
    app.users_as(&ops_token)
        .suspend_user(SuspendUserRequest {
            user_id: admin.user_id.clone(),
            reason: "left the company".to_owned(),
        })
        .await
        .expect("suspend the bootstrap administrator");

    let output = identityd(&app, &["bootstrap"], &[]).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(is_token_line(&stdout), "{stdout:?}");
    app.client(stdout.trim())
        .list_roles(ListRolesRequest::default())
        .await
        .expect("the new token works: its owner is active again");
}

#[tokio::test]
async fn bootstrap_refuses_a_username_that_belongs_to_another_address() {
    let app = spawn_app().await;
    active_user(&app, "taken").await;

    let other_admin = identityd(
        &app,
        &[
            "bootstrap",
            "--username",
            "admin",
            "--email",
            "ops@example.test",
        ],
        &[],
    )
    .await;
    let client_user = identityd(
        &app,
        &[
            "bootstrap",
            "--username",
            "taken",
            "--email",
            "taken@example.test",
        ],
        &[],
    )
    .await;

    for (output, reason) in [(other_admin, "USERNAME_TAKEN"), (client_user, "NOT_STAFF")] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "no token is printed");
        assert!(stderr.contains(reason), "{stderr}");
    }
}

#[tokio::test]
async fn misspelt_settings_in_the_environment_and_the_file_are_named_in_a_warning() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("a directory");
    let file = dir.path().join("identityd.toml");
    std::fs::write(&file, "[log]\nlevl = \"debug\"\n").expect("a settings file");

    let output = identityd(
        &app,
        &["migrate", "--config", file.to_str().expect("UTF-8")],
        &[
            ("IDENTITYD__SERVER__LISTN", "0.0.0.0:1"),
            ("IDENTITYD_DATA_DIR", "/nowhere"),
        ],
    )
    .await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty(), "logs never go to stdout");
    for expected in [
        "server.listn",
        "IDENTITYD__SERVER__LISTN",
        "IDENTITYD_DATA_DIR",
        "log.levl",
        "identityd.toml",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
}

#[tokio::test]
async fn every_service_of_the_api_reports_its_health() {
    use prost::Message as _;
    let app = spawn_app().await;
    let descriptors = prost_types::FileDescriptorSet::decode(identityd::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set");
    let services: Vec<String> = descriptors
        .file
        .iter()
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.service
                .iter()
                .map(move |service| format!("{package}.{}", service.name()))
        })
        .collect();
    assert!(services.len() >= 5, "{services:?}");
    let mut health = HealthClient::new(app.channel());
    let always = "liveness".to_owned();
    for service in services.iter().chain([&String::new(), &always]) {
        let answer = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .unwrap_or_else(|status| panic!("{service:?} is not registered: {status:?}"))
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn the_health_command_answers_for_a_running_server_and_fails_without_one() {
    let app = spawn_app().await;
    let address = app.address().to_string();
    let serving = identityd(&app, &["health", "--addr", &address], &[]).await;
    assert!(serving.status.success(), "{serving:?}");
    assert_eq!(String::from_utf8_lossy(&serving.stdout), "SERVING\n");

    // A port nobody listens on: a clear failure, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let nobody = closed.local_addr().expect("its address").to_string();
    drop(closed);
    let down = identityd(&app, &["health", "--addr", &nobody], &[]).await;
    assert!(!down.status.success());
    assert!(down.stdout.is_empty(), "{down:?}");
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot reach"),
        "{down:?}"
    );
}

#[tokio::test]
async fn replicas_migrating_an_empty_postgresql_database_at_once_take_turns() {
    let Some(url) = crate::helpers::fresh_postgres_database().await else {
        eprintln!("skipped: IDENTITYD_TEST_POSTGRES_URL is not set (SQLite has one writer)");
        return;
    };
    let mut starts = Vec::new();
    for _ in 0..3 {
        let url = url.clone();
        starts.push(tokio::spawn(async move {
            let db = sea_orm::Database::connect(&url).await.expect("connect");
            let migrated = identityd::store::migrate(&db).await;
            db.close().await.ok();
            migrated
        }));
    }
    for start in starts {
        start
            .await
            .expect("the task")
            .expect("every replica's migration succeeds");
    }
}

/// While PostgreSQL refuses connections, calls answer UNAVAILABLE at once
/// (with a RetryInfo: the database is known to be down, so they do not each
/// wait out the connect timeout), health turns NOT_SERVING, and both come
/// back by themselves when the database accepts connections again.
#[tokio::test]
async fn calls_fail_fast_while_the_database_is_down_and_recover_when_it_returns() {
    use tonic_types::StatusExt;
    let Ok(admin_url) = std::env::var("IDENTITYD_TEST_POSTGRES_URL") else {
        eprintln!("skipped: needs PostgreSQL (IDENTITYD_TEST_POSTGRES_URL) to stop a database");
        return;
    };
    let app = spawn_app().await;
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .expect("a database name")
        .to_owned();
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("connect as the administrator");
    let list = || {
        let mut admin_client = app.admin.clone();
        async move {
            admin_client
                .list_roles(identityd::proto::ListRolesRequest::default())
                .await
        }
    };
    list().await.expect("a call while the database is up");

    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("stop the database accepting connections");

    // The first call meets the outage; later ones are refused without trying.
    let mut fast = None;
    for _ in 0..20 {
        let status = list().await.expect_err("the database is down");
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|info| info.reason.as_str()),
            Some("DATABASE_UNAVAILABLE")
        );
        if details.retry_info().is_some() {
            fast = Some(status);
            break;
        }
    }
    assert!(fast.is_some(), "calls never failed fast");
    let mut health = HealthClient::new(app.channel());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = health
            .check(HealthCheckRequest::default())
            .await
            .expect("health answers")
            .into_inner();
        if answer.status() == ServingStatus::NotServing {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "health stayed SERVING"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .expect("let the database accept connections again");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while list().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "calls did not recover after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = health
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);
}
