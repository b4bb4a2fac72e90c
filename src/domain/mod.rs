//! Pure types and rules of identityd: validated values, the permission
//! catalogue, paging, request fingerprints. Nothing here does I/O or knows
//! about gRPC or the database.

mod account;
mod action;
mod billing;
mod contact;
mod email;
mod error;
mod fingerprint;
mod ids;
mod invitation;
mod mail;
mod mfa;
mod network;
mod paging;
mod password;
mod permission;
mod profile;
mod role;
mod secret;
mod session;
mod sign_in_provider;
mod text;
mod throttle;
mod time;
mod user;

pub use account::{
    AccountPermission, AccountPermissions, AccountRelation, AccountStatus, may_manage_members,
};
pub use action::{ACTIONS, ActionInfo, action_info};
pub use billing::{AccountChanges, AccountProfile, AccountProfileInput, ProfileField};
pub use contact::{ContactMail, ContactMails};
pub use email::Email;
pub use error::{FieldViolation, MAX_VIOLATIONS, ValidationError, Validator, truncate_text};
pub use fingerprint::Fingerprint;
pub use ids::{AccountId, ApiCredentialId, InvitationId, RoleId, SessionId, UserId};
pub use invitation::InvitationState;
pub use mail::MailStatus;
pub use mfa::{AuthMethod, AuthMethods, MfaRequirement};
pub use network::{BadNetwork, IpNetwork, TrustedProxies};
pub use paging::{PageCursor, PageSize};
pub use password::{PASSWORD_MAX_CHARS, Password};
pub use permission::{Permission, PermissionSet, UnknownPermission};
pub use profile::{Locale, PhotoUrl};
pub use role::{ROLE_DESCRIPTION_MAX, RoleKind, RoleName};
pub use secret::{REDACTED, Secret};
pub use session::Session;
pub use sign_in_provider::{
    DEFAULT_SCOPES, PROVIDER_ID_MAX_CHARS, SignInProviderInput, SignInProviderSpec,
    parse_provider_id,
};
pub use text::{Description, RequestId, bounded_text, is_invisible_or_bidi};
pub use throttle::ThrottleRule;
pub use time::{Clock, Timestamp};
pub use user::{FullName, User, UserStatus, Username};
