//! Starting the real service for a test, and small assertions on statuses.

use std::path::PathBuf;

use identityd::config::{
    AccountSettings, AuthSettings, DatabaseSettings, InvitationSettings, LogFormat, LogSettings,
    MailSettings, MailTransportKind, PasswordSettings, PruningSettings, RetentionSettings,
    SecuritySettings, ServerSettings, Settings, SignUpSettings, SmtpSettings, SmtpTls,
};
use identityd::domain::Clock;
use identityd::proto::account_service_client::AccountServiceClient;
use identityd::proto::admin_service_client::AdminServiceClient;
use identityd::proto::auth_service_client::AuthServiceClient;
use identityd::proto::invitation_service_client::InvitationServiceClient;
use identityd::proto::user_service_client::UserServiceClient;
use identityd::proto::{
    CreateApiCredentialRequest, CreateRoleRequest, CreateStaffUserRequest, Role, RoleKind,
    StaffUser,
};
use identityd::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

/// The environment variable that switches the suite to PostgreSQL.
const POSTGRES_URL_VAR: &str = "IDENTITYD_TEST_POSTGRES_URL";

/// Adds `authorization: Bearer <token>` to every call, when there is a token.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// An AdminService client that sends a fixed bearer token.
pub type AdminClient = AdminServiceClient<InterceptedService<Channel, Bearer>>;

/// A UserService client that sends a fixed bearer token.
pub type UserClient = UserServiceClient<InterceptedService<Channel, Bearer>>;

/// An AccountService client that sends a fixed bearer token.
pub type AccountClient = AccountServiceClient<InterceptedService<Channel, Bearer>>;

/// An AuthService client that sends a fixed bearer token, or none.
pub type AuthClient = AuthServiceClient<InterceptedService<Channel, Bearer>>;

/// An InvitationService client that sends a fixed bearer token, or none.
pub type InvitationClient = InvitationServiceClient<InterceptedService<Channel, Bearer>>;

/// A running identityd with a fresh database, stopped when dropped.
pub struct TestApp {
    /// The bootstrap (full-access) bearer token it wrote on first start.
    pub token: String,
    /// An AdminService client carrying the bootstrap token.
    pub admin: AdminClient,
    /// A UserService client carrying the bootstrap token.
    pub users: UserClient,
    /// An AccountService client carrying the bootstrap token.
    pub accounts: AccountClient,
    /// An AuthService client carrying the bootstrap token.
    pub auth: AuthClient,
    /// The server's clock; tests move it forward to reach expiry.
    pub clock: Clock,
    /// The database URL, for tests that look at what is stored.
    pub database_url: String,
    data_dir: Option<TempDir>,
    address: std::net::SocketAddr,
    /// Where `GET /metrics` is served, when the settings turned it on.
    pub metrics_address: Option<std::net::SocketAddr>,
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The settings of a test server over `database_url` (None: SQLite in `data_dir`).
pub fn test_settings(data_dir: PathBuf, database_url: Option<String>) -> Settings {
    Settings {
        data_dir,
        server: ServerSettings {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            max_request_bytes: 1024 * 1024,
            shutdown_grace_secs: 5,
            health_check_interval_secs: 1,
            settings_refresh_ms: 100,
            call_timeout_ms: 30_000,
            max_concurrent_calls: 1_024,
            max_connections: 4_096,
            max_concurrent_streams: 100,
            http2_keepalive_interval_secs: 60,
            http2_keepalive_timeout_secs: 20,
            metrics_listen: None,
            tls_cert_path: None,
            tls_key_path: None,
            tls_client_ca_path: None,
            tls_reload_secs: 30,
            trusted_proxies: Vec::new(),
        },
        database: DatabaseSettings {
            url: database_url.map(SecretString::from),
            max_connections: 5,
            connect_timeout_secs: 5,
            sqlite_readers: 4,
        },
        log: LogSettings {
            format: LogFormat::Human,
            level: "warn".to_owned(),
        },
        // Real argon2id with the production defaults.
        passwords: PasswordSettings {
            min_length: 8,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hashing_threads: 0,
            hashing_queue: 64,
            hashing_max_wait_ms: 1000,
        },
        accounts: AccountSettings {
            client_user_management: true,
        },
        sign_up: SignUpSettings {
            open: true,
            allowed_email_domains: Vec::new(),
            blocked_email_domains: Vec::new(),
        },
        // Mail goes to the log unless a test points it elsewhere; retries are
        // fast so tests that take SMTP down finish quickly.
        mail: MailSettings {
            transport: MailTransportKind::Log,
            from: "identityd tests <no-reply@identityd.test>".to_owned(),
            public_base_url: "https://accounts.example.test".to_owned(),
            product_name: "identityd".to_owned(),
            templates_dir: None,
            file_dir: None,
            max_attempts: 50,
            retry_base_ms: 40,
            poll_interval_ms: 25,
            smtp: SmtpSettings {
                host: "127.0.0.1".to_owned(),
                port: 25,
                tls: SmtpTls::None,
                username: None,
                password: None,
                timeout_secs: 5,
            },
        },
        auth: AuthSettings {
            session_idle_timeout_secs: 7_200,
            session_absolute_timeout_secs: 86_400,
            user_free_failures: 5,
            address_free_failures: 50,
            user_total_free_failures: 100,
            throttle_base_delay_ms: 1_000,
            throttle_max_delay_secs: 900,
            throttle_forget_after_secs: 86_400,
            cache_ttl_ms: 1_000,
            sweep_interval_secs: 3_600,
            mfa_required: identityd::domain::MfaRequirement::None,
            sso_token_ttl_secs: 60,
            sso_bypasses_mfa: false,
        },
        invitations: InvitationSettings {
            ttl_secs: 604_800,
            mails_per_hour: 30,
        },
        retention: RetentionSettings {
            request_ids_secs: 604_800,
            mail_secs: 7_776_000,
            invitations_secs: 2_592_000,
        },
        pruning: PruningSettings {
            closed_accounts_after_days: 0,
            inactive_accounts_after_months: 0,
            delete_orphan_users: false,
            unverified_users_after_days: 0,
            warning_days: 14,
            run_at: "03:00".to_owned(),
        },
        security: SecuritySettings {
            server_secret: None,
            previous_server_secrets: Vec::new(),
        },
    }
}

/// A fresh, empty PostgreSQL database when the suite runs on PostgreSQL.
pub async fn fresh_postgres_database() -> Option<String> {
    let admin_url = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())?;
    let name = format!("identityd_test_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to IDENTITYD_TEST_POSTGRES_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create a test database");
    admin.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url.as_str(), String::new()),
    };
    let (server, _database) = base.rsplit_once('/').expect("a database URL with a path");
    Some(format!("{server}/{name}{query}"))
}

/// Starts identityd on a fresh database and returns it with a full-access client.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with `tweak` applied to the settings first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("create a temporary data directory");
    let postgres = fresh_postgres_database().await;
    let mut settings = test_settings(data_dir.path().join("data"), postgres);
    tweak(&mut settings);
    let database_url = settings.database_url();
    let clock = Clock::system();
    let application = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("build the application");
    let addr = application.local_addr();
    let metrics_address = application.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        application
            .run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
    });
    let token = std::fs::read_to_string(data_dir.path().join("data/bootstrap-token"))
        .expect("the bootstrap token file")
        .trim()
        .to_owned();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("valid URI")
        .connect()
        .await
        .expect("connect to the test server");
    let admin = AdminServiceClient::with_interceptor(channel.clone(), bearer(Some(&token)));
    let users = UserServiceClient::with_interceptor(channel.clone(), bearer(Some(&token)));
    let accounts = AccountServiceClient::with_interceptor(channel.clone(), bearer(Some(&token)));
    let auth = AuthServiceClient::with_interceptor(channel.clone(), bearer(Some(&token)));
    TestApp {
        token,
        admin,
        users,
        accounts,
        auth,
        clock,
        database_url,
        data_dir: Some(data_dir),
        address: addr,
        metrics_address,
        channel,
        stop: Some(stop),
        server: Some(server),
    }
}

fn bearer(token: Option<&str>) -> Bearer {
    Bearer(token.map(|t| format!("Bearer {t}").parse().expect("ASCII token")))
}

impl TestApp {
    /// A client sending `token`.
    pub fn client(&self, token: &str) -> AdminClient {
        AdminServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// A UserService client sending `token`.
    pub fn users_as(&self, token: &str) -> UserClient {
        UserServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An AccountService client sending `token`.
    pub fn accounts_as(&self, token: &str) -> AccountClient {
        AccountServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An AuthService client sending `token`.
    pub fn auth_as(&self, token: &str) -> AuthClient {
        AuthServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An InvitationService client carrying the bootstrap (full-access) token.
    pub fn invitations(&self) -> InvitationClient {
        self.invitations_as(&self.token)
    }

    /// An InvitationService client sending `token`.
    pub fn invitations_as(&self, token: &str) -> InvitationClient {
        InvitationServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An InvitationService client sending no token.
    pub fn invitations_public(&self) -> InvitationClient {
        InvitationServiceClient::with_interceptor(self.channel.clone(), bearer(None))
    }

    /// An AuthService client sending no token, as a person who is not signed in.
    pub fn auth_public(&self) -> AuthClient {
        AuthServiceClient::with_interceptor(self.channel.clone(), bearer(None))
    }

    /// The secret template value `key` of the newest queued mail of `kind`
    /// to `recipient`, read from the outbox. Tests that use it start the
    /// server with [`hold_mail`], so the worker never sends (and erases) it.
    pub async fn queued_secret(&self, recipient: &str, kind: &str, key: &str) -> Option<String> {
        let db = self.database().await;
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT secret_context FROM mails WHERE recipient_normalized = $1 AND kind = $2 \
                 ORDER BY id DESC LIMIT 1"
            }
            _ => {
                "SELECT secret_context FROM mails WHERE recipient_normalized = ? AND kind = ? \
                 ORDER BY id DESC LIMIT 1"
            }
        };
        let row = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [recipient.to_lowercase().into(), kind.into()],
            ))
            .await
            .expect("read the outbox")?;
        let secrets: Option<String> = row.try_get("", "secret_context").expect("a column");
        let secrets: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&secrets?).expect("secret context is JSON");
        secrets.get(key).cloned()
    }

    /// How many mails of `kind` to `recipient` are in the outbox.
    pub async fn mail_count(&self, recipient: &str, kind: &str) -> usize {
        let db = self.database().await;
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT COUNT(*) AS n FROM mails WHERE recipient_normalized = $1 AND kind = $2"
            }
            _ => "SELECT COUNT(*) AS n FROM mails WHERE recipient_normalized = ? AND kind = ?",
        };
        let row = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [recipient.to_lowercase().into(), kind.into()],
            ))
            .await
            .expect("count mails")
            .expect("a row");
        let n: i64 = row.try_get("", "n").expect("a count");
        usize::try_from(n).expect("a small count")
    }

    /// A client sending no token.
    pub fn anonymous(&self) -> AdminClient {
        AdminServiceClient::with_interceptor(self.channel.clone(), bearer(None))
    }

    /// The raw channel, for calls outside AdminService.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A direct connection to the test database.
    pub async fn database(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    /// The address the server listens on, for tests that open their own connections.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// The data directory (removed when the test ends).
    pub fn data_path(&self) -> PathBuf {
        self.data_dir
            .as_ref()
            .expect("the data directory")
            .path()
            .join("data")
    }

    /// Starts a second server (another replica) on the same database, with
    /// `tweak` applied to its settings; it stops when dropped.
    pub async fn start_replica(&self, tweak: impl FnOnce(&mut Settings)) -> Replica {
        let postgres =
            (!self.database_url.starts_with("sqlite:")).then(|| self.database_url.clone());
        let mut settings = test_settings(self.data_path(), postgres);
        tweak(&mut settings);
        let application = Application::build(settings)
            .await
            .expect("build the replica");
        let address = application.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = application
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("connect to the replica");
        Replica {
            _stop: stop,
            channel,
            server,
        }
    }

    /// Stops the server, waits until it has stopped, and hands over the data
    /// directory so a test can start again on the same files.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends cleanly");
        }
        self.data_dir.take().expect("the data directory")
    }

    /// Stops the server and starts it again on the same database and data
    /// directory with `tweak` applied to its settings, as an operator who
    /// changes the configuration and restarts; the clock and the bootstrap
    /// token carry over.
    pub async fn restart_with(self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let token = self.token.clone();
        let clock = self.clock.clone();
        let database_url = self.database_url.clone();
        let postgres = (!database_url.starts_with("sqlite:")).then(|| database_url.clone());
        let data_dir = self.stop().await;
        let mut settings = test_settings(data_dir.path().join("data"), postgres);
        tweak(&mut settings);
        let application = Application::build_with_clock(settings, clock.clone())
            .await
            .expect("restart the application");
        let addr = application.local_addr();
        let metrics_address = application.metrics_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            application
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("connect to the restarted server");
        TestApp {
            admin: AdminServiceClient::with_interceptor(channel.clone(), bearer(Some(&token))),
            users: UserServiceClient::with_interceptor(channel.clone(), bearer(Some(&token))),
            accounts: AccountServiceClient::with_interceptor(channel.clone(), bearer(Some(&token))),
            auth: AuthServiceClient::with_interceptor(channel.clone(), bearer(Some(&token))),
            token,
            clock,
            database_url,
            data_dir: Some(data_dir),
            address: addr,
            metrics_address,
            channel,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Creates a role and returns it.
    pub async fn create_role(&self, name: &str, kind: RoleKind, permissions: &[&str]) -> Role {
        self.admin
            .clone()
            .create_role(CreateRoleRequest {
                name: name.to_owned(),
                kind: kind.into(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                ..Default::default()
            })
            .await
            .expect("create a role")
            .into_inner()
            .role
            .expect("a role")
    }

    /// Creates a staff user holding `admin_role_id`.
    pub async fn create_staff(&self, username: &str, admin_role_id: &str) -> StaffUser {
        self.admin
            .clone()
            .create_staff_user(CreateStaffUserRequest {
                email: format!("{username}@example.com"),
                username: username.to_owned(),
                full_name: format!("{username} Example"),
                admin_role_id: admin_role_id.to_owned(),
                request_id: String::new(),
                send_set_password_email: false,
            })
            .await
            .expect("create a staff user")
            .into_inner()
            .staff_user
            .expect("a staff user")
    }

    /// A bearer token of a new staff user whose admin role and single API role
    /// both grant exactly `permissions`, and that user.
    pub async fn staff_token_with(&self, label: &str, permissions: &[&str]) -> (String, StaffUser) {
        let admin_role = self
            .create_role(&format!("{label} staff"), RoleKind::Admin, permissions)
            .await;
        let api_role = self
            .create_role(&format!("{label} api"), RoleKind::Api, permissions)
            .await;
        let staff = self.create_staff(label, &admin_role.id).await;
        let token = self.mint_credential(&staff.user_id, &[&api_role.id]).await;
        (token, staff)
    }

    /// Mints a credential for `owner` with `role_ids` and returns its bearer token.
    pub async fn mint_credential(&self, owner: &str, role_ids: &[&str]) -> String {
        self.admin
            .clone()
            .create_api_credential(CreateApiCredentialRequest {
                owner_user_id: owner.to_owned(),
                description: "test credential".to_owned(),
                role_ids: role_ids.iter().map(|id| (*id).to_owned()).collect(),
                expire_time: None,
            })
            .await
            .expect("create an API credential")
            .into_inner()
            .token
    }
}

/// Settings under which queued mail stays in the outbox for the test to
/// read: the worker polls once at start and then not for an hour.
pub fn hold_mail(settings: &mut Settings) {
    settings.mail.poll_interval_ms = 3_600_000;
}

/// A second server on a test's database; it stops when dropped.
pub struct Replica {
    _stop: oneshot::Sender<()>,
    channel: Channel,
    server: tokio::task::JoinHandle<()>,
}

impl Replica {
    /// An AdminService client of this replica sending `token`.
    pub fn client(&self, token: &str) -> AdminClient {
        AdminServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An AuthService client of this replica sending no token.
    pub fn auth_public(&self) -> AuthClient {
        AuthServiceClient::with_interceptor(self.channel.clone(), bearer(None))
    }

    /// An AuthService client of this replica sending `token`.
    pub fn auth_as(&self, token: &str) -> AuthClient {
        AuthServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// An InvitationService client of this replica sending `token`.
    pub fn invitations_as(&self, token: &str) -> InvitationClient {
        InvitationServiceClient::with_interceptor(self.channel.clone(), bearer(Some(token)))
    }

    /// Stops the replica at once, as `kill -9` would: calls in flight are
    /// cut off and nothing is drained.
    pub fn kill(&self) {
        self.server.abort();
    }
}

/// Asserts `status` has `code` and the ErrorInfo `reason`.
#[track_caller]
pub fn assert_error(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let info = status
        .get_details_error_info()
        .expect("an ErrorInfo detail");
    assert_eq!(info.reason, reason, "unexpected reason in {status:?}");
    assert_eq!(info.domain, "identityd");
    assert!(
        info.metadata.contains_key("request_id"),
        "no request id in {status:?}"
    );
}

/// The fields named by the BadRequest detail of an INVALID_ARGUMENT status.
#[track_caller]
pub fn violated_fields(status: &Status) -> Vec<String> {
    assert_error(status, Code::InvalidArgument, "INVALID_ARGUMENT");
    let bad_request = status
        .get_details_bad_request()
        .expect("a BadRequest detail");
    bad_request
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// The number of rows in `table` of `app`'s database.
pub async fn rows_in(app: &TestApp, table: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = app.database().await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get("", "n").expect("a count")
}
