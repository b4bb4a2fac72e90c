//! AuthService messages.

use super::accounts::{permission as account_permission_out, permissions_out};
use super::{page_size, timestamp};
use crate::app::{
    Denial, LoginAttempt, LoginOutcome, MfaChallenge, MfaStatus, Question, Registration,
    ResolvedSession, SSO_DESTINATION_MAX_CHARS, SecondStep, Session, SignedIn, SsoGrant,
    SsoOutcome, TotpEnrollment, Verdict,
};
use crate::crypto::{TokenKind, is_verification_code};
use crate::domain::{
    AccountId, AccountPermission, Email, FieldViolation, FullName, Locale, PageSize, Password,
    Permission, UserId, Username, ValidationError, Validator,
};
use crate::proto as pb;

/// The longest identifier or user agent accepted.
const TEXT_MAX: usize = 256;

impl From<Session> for pb::Session {
    fn from(session: Session) -> Self {
        pb::Session {
            id: session.id.to_string(),
            user_id: session.user_id.to_string(),
            account_id: session
                .account_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            client_ip: session.client_ip,
            user_agent: session.user_agent,
            create_time: Some(timestamp(session.created_at)),
            last_seen_time: Some(timestamp(session.last_seen_at)),
            expire_time: Some(timestamp(session.expires_at)),
            absolute_expire_time: Some(timestamp(session.absolute_expires_at)),
            current: session.current,
            authentication_methods: session
                .auth_methods
                .iter()
                .map(|method| method.as_str().to_owned())
                .collect(),
            mfa_enrollment_required: session.mfa_enrollment_required,
        }
    }
}

impl From<SignedIn> for pb::CompleteLoginResponse {
    fn from(signed_in: SignedIn) -> Self {
        pb::CompleteLoginResponse {
            session_token: signed_in.token,
            session: Some(signed_in.session.into()),
            account_selection_required: signed_in.account_selection_required,
            device_token: signed_in.device_token,
        }
    }
}

/// The Login answer: a session, or a challenge for the second factor.
pub fn login_response(outcome: LoginOutcome) -> pb::LoginResponse {
    match outcome {
        LoginOutcome::SignedIn(signed_in) => pb::LoginResponse {
            session_token: signed_in.token,
            device_token: signed_in.device_token,
            session: Some(signed_in.session.into()),
            account_selection_required: signed_in.account_selection_required,
            mfa_challenge: None,
        },
        LoginOutcome::MfaRequired(challenge) => pb::LoginResponse {
            mfa_challenge: Some(challenge_out(challenge)),
            ..pb::LoginResponse::default()
        },
    }
}

/// A parsed CreateSsoToken request.
pub fn sso_grant(request: pb::CreateSsoTokenRequest) -> Result<SsoGrant, ValidationError> {
    let pb::CreateSsoTokenRequest {
        user_id,
        account_id,
        destination,
    } = request;
    let mut v = Validator::new();
    let user_id = v.check(UserId::parse("user_id", &user_id));
    let account_id = if account_id.trim().is_empty() {
        Some(None)
    } else {
        v.check(AccountId::parse("account_id", account_id.trim()))
            .map(Some)
    };
    if destination.chars().count() > SSO_DESTINATION_MAX_CHARS {
        v.violation(
            "destination",
            format!("must be at most {SSO_DESTINATION_MAX_CHARS} characters"),
        );
    }
    v.finish_with(|| {
        Some(SsoGrant {
            user_id: user_id?,
            account_id: account_id?,
            destination,
        })
    })
}

/// The RedeemSsoToken answer: a session, or a challenge for the second factor.
pub fn sso_outcome(outcome: SsoOutcome) -> pb::RedeemSsoTokenResponse {
    match outcome {
        SsoOutcome::SignedIn(signed_in, destination) => pb::RedeemSsoTokenResponse {
            session_token: signed_in.token,
            session: Some(signed_in.session.into()),
            account_selection_required: signed_in.account_selection_required,
            destination,
            mfa_challenge: None,
        },
        SsoOutcome::MfaRequired(challenge, destination) => pb::RedeemSsoTokenResponse {
            destination,
            mfa_challenge: Some(challenge_out(challenge)),
            ..pb::RedeemSsoTokenResponse::default()
        },
    }
}

/// A user agent as given, if not too long.
pub fn user_agent(user_agent: &str) -> Result<String, FieldViolation> {
    if user_agent.chars().count() > TEXT_MAX {
        Err(FieldViolation::new(
            "user_agent",
            format!("must be at most {TEXT_MAX} characters"),
        ))
    } else {
        Ok(user_agent.to_owned())
    }
}

pub(super) fn challenge_out(challenge: MfaChallenge) -> pb::MfaChallenge {
    pb::MfaChallenge {
        challenge_token: challenge.token,
        expire_time: Some(timestamp(challenge.expires_at)),
        methods: challenge.methods.into_iter().map(str::to_owned).collect(),
    }
}

/// A parsed CompleteLogin request.
pub fn second_step(request: pb::CompleteLoginRequest) -> Result<SecondStep, ValidationError> {
    let pb::CompleteLoginRequest {
        challenge_token,
        code,
        user_agent,
        device_token,
    } = request;
    let mut v = Validator::new();
    if challenge_token.trim().is_empty() {
        v.violation("challenge_token", "is required");
    }
    let code = v.check(self::code("code", &code));
    if user_agent.chars().count() > TEXT_MAX {
        v.violation(
            "user_agent",
            format!("must be at most {TEXT_MAX} characters"),
        );
    }
    v.finish_with(|| {
        Some(SecondStep {
            challenge_token: challenge_token.trim().to_owned(),
            code: code?,
            user_agent,
            device_token: Some(device_token.trim().to_owned()).filter(|t| !t.is_empty()),
        })
    })
}

/// The answer to GetMfaStatus.
pub fn mfa_status(status: MfaStatus) -> pb::GetMfaStatusResponse {
    pb::GetMfaStatusResponse {
        totp_enabled: status.enabled_at.is_some(),
        enable_time: status.enabled_at.map(timestamp),
        backup_codes_remaining: i32::try_from(status.backup_codes_left).unwrap_or(i32::MAX),
        required_by_policy: status.required_by_policy,
    }
}

/// The answer to StartTotpEnrollment.
pub fn totp_enrollment(enrollment: TotpEnrollment) -> pb::StartTotpEnrollmentResponse {
    pb::StartTotpEnrollmentResponse {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_code_svg: enrollment.qr_code_svg,
        expire_time: Some(timestamp(enrollment.expires_at)),
    }
}

/// A required code field: not empty and not absurdly long.
pub fn code(field: &str, code: &str) -> Result<String, FieldViolation> {
    if code.trim().is_empty() {
        Err(FieldViolation::new(field, "is required"))
    } else if code.chars().count() > TEXT_MAX {
        Err(FieldViolation::new(field, "is too long"))
    } else {
        Ok(code.trim().to_owned())
    }
}

/// The introspection answer for a live session (`None`: inactive).
pub fn introspection(resolved: Option<ResolvedSession>) -> pb::IntrospectSessionResponse {
    let Some(resolved) = resolved else {
        return pb::IntrospectSessionResponse::default();
    };
    let (account_owner, account_permissions) = match &resolved.account {
        Some(grant) => (grant.owner, permissions_out(&grant.permissions)),
        None => (false, Vec::new()),
    };
    pb::IntrospectSessionResponse {
        active: true,
        session: Some(resolved.session.into()),
        user: Some(resolved.user.into()),
        account_owner,
        account_permissions,
        staff_permissions: resolved
            .staff_permissions
            .listed()
            .map(|p| p.name().to_owned())
            .collect(),
    }
}

/// A parsed Register request.
pub fn register(
    request: pb::RegisterRequest,
    password_min_chars: usize,
) -> Result<Registration, ValidationError> {
    let pb::RegisterRequest {
        full_name,
        username,
        email,
        password,
        locale,
    } = request;
    let mut v = Validator::new();
    let fields = SignUpFields {
        full_name: &full_name,
        username: &username,
        email: &email,
        password: &password,
        locale: &locale,
    };
    let registration = sign_up(&mut v, "", fields, password_min_chars);
    v.finish_with(|| registration)
}

/// The raw fields of a person signing themselves up.
pub(super) struct SignUpFields<'a> {
    pub full_name: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub locale: &'a str,
}

/// Parses a person's sign-up details (registration, or accepting an
/// invitation as a new user) into `v`, naming fields under `prefix`.
pub(super) fn sign_up(
    v: &mut Validator,
    prefix: &str,
    fields: SignUpFields<'_>,
    password_min_chars: usize,
) -> Option<Registration> {
    let field = |name: &str| format!("{prefix}{name}");
    let full_name = v.check(FullName::parse(&field("full_name"), fields.full_name));
    let username = v.check(Username::parse_unreserved(
        &field("username"),
        fields.username,
    ));
    let email = v.check(Email::parse(&field("email"), fields.email));
    // The person's own details are the first guesses an attacker makes.
    let hints = [fields.full_name, fields.username, fields.email];
    let password = v.check(Password::parse(
        &field("password"),
        fields.password,
        password_min_chars,
        &hints,
    ));
    let locale = if fields.locale.trim().is_empty() {
        Some(None)
    } else {
        v.check(Locale::parse(&field("locale"), fields.locale).map(Some))
    };
    Some(Registration {
        full_name: full_name?,
        username: username?,
        email: email?,
        password: password?,
        locale: locale?,
    })
}

/// A parsed VerifyEmail request.
pub fn verify_email(request: pb::VerifyEmailRequest) -> Result<(Email, String), ValidationError> {
    let pb::VerifyEmailRequest { email, code } = request;
    let mut v = Validator::new();
    let email = v.check(Email::parse("email", &email));
    let code = code.trim().to_owned();
    if !is_verification_code(&code) {
        v.violation("code", "must be the 6 digits from the email");
    }
    v.finish()?;
    email
        .map(|email| (email, code))
        .ok_or_else(|| ValidationError::single("email", "is invalid"))
}

/// A parsed Login request. Only the shape is checked: a password that
/// breaks today's policy may still be someone's current password.
pub fn login(request: pb::LoginRequest) -> Result<LoginAttempt, ValidationError> {
    let pb::LoginRequest {
        identifier,
        password,
        user_agent,
        device_token,
    } = request;
    let mut v = Validator::new();
    if identifier.trim().is_empty() {
        v.violation("identifier", "is required");
    } else if identifier.chars().count() > TEXT_MAX {
        v.violation(
            "identifier",
            format!("must have at most {TEXT_MAX} characters"),
        );
    }
    if password.is_empty() {
        v.violation("password", "is required");
    } else if password.chars().count() > crate::domain::PASSWORD_MAX_CHARS {
        v.violation(
            "password",
            format!(
                "must have at most {} characters",
                crate::domain::PASSWORD_MAX_CHARS
            ),
        );
    }
    if user_agent.chars().count() > TEXT_MAX {
        v.violation(
            "user_agent",
            format!("must have at most {TEXT_MAX} characters"),
        );
    }
    let device_token = match device_token.as_str() {
        "" => None,
        token if TokenKind::Device.fits(token) => Some(device_token),
        _ => {
            v.violation("device_token", "is not a device token from Login");
            None
        }
    };
    v.finish()?;
    Ok(LoginAttempt {
        identifier,
        password,
        user_agent,
        device_token,
    })
}

/// A parsed ListSessions request.
pub fn list_sessions(
    request: pb::ListSessionsRequest,
) -> Result<(Option<UserId>, PageSize, String), ValidationError> {
    let pb::ListSessionsRequest {
        user_id,
        page_size: size,
        page_token,
    } = request;
    let mut v = Validator::new();
    let user_id = if user_id.is_empty() {
        Some(None)
    } else {
        v.check(UserId::parse("user_id", &user_id).map(Some))
    };
    let size = page_size(&mut v, size);
    v.finish()?;
    user_id
        .map(|user_id| (user_id, size, page_token))
        .ok_or_else(|| ValidationError::single("user_id", "is invalid"))
}

/// A parsed CheckPermission request.
pub fn check_permission(
    request: pb::CheckPermissionRequest,
) -> Result<(String, Question), ValidationError> {
    use pb::check_permission_request::Permission as Wire;
    let pb::CheckPermissionRequest {
        session_token,
        permission,
        account_id,
    } = request;
    let mut v = Validator::new();
    if session_token.is_empty() {
        v.violation("session_token", "is required");
    }
    let account = if account_id.is_empty() {
        Some(None)
    } else {
        v.check(AccountId::parse("account_id", &account_id).map(Some))
    };
    let asked = match permission {
        Some(Wire::AccountPermission(value)) => {
            let parsed = pb::AccountPermission::try_from(value)
                .ok()
                .and_then(|wire| {
                    AccountPermission::ALL
                        .into_iter()
                        .find(|candidate| account_permission_out(*candidate) == wire)
                });
            if parsed.is_none() {
                v.violation("account_permission", "is not an account permission");
            }
            parsed
                .zip(account)
                .map(|(p, account)| Question::Account(p, account))
        }
        Some(Wire::StaffPermission(name)) => {
            if !account_id.is_empty() {
                v.violation("account_id", "applies to account permissions only");
            }
            match Permission::from_name(&name) {
                Ok(p) => Some(Question::Staff(p)),
                Err(_) => {
                    v.violation("staff_permission", "is not in the permission catalogue");
                    None
                }
            }
        }
        None => {
            v.violation("permission", "set account_permission or staff_permission");
            None
        }
    };
    v.finish()?;
    asked
        .map(|asked| (session_token, asked))
        .ok_or_else(|| ValidationError::single("permission", "is invalid"))
}

/// The CheckPermission answer.
pub fn verdict(verdict: Verdict) -> pb::CheckPermissionResponse {
    use pb::check_permission_response::Denial as Wire;
    let denial = match verdict.denial {
        None => Wire::Unspecified,
        Some(Denial::SessionInactive) => Wire::SessionInactive,
        Some(Denial::AccountNotSelected) => Wire::AccountNotSelected,
        Some(Denial::NotAMember) => Wire::NotAMember,
        Some(Denial::NotGranted) => Wire::NotGranted,
        Some(Denial::MfaEnrollmentRequired) => Wire::MfaEnrollmentRequired,
    };
    pb::CheckPermissionResponse {
        allowed: verdict.denial.is_none(),
        denial: denial.into(),
        user_id: verdict.user_id.map(|id| id.to_string()).unwrap_or_default(),
        account_id: verdict
            .account_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}
