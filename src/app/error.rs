//! The use-case layer's error: what went wrong, in terms a caller can act on.

use crate::domain::ValidationError;
use crate::store::StoreError;

/// A stable, machine-readable reason carried in `google.rpc.ErrorInfo`. Callers
/// and tests match on these, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request has invalid fields; see the field violations.
    InvalidArgument,
    /// No bearer token was sent.
    TokenMissing,
    /// The authorization header or bearer token is malformed.
    TokenMalformed,
    /// The token does not belong to a usable credential.
    CredentialInvalid,
    /// The credential was revoked.
    CredentialRevoked,
    /// The credential passed its expiry time.
    CredentialExpired,
    /// The credential's owner is no longer an active staff user.
    CredentialOwnerNotStaff,
    /// The staff user who created the credential is no longer active staff.
    CredentialCreatorNotStaff,
    /// The credential's API roles grant permissions its owner's admin role lacks.
    CredentialExceedsOwner,
    /// The caller lacks the permission the method needs.
    PermissionDenied,
    /// The caller tried to grant or change permissions it does not hold itself.
    PrivilegeEscalation,
    /// No role has this id.
    RoleNotFound,
    /// No user has this id.
    UserNotFound,
    /// The user exists but is not staff.
    StaffUserNotFound,
    /// No API credential has this id.
    ApiCredentialNotFound,
    /// Another role of this kind has this name.
    RoleNameTaken,
    /// Another user has this email address.
    EmailTaken,
    /// Another user has this username.
    UsernameTaken,
    /// The request id was used before for a request with other content.
    RequestIdReused,
    /// The role is held by staff users or carried by live API credentials.
    RoleInUse,
    /// The role is of the wrong kind for this use.
    RoleKindMismatch,
    /// The user is not staff.
    NotStaff,
    /// The user is not active.
    UserNotActive,
    /// The change would leave no active staff user with full access.
    LastFullAccessStaff,
    /// A full-access role grants everything; its permissions cannot be listed.
    FullAccessRoleFixed,
    /// No account has this id.
    AccountNotFound,
    /// The user is not a member of the account.
    MemberNotFound,
    /// The user is already a member of the account.
    AlreadyMember,
    /// The owner's permissions cannot be edited.
    OwnerPermissionsFixed,
    /// The owner cannot be removed from the account.
    OwnerCannotBeRemoved,
    /// The account is closed.
    AccountClosed,
    /// The user owns a client account.
    UserOwnsAccount,
    /// Client-side user management is disabled.
    ClientUserManagementDisabled,
    /// No mail has this id.
    MailNotFound,
    /// The mail is not failed, so it cannot be retried.
    MailNotFailed,
    /// Every password hashing thread is busy and the queue is full.
    PasswordHashingBusy,
    /// Sign-in failed: unknown user, wrong password, or a user who cannot sign in.
    LoginFailed,
    /// Too many failed attempts; wait before trying again.
    TooManyAttempts,
    /// The session token is unknown, expired or revoked.
    SessionInvalid,
    /// No such session.
    SessionNotFound,
    /// The verification code is wrong, expired or used up.
    VerificationCodeInvalid,
    /// The reset token is unknown, expired or already used.
    ResetTokenInvalid,
    /// The current password given is wrong.
    CurrentPasswordWrong,
    /// No invitation has this id.
    InvitationNotFound,
    /// The address already has a pending invitation to this account.
    InvitationPending,
    /// The invitation is no longer pending (accepted or cancelled).
    InvitationNotPending,
    /// The invitation token is unknown, expired, cancelled or already used.
    InvitationTokenInvalid,
    /// Only staff and API credentials may take a link instead of a mail.
    LinkRequiresStaff,
    /// The inviter cannot accept their own invitation.
    InviterCannotAccept,
    /// Staff cannot invite staff users into client accounts.
    InviteeIsStaff,
    /// The inviter may no longer invite into the account.
    InvitationWithdrawn,
    /// The session already acts for an account.
    AccountAlreadySelected,
    /// The session acts for no account yet.
    NoAccountSelected,
    /// The call concerns an account the session does not act for.
    AccountNotSelected,
    /// The method needs a user session.
    SessionRequired,
    /// The session may only enrol a second factor, which the policy requires.
    MfaEnrollmentRequired,
    /// The MFA challenge is unknown, used, expired or dead after wrong codes.
    MfaChallengeInvalid,
    /// The SSO token is unknown, used or expired, or no longer signs anyone in.
    SsoTokenInvalid,
    /// The TOTP or backup code is wrong, used, or for another time.
    MfaCodeInvalid,
    /// The user has a second factor, so this change needs a current code.
    MfaCodeRequired,
    /// The user has no second factor to use, change or turn off.
    MfaNotEnabled,
    /// The user already has a second factor; turn it off first.
    MfaAlreadyEnabled,
    /// No TOTP enrolment is waiting for confirmation (or it expired).
    MfaEnrollmentNotStarted,
    /// The settings or template changed since the caller read them.
    EtagMismatch,
    /// Register is closed.
    SignUpClosed,
    /// The address's domain may not register.
    SignUpDomainRefused,
    /// No template is stored for this kind and locale.
    MailTemplateNotStored,
    /// Another retention run holds the lease.
    RetentionRunning,
    /// Mutual TLS is on and the caller presented no verified client certificate.
    ClientCertificateRequired,
    /// No contact has this id (for this caller).
    ContactNotFound,
    /// The account has a contact with this email address already.
    ContactEmailTaken,
    /// The account has as many contacts as it may keep.
    ContactLimitReached,
    /// No sign-in provider has this id (or it is turned off).
    SignInProviderNotFound,
    /// The external sign-in's state is unknown, used or expired.
    ExternalStateInvalid,
    /// The external provider cannot be reached or read.
    ExternalProviderUnavailable,
    /// The external provider refused the sign-in.
    ExternalProviderRefused,
    /// The external provider's token did not pass verification.
    ExternalTokenInvalid,
    /// The external provider did not vouch for an email address.
    ExternalEmailUnverified,
    /// The address belongs to a user the provider may not link to by email.
    ExternalLinkRequired,
    /// No external identity has this id (for this caller).
    ExternalIdentityNotFound,
    /// Removing this would leave the user no way to sign in.
    LastSignInMethod,
    /// The database is unreachable.
    DatabaseUnavailable,
    /// This replica has as many calls in progress as it accepts.
    ServerBusy,
    /// The call ran longer than the server allows and was stopped.
    CallTimeout,
    /// Something failed inside identityd.
    Internal,
    /// The request body is not a valid protobuf message of the method's type.
    MalformedRequest,
    /// The request message is larger than the server accepts.
    RequestTooLarge,
}

impl Reason {
    /// The reason as it appears in `ErrorInfo.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::TokenMissing => "TOKEN_MISSING",
            Reason::TokenMalformed => "TOKEN_MALFORMED",
            Reason::CredentialInvalid => "CREDENTIAL_INVALID",
            Reason::CredentialRevoked => "CREDENTIAL_REVOKED",
            Reason::CredentialExpired => "CREDENTIAL_EXPIRED",
            Reason::CredentialOwnerNotStaff => "CREDENTIAL_OWNER_NOT_STAFF",
            Reason::CredentialCreatorNotStaff => "CREDENTIAL_CREATOR_NOT_STAFF",
            Reason::CredentialExceedsOwner => "CREDENTIAL_EXCEEDS_OWNER",
            Reason::PermissionDenied => "PERMISSION_DENIED",
            Reason::PrivilegeEscalation => "PRIVILEGE_ESCALATION",
            Reason::RoleNotFound => "ROLE_NOT_FOUND",
            Reason::UserNotFound => "USER_NOT_FOUND",
            Reason::StaffUserNotFound => "STAFF_USER_NOT_FOUND",
            Reason::ApiCredentialNotFound => "API_CREDENTIAL_NOT_FOUND",
            Reason::RoleNameTaken => "ROLE_NAME_TAKEN",
            Reason::EmailTaken => "EMAIL_TAKEN",
            Reason::UsernameTaken => "USERNAME_TAKEN",
            Reason::RequestIdReused => "REQUEST_ID_REUSED",
            Reason::RoleInUse => "ROLE_IN_USE",
            Reason::RoleKindMismatch => "ROLE_KIND_MISMATCH",
            Reason::NotStaff => "NOT_STAFF",
            Reason::UserNotActive => "USER_NOT_ACTIVE",
            Reason::LastFullAccessStaff => "LAST_FULL_ACCESS_STAFF",
            Reason::FullAccessRoleFixed => "FULL_ACCESS_ROLE_FIXED",
            Reason::AccountNotFound => "ACCOUNT_NOT_FOUND",
            Reason::MemberNotFound => "MEMBER_NOT_FOUND",
            Reason::AlreadyMember => "ALREADY_MEMBER",
            Reason::OwnerPermissionsFixed => "OWNER_PERMISSIONS_FIXED",
            Reason::OwnerCannotBeRemoved => "OWNER_CANNOT_BE_REMOVED",
            Reason::AccountClosed => "ACCOUNT_CLOSED",
            Reason::UserOwnsAccount => "USER_OWNS_ACCOUNT",
            Reason::ClientUserManagementDisabled => "CLIENT_USER_MANAGEMENT_DISABLED",
            Reason::MailNotFound => "MAIL_NOT_FOUND",
            Reason::MailNotFailed => "MAIL_NOT_FAILED",
            Reason::PasswordHashingBusy => "PASSWORD_HASHING_BUSY",
            Reason::LoginFailed => "LOGIN_FAILED",
            Reason::TooManyAttempts => "TOO_MANY_ATTEMPTS",
            Reason::SessionInvalid => "SESSION_INVALID",
            Reason::SessionNotFound => "SESSION_NOT_FOUND",
            Reason::VerificationCodeInvalid => "VERIFICATION_CODE_INVALID",
            Reason::ResetTokenInvalid => "RESET_TOKEN_INVALID",
            Reason::CurrentPasswordWrong => "CURRENT_PASSWORD_WRONG",
            Reason::InvitationNotFound => "INVITATION_NOT_FOUND",
            Reason::InvitationPending => "INVITATION_PENDING",
            Reason::InvitationNotPending => "INVITATION_NOT_PENDING",
            Reason::InvitationTokenInvalid => "INVITATION_TOKEN_INVALID",
            Reason::LinkRequiresStaff => "LINK_REQUIRES_STAFF",
            Reason::InviterCannotAccept => "INVITER_CANNOT_ACCEPT",
            Reason::InviteeIsStaff => "INVITEE_IS_STAFF",
            Reason::InvitationWithdrawn => "INVITATION_WITHDRAWN",
            Reason::AccountAlreadySelected => "ACCOUNT_ALREADY_SELECTED",
            Reason::NoAccountSelected => "NO_ACCOUNT_SELECTED",
            Reason::AccountNotSelected => "ACCOUNT_NOT_SELECTED",
            Reason::SessionRequired => "SESSION_REQUIRED",
            Reason::MfaEnrollmentRequired => "MFA_ENROLLMENT_REQUIRED",
            Reason::MfaChallengeInvalid => "MFA_CHALLENGE_INVALID",
            Reason::SsoTokenInvalid => "SSO_TOKEN_INVALID",
            Reason::MfaCodeInvalid => "MFA_CODE_INVALID",
            Reason::MfaCodeRequired => "MFA_CODE_REQUIRED",
            Reason::MfaNotEnabled => "MFA_NOT_ENABLED",
            Reason::MfaAlreadyEnabled => "MFA_ALREADY_ENABLED",
            Reason::MfaEnrollmentNotStarted => "MFA_ENROLLMENT_NOT_STARTED",
            Reason::EtagMismatch => "ETAG_MISMATCH",
            Reason::SignUpClosed => "SIGN_UP_CLOSED",
            Reason::SignUpDomainRefused => "SIGN_UP_DOMAIN_REFUSED",
            Reason::MailTemplateNotStored => "MAIL_TEMPLATE_NOT_STORED",
            Reason::RetentionRunning => "RETENTION_RUNNING",
            Reason::ClientCertificateRequired => "CLIENT_CERTIFICATE_REQUIRED",
            Reason::ContactNotFound => "CONTACT_NOT_FOUND",
            Reason::ContactEmailTaken => "CONTACT_EMAIL_TAKEN",
            Reason::ContactLimitReached => "CONTACT_LIMIT_REACHED",
            Reason::SignInProviderNotFound => "SIGN_IN_PROVIDER_NOT_FOUND",
            Reason::ExternalStateInvalid => "EXTERNAL_STATE_INVALID",
            Reason::ExternalProviderUnavailable => "EXTERNAL_PROVIDER_UNAVAILABLE",
            Reason::ExternalProviderRefused => "EXTERNAL_PROVIDER_REFUSED",
            Reason::ExternalTokenInvalid => "EXTERNAL_TOKEN_INVALID",
            Reason::ExternalEmailUnverified => "EXTERNAL_EMAIL_UNVERIFIED",
            Reason::ExternalLinkRequired => "EXTERNAL_LINK_REQUIRED",
            Reason::ExternalIdentityNotFound => "EXTERNAL_IDENTITY_NOT_FOUND",
            Reason::LastSignInMethod => "LAST_SIGN_IN_METHOD",
            Reason::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Reason::ServerBusy => "SERVER_BUSY",
            Reason::CallTimeout => "CALL_TIMEOUT",
            Reason::Internal => "INTERNAL",
            Reason::MalformedRequest => "MALFORMED_REQUEST",
            Reason::RequestTooLarge => "REQUEST_TOO_LARGE",
        }
    }

    /// A sentence for people reading the status message.
    pub fn message(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "the request has invalid fields",
            Reason::TokenMissing => "send 'authorization: Bearer <token>'",
            Reason::TokenMalformed => "the bearer token is malformed",
            Reason::CredentialInvalid => "the bearer token is not valid",
            Reason::CredentialRevoked => "the API credential was revoked",
            Reason::CredentialExpired => "the API credential has expired",
            Reason::CredentialOwnerNotStaff => {
                "the API credential's owner is no longer active staff"
            }
            Reason::CredentialCreatorNotStaff => {
                "the staff user who created the API credential is no longer active staff"
            }
            Reason::CredentialExceedsOwner => {
                "the API roles grant permissions the owner's admin role lacks; see missing_permissions"
            }
            Reason::PermissionDenied => "the caller lacks the permission this method needs",
            Reason::PrivilegeEscalation => {
                "the caller cannot grant or change permissions it does not hold"
            }
            Reason::RoleNotFound => "no such role",
            Reason::UserNotFound => "no such user",
            Reason::StaffUserNotFound => "no such staff user",
            Reason::ApiCredentialNotFound => "no such API credential",
            Reason::RoleNameTaken => "a role of this kind already has this name",
            Reason::EmailTaken => "a user with this email address already exists",
            Reason::UsernameTaken => "a user with this username already exists",
            Reason::RequestIdReused => "this request id was already used for a different request",
            Reason::RoleInUse => "the role is in use by staff users or API credentials",
            Reason::RoleKindMismatch => "the role is of the wrong kind for this use",
            Reason::NotStaff => "the user is not staff",
            Reason::UserNotActive => "the user is not active",
            Reason::LastFullAccessStaff => {
                "the change would leave no active staff user with full access"
            }
            Reason::FullAccessRoleFixed => {
                "a full-access role grants every permission; its permissions cannot be changed"
            }
            Reason::AccountNotFound => "no such account",
            Reason::MemberNotFound => "the user is not a member of this account",
            Reason::AlreadyMember => "the user is already a member of this account",
            Reason::OwnerPermissionsFixed => {
                "the owner holds every permission; their permissions cannot be edited"
            }
            Reason::OwnerCannotBeRemoved => "the owner cannot be removed; transfer ownership first",
            Reason::AccountClosed => "the account is closed; reopen it first",
            Reason::UserOwnsAccount => {
                "the user owns a client account; transfer or delete it first"
            }
            Reason::ClientUserManagementDisabled => {
                "client-side user management is disabled; ask staff"
            }
            Reason::MailNotFound => "no such mail",
            Reason::MailNotFailed => "only a failed mail can be retried",
            Reason::PasswordHashingBusy => "too many passwords are being hashed; retry shortly",
            Reason::LoginFailed => {
                "the identifier or password is wrong, or this user cannot sign in"
            }
            Reason::TooManyAttempts => "too many failed attempts; wait before trying again",
            Reason::SessionInvalid => {
                "the session has ended or the token is not valid; sign in again"
            }
            Reason::SessionNotFound => "no such session",
            Reason::VerificationCodeInvalid => {
                "the code is wrong, expired or used up; request a new one"
            }
            Reason::ResetTokenInvalid => {
                "the reset link is not valid, has expired or was already used; request a new one"
            }
            Reason::CurrentPasswordWrong => "the current password is wrong",
            Reason::InvitationNotFound => "no such invitation",
            Reason::InvitationPending => {
                "this address already has a pending invitation to this account; resend it or replace it"
            }
            Reason::InvitationNotPending => "the invitation was already accepted or cancelled",
            Reason::InvitationTokenInvalid => {
                "the invitation link is not valid, has expired, was cancelled or was already used"
            }
            Reason::LinkRequiresStaff => {
                "only staff and API credentials may take the link instead of a mail; set send_email"
            }
            Reason::InviterCannotAccept => "the inviter cannot accept their own invitation",
            Reason::InviteeIsStaff => {
                "staff cannot invite a staff user's address; staff reach accounts through their role"
            }
            Reason::InvitationWithdrawn => {
                "whoever sent this invitation may no longer invite to this account"
            }
            Reason::AccountAlreadySelected => {
                "the session already acts for an account; use SwitchAccount"
            }
            Reason::NoAccountSelected => "the session acts for no account yet; use SelectAccount",
            Reason::AccountNotSelected => {
                "the session acts for another account, or none; select this account first"
            }
            Reason::SessionRequired => "this method needs a signed-in user session",
            Reason::MfaEnrollmentRequired => {
                "two-factor authentication is required: enrol with StartTotpEnrollment and ConfirmTotpEnrollment first"
            }
            Reason::MfaChallengeInvalid => {
                "the sign-in challenge is not valid (unknown, used, expired or too many wrong codes): sign in again"
            }
            Reason::MfaCodeInvalid => "the code is not valid",
            Reason::SsoTokenInvalid => {
                "the SSO token is not valid (unknown, used or expired): ask for a new one"
            }
            Reason::MfaCodeRequired => "a current two-factor code is required for this change",
            Reason::MfaNotEnabled => "two-factor authentication is not on for this user",
            Reason::MfaAlreadyEnabled => {
                "two-factor authentication is already on; turn it off first to enrol again"
            }
            Reason::MfaEnrollmentNotStarted => {
                "no enrolment is waiting for confirmation: start one with StartTotpEnrollment"
            }
            Reason::EtagMismatch => {
                "someone changed this since you read it: read it again, then retry with the new etag"
            }
            Reason::SignUpClosed => "sign-up is closed; ask for an invitation",
            Reason::SignUpDomainRefused => "addresses at this domain may not sign up",
            Reason::MailTemplateNotStored => {
                "no template is stored for this kind and locale; nothing to reset"
            }
            Reason::RetentionRunning => {
                "a retention run is in progress on this or another replica; wait for it"
            }
            Reason::ClientCertificateRequired => {
                "this server requires a client certificate signed by its client CA (mutual TLS)"
            }
            Reason::ContactNotFound => "no contact has this id",
            Reason::ContactEmailTaken => "the account has a contact with this email address",
            Reason::ContactLimitReached => "the account has as many contacts as it may keep (100)",
            Reason::SignInProviderNotFound => "no enabled sign-in provider has this id",
            Reason::ExternalStateInvalid => {
                "the sign-in's state is unknown, already used or expired; start again"
            }
            Reason::ExternalProviderUnavailable => {
                "the sign-in provider cannot be reached or read; retry later"
            }
            Reason::ExternalProviderRefused => {
                "the sign-in provider refused the sign-in; see provider_error"
            }
            Reason::ExternalTokenInvalid => {
                "the sign-in provider's token did not pass verification; see provider_error"
            }
            Reason::ExternalEmailUnverified => {
                "the sign-in provider did not vouch for an email address; verify it there first"
            }
            Reason::ExternalLinkRequired => {
                "a user already has this email address; sign in with the password instead"
            }
            Reason::ExternalIdentityNotFound => "no linked external identity has this id",
            Reason::LastSignInMethod => {
                "this is the user's only way to sign in; set a password first"
            }
            Reason::DatabaseUnavailable => "the database is unavailable; retry later",
            Reason::ServerBusy => "the server has too many calls in progress; retry shortly",
            Reason::CallTimeout => "the call took longer than the server allows and was stopped",
            Reason::Internal => "internal error",
            Reason::MalformedRequest => "the request body is not a valid message for this method",
            Reason::RequestTooLarge => "the request message is larger than the server accepts",
        }
    }
}

/// Why a use case could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The caller did not prove who it is.
    #[error("unauthenticated: {} ({})", .0.message(), .0.as_str())]
    Unauthenticated(Reason),
    /// The caller may not do this.
    #[error("permission denied: {} ({})", .0.message(), .0.as_str())]
    PermissionDenied(Reason),
    /// What the request names does not exist.
    #[error("not found: {} ({})", .0.message(), .0.as_str())]
    NotFound(Reason),
    /// What the request would create exists already.
    #[error("already exists: {} ({})", .0.message(), .0.as_str())]
    AlreadyExists(Reason),
    /// The system is not in a state where this can be done.
    #[error("failed precondition: {} ({})", .0.message(), .0.as_str())]
    FailedPrecondition(Reason),
    /// A concurrent change got there first; the caller may read again and retry.
    #[error("aborted: {} ({})", .0.message(), .0.as_str())]
    Aborted(Reason),
    /// A bounded resource is full; the caller may retry shortly.
    #[error("resource exhausted: {} ({})", .0.message(), .0.as_str())]
    ResourceExhausted(Reason),
    /// Too many failed attempts; the caller may retry after the delay.
    #[error("throttled for {0:?}")]
    Throttled(std::time::Duration),
    /// A service identityd depends on (a sign-in provider) cannot be
    /// reached; the caller may retry.
    #[error("unavailable: {} ({})", .0.message(), .0.as_str())]
    Upstream(Reason),
    /// The database was found unreachable moments ago and is not tried
    /// again until a probe reaches it; the caller may retry shortly.
    #[error("the database is down")]
    DatabaseDown,
    /// The database cannot be reached; the caller may retry.
    #[error("unavailable")]
    Unavailable(#[source] StoreError),
    /// The replica is at its limit of calls in progress; the call was not
    /// started, so the caller may retry it safely.
    #[error("server busy")]
    Busy,
    /// The call ran past the server's time limit and was stopped; whether a
    /// change it made was committed is unknown, so retry with the same request id.
    #[error("call timed out")]
    TimedOut,
    /// A bug or an unexpected failure; details go to the log, not the caller.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Another error with facts for the caller in its `ErrorInfo` metadata,
    /// such as the permissions it lacks.
    #[error("{0}")]
    WithMetadata(Box<AppError>, Vec<(&'static str, String)>),
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => AppError::Unavailable(err),
            StoreError::UniqueViolation(_)
            | StoreError::ForeignKeyViolation(_)
            | StoreError::Database(_)
            | StoreError::Corrupt(_) => AppError::Internal(Box::new(err)),
        }
    }
}

impl From<crate::crypto::PasswordHashError> for AppError {
    fn from(err: crate::crypto::PasswordHashError) -> Self {
        match err {
            crate::crypto::PasswordHashError::Busy => {
                AppError::ResourceExhausted(Reason::PasswordHashingBusy)
            }
            crate::crypto::PasswordHashError::Failed(_) => AppError::Internal(Box::new(err)),
        }
    }
}

impl From<crate::domain::FieldViolation> for AppError {
    fn from(violation: crate::domain::FieldViolation) -> Self {
        AppError::Invalid(violation.into())
    }
}

impl AppError {
    /// This error with `key: value` added to its `ErrorInfo` metadata.
    pub fn with_metadata(self, key: &'static str, value: impl Into<String>) -> Self {
        match self {
            AppError::WithMetadata(inner, mut metadata) => {
                metadata.push((key, value.into()));
                AppError::WithMetadata(inner, metadata)
            }
            other => AppError::WithMetadata(Box::new(other), vec![(key, value.into())]),
        }
    }

    /// An internal error for data identityd wrote itself but cannot read back.
    pub fn corrupt(what: impl Into<String>) -> Self {
        AppError::Internal(Box::new(StoreError::Corrupt(what.into())))
    }
}
