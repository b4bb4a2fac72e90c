//! `identity.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::convert::{activity, credentials, external, mails, retention, roles, settings, staff};
use super::{parse, principal, reply};
use crate::app::App;
use crate::domain::{ApiCredentialId, RoleId, UserId};
use crate::proto as pb;
use crate::proto::admin_service_server::AdminService;

/// The AdminService implementation over the use cases.
#[derive(Debug, Clone)]
pub struct AdminApi {
    app: App,
}

impl AdminApi {
    /// The service over `app`.
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListPermissionsRequest {} = request.into_inner();
        let result = self.app.permission_catalogue(&p);
        reply(&p, result, |catalogue| pb::ListPermissionsResponse {
            permissions: catalogue
                .iter()
                .map(|permission| pb::Permission {
                    name: permission.name().to_owned(),
                    description: permission.description().to_owned(),
                })
                .collect(),
        })
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::CreateRoleResponse>, Status> {
        let p = principal(&request)?;
        let (new, request_id) = parse(&p, roles::create_role(request.into_inner()))?;
        let result = self.app.create_role(&p, new, request_id).await;
        reply(&p, result, |role| pb::CreateRoleResponse {
            role: Some(role.into()),
        })
    }

    async fn get_role(
        &self,
        request: Request<pb::GetRoleRequest>,
    ) -> Result<Response<pb::GetRoleResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetRoleRequest { role_id } = request.into_inner();
        let id = parse(&p, RoleId::parse("role_id", &role_id))?;
        let result = self.app.get_role(&p, id).await;
        reply(&p, result, |role| pb::GetRoleResponse {
            role: Some(role.into()),
        })
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, roles::list_roles(request.into_inner()))?;
        let result = self.app.list_roles(&p, query).await;
        reply(&p, result, |page| pb::ListRolesResponse {
            roles: page.roles.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::UpdateRoleResponse>, Status> {
        let p = principal(&request)?;
        let (id, changes) = parse(&p, roles::update_role(request.into_inner()))?;
        let result = self.app.update_role(&p, id, changes).await;
        reply(&p, result, |role| pb::UpdateRoleResponse {
            role: Some(role.into()),
        })
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let p = principal(&request)?;
        let pb::DeleteRoleRequest { role_id } = request.into_inner();
        let id = parse(&p, RoleId::parse("role_id", &role_id))?;
        let result = self.app.delete_role(&p, id).await;
        reply(&p, result, |()| pb::DeleteRoleResponse {})
    }

    async fn duplicate_role(
        &self,
        request: Request<pb::DuplicateRoleRequest>,
    ) -> Result<Response<pb::DuplicateRoleResponse>, Status> {
        let p = principal(&request)?;
        let (id, name, request_id) = parse(&p, roles::duplicate_role(request.into_inner()))?;
        let result = self.app.duplicate_role(&p, id, name, request_id).await;
        reply(&p, result, |role| pb::DuplicateRoleResponse {
            role: Some(role.into()),
        })
    }

    async fn create_staff_user(
        &self,
        request: Request<pb::CreateStaffUserRequest>,
    ) -> Result<Response<pb::CreateStaffUserResponse>, Status> {
        let p = principal(&request)?;
        let (new, request_id) = parse(&p, staff::create_staff_user(request.into_inner()))?;
        let result = self.app.create_staff_user(&p, new, request_id).await;
        reply(&p, result, |user| pb::CreateStaffUserResponse {
            staff_user: Some(user.into()),
        })
    }

    async fn get_staff_user(
        &self,
        request: Request<pb::GetStaffUserRequest>,
    ) -> Result<Response<pb::GetStaffUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetStaffUserRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.get_staff_user(&p, id).await;
        reply(&p, result, |user| pb::GetStaffUserResponse {
            staff_user: Some(user.into()),
        })
    }

    async fn list_staff_users(
        &self,
        request: Request<pb::ListStaffUsersRequest>,
    ) -> Result<Response<pb::ListStaffUsersResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, staff::list_staff_users(request.into_inner()))?;
        let result = self.app.list_staff_users(&p, query).await;
        reply(&p, result, |page| pb::ListStaffUsersResponse {
            staff_users: page.staff_users.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn assign_admin_role(
        &self,
        request: Request<pb::AssignAdminRoleRequest>,
    ) -> Result<Response<pb::AssignAdminRoleResponse>, Status> {
        let p = principal(&request)?;
        let (user_id, role_id) = parse(&p, staff::assign_admin_role(request.into_inner()))?;
        let result = self.app.assign_admin_role(&p, user_id, role_id).await;
        reply(&p, result, |user| pb::AssignAdminRoleResponse {
            staff_user: Some(user.into()),
        })
    }

    async fn unassign_admin_role(
        &self,
        request: Request<pb::UnassignAdminRoleRequest>,
    ) -> Result<Response<pb::UnassignAdminRoleResponse>, Status> {
        let p = principal(&request)?;
        let pb::UnassignAdminRoleRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.unassign_admin_role(&p, id).await;
        reply(&p, result, |()| pb::UnassignAdminRoleResponse {})
    }

    async fn create_api_credential(
        &self,
        request: Request<pb::CreateApiCredentialRequest>,
    ) -> Result<Response<pb::CreateApiCredentialResponse>, Status> {
        let p = principal(&request)?;
        let new = parse(&p, credentials::create_api_credential(request.into_inner()))?;
        let result = self.app.create_api_credential(&p, new).await;
        reply(&p, result, |created| pb::CreateApiCredentialResponse {
            token: created.token.bearer(),
            secret: created.token.secret.clone(),
            api_credential: Some(created.credential.into()),
        })
    }

    async fn get_api_credential(
        &self,
        request: Request<pb::GetApiCredentialRequest>,
    ) -> Result<Response<pb::GetApiCredentialResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetApiCredentialRequest { api_credential_id } = request.into_inner();
        let id = parse(
            &p,
            ApiCredentialId::parse("api_credential_id", &api_credential_id),
        )?;
        let result = self.app.get_api_credential(&p, id).await;
        reply(&p, result, |credential| pb::GetApiCredentialResponse {
            api_credential: Some(credential.into()),
        })
    }

    async fn list_api_credentials(
        &self,
        request: Request<pb::ListApiCredentialsRequest>,
    ) -> Result<Response<pb::ListApiCredentialsResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, credentials::list_api_credentials(request.into_inner()))?;
        let result = self.app.list_api_credentials(&p, query).await;
        reply(&p, result, |page| pb::ListApiCredentialsResponse {
            api_credentials: page.credentials.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn revoke_api_credential(
        &self,
        request: Request<pb::RevokeApiCredentialRequest>,
    ) -> Result<Response<pb::RevokeApiCredentialResponse>, Status> {
        let p = principal(&request)?;
        let pb::RevokeApiCredentialRequest { api_credential_id } = request.into_inner();
        let id = parse(
            &p,
            ApiCredentialId::parse("api_credential_id", &api_credential_id),
        )?;
        let result = self.app.revoke_api_credential(&p, id).await;
        reply(&p, result, |credential| pb::RevokeApiCredentialResponse {
            api_credential: Some(credential.into()),
        })
    }

    async fn list_activity(
        &self,
        request: Request<pb::ListActivityRequest>,
    ) -> Result<Response<pb::ListActivityResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, activity::list_activity(request.into_inner()))?;
        let result = self.app.list_activity(&p, query).await;
        reply(&p, result, |page| pb::ListActivityResponse {
            events: page.events.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn list_mails(
        &self,
        request: Request<pb::ListMailsRequest>,
    ) -> Result<Response<pb::ListMailsResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, mails::list_mails(request.into_inner()))?;
        let result = self.app.list_mails(&p, query).await;
        reply(&p, result, |page| pb::ListMailsResponse {
            mails: page.mails.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn retry_failed_mails(
        &self,
        request: Request<pb::RetryFailedMailsRequest>,
    ) -> Result<Response<pb::RetryFailedMailsResponse>, Status> {
        let p = principal(&request)?;
        let pb::RetryFailedMailsRequest { kind } = request.into_inner();
        let kind = parse(&p, mails::optional_kind(&kind))?;
        let result = self.app.retry_failed_mails(&p, kind).await;
        reply(&p, result, |requeued| pb::RetryFailedMailsResponse {
            requeued: i64::try_from(requeued).unwrap_or(i64::MAX),
        })
    }

    async fn retry_mail(
        &self,
        request: Request<pb::RetryMailRequest>,
    ) -> Result<Response<pb::RetryMailResponse>, Status> {
        let p = principal(&request)?;
        let pb::RetryMailRequest { mail_id } = request.into_inner();
        let id = parse(&p, mails::mail_id(&mail_id))?;
        let result = self.app.retry_mail(&p, id).await;
        reply(&p, result, |mail| pb::RetryMailResponse {
            mail: Some(mail.into()),
        })
    }

    async fn list_sign_in_provider_configs(
        &self,
        request: Request<pb::ListSignInProviderConfigsRequest>,
    ) -> Result<Response<pb::ListSignInProviderConfigsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListSignInProviderConfigsRequest {} = request.into_inner();
        let result = self.app.list_sign_in_provider_configs(&p).await;
        reply(&p, result, |providers| {
            pb::ListSignInProviderConfigsResponse {
                providers: providers
                    .into_iter()
                    .map(external::provider_config)
                    .collect(),
            }
        })
    }

    async fn put_sign_in_provider_config(
        &self,
        request: Request<pb::PutSignInProviderConfigRequest>,
    ) -> Result<Response<pb::PutSignInProviderConfigResponse>, Status> {
        let p = principal(&request)?;
        let input = parse(&p, external::put_provider(request.into_inner()))?;
        let result = self.app.put_sign_in_provider_config(&p, input).await;
        reply(&p, result, |provider| pb::PutSignInProviderConfigResponse {
            provider: Some(external::provider_config(provider)),
        })
    }

    async fn delete_sign_in_provider_config(
        &self,
        request: Request<pb::DeleteSignInProviderConfigRequest>,
    ) -> Result<Response<pb::DeleteSignInProviderConfigResponse>, Status> {
        let p = principal(&request)?;
        let pb::DeleteSignInProviderConfigRequest { provider_id } = request.into_inner();
        let result = self
            .app
            .delete_sign_in_provider_config(&p, &provider_id)
            .await;
        reply(&p, result, |()| pb::DeleteSignInProviderConfigResponse {})
    }

    async fn get_settings(
        &self,
        request: Request<pb::GetSettingsRequest>,
    ) -> Result<Response<pb::GetSettingsResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetSettingsRequest {} = request.into_inner();
        let result = self.app.get_settings(&p).await;
        reply(&p, result, |view| {
            let (settings, info, etag) = settings::settings_view(view);
            pb::GetSettingsResponse {
                settings: Some(settings),
                info,
                etag,
            }
        })
    }

    async fn update_settings(
        &self,
        request: Request<pb::UpdateSettingsRequest>,
    ) -> Result<Response<pb::UpdateSettingsResponse>, Status> {
        let p = principal(&request)?;
        let update = parse(&p, settings::update_settings(request.into_inner()))?;
        let result = self.app.update_settings(&p, update).await;
        reply(&p, result, |view| {
            let (settings, info, etag) = settings::settings_view(view);
            pb::UpdateSettingsResponse {
                settings: Some(settings),
                info,
                etag,
            }
        })
    }

    async fn list_mail_templates(
        &self,
        request: Request<pb::ListMailTemplatesRequest>,
    ) -> Result<Response<pb::ListMailTemplatesResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListMailTemplatesRequest { kind } = request.into_inner();
        let result = self.app.list_mail_templates(&p, &kind).await;
        reply(&p, result, |templates| pb::ListMailTemplatesResponse {
            templates: templates.into_iter().map(Into::into).collect(),
        })
    }

    async fn get_mail_template(
        &self,
        request: Request<pb::GetMailTemplateRequest>,
    ) -> Result<Response<pb::GetMailTemplateResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetMailTemplateRequest { kind, locale } = request.into_inner();
        let result = self.app.get_mail_template(&p, &kind, &locale).await;
        reply(&p, result, |template| pb::GetMailTemplateResponse {
            template: Some(template.into()),
        })
    }

    async fn update_mail_template(
        &self,
        request: Request<pb::UpdateMailTemplateRequest>,
    ) -> Result<Response<pb::UpdateMailTemplateResponse>, Status> {
        let p = principal(&request)?;
        let new = settings::update_mail_template(request.into_inner());
        let result = self.app.update_mail_template(&p, new).await;
        reply(&p, result, |template| pb::UpdateMailTemplateResponse {
            template: Some(template.into()),
        })
    }

    async fn reset_mail_template(
        &self,
        request: Request<pb::ResetMailTemplateRequest>,
    ) -> Result<Response<pb::ResetMailTemplateResponse>, Status> {
        let p = principal(&request)?;
        let pb::ResetMailTemplateRequest { kind, locale } = request.into_inner();
        let result = self.app.reset_mail_template(&p, &kind, &locale).await;
        reply(&p, result, |template| pb::ResetMailTemplateResponse {
            template: Some(template.into()),
        })
    }

    async fn preview_mail_template(
        &self,
        request: Request<pb::PreviewMailTemplateRequest>,
    ) -> Result<Response<pb::PreviewMailTemplateResponse>, Status> {
        let p = principal(&request)?;
        let preview = settings::preview_mail_template(request.into_inner());
        let result = self.app.preview_mail_template(&p, preview).await;
        reply(&p, result, |rendered| pb::PreviewMailTemplateResponse {
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        })
    }

    async fn send_test_mail(
        &self,
        request: Request<pb::SendTestMailRequest>,
    ) -> Result<Response<pb::SendTestMailResponse>, Status> {
        let p = principal(&request)?;
        let mail = parse(&p, settings::send_test_mail(request.into_inner()))?;
        let result = self.app.send_test_mail(&p, mail).await;
        reply(&p, result, pb::SendTestMailResponse::from)
    }

    async fn preview_retention(
        &self,
        request: Request<pb::PreviewRetentionRequest>,
    ) -> Result<Response<pb::PreviewRetentionResponse>, Status> {
        let p = principal(&request)?;
        let (size, after) = parse(&p, retention::preview(request.into_inner()))?;
        let result = self.app.preview_retention(&p, after, size).await;
        reply(&p, result, |items| retention::preview_page(items, size))
    }

    async fn run_retention(
        &self,
        request: Request<pb::RunRetentionRequest>,
    ) -> Result<Response<pb::RunRetentionResponse>, Status> {
        let p = principal(&request)?;
        let pb::RunRetentionRequest {} = request.into_inner();
        let result = self.app.run_retention(&p).await;
        reply(&p, result, |run| pb::RunRetentionResponse {
            run: Some(run.into()),
        })
    }

    async fn get_retention_status(
        &self,
        request: Request<pb::GetRetentionStatusRequest>,
    ) -> Result<Response<pb::GetRetentionStatusResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetRetentionStatusRequest {} = request.into_inner();
        let result = self.app.retention_status(&p).await;
        reply(&p, result, pb::GetRetentionStatusResponse::from)
    }

    async fn list_activity_actions(
        &self,
        request: Request<pb::ListActivityActionsRequest>,
    ) -> Result<Response<pb::ListActivityActionsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListActivityActionsRequest {} = request.into_inner();
        let result = self.app.activity_actions(&p);
        reply(&p, result, |actions| pb::ListActivityActionsResponse {
            actions: actions
                .iter()
                .map(|action| pb::ActivityAction {
                    name: action.name.to_owned(),
                    target_type: action.target_type.to_owned(),
                    description: action.description.to_owned(),
                })
                .collect(),
        })
    }
}
