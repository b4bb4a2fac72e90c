//! `Debug` for the API messages that carry a secret: a password, a session
//! or link token, a mailed code, an API credential's secret or an accept
//! link. `build.rs` finds them by field name (`password`, `*_token`,
//! `code`, `secret`, `*_link`...) and tells prost not to derive `Debug` for
//! them; this module writes it with the secret replaced by `[redacted]` (or
//! `""` when the field is empty, so a log still shows whether it was sent),
//! so a `{:?}` of a request or reply can never print one.
//!
//! A new secret field in a new message leaves that message without `Debug`,
//! which prost requires: the build fails until an impl is written here. Each
//! impl destructures its message, so a field added to one of these messages
//! fails the build here too, until someone decides whether it is secret.

use std::fmt;
use std::marker::PhantomData;

use crate::domain::REDACTED;
use crate::proto as pb;

/// What a secret string field shows: whether it was set, never its value.
fn hidden(value: &str) -> &'static str {
    if value.is_empty() { "" } else { REDACTED }
}

/// What a list of secrets shows: how many there are, never one of them.
fn hidden_list(values: &[String]) -> String {
    format!("[{} × {REDACTED}]", values.len())
}

/// An enum field as prost's derived `Debug` shows it: the name of a known
/// value, the number of an unknown one.
struct Named<E>(i32, PhantomData<E>);

impl<E> Named<E> {
    fn of(value: i32) -> Self {
        Self(value, PhantomData)
    }
}

impl<E: TryFrom<i32> + fmt::Debug> fmt::Debug for Named<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match E::try_from(self.0) {
            Ok(known) => known.fmt(f),
            Err(_) => self.0.fmt(f),
        }
    }
}

/// `Debug` for `pb::$message`, showing every field in order, the ones
/// marked `secret` as [`hidden`] and the ones marked `enum E` by name
/// ([`Named`]). It destructures the message with every field named, so a
/// field added to the message fails the build here until it is listed (and
/// someone has decided whether it is secret).
macro_rules! redacted_debug {
    ($message:ident { $($field:ident $($mark:ident $($enum:ident)?)?),* $(,)? }) => {
        impl fmt::Debug for pb::$message {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let Self { $($field),* } = self;
                f.debug_struct(stringify!($message))
                    $(.field(
                        stringify!($field),
                        redacted_debug!(@value $field $($mark $($enum)?)?),
                    ))*
                    .finish()
            }
        }
    };
    (@value $field:ident) => {
        $field
    };
    (@value $field:ident secret) => {
        &hidden($field)
    };
    (@value $field:ident secrets) => {
        &hidden_list($field)
    };
    (@value $field:ident enum $enum:ident) => {
        &Named::<pb::$enum>::of(*$field)
    };
}

redacted_debug!(RegisterRequest { full_name, username, email, password secret, locale });

redacted_debug!(VerifyEmailRequest { email, code secret });

redacted_debug!(SmtpServer {
    host,
    port,
    tls enum SmtpTls,
    username,
    password secret,
    timeout_secs,
});

redacted_debug!(LoginRequest { identifier, password secret, user_agent, device_token secret });

redacted_debug!(LoginResponse {
    session_token secret,
    session,
    account_selection_required,
    device_token secret,
    mfa_challenge,
});

redacted_debug!(MfaChallenge { challenge_token secret, expire_time, methods });

redacted_debug!(CompleteLoginRequest {
    challenge_token secret,
    code secret,
    user_agent,
    device_token secret,
});

redacted_debug!(CompleteLoginResponse {
    session_token secret,
    session,
    account_selection_required,
    device_token secret,
});

redacted_debug!(StartTotpEnrollmentResponse {
    secret secret,
    otpauth_uri secret,
    qr_code_svg secret,
    expire_time,
});

redacted_debug!(CreateSsoTokenResponse { sso_token secret, expire_time });

redacted_debug!(RedeemSsoTokenRequest { sso_token secret, user_agent });

redacted_debug!(RedeemSsoTokenResponse {
    session_token secret,
    session,
    account_selection_required,
    destination,
    mfa_challenge,
});

redacted_debug!(CompleteExternalSignInRequest {
    state secret,
    code secret,
    error,
    error_description,
    user_agent,
});

redacted_debug!(CompleteExternalSignInResponse {
    session_token secret,
    session,
    account_selection_required,
    mfa_challenge,
    link enum ExternalLink,
    provider_id,
});

redacted_debug!(SignInProviderConfig {
    id,
    display_name,
    issuer_url,
    client_id,
    client_secret secret,
    client_secret_set,
    scopes,
    redirect_uris,
    link_by_email,
    enabled,
    create_time,
    update_time,
    updated_by,
});

redacted_debug!(ConfirmTotpEnrollmentRequest { code secret, password secret });

redacted_debug!(ConfirmTotpEnrollmentResponse { backup_codes secrets });

redacted_debug!(DisableTotpRequest { password secret, code secret });

redacted_debug!(RegenerateBackupCodesRequest { code secret });

redacted_debug!(RegenerateBackupCodesResponse { backup_codes secrets });

redacted_debug!(ChangePasswordRequest {
    current_password secret,
    new_password secret,
    mfa_code secret,
});

redacted_debug!(IntrospectSessionRequest { session_token secret });

redacted_debug!(CheckPermissionRequest { session_token secret, account_id, permission });

impl fmt::Debug for pb::check_permission_request::Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use pb::check_permission_request::Permission;
        // Nothing secret here; skipping Debug for the request skips it for
        // its oneof too, so it is written out as prost would.
        match self {
            Permission::AccountPermission(value) => f
                .debug_tuple("AccountPermission")
                .field(&Named::<pb::AccountPermission>::of(*value))
                .finish(),
            Permission::StaffPermission(name) => {
                f.debug_tuple("StaffPermission").field(name).finish()
            }
        }
    }
}

redacted_debug!(ResetPasswordRequest { token secret, new_password secret });

redacted_debug!(CreateApiCredentialResponse { api_credential, secret secret, token secret });

redacted_debug!(CreateInvitationResponse { invitation, accept_link secret });

redacted_debug!(ResendInvitationResponse { invitation, accept_link secret });

redacted_debug!(PreviewInvitationRequest { token secret });

// The acceptor's own Debug (InvitedUser's, below) hides its password.
redacted_debug!(AcceptInvitationRequest { token secret, acceptor });

impl fmt::Debug for pb::accept_invitation_request::Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NewUser(user) => f.debug_tuple("NewUser").field(user).finish(),
        }
    }
}

redacted_debug!(InvitedUser { full_name, username, email, password secret, locale });

redacted_debug!(NewOwner { username, password secret, locale, send_set_password_email });

redacted_debug!(CreateUserRequest {
    full_name,
    username,
    email,
    photo_url,
    locale,
    password secret,
    status enum UserStatus,
    request_id,
    send_set_password_email,
    skip_primary_account,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// A value that must never appear in a formatted message.
    const SECRET: &str = "s3cret-Value_0123456789abcdef";

    fn assert_hidden(shown: &str, visible: &str) {
        assert!(!shown.contains(SECRET), "a secret was printed: {shown}");
        assert!(shown.contains(REDACTED), "no field was redacted: {shown}");
        assert!(
            shown.contains(visible),
            "{visible} should stay visible: {shown}"
        );
    }

    fn secret() -> String {
        SECRET.to_owned()
    }

    #[test]
    fn sign_up_and_sign_in_messages_never_print_their_secrets() {
        let register = pb::RegisterRequest {
            full_name: "Ann Example".into(),
            username: "ann".into(),
            email: "ann@example.com".into(),
            password: secret(),
            locale: "en".into(),
        };
        assert_hidden(&format!("{register:?}"), "ann@example.com");
        let verify = pb::VerifyEmailRequest {
            email: "ann@example.com".into(),
            code: secret(),
        };
        assert_hidden(&format!("{verify:?}"), "ann@example.com");
        let login = pb::LoginRequest {
            identifier: "ann".into(),
            password: secret(),
            user_agent: "curl/8".into(),
            device_token: secret(),
        };
        assert_hidden(&format!("{login:#?}"), "curl/8");
        let logged_in = pb::LoginResponse {
            session_token: secret(),
            session: None,
            account_selection_required: true,
            device_token: secret(),
            mfa_challenge: Some(pb::MfaChallenge {
                challenge_token: secret(),
                expire_time: None,
                methods: vec!["totp".into()],
            }),
        };
        assert_hidden(
            &format!("{logged_in:?}"),
            "account_selection_required: true",
        );
        let second = pb::CompleteLoginRequest {
            challenge_token: secret(),
            code: secret(),
            user_agent: "curl/8".into(),
            device_token: secret(),
        };
        assert_hidden(&format!("{second:?}"), "curl/8");
    }

    #[test]
    fn two_factor_messages_never_print_secrets_or_codes() {
        let enrollment = pb::StartTotpEnrollmentResponse {
            secret: secret(),
            otpauth_uri: format!("otpauth://totp/x?secret={SECRET}"),
            qr_code_svg: format!("<svg>{SECRET}</svg>"),
            expire_time: None,
        };
        assert_hidden(&format!("{enrollment:?}"), "qr_code_svg");
        let codes = pb::ConfirmTotpEnrollmentResponse {
            backup_codes: vec![secret(), secret()],
        };
        let shown = format!("{codes:?}");
        assert_hidden(&shown, "backup_codes");
        assert!(shown.contains("2 ×"), "{shown}");
        let disable = pb::DisableTotpRequest {
            password: secret(),
            code: secret(),
        };
        assert_hidden(&format!("{disable:?}"), "password");
    }

    #[test]
    fn password_and_session_messages_never_print_their_secrets() {
        let change = pb::ChangePasswordRequest {
            current_password: secret(),
            new_password: format!("{SECRET}-new"),
            mfa_code: secret(),
        };
        assert_hidden(&format!("{change:?}"), "new_password");
        let reset = pb::ResetPasswordRequest {
            token: secret(),
            new_password: secret(),
        };
        assert_hidden(&format!("{reset:?}"), "new_password");
        let introspect = pb::IntrospectSessionRequest {
            session_token: secret(),
        };
        assert_hidden(&format!("{introspect:?}"), "session_token");
        let check = pb::CheckPermissionRequest {
            session_token: secret(),
            account_id: "acct-1".into(),
            permission: Some(pb::check_permission_request::Permission::StaffPermission(
                "users.read".into(),
            )),
        };
        assert_hidden(&format!("{check:?}"), "users.read");
    }

    #[test]
    fn credential_and_invitation_messages_never_print_their_secrets() {
        let credential = pb::CreateApiCredentialResponse {
            api_credential: None,
            secret: secret(),
            token: format!("idk_abc_{SECRET}"),
        };
        assert_hidden(&format!("{credential:?}"), "api_credential");
        let link = format!("https://id.example/invitations/accept/{SECRET}");
        let created = pb::CreateInvitationResponse {
            invitation: None,
            accept_link: link.clone(),
        };
        assert_hidden(&format!("{created:?}"), "accept_link");
        let resent = pb::ResendInvitationResponse {
            invitation: None,
            accept_link: link,
        };
        assert_hidden(&format!("{resent:?}"), "accept_link");
        let preview = pb::PreviewInvitationRequest { token: secret() };
        assert_hidden(&format!("{preview:?}"), "token");
        let accept = pb::AcceptInvitationRequest {
            token: secret(),
            acceptor: Some(pb::accept_invitation_request::Acceptor::NewUser(
                pb::InvitedUser {
                    full_name: "Ben Example".into(),
                    username: "ben".into(),
                    email: "ben@example.com".into(),
                    password: secret(),
                    locale: String::new(),
                },
            )),
        };
        assert_hidden(&format!("{accept:?}"), "ben@example.com");
    }

    #[test]
    fn messages_creating_users_never_print_their_passwords() {
        let user = pb::CreateUserRequest {
            full_name: "Cat Example".into(),
            username: "cat".into(),
            email: "cat@example.com".into(),
            photo_url: String::new(),
            locale: String::new(),
            password: secret(),
            status: pb::UserStatus::Active as i32,
            request_id: "req-1".into(),
            send_set_password_email: false,
            skip_primary_account: false,
        };
        let shown = format!("{user:?}");
        assert_hidden(&shown, "cat@example.com");
        assert!(shown.contains("Active"), "{shown}");
        let account = pb::CreateAccountRequest {
            profile: None,
            request_id: "req-2".into(),
            owner: Some(pb::create_account_request::Owner::NewOwner(pb::NewOwner {
                username: "dan".into(),
                password: secret(),
                locale: String::new(),
                send_set_password_email: false,
            })),
        };
        assert_hidden(&format!("{account:?}"), "dan");
    }

    #[test]
    fn enum_fields_show_a_known_value_by_name_and_another_by_number() {
        let mut user = pb::CreateUserRequest {
            status: 99,
            ..Default::default()
        };
        assert!(format!("{user:?}").contains("status: 99"));
        user.status = pb::UserStatus::Suspended as i32;
        assert!(format!("{user:?}").contains("status: Suspended"));
    }

    #[test]
    fn an_empty_secret_field_shows_that_it_was_not_sent() {
        let login = pb::LoginRequest {
            identifier: "ann".into(),
            password: String::new(),
            user_agent: String::new(),
            device_token: String::new(),
        };
        assert!(format!("{login:?}").contains(r#"password: """#));
    }
}
