//! Settings an operator changes while identityd runs (AdminService
//! GetSettings and UpdateSettings, and the mail templates), on top of the
//! settings file.
//!
//! The settings file and environment give each setting's value at start;
//! a value stored with UpdateSettings overrides it until it is reset. Every
//! stored change raises a generation number in the database; each replica
//! polls it (`server.settings_refresh_ms`) and reloads when it moves, so a
//! change reaches every replica within that time. Use cases and the mail
//! worker read [`LiveSettings::current`] for each call or mail, never a
//! copy taken at start.

mod live;
mod providers;
mod stored;
mod values;

pub use live::{LiveSettings, LiveSettingsError, Snapshot, Stamp, settings_etag, template_etag};
pub use providers::SignInProvider;
pub use stored::{StoredValueError, decode, encode};
pub use values::{
    MAX_DOMAINS, RuntimeSettings, SETTINGS, Setting, SettingKind, SettingValue, TextRule,
    differences, setting,
};
