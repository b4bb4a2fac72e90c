//! `identity.v1.AuthService`.

use tonic::{Request, Response, Status};

use super::convert::auth as convert;
use super::convert::external;
use super::convert::timestamp;
use super::{parse, principal, reply};
use crate::app::{AccountChoice, App};
use crate::domain::{AccountId, Email, SessionId, UserId, parse_provider_id};
use crate::proto as pb;
use crate::proto::auth_service_server::AuthService;

/// The AuthService implementation over the use cases.
#[derive(Debug, Clone)]
pub struct AuthApi {
    app: App,
}

impl AuthApi {
    /// The service over `app`.
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let p = principal(&request)?;
        let min = self.app.password_min_chars();
        let registration = parse(&p, convert::register(request.into_inner(), min))?;
        let result = self.app.register(&p, registration).await;
        reply(&p, result, |()| pb::RegisterResponse {})
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let p = principal(&request)?;
        let (email, code) = parse(&p, convert::verify_email(request.into_inner()))?;
        let result = self.app.verify_email(&p, &email, &code).await;
        reply(&p, result, |()| pb::VerifyEmailResponse {})
    }

    async fn resend_verification(
        &self,
        request: Request<pb::ResendVerificationRequest>,
    ) -> Result<Response<pb::ResendVerificationResponse>, Status> {
        let p = principal(&request)?;
        let pb::ResendVerificationRequest { email } = request.into_inner();
        let email = parse(&p, Email::parse("email", &email))?;
        let result = self.app.resend_verification(&p, &email).await;
        reply(&p, result, |()| pb::ResendVerificationResponse {})
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let p = principal(&request)?;
        let attempt = parse(&p, convert::login(request.into_inner()))?;
        let result = self.app.login(&p, attempt).await;
        reply(&p, result, convert::login_response)
    }

    async fn complete_login(
        &self,
        request: Request<pb::CompleteLoginRequest>,
    ) -> Result<Response<pb::CompleteLoginResponse>, Status> {
        let p = principal(&request)?;
        let step = parse(&p, convert::second_step(request.into_inner()))?;
        let result = self.app.complete_login(&p, step).await;
        reply(&p, result, pb::CompleteLoginResponse::from)
    }

    async fn create_sso_token(
        &self,
        request: Request<pb::CreateSsoTokenRequest>,
    ) -> Result<Response<pb::CreateSsoTokenResponse>, Status> {
        let p = principal(&request)?;
        let grant = parse(&p, convert::sso_grant(request.into_inner()))?;
        let result = self.app.create_sso_token(&p, grant).await;
        reply(&p, result, |minted| pb::CreateSsoTokenResponse {
            sso_token: minted.token,
            expire_time: Some(super::convert::timestamp(minted.expires_at)),
        })
    }

    async fn redeem_sso_token(
        &self,
        request: Request<pb::RedeemSsoTokenRequest>,
    ) -> Result<Response<pb::RedeemSsoTokenResponse>, Status> {
        let p = principal(&request)?;
        let pb::RedeemSsoTokenRequest {
            sso_token,
            user_agent,
        } = request.into_inner();
        let user_agent = parse(&p, convert::user_agent(&user_agent))?;
        let result = self
            .app
            .redeem_sso_token(&p, sso_token.trim(), &user_agent)
            .await;
        reply(&p, result, convert::sso_outcome)
    }

    async fn list_sign_in_providers(
        &self,
        request: Request<pb::ListSignInProvidersRequest>,
    ) -> Result<Response<pb::ListSignInProvidersResponse>, Status> {
        let pb::ListSignInProvidersRequest {} = request.into_inner();
        let providers = self
            .app
            .list_sign_in_providers()
            .into_iter()
            .map(|(id, display_name)| pb::SignInProviderOption { id, display_name })
            .collect();
        Ok(Response::new(pb::ListSignInProvidersResponse { providers }))
    }

    async fn start_external_sign_in(
        &self,
        request: Request<pb::StartExternalSignInRequest>,
    ) -> Result<Response<pb::StartExternalSignInResponse>, Status> {
        let p = principal(&request)?;
        let pb::StartExternalSignInRequest {
            provider_id,
            redirect_uri,
        } = request.into_inner();
        let provider_id = parse(&p, parse_provider_id("provider_id", &provider_id))?;
        let result = self
            .app
            .start_external_sign_in(&p, &provider_id, redirect_uri.trim())
            .await;
        reply(&p, result, |start| pb::StartExternalSignInResponse {
            authorization_url: start.authorization_url,
            state: start.state,
            expire_time: Some(timestamp(start.expires_at)),
        })
    }

    async fn complete_external_sign_in(
        &self,
        request: Request<pb::CompleteExternalSignInRequest>,
    ) -> Result<Response<pb::CompleteExternalSignInResponse>, Status> {
        let p = principal(&request)?;
        let callback = parse(&p, external::callback(request.into_inner()))?;
        let result = self.app.complete_external_sign_in(&p, callback).await;
        reply(&p, result, external::sign_in)
    }

    async fn list_external_identities(
        &self,
        request: Request<pb::ListExternalIdentitiesRequest>,
    ) -> Result<Response<pb::ListExternalIdentitiesResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListExternalIdentitiesRequest { user_id } = request.into_inner();
        let user_id = match user_id.trim() {
            "" => None,
            id => Some(parse(&p, UserId::parse("user_id", id))?),
        };
        let result = self.app.list_external_identities(&p, user_id).await;
        reply(&p, result, |identities| {
            pb::ListExternalIdentitiesResponse {
                identities: identities.into_iter().map(external::identity).collect(),
            }
        })
    }

    async fn unlink_external_identity(
        &self,
        request: Request<pb::UnlinkExternalIdentityRequest>,
    ) -> Result<Response<pb::UnlinkExternalIdentityResponse>, Status> {
        let p = principal(&request)?;
        let pb::UnlinkExternalIdentityRequest { identity_id } = request.into_inner();
        let result = self.app.unlink_external_identity(&p, &identity_id).await;
        reply(&p, result, |()| pb::UnlinkExternalIdentityResponse {})
    }

    async fn get_mfa_status(
        &self,
        request: Request<pb::GetMfaStatusRequest>,
    ) -> Result<Response<pb::GetMfaStatusResponse>, Status> {
        let p = principal(&request)?;
        let result = self.app.mfa_status(&p).await;
        reply(&p, result, convert::mfa_status)
    }

    async fn start_totp_enrollment(
        &self,
        request: Request<pb::StartTotpEnrollmentRequest>,
    ) -> Result<Response<pb::StartTotpEnrollmentResponse>, Status> {
        let p = principal(&request)?;
        let result = self.app.start_totp_enrollment(&p).await;
        reply(&p, result, convert::totp_enrollment)
    }

    async fn confirm_totp_enrollment(
        &self,
        request: Request<pb::ConfirmTotpEnrollmentRequest>,
    ) -> Result<Response<pb::ConfirmTotpEnrollmentResponse>, Status> {
        let p = principal(&request)?;
        let pb::ConfirmTotpEnrollmentRequest { code, password } = request.into_inner();
        let code = parse(&p, convert::code("code", &code))?;
        let result = self.app.confirm_totp_enrollment(&p, &password, &code).await;
        reply(&p, result, |backup_codes| {
            pb::ConfirmTotpEnrollmentResponse { backup_codes }
        })
    }

    async fn disable_totp(
        &self,
        request: Request<pb::DisableTotpRequest>,
    ) -> Result<Response<pb::DisableTotpResponse>, Status> {
        let p = principal(&request)?;
        let pb::DisableTotpRequest { password, code } = request.into_inner();
        let code = parse(&p, convert::code("code", &code))?;
        let result = self.app.disable_totp(&p, &password, &code).await;
        reply(&p, result, |()| pb::DisableTotpResponse {})
    }

    async fn regenerate_backup_codes(
        &self,
        request: Request<pb::RegenerateBackupCodesRequest>,
    ) -> Result<Response<pb::RegenerateBackupCodesResponse>, Status> {
        let p = principal(&request)?;
        let pb::RegenerateBackupCodesRequest { code } = request.into_inner();
        let code = parse(&p, convert::code("code", &code))?;
        let result = self.app.regenerate_backup_codes(&p, &code).await;
        reply(&p, result, |backup_codes| {
            pb::RegenerateBackupCodesResponse { backup_codes }
        })
    }

    async fn select_account(
        &self,
        request: Request<pb::SelectAccountRequest>,
    ) -> Result<Response<pb::SelectAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::SelectAccountRequest { account_id } = request.into_inner();
        let id = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.choose_account(&p, id, AccountChoice::Select).await;
        reply(&p, result, |session| pb::SelectAccountResponse {
            session: Some(session.into()),
        })
    }

    async fn switch_account(
        &self,
        request: Request<pb::SwitchAccountRequest>,
    ) -> Result<Response<pb::SwitchAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::SwitchAccountRequest { account_id } = request.into_inner();
        let id = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.choose_account(&p, id, AccountChoice::Switch).await;
        reply(&p, result, |session| pb::SwitchAccountResponse {
            session: Some(session.into()),
        })
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let p = principal(&request)?;
        let result = self.app.logout(&p).await;
        reply(&p, result, |()| pb::LogoutResponse {})
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let p = principal(&request)?;
        let (user_id, size, token) = parse(&p, convert::list_sessions(request.into_inner()))?;
        let result = self.app.list_sessions(&p, user_id, size, &token).await;
        reply(&p, result, |page| pb::ListSessionsResponse {
            sessions: page.sessions.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token,
        })
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<pb::RevokeSessionResponse>, Status> {
        let p = principal(&request)?;
        let pb::RevokeSessionRequest { session_id } = request.into_inner();
        let id = parse(&p, SessionId::parse("session_id", &session_id))?;
        let result = self.app.revoke_session(&p, id).await;
        reply(&p, result, |()| pb::RevokeSessionResponse {})
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let p = principal(&request)?;
        let pb::ChangePasswordRequest {
            current_password,
            new_password,
            mfa_code,
        } = request.into_inner();
        let result = self
            .app
            .change_password(&p, &current_password, &new_password, &mfa_code)
            .await;
        reply(&p, result, |()| pb::ChangePasswordResponse {})
    }

    async fn introspect_session(
        &self,
        request: Request<pb::IntrospectSessionRequest>,
    ) -> Result<Response<pb::IntrospectSessionResponse>, Status> {
        let p = principal(&request)?;
        let token = request.into_inner().session_token;
        let result = self.app.introspect_session(&p, &token).await;
        reply(&p, result, convert::introspection)
    }

    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Result<Response<pb::CheckPermissionResponse>, Status> {
        let p = principal(&request)?;
        let (token, question) = parse(&p, convert::check_permission(request.into_inner()))?;
        let result = self.app.check_permission(&p, &token, question).await;
        reply(&p, result, convert::verdict)
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let p = principal(&request)?;
        let pb::RequestPasswordResetRequest { email } = request.into_inner();
        let email = parse(&p, Email::parse("email", &email))?;
        let result = self.app.request_password_reset(&p, &email).await;
        reply(&p, result, |()| pb::RequestPasswordResetResponse {})
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let p = principal(&request)?;
        let pb::ResetPasswordRequest {
            token,
            new_password,
        } = request.into_inner();
        let result = self.app.reset_password(&p, &token, &new_password).await;
        reply(&p, result, |()| pb::ResetPasswordResponse {})
    }

    async fn send_password_reset(
        &self,
        request: Request<pb::SendPasswordResetRequest>,
    ) -> Result<Response<pb::SendPasswordResetResponse>, Status> {
        let p = principal(&request)?;
        let pb::SendPasswordResetRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.send_password_reset(&p, id).await;
        reply(&p, result, |()| pb::SendPasswordResetResponse {})
    }
}
