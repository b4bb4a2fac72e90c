//! Typed settings: compiled-in defaults, then an optional TOML file, then
//! `IDENTITYD__SECTION__KEY` environment variables, each overriding the last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::MfaRequirement;

/// The file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "identityd.toml";

/// Every setting of identityd.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Where identityd keeps its files: the SQLite database and the bootstrap token.
    pub data_dir: PathBuf,
    /// The gRPC server.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Logging.
    pub log: LogSettings,
    /// Password policy and hashing.
    pub passwords: PasswordSettings,
    /// Client accounts.
    pub accounts: AccountSettings,
    /// Self-service sign-up (Register).
    pub sign_up: SignUpSettings,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Sessions and brute-force throttling.
    pub auth: AuthSettings,
    /// Invitations to client accounts.
    pub invitations: InvitationSettings,
    /// How long the sweep keeps finished records.
    pub retention: RetentionSettings,
    /// Data retention pruning of inactive and closed accounts.
    pub pruning: PruningSettings,
    /// The server secret. The whole section may be left out.
    #[serde(default)]
    pub security: SecuritySettings,
}

/// The server secret that keys stored hashes of codes and typed identifiers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecuritySettings {
    /// The secret itself (at least 32 characters, the same on every
    /// replica); unset means `<data_dir>/server-secret`, created on first start.
    pub server_secret: Option<SecretString>,
    /// Secrets this one replaced, during a rotation: values sealed or
    /// hashed under them (TOTP secrets, backup codes) still open and match,
    /// and TOTP secrets are sealed again under the current secret when next
    /// used. Each is a configured secret as it was, or the 64 hex digits of
    /// an old `server-secret` file. Empty by default.
    #[serde(default)]
    pub previous_server_secrets: Vec<SecretString>,
}

/// Invitations to client accounts.
#[derive(Debug, Clone, Deserialize)]
pub struct InvitationSettings {
    /// How long an invitation link works, in seconds (7 days by default).
    pub ttl_secs: u64,
    /// How many invitation mails (creates and resends) one inviter may
    /// have sent in an hour; at least 1.
    pub mails_per_hour: u32,
}

/// Sessions and brute-force throttling.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// A session ends after this long unused.
    pub session_idle_timeout_secs: u64,
    /// A session ends this long after sign-in, however much it is used.
    pub session_absolute_timeout_secs: u64,
    /// Failed sign-ins (and code guesses) per user before attempts are delayed.
    pub user_free_failures: u32,
    /// Failed attempts per client address before attempts are delayed.
    pub address_free_failures: u32,
    /// Failed sign-ins per user, from all addresses together, before
    /// attempts without a device token are delayed (NIST: at most 100).
    pub user_total_free_failures: u32,
    /// The first delay, in milliseconds; each further failure doubles it.
    pub throttle_base_delay_ms: u64,
    /// The longest delay, in seconds: a temporary lock.
    pub throttle_max_delay_secs: u64,
    /// Failures are forgotten after this long without another one.
    pub throttle_forget_after_secs: u64,
    /// How long a replica remembers an authenticated token, in milliseconds;
    /// 0 turns the cache off. Changes made through another replica (a
    /// revoked session, say) reach this one within this time.
    pub cache_ttl_ms: u64,
    /// How often ended sessions, spent codes and links, and forgotten
    /// failure counters are deleted, in seconds.
    pub sweep_interval_secs: u64,
    /// Whom two-factor authentication is required of: `none`, `clients`
    /// (users without an admin role), `staff` or `all`. A covered user
    /// without a second factor signs in to a session that can only enrol.
    pub mfa_required: MfaRequirement,
    /// How long a new SSO token works, in seconds (at most 60).
    pub sso_token_ttl_secs: u64,
    /// Whether redeeming an SSO token skips the user's second factor, as in
    /// WHMCS. Off by default: a user with two-factor authentication gets a
    /// challenge to answer with CompleteLogin.
    pub sso_bypasses_mfa: bool,
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// The log (the default for the embedded quick start).
    Log,
    /// One .eml file per mail in a directory, for local development.
    File,
    /// An SMTP server.
    Smtp,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay only).
    None,
    /// STARTTLS, required (typically port 587).
    Starttls,
    /// TLS from the first byte (typically port 465).
    Tls,
}

/// The SMTP server.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// User name, if the server wants one.
    pub username: Option<String>,
    /// Password, if the server wants one.
    pub password: Option<SecretString>,
    /// Connect and command timeout, in seconds.
    pub timeout_secs: u64,
}

/// Outgoing mail.
#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    /// `log`, `file` or `smtp`.
    pub transport: MailTransportKind,
    /// The From address, such as `Example <no-reply@example.com>`.
    pub from: String,
    /// The base URL links in mail point at, such as `https://account.example.com`.
    pub public_base_url: String,
    /// The product name templates show.
    pub product_name: String,
    /// A directory of template overrides, `<locale>/<kind>.subject|txt|html`.
    pub templates_dir: Option<PathBuf>,
    /// Where the `file` transport writes; `<data_dir>/mail` when unset.
    pub file_dir: Option<PathBuf>,
    /// The most attempts before a mail is marked failed; it is also given up
    /// once no longer worth sending (see `MailKind::useful_for`).
    pub max_attempts: u32,
    /// The first retry delay, in milliseconds; it doubles with each attempt.
    pub retry_base_ms: u64,
    /// How often an idle worker looks for due mail, in milliseconds.
    pub poll_interval_ms: u64,
    /// The SMTP server, for the `smtp` transport.
    pub smtp: SmtpSettings,
}

/// Client accounts.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountSettings {
    /// Whether account owners may add, change and remove members and invite
    /// people themselves. Staff always may.
    pub client_user_management: bool,
}

/// Self-service sign-up through Register. Staff-created users and
/// invitations are not sign-ups and are not limited by these.
#[derive(Debug, Clone, Deserialize)]
pub struct SignUpSettings {
    /// Whether anyone may register; closed, Register answers `SIGN_UP_CLOSED`.
    pub open: bool,
    /// If not empty, only addresses at these domains (or their subdomains)
    /// may register.
    pub allowed_email_domains: Vec<String>,
    /// Addresses at these domains (or their subdomains) may not register.
    pub blocked_email_domains: Vec<String>,
}

/// Password policy and argon2id hashing.
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordSettings {
    /// The shortest password accepted, in characters (NIST 800-63B: at least 8).
    pub min_length: usize,
    /// argon2id memory per hash, in KiB.
    pub argon2_memory_kib: u32,
    /// argon2id passes over memory.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Threads that hash at once; 0 means one per CPU core.
    pub hashing_threads: usize,
    /// Hashes that may wait for a thread before callers get RESOURCE_EXHAUSTED.
    pub hashing_queue: usize,
    /// The longest a new hash may expect to wait for a thread, in
    /// milliseconds; past it the call answers busy at once.
    pub hashing_max_wait_ms: u64,
}

/// The gRPC server.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The largest request message accepted, in bytes.
    pub max_request_bytes: usize,
    /// How long SIGTERM waits for in-flight calls before stopping anyway, in seconds.
    pub shutdown_grace_secs: u64,
    /// How often the database is checked for the health service, in seconds.
    pub health_check_interval_secs: u64,
    /// How often this replica looks for settings and mail templates changed
    /// at run time (through another replica), in milliseconds.
    pub settings_refresh_ms: u64,
    /// Peers (CIDR blocks) whose `x-forwarded-for` or `x-client-ip` names
    /// the client's address; empty trusts nobody.
    pub trusted_proxies: Vec<String>,
    /// The longest a call may run, in milliseconds; past it the call is
    /// stopped and answers DEADLINE_EXCEEDED. 0 turns the limit off.
    pub call_timeout_ms: u64,
    /// Calls in progress at once on this replica; one more answers
    /// UNAVAILABLE (`SERVER_BUSY`) at once. 0 turns the limit off.
    pub max_concurrent_calls: usize,
    /// Open client connections at once; further connections wait to be
    /// accepted until one closes. 0 turns the limit off.
    pub max_connections: usize,
    /// Calls in progress at once on one HTTP/2 connection (streams).
    pub max_concurrent_streams: u32,
    /// How often an idle connection is pinged, in seconds; 0 turns pings off.
    pub http2_keepalive_interval_secs: u64,
    /// How long a ping may go unanswered before the connection is closed, in seconds.
    pub http2_keepalive_timeout_secs: u64,
    /// Where Prometheus scrapes `GET /metrics` (plain HTTP); unset serves
    /// no metrics. Port 0 picks a free port.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// The server's certificate chain (PEM); with `tls_key_path`, the gRPC
    /// port speaks TLS only.
    #[serde(default)]
    pub tls_cert_path: Option<PathBuf>,
    /// The server's private key (PEM).
    #[serde(default)]
    pub tls_key_path: Option<PathBuf>,
    /// CA certificates (PEM) client certificates must chain to: mutual TLS
    /// for every method but the health check.
    #[serde(default)]
    pub tls_client_ca_path: Option<PathBuf>,
    /// How often the TLS files are checked for a change, in seconds (they
    /// are also read again on SIGHUP).
    pub tls_reload_secs: u64,
}

/// Data retention pruning (WHMCS's "Data Retention Pruning"): deleting
/// closed and inactive client accounts, the users they leave without an
/// account, and sign-ups never verified. Every policy is off by default.
#[derive(Debug, Clone, Deserialize)]
pub struct PruningSettings {
    /// Delete closed accounts this many days after closure; 0 is off.
    pub closed_accounts_after_days: u64,
    /// Delete active accounts inactive for this many months (of 30 days);
    /// 0 is off.
    pub inactive_accounts_after_months: u64,
    /// Delete users left with no account by these deletions (never staff).
    pub delete_orphan_users: bool,
    /// Delete sign-ups never verified this many days after sign-up; 0 is off.
    pub unverified_users_after_days: u64,
    /// Warn an inactive account's owner this many days before deletion.
    pub warning_days: u64,
    /// When the daily run starts, `HH:MM` in UTC.
    pub run_at: String,
}

/// How long records that have stopped mattering are kept before the sweep
/// deletes them.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Request ids of create calls, in seconds: a retry later than this
    /// creates anew instead of returning the first result.
    pub request_ids_secs: u64,
    /// Sent and failed mail in the outbox, in seconds (counted from sending,
    /// or for failed mail from queueing). The activity log keeps its own record.
    pub mail_secs: u64,
    /// Invitations past their expiry (and cancelled ones), in seconds after
    /// expiry; until then they list as EXPIRED or CANCELLED.
    pub invitations_secs: u64,
}

/// The database.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// A `postgres://` URL; unset means SQLite at `<data_dir>/identityd.db`.
    pub url: Option<SecretString>,
    /// The most pooled PostgreSQL connections per replica.
    pub max_connections: u32,
    /// How long to wait for a connection, in seconds.
    pub connect_timeout_secs: u64,
    /// Read-only SQLite connections beside the single writer (ignored on PostgreSQL).
    pub sqlite_readers: u32,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `identityd=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

/// Settings that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(#[from] config::ConfigError);

/// A setting identityd does not know, most likely misspelt: it is ignored,
/// so whatever it meant to change keeps its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSetting {
    /// The key as identityd read it, such as `server.listn`.
    pub key: String,
    /// Where it was set: an environment variable's name, or the settings file.
    pub source: String,
}

/// The prefix of every environment variable identityd reads.
const ENV_PREFIX: &str = "IDENTITYD__";

/// The top-level keys, for recognising `IDENTITYD_DATA_DIR` or
/// `IDENTITYD_SERVER__LISTEN` (one underscore too few after the prefix)
/// without flagging unrelated variables such as `IDENTITYD_TEST_POSTGRES_URL`.
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "server",
    "database",
    "log",
    "passwords",
    "accounts",
    "sign_up",
    "mail",
    "auth",
    "invitations",
    "retention",
    "pruning",
];

/// Whether `name` is `IDENTITYD_` + a top-level key: a setting the
/// environment source never reads because the prefix lacks an underscore.
fn looks_like_a_misspelt_prefix(name: &str) -> bool {
    let upper = name.to_uppercase();
    if upper.starts_with(ENV_PREFIX) {
        return false;
    }
    let Some(rest) = upper.strip_prefix("IDENTITYD_") else {
        return false;
    };
    let rest = rest.to_lowercase();
    TOP_LEVEL_KEYS.iter().any(|key| {
        rest.strip_prefix(key)
            .is_some_and(|after| after.is_empty() || after.starts_with('_'))
    })
}

impl Settings {
    /// Loads settings: defaults, then `config_file` (or `identityd.toml` in the
    /// working directory if it exists), then the environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_reporting_unknown(config_file).map(|(settings, _)| settings)
    }

    /// Like [`Settings::load`], also naming every key in the file or the
    /// environment that no setting reads, so a typo does not pass unnoticed.
    /// Environment variables that start with `IDENTITYD_` but not with
    /// `IDENTITYD__` (one underscore too few) are reported too.
    pub fn load_reporting_unknown(
        config_file: Option<&Path>,
    ) -> Result<(Self, Vec<UnknownSetting>), SettingsError> {
        let file_name = config_file.map_or_else(
            || DEFAULT_CONFIG_FILE.to_owned(),
            |path| path.display().to_string(),
        );
        let variables: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        let config = Self::sources(config_file)?;
        let mut ignored = Vec::new();
        let settings: Settings =
            serde_ignored::deserialize(config, |path| ignored.push(path.to_string()))?;
        let mut unknown: Vec<UnknownSetting> = ignored
            .into_iter()
            .map(|key| {
                let variable = format!("{ENV_PREFIX}{}", key.to_uppercase().replace('.', "__"));
                let source = match variables
                    .iter()
                    .find(|name| name.to_uppercase() == variable)
                {
                    Some(name) => format!("environment variable {name}"),
                    None => format!("settings file {file_name}"),
                };
                UnknownSetting { key, source }
            })
            .collect();
        unknown.extend(
            variables
                .iter()
                .filter(|name| looks_like_a_misspelt_prefix(name))
                .map(|name| UnknownSetting {
                    key: name.clone(),
                    source: format!("environment variable {name}"),
                }),
        );
        Ok((settings, unknown))
    }

    /// The compiled-in defaults alone, without the file or the
    /// environment: for telling a configured value from a default one.
    pub fn built_in() -> Result<Self, SettingsError> {
        Ok(Self::defaults()?.build()?.try_deserialize()?)
    }

    /// Every source, in order of precedence.
    fn sources(config_file: Option<&Path>) -> Result<Config, SettingsError> {
        let mut builder = Self::defaults()?;
        builder = match config_file {
            Some(path) => {
                builder.add_source(File::from(path).format(FileFormat::Toml).required(true))
            }
            None => {
                builder.add_source(File::new(DEFAULT_CONFIG_FILE, FileFormat::Toml).required(false))
            }
        };
        Ok(builder
            .add_source(
                Environment::with_prefix("IDENTITYD")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies")
                    .with_list_parse_key("sign_up.allowed_email_domains")
                    .with_list_parse_key("sign_up.blocked_email_domains")
                    .with_list_parse_key("security.previous_server_secrets"),
            )
            .build()?)
    }

    /// A builder holding every compiled-in default.
    fn defaults() -> Result<config::ConfigBuilder<config::builder::DefaultState>, SettingsError> {
        Ok(Config::builder()
            .set_default("data_dir", "./data")?
            .set_default("server.listen", "127.0.0.1:50051")?
            .set_default("server.max_request_bytes", 1_048_576)?
            .set_default("server.shutdown_grace_secs", 20)?
            .set_default("server.tls_reload_secs", 30)?
            .set_default("server.health_check_interval_secs", 5)?
            .set_default("server.call_timeout_ms", 30_000)?
            .set_default("server.max_concurrent_calls", 1_024)?
            .set_default("server.max_connections", 4_096)?
            .set_default("server.max_concurrent_streams", 100)?
            .set_default("server.http2_keepalive_interval_secs", 60)?
            .set_default("server.http2_keepalive_timeout_secs", 20)?
            .set_default("retention.request_ids_secs", 604_800)?
            .set_default("retention.mail_secs", 7_776_000)?
            .set_default("retention.invitations_secs", 2_592_000)?
            .set_default("pruning.closed_accounts_after_days", 0)?
            .set_default("pruning.inactive_accounts_after_months", 0)?
            .set_default("pruning.delete_orphan_users", false)?
            .set_default("pruning.unverified_users_after_days", 0)?
            .set_default("pruning.warning_days", 14)?
            .set_default("pruning.run_at", "03:00")?
            .set_default("server.trusted_proxies", Vec::<String>::new())?
            .set_default("database.max_connections", 10)?
            .set_default("database.connect_timeout_secs", 5)?
            .set_default("database.sqlite_readers", 4)?
            .set_default("log.format", "human")?
            .set_default("log.level", "info")?
            .set_default("passwords.min_length", 8)?
            .set_default("passwords.argon2_memory_kib", 19_456)?
            .set_default("passwords.argon2_iterations", 2)?
            .set_default("passwords.argon2_parallelism", 1)?
            .set_default("passwords.hashing_threads", 0)?
            .set_default("passwords.hashing_queue", 64)?
            .set_default("passwords.hashing_max_wait_ms", 1000)?
            .set_default("accounts.client_user_management", true)?
            .set_default("sign_up.open", true)?
            .set_default("sign_up.allowed_email_domains", Vec::<String>::new())?
            .set_default("sign_up.blocked_email_domains", Vec::<String>::new())?
            .set_default("server.settings_refresh_ms", 2_000)?
            .set_default("invitations.ttl_secs", 604_800)?
            .set_default("invitations.mails_per_hour", 30)?
            .set_default("mail.transport", "log")?
            .set_default("mail.from", "identityd <no-reply@localhost>")?
            .set_default("mail.public_base_url", "http://localhost:8080")?
            .set_default("mail.product_name", "identityd")?
            .set_default("mail.max_attempts", 40)?
            .set_default("mail.retry_base_ms", 5_000)?
            .set_default("mail.poll_interval_ms", 1_000)?
            .set_default("mail.smtp.host", "localhost")?
            .set_default("mail.smtp.port", 587)?
            .set_default("mail.smtp.tls", "starttls")?
            .set_default("mail.smtp.timeout_secs", 10)?
            .set_default("auth.session_idle_timeout_secs", 7_200)?
            .set_default("auth.session_absolute_timeout_secs", 86_400)?
            .set_default("auth.user_free_failures", 5)?
            .set_default("auth.address_free_failures", 50)?
            .set_default("auth.user_total_free_failures", 100)?
            .set_default("auth.throttle_base_delay_ms", 1_000)?
            .set_default("auth.throttle_max_delay_secs", 900)?
            .set_default("auth.throttle_forget_after_secs", 86_400)?
            .set_default("auth.cache_ttl_ms", 1_000)?
            .set_default("auth.sweep_interval_secs", 3_600)?
            .set_default("auth.mfa_required", "none")?
            .set_default("auth.sso_token_ttl_secs", 60)?
            .set_default("auth.sso_bypasses_mfa", false)?)
    }

    /// The database URL: the configured one, or SQLite under the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) if !url.expose_secret().trim().is_empty() => url.expose_secret().to_owned(),
            _ => crate::store::sqlite_url(&self.data_dir),
        }
    }

    /// The SQLite database file, when the database is SQLite on disk.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
    }

    /// Whether the database is the embedded SQLite one.
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// How long to wait for a database connection.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.database.connect_timeout_secs.max(1))
    }

    /// Where the generated server secret lives when none is configured.
    pub fn server_secret_path(&self) -> PathBuf {
        self.data_dir.join(crate::crypto::SERVER_SECRET_FILE)
    }

    /// Where the first start writes the bootstrap bearer token.
    pub fn bootstrap_token_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap-token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_underscore_too_few_after_the_prefix_is_recognised() {
        assert!(looks_like_a_misspelt_prefix("IDENTITYD_DATA_DIR"));
        assert!(looks_like_a_misspelt_prefix("IDENTITYD_SERVER__LISTEN"));
        assert!(looks_like_a_misspelt_prefix("identityd_log__level"));
        assert!(!looks_like_a_misspelt_prefix("IDENTITYD__SERVER__LISTEN"));
        assert!(!looks_like_a_misspelt_prefix("IDENTITYD_TEST_POSTGRES_URL"));
        assert!(!looks_like_a_misspelt_prefix("IDENTITYD_SERVERLESS"));
    }
}
