//! `identity.v1.UserService`.

use tonic::{Request, Response, Status};

use super::convert::users as convert;
use super::convert::with_reason;
use super::{parse, principal, reply};
use crate::app::App;
use crate::domain::UserId;
use crate::proto as pb;
use crate::proto::user_service_server::UserService;

/// The UserService implementation over the use cases.
#[derive(Debug, Clone)]
pub struct UserApi {
    app: App,
}

impl UserApi {
    /// The service over `app`.
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl UserService for UserApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let p = principal(&request)?;
        let (new, request_id) = parse(
            &p,
            convert::create_user(request.into_inner(), self.app.password_min_chars()),
        )?;
        let result = self.app.create_user(&p, new, request_id).await;
        reply(&p, result, |user| pb::CreateUserResponse {
            user: Some(user.into()),
        })
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetUserRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.get_user(&p, id).await;
        reply(&p, result, |user| pb::GetUserResponse {
            user: Some(user.into()),
        })
    }

    async fn lookup_user(
        &self,
        request: Request<pb::LookupUserRequest>,
    ) -> Result<Response<pb::LookupUserResponse>, Status> {
        let p = principal(&request)?;
        let key = parse(&p, convert::lookup_user(request.into_inner()))?;
        let result = self.app.lookup_user(&p, key).await;
        reply(&p, result, |user| pb::LookupUserResponse {
            user: Some(user.into()),
        })
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, convert::list_users(request.into_inner()))?;
        let result = self.app.list_users(&p, query).await;
        reply(&p, result, |page| pb::ListUsersResponse {
            users: page.users.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
            total_size: page
                .total
                .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)),
        })
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let p = principal(&request)?;
        let (id, changes) = parse(&p, convert::update_user(request.into_inner()))?;
        let result = self.app.update_user(&p, id, changes).await;
        reply(&p, result, |user| pb::UpdateUserResponse {
            user: Some(user.into()),
        })
    }

    async fn suspend_user(
        &self,
        request: Request<pb::SuspendUserRequest>,
    ) -> Result<Response<pb::SuspendUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::SuspendUserRequest { user_id, reason } = request.into_inner();
        let (id, reason) = parse(&p, with_reason(UserId::parse("user_id", &user_id), &reason))?;
        let result = self.app.suspend_user(&p, id, &reason).await;
        reply(&p, result, |user| pb::SuspendUserResponse {
            user: Some(user.into()),
        })
    }

    async fn reset_user_mfa(
        &self,
        request: Request<pb::ResetUserMfaRequest>,
    ) -> Result<Response<pb::ResetUserMfaResponse>, Status> {
        let p = principal(&request)?;
        let pb::ResetUserMfaRequest { user_id, reason } = request.into_inner();
        let (id, reason) = parse(&p, with_reason(UserId::parse("user_id", &user_id), &reason))?;
        let result = self.app.reset_user_mfa(&p, id, &reason).await;
        reply(&p, result, |user| pb::ResetUserMfaResponse {
            user: Some(user.into()),
        })
    }

    async fn export_user(
        &self,
        request: Request<pb::ExportUserRequest>,
    ) -> Result<Response<pb::ExportUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::ExportUserRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.export_user(&p, id).await;
        reply(&p, result, |document| pb::ExportUserResponse { document })
    }

    async fn activate_user(
        &self,
        request: Request<pb::ActivateUserRequest>,
    ) -> Result<Response<pb::ActivateUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::ActivateUserRequest { user_id, reason } = request.into_inner();
        let (id, reason) = parse(&p, with_reason(UserId::parse("user_id", &user_id), &reason))?;
        let result = self.app.activate_user(&p, id, &reason).await;
        reply(&p, result, |user| pb::ActivateUserResponse {
            user: Some(user.into()),
        })
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let p = principal(&request)?;
        let pb::DeleteUserRequest { user_id } = request.into_inner();
        let id = parse(&p, UserId::parse("user_id", &user_id))?;
        let result = self.app.delete_user(&p, id).await;
        reply(&p, result, |()| pb::DeleteUserResponse {})
    }
}
