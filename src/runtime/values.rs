//! The settings an operator may change while identityd runs: their values,
//! the catalogue that names and checks each one, and the rules every value
//! must pass, whether it comes from the settings file or from UpdateSettings.
//!
//! Each setting is known by the same key everywhere: in `identityd.toml`, in
//! an `IDENTITYD__…` variable (with `__` for `.`), in the FieldMask of
//! UpdateSettings and in the activity log (`auth.session_idle_timeout_secs`).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{MailTransportKind, Settings, SmtpTls};
use crate::domain::{FieldViolation, MfaRequirement};

/// The value of every run-time setting, as this replica applies it now.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Whether account owners may manage their members themselves.
    pub client_user_management: bool,
    /// Whether anyone may register.
    pub sign_up_open: bool,
    /// If not empty, only these email domains (and their subdomains) may register.
    pub sign_up_allowed_email_domains: Vec<String>,
    /// These email domains (and their subdomains) may not register.
    pub sign_up_blocked_email_domains: Vec<String>,
    /// A session ends after this many seconds unused.
    pub session_idle_timeout_secs: u64,
    /// A session ends this many seconds after sign-in.
    pub session_absolute_timeout_secs: u64,
    /// Failures against one user before attempts are delayed.
    pub user_free_failures: u32,
    /// Failures from one client address before attempts are delayed.
    pub address_free_failures: u32,
    /// Failed sign-ins against one user from all addresses before delays.
    pub user_total_free_failures: u32,
    /// The first delay, in milliseconds.
    pub throttle_base_delay_ms: u64,
    /// The longest delay, in seconds.
    pub throttle_max_delay_secs: u64,
    /// Failures are forgotten after this many seconds without another.
    pub throttle_forget_after_secs: u64,
    /// Whom two-factor authentication is required of.
    pub mfa_required: MfaRequirement,
    /// How long a new SSO token works, in seconds.
    pub sso_token_ttl_secs: u64,
    /// Whether redeeming an SSO token skips the second factor.
    pub sso_bypasses_mfa: bool,
    /// The shortest password accepted, in characters.
    pub password_min_length: usize,
    /// How long an invitation link works, in seconds.
    pub invitation_ttl_secs: u64,
    /// Invitation mails one inviter may send in an hour.
    pub invitation_mails_per_hour: u32,
    /// Where mail goes.
    pub mail_transport: MailTransportKind,
    /// The From address.
    pub mail_from: String,
    /// The base URL links in mail point at.
    pub public_base_url: String,
    /// The product name mails and authenticator apps show.
    pub product_name: String,
    /// The SMTP server's host name.
    pub smtp_host: String,
    /// The SMTP server's port.
    pub smtp_port: u16,
    /// How the SMTP connection is secured.
    pub smtp_tls: SmtpTls,
    /// The SMTP user name; empty for none.
    pub smtp_username: String,
    /// The SMTP password, if any.
    pub smtp_password: Option<SecretString>,
    /// The SMTP connect and command timeout, in seconds.
    pub smtp_timeout_secs: u64,
    /// Delete closed accounts this many days after closure; 0 is off.
    pub prune_closed_after_days: u64,
    /// Delete accounts inactive for this many 30-day months; 0 is off.
    pub prune_inactive_after_months: u64,
    /// Delete users left with no account by pruning.
    pub prune_orphan_users: bool,
    /// Delete never-verified sign-ups this many days after sign-up; 0 is off.
    pub prune_unverified_after_days: u64,
    /// Warn an inactive account's owner this many days before deletion.
    pub prune_warning_days: u64,
    /// When the daily pruning run starts, `HH:MM` UTC.
    pub prune_run_at: String,
}

impl RuntimeSettings {
    /// The values the settings file and environment give: the defaults that
    /// stored values override.
    pub fn from_startup(settings: &Settings) -> Self {
        let auth = &settings.auth;
        let mail = &settings.mail;
        Self {
            client_user_management: settings.accounts.client_user_management,
            sign_up_open: settings.sign_up.open,
            sign_up_allowed_email_domains: settings.sign_up.allowed_email_domains.clone(),
            sign_up_blocked_email_domains: settings.sign_up.blocked_email_domains.clone(),
            session_idle_timeout_secs: auth.session_idle_timeout_secs,
            session_absolute_timeout_secs: auth.session_absolute_timeout_secs,
            user_free_failures: auth.user_free_failures,
            address_free_failures: auth.address_free_failures,
            user_total_free_failures: auth.user_total_free_failures,
            throttle_base_delay_ms: auth.throttle_base_delay_ms,
            throttle_max_delay_secs: auth.throttle_max_delay_secs,
            throttle_forget_after_secs: auth.throttle_forget_after_secs,
            mfa_required: auth.mfa_required,
            sso_token_ttl_secs: auth.sso_token_ttl_secs,
            sso_bypasses_mfa: auth.sso_bypasses_mfa,
            password_min_length: settings.passwords.min_length,
            invitation_ttl_secs: settings.invitations.ttl_secs,
            invitation_mails_per_hour: settings.invitations.mails_per_hour,
            mail_transport: mail.transport,
            mail_from: mail.from.clone(),
            public_base_url: mail.public_base_url.clone(),
            product_name: mail.product_name.clone(),
            smtp_host: mail.smtp.host.clone(),
            smtp_port: mail.smtp.port,
            smtp_tls: mail.smtp.tls,
            smtp_username: mail.smtp.username.clone().unwrap_or_default(),
            smtp_password: mail
                .smtp
                .password
                .clone()
                .filter(|p| !p.expose_secret().is_empty()),
            smtp_timeout_secs: mail.smtp.timeout_secs,
            prune_closed_after_days: settings.pruning.closed_accounts_after_days,
            prune_inactive_after_months: settings.pruning.inactive_accounts_after_months,
            prune_orphan_users: settings.pruning.delete_orphan_users,
            prune_unverified_after_days: settings.pruning.unverified_users_after_days,
            prune_warning_days: settings.pruning.warning_days,
            prune_run_at: settings.pruning.run_at.clone(),
        }
    }

    /// The daily pruning time as minutes after midnight UTC.
    pub fn prune_run_at_minutes(&self) -> u32 {
        parse_time_of_day(&self.prune_run_at).unwrap_or(3 * 60)
    }

    /// Every value checked against its setting's rules, each problem named
    /// by its key: how a settings file with a bad value is refused at start.
    pub fn violations(&self) -> Vec<FieldViolation> {
        SETTINGS
            .iter()
            .filter_map(|setting| {
                setting
                    .check((setting.get)(self))
                    .err()
                    .map(|why| FieldViolation::new(setting.key, why))
            })
            .chain(self.cross_field_violations())
            .collect()
    }

    /// Rules between settings, checked after every change.
    pub fn cross_field_violations(&self) -> Vec<FieldViolation> {
        let mut violations = Vec::new();
        if self.session_absolute_timeout_secs < self.session_idle_timeout_secs {
            violations.push(FieldViolation::new(
                "auth.session_absolute_timeout_secs",
                "must not be shorter than auth.session_idle_timeout_secs",
            ));
        }
        if self.prune_inactive_after_months > 0
            && self.prune_warning_days >= self.prune_inactive_after_months * 30
        {
            violations.push(FieldViolation::new(
                "pruning.warning_days",
                "must be shorter than pruning.inactive_accounts_after_months",
            ));
        }
        if self.mail_transport == MailTransportKind::Smtp && self.smtp_host.is_empty() {
            violations.push(FieldViolation::new(
                "mail.smtp.host",
                "the smtp transport needs a host",
            ));
        }
        violations
    }

    /// Whether `domain` (an email address's domain) may register.
    pub fn sign_up_accepts_domain(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        let covers = |listed: &String| {
            domain == *listed
                || domain
                    .strip_suffix(listed.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        };
        let allowed = self.sign_up_allowed_email_domains.is_empty()
            || self.sign_up_allowed_email_domains.iter().any(covers);
        allowed && !self.sign_up_blocked_email_domains.iter().any(covers)
    }
}

/// One setting's value, in the few shapes settings take.
#[derive(Debug, Clone)]
pub enum SettingValue {
    /// On or off.
    Bool(bool),
    /// A whole number.
    Number(u64),
    /// Text, including the name of a choice (`starttls`).
    Text(String),
    /// A list of text values.
    List(Vec<String>),
    /// A secret; `None` is unset.
    Secret(Option<SecretString>),
}

impl SettingValue {
    /// The value as the activity log and GetSettings show it: secrets only
    /// as `set` or `unset`.
    pub fn shown(&self) -> String {
        match self {
            SettingValue::Bool(value) => value.to_string(),
            SettingValue::Number(value) => value.to_string(),
            SettingValue::Text(value) => value.clone(),
            SettingValue::List(values) => values.join(","),
            SettingValue::Secret(Some(_)) => "set".to_owned(),
            SettingValue::Secret(None) => "unset".to_owned(),
        }
    }

    /// Whether two values are the same (secrets compared by content).
    pub fn same_as(&self, other: &SettingValue) -> bool {
        match (self, other) {
            (SettingValue::Bool(a), SettingValue::Bool(b)) => a == b,
            (SettingValue::Number(a), SettingValue::Number(b)) => a == b,
            (SettingValue::Text(a), SettingValue::Text(b)) => a == b,
            (SettingValue::List(a), SettingValue::List(b)) => a == b,
            (SettingValue::Secret(a), SettingValue::Secret(b)) => {
                a.as_ref().map(ExposeSecret::expose_secret)
                    == b.as_ref().map(ExposeSecret::expose_secret)
            }
            _ => false,
        }
    }
}

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// On or off.
    Bool,
    /// A whole number in `min..=max`.
    Number {
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// Text that `rule` checks.
    Text(TextRule),
    /// A list of email domains.
    Domains,
    /// A secret: written, never read back.
    Secret,
}

/// How a text setting is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    /// A mailbox such as `Example <no-reply@example.com>`.
    Mailbox,
    /// An `http` or `https` URL without query or fragment.
    BaseUrl,
    /// A short display name.
    Name,
    /// A host name or IP address.
    Host,
    /// An SMTP user name; empty for none.
    UserName,
    /// A time of day, `HH:MM` (24-hour clock).
    TimeOfDay,
}

/// `HH:MM` as minutes after midnight.
fn parse_time_of_day(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// One run-time setting: its key, the values it takes, and how it is read
/// from and written to [`RuntimeSettings`].
pub struct Setting {
    /// The key, as in the settings file (`auth.mfa_required`).
    pub key: &'static str,
    /// What values it takes.
    pub kind: SettingKind,
    /// Reads the setting.
    pub get: fn(&RuntimeSettings) -> SettingValue,
    /// Writes a value that [`Setting::check`] accepted.
    set: fn(&mut RuntimeSettings, SettingValue),
}

impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setting")
            .field("key", &self.key)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The longest list of domains a sign-up rule holds.
pub const MAX_DOMAINS: usize = 1_000;
/// The longest secret accepted, in characters.
const SECRET_MAX_CHARS: usize = 1_024;

impl Setting {
    /// Whether the setting is a secret, never shown.
    pub fn is_secret(&self) -> bool {
        self.kind == SettingKind::Secret
    }

    /// `value` in its normal form (domains lower-cased, text trimmed), or
    /// why the setting cannot take it.
    pub fn check(&self, value: SettingValue) -> Result<SettingValue, String> {
        match (self.kind, value) {
            (SettingKind::Bool, value @ SettingValue::Bool(_)) => Ok(value),
            (SettingKind::Number { min, max }, SettingValue::Number(n)) => {
                if (min..=max).contains(&n) {
                    Ok(SettingValue::Number(n))
                } else {
                    Err(format!("must be from {min} to {max}"))
                }
            }
            (SettingKind::Choice(names), SettingValue::Text(name)) => {
                if names.contains(&name.as_str()) {
                    Ok(SettingValue::Text(name))
                } else {
                    Err(format!("must be one of {}", names.join(", ")))
                }
            }
            (SettingKind::Text(rule), SettingValue::Text(text)) => {
                check_text(rule, text.trim()).map(SettingValue::Text)
            }
            (SettingKind::Domains, SettingValue::List(domains)) => {
                if domains.len() > MAX_DOMAINS {
                    return Err(format!("at most {MAX_DOMAINS} domains"));
                }
                let mut normal = Vec::with_capacity(domains.len());
                for domain in &domains {
                    let domain = check_domain(domain)?;
                    if !normal.contains(&domain) {
                        normal.push(domain);
                    }
                }
                Ok(SettingValue::List(normal))
            }
            (SettingKind::Secret, SettingValue::Secret(secret)) => match secret {
                Some(secret) if secret.expose_secret().is_empty() => Ok(SettingValue::Secret(None)),
                Some(secret) if secret.expose_secret().chars().count() > SECRET_MAX_CHARS => {
                    Err(format!("at most {SECRET_MAX_CHARS} characters"))
                }
                Some(secret) if secret.expose_secret().chars().any(char::is_control) => {
                    Err("must not contain control characters".to_owned())
                }
                other => Ok(SettingValue::Secret(other)),
            },
            _ => Err("has the wrong type for this setting".to_owned()),
        }
    }

    /// Checks `value` and writes it to `settings`.
    pub fn apply(&self, settings: &mut RuntimeSettings, value: SettingValue) -> Result<(), String> {
        let value = self.check(value)?;
        (self.set)(settings, value);
        Ok(())
    }

    /// The current value as the activity log shows it.
    pub fn shown(&self, settings: &RuntimeSettings) -> String {
        (self.get)(settings).shown()
    }
}

fn check_text(rule: TextRule, text: &str) -> Result<String, String> {
    let chars = text.chars().count();
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    match rule {
        TextRule::Mailbox => {
            if chars > 320 {
                return Err("at most 320 characters".to_owned());
            }
            text.parse::<lettre::message::Mailbox>()
                .map_err(|_| "must be an address such as 'Example <no-reply@example.com>'")?;
        }
        TextRule::BaseUrl => {
            if chars > 2_048 {
                return Err("at most 2048 characters".to_owned());
            }
            let url = url::Url::parse(text).map_err(|_| "must be an absolute URL")?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err("must be an http or https URL with a host".to_owned());
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err("must not have a query or fragment".to_owned());
            }
        }
        TextRule::Name => {
            if !(1..=100).contains(&chars) {
                return Err("must be 1 to 100 characters".to_owned());
            }
        }
        TextRule::Host => {
            if !(1..=253).contains(&chars) || text.chars().any(char::is_whitespace) {
                return Err("must be a host name or address (1 to 253 characters)".to_owned());
            }
        }
        TextRule::UserName => {
            if chars > 256 {
                return Err("at most 256 characters".to_owned());
            }
        }
        TextRule::TimeOfDay => {
            if parse_time_of_day(text).is_none() {
                return Err("must be a time of day such as 03:00 (24-hour clock, UTC)".to_owned());
            }
        }
    }
    Ok(text.to_owned())
}

/// `domain` lower-cased, or why it is not a domain name.
fn check_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(label_ok) {
        let shown: String = domain.chars().take(64).collect();
        return Err(format!(
            "'{shown}' is not a domain name such as example.com (write internationalised names in their xn-- form)"
        ));
    }
    Ok(domain)
}

fn transport_name(kind: MailTransportKind) -> &'static str {
    match kind {
        MailTransportKind::Log => "log",
        MailTransportKind::File => "file",
        MailTransportKind::Smtp => "smtp",
    }
}

fn tls_name(tls: SmtpTls) -> &'static str {
    match tls {
        SmtpTls::None => "none",
        SmtpTls::Starttls => "starttls",
        SmtpTls::Tls => "tls",
    }
}

fn mfa_name(requirement: MfaRequirement) -> &'static str {
    match requirement {
        MfaRequirement::None => "none",
        MfaRequirement::Clients => "clients",
        MfaRequirement::Staff => "staff",
        MfaRequirement::All => "all",
    }
}

macro_rules! flag {
    ($key:literal, $field:ident) => {
        Setting {
            key: $key,
            kind: SettingKind::Bool,
            get: |s| SettingValue::Bool(s.$field),
            set: |s, v| {
                if let SettingValue::Bool(b) = v {
                    s.$field = b;
                }
            },
        }
    };
}

// Numbers are cast only after `check` has kept them within the setting's
// bounds, which fit the field's type.
macro_rules! number {
    ($key:literal, $field:ident, $min:expr, $max:expr) => {
        Setting {
            key: $key,
            kind: SettingKind::Number {
                min: $min,
                max: $max,
            },
            get: |s| SettingValue::Number(s.$field as u64),
            set: |s, v| {
                if let SettingValue::Number(n) = v {
                    s.$field = n as _;
                }
            },
        }
    };
}

macro_rules! text {
    ($key:literal, $field:ident, $rule:expr) => {
        Setting {
            key: $key,
            kind: SettingKind::Text($rule),
            get: |s| SettingValue::Text(s.$field.clone()),
            set: |s, v| {
                if let SettingValue::Text(t) = v {
                    s.$field = t;
                }
            },
        }
    };
}

macro_rules! domains {
    ($key:literal, $field:ident) => {
        Setting {
            key: $key,
            kind: SettingKind::Domains,
            get: |s| SettingValue::List(s.$field.clone()),
            set: |s, v| {
                if let SettingValue::List(list) = v {
                    s.$field = list;
                }
            },
        }
    };
}

macro_rules! choice {
    ($key:literal, $field:ident, $names:expr, $name_of:ident, { $($name:literal => $value:expr),* $(,)? }) => {
        Setting {
            key: $key,
            kind: SettingKind::Choice($names),
            get: |s| SettingValue::Text($name_of(s.$field).to_owned()),
            set: |s, v| {
                if let SettingValue::Text(name) = v {
                    match name.as_str() {
                        $($name => s.$field = $value,)*
                        _ => {}
                    }
                }
            },
        }
    };
}

const DAY: u64 = 86_400;
const YEAR: u64 = 365 * DAY;

/// Every run-time setting, in the order GetSettings lists them.
pub static SETTINGS: &[Setting] = &[
    flag!("accounts.client_user_management", client_user_management),
    flag!("sign_up.open", sign_up_open),
    domains!(
        "sign_up.allowed_email_domains",
        sign_up_allowed_email_domains
    ),
    domains!(
        "sign_up.blocked_email_domains",
        sign_up_blocked_email_domains
    ),
    number!(
        "auth.session_idle_timeout_secs",
        session_idle_timeout_secs,
        60,
        YEAR
    ),
    number!(
        "auth.session_absolute_timeout_secs",
        session_absolute_timeout_secs,
        60,
        YEAR
    ),
    number!("auth.user_free_failures", user_free_failures, 1, 1_000),
    number!(
        "auth.address_free_failures",
        address_free_failures,
        1,
        100_000
    ),
    // NIST 800-63B: at most 100 consecutive failures per account.
    number!(
        "auth.user_total_free_failures",
        user_total_free_failures,
        1,
        100
    ),
    number!(
        "auth.throttle_base_delay_ms",
        throttle_base_delay_ms,
        1,
        3_600_000
    ),
    number!(
        "auth.throttle_max_delay_secs",
        throttle_max_delay_secs,
        1,
        DAY
    ),
    number!(
        "auth.throttle_forget_after_secs",
        throttle_forget_after_secs,
        60,
        30 * DAY
    ),
    choice!("auth.mfa_required", mfa_required, &["none", "clients", "staff", "all"], mfa_name, {
        "none" => MfaRequirement::None,
        "clients" => MfaRequirement::Clients,
        "staff" => MfaRequirement::Staff,
        "all" => MfaRequirement::All,
    }),
    number!("auth.sso_token_ttl_secs", sso_token_ttl_secs, 1, 60),
    flag!("auth.sso_bypasses_mfa", sso_bypasses_mfa),
    // NIST 800-63B: at least 8; at most the longest password accepted.
    number!(
        "passwords.min_length",
        password_min_length,
        8,
        crate::domain::PASSWORD_MAX_CHARS as u64
    ),
    number!("invitations.ttl_secs", invitation_ttl_secs, 3_600, 90 * DAY),
    number!(
        "invitations.mails_per_hour",
        invitation_mails_per_hour,
        1,
        10_000
    ),
    choice!("mail.transport", mail_transport, &["log", "file", "smtp"], transport_name, {
        "log" => MailTransportKind::Log,
        "file" => MailTransportKind::File,
        "smtp" => MailTransportKind::Smtp,
    }),
    text!("mail.from", mail_from, TextRule::Mailbox),
    text!("mail.public_base_url", public_base_url, TextRule::BaseUrl),
    text!("mail.product_name", product_name, TextRule::Name),
    text!("mail.smtp.host", smtp_host, TextRule::Host),
    number!("mail.smtp.port", smtp_port, 1, 65_535),
    choice!("mail.smtp.tls", smtp_tls, &["none", "starttls", "tls"], tls_name, {
        "none" => SmtpTls::None,
        "starttls" => SmtpTls::Starttls,
        "tls" => SmtpTls::Tls,
    }),
    text!("mail.smtp.username", smtp_username, TextRule::UserName),
    Setting {
        key: "mail.smtp.password",
        kind: SettingKind::Secret,
        get: |s| SettingValue::Secret(s.smtp_password.clone()),
        set: |s, v| {
            if let SettingValue::Secret(secret) = v {
                s.smtp_password = secret;
            }
        },
    },
    number!("mail.smtp.timeout_secs", smtp_timeout_secs, 1, 300),
    number!(
        "pruning.closed_accounts_after_days",
        prune_closed_after_days,
        0,
        3_650
    ),
    number!(
        "pruning.inactive_accounts_after_months",
        prune_inactive_after_months,
        0,
        120
    ),
    flag!("pruning.delete_orphan_users", prune_orphan_users),
    number!(
        "pruning.unverified_users_after_days",
        prune_unverified_after_days,
        0,
        365
    ),
    number!("pruning.warning_days", prune_warning_days, 1, 90),
    text!("pruning.run_at", prune_run_at, TextRule::TimeOfDay),
];

/// The setting with this key.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// The settings whose values differ between `before` and `after`, each with
/// its before and after as the activity log shows them (secrets as `set`,
/// `unset` or `changed`).
pub fn differences(
    before: &RuntimeSettings,
    after: &RuntimeSettings,
) -> BTreeMap<&'static str, (String, String)> {
    SETTINGS
        .iter()
        .filter(|setting| !(setting.get)(before).same_as(&(setting.get)(after)))
        .map(|setting| {
            let (old, mut new) = (setting.shown(before), setting.shown(after));
            if setting.is_secret() && old == new {
                new = "changed".to_owned();
            }
            (setting.key, (old, new))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RuntimeSettings {
        RuntimeSettings {
            client_user_management: true,
            sign_up_open: true,
            sign_up_allowed_email_domains: Vec::new(),
            sign_up_blocked_email_domains: Vec::new(),
            session_idle_timeout_secs: 7_200,
            session_absolute_timeout_secs: 86_400,
            user_free_failures: 5,
            address_free_failures: 50,
            user_total_free_failures: 100,
            throttle_base_delay_ms: 1_000,
            throttle_max_delay_secs: 900,
            throttle_forget_after_secs: 86_400,
            mfa_required: MfaRequirement::None,
            sso_token_ttl_secs: 60,
            sso_bypasses_mfa: false,
            password_min_length: 8,
            invitation_ttl_secs: 604_800,
            invitation_mails_per_hour: 30,
            mail_transport: MailTransportKind::Log,
            mail_from: "identityd <no-reply@localhost>".to_owned(),
            public_base_url: "http://localhost:8080".to_owned(),
            product_name: "identityd".to_owned(),
            smtp_host: "localhost".to_owned(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: None,
            smtp_timeout_secs: 10,
            prune_closed_after_days: 0,
            prune_inactive_after_months: 0,
            prune_orphan_users: false,
            prune_unverified_after_days: 0,
            prune_warning_days: 14,
            prune_run_at: "03:00".to_owned(),
        }
    }

    #[test]
    fn the_defaults_pass_every_rule_and_keys_are_unique() {
        assert!(defaults().violations().is_empty());
        let mut keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
    }

    #[test]
    fn every_setting_reads_back_what_it_was_given() {
        let mut settings = defaults();
        for setting in SETTINGS {
            let value = (setting.get)(&settings);
            setting
                .apply(&mut settings, value.clone())
                .expect("own value");
            assert!((setting.get)(&settings).same_as(&value), "{}", setting.key);
        }
        let tls = setting("mail.smtp.tls").unwrap();
        tls.apply(&mut settings, SettingValue::Text("tls".into()))
            .unwrap();
        assert_eq!(settings.smtp_tls, SmtpTls::Tls);
        let mfa = setting("auth.mfa_required").unwrap();
        mfa.apply(&mut settings, SettingValue::Text("staff".into()))
            .unwrap();
        assert_eq!(settings.mfa_required, MfaRequirement::Staff);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let mut settings = defaults();
        let number = setting("auth.sso_token_ttl_secs").unwrap();
        let err = number
            .apply(&mut settings, SettingValue::Number(61))
            .unwrap_err();
        assert_eq!(err, "must be from 1 to 60");
        let min = setting("passwords.min_length").unwrap();
        assert!(min.apply(&mut settings, SettingValue::Number(6)).is_err());
        let choice = setting("auth.mfa_required").unwrap();
        assert!(
            choice
                .apply(&mut settings, SettingValue::Text("some".into()))
                .unwrap_err()
                .contains("none, clients, staff, all")
        );
        let from = setting("mail.from").unwrap();
        assert!(
            from.apply(&mut settings, SettingValue::Text("not an address".into()))
                .is_err()
        );
        let run_at = setting("pruning.run_at").unwrap();
        for bad in ["3:00", "24:00", "03:60", "noon"] {
            assert!(
                run_at
                    .apply(&mut settings, SettingValue::Text(bad.into()))
                    .is_err(),
                "{bad}"
            );
        }
        let url = setting("mail.public_base_url").unwrap();
        for bad in ["ftp://x.example", "https://x.example/?a=1", "relative/path"] {
            assert!(
                url.apply(&mut settings, SettingValue::Text(bad.into()))
                    .is_err(),
                "{bad}"
            );
        }
        let wrong_type = setting("sign_up.open").unwrap();
        assert!(
            wrong_type
                .apply(&mut settings, SettingValue::Number(1))
                .is_err()
        );
        assert!(defaults().violations().is_empty(), "nothing half-applied");
    }

    #[test]
    fn domains_are_normalised_and_checked() {
        let allowed = setting("sign_up.allowed_email_domains").unwrap();
        let checked = allowed
            .check(SettingValue::List(vec![
                " Example.COM ".into(),
                "example.com".into(),
                "xn--bcher-kva.example".into(),
            ]))
            .unwrap();
        let SettingValue::List(list) = checked else {
            panic!("a list")
        };
        assert_eq!(list, ["example.com", "xn--bcher-kva.example"]);
        for bad in ["@example.com", "exa mple.com", "-x.com", "a..b", ""] {
            assert!(
                allowed.check(SettingValue::List(vec![bad.into()])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn sign_up_domains_cover_subdomains_but_not_look_alikes() {
        let mut settings = defaults();
        assert!(settings.sign_up_accepts_domain("anything.test"));
        settings.sign_up_blocked_email_domains = vec!["spam.test".into()];
        assert!(!settings.sign_up_accepts_domain("spam.test"));
        assert!(!settings.sign_up_accepts_domain("Mail.Spam.Test"));
        assert!(settings.sign_up_accepts_domain("notspam.test"));
        settings.sign_up_allowed_email_domains = vec!["corp.example".into()];
        assert!(settings.sign_up_accepts_domain("corp.example"));
        assert!(settings.sign_up_accepts_domain("eu.corp.example"));
        assert!(!settings.sign_up_accepts_domain("evilcorp.example"));
        assert!(!settings.sign_up_accepts_domain("other.example"));
    }

    #[test]
    fn differences_name_changed_settings_and_mask_secrets() {
        let before = defaults();
        let mut after = defaults();
        after.session_idle_timeout_secs = 600;
        after.smtp_password = Some(SecretString::from("hunter2-hunter2"));
        let diff = differences(&before, &after);
        assert_eq!(
            diff["auth.session_idle_timeout_secs"],
            ("7200".to_owned(), "600".to_owned())
        );
        assert_eq!(
            diff["mail.smtp.password"],
            ("unset".to_owned(), "set".to_owned())
        );
        let mut again = after.clone();
        again.smtp_password = Some(SecretString::from("another-password"));
        let diff = differences(&after, &again);
        assert_eq!(
            diff["mail.smtp.password"],
            ("set".to_owned(), "changed".to_owned())
        );
        assert_eq!(diff.len(), 1);
        assert!(!format!("{diff:?}").contains("another-password"));
    }

    #[test]
    fn cross_field_rules_hold() {
        let mut settings = defaults();
        settings.session_absolute_timeout_secs = 600;
        settings.session_idle_timeout_secs = 7_200;
        let violations = settings.violations();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "auth.session_absolute_timeout_secs");
    }
}
