//! `identity.v1.InvitationService`.

use tonic::{Request, Response, Status};

use super::convert::invitations as convert;
use super::{parse, principal, reply};
use crate::app::App;
use crate::domain::{InvitationId, Secret};
use crate::proto as pb;
use crate::proto::invitation_service_server::InvitationService;

/// The InvitationService implementation over the use cases.
#[derive(Debug, Clone)]
pub struct InvitationApi {
    app: App,
}

impl InvitationApi {
    /// The service over `app`.
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl InvitationService for InvitationApi {
    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<Response<pb::CreateInvitationResponse>, Status> {
        let p = principal(&request)?;
        let (new, request_id) = parse(&p, convert::create_invitation(request.into_inner()))?;
        let result = self.app.create_invitation(&p, new, request_id).await;
        reply(&p, result, |created| pb::CreateInvitationResponse {
            invitation: Some(created.invitation.into()),
            accept_link: created
                .accept_link
                .map(Secret::into_exposed)
                .unwrap_or_default(),
        })
    }

    async fn get_invitation(
        &self,
        request: Request<pb::GetInvitationRequest>,
    ) -> Result<Response<pb::GetInvitationResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetInvitationRequest { invitation_id } = request.into_inner();
        let id = parse(&p, InvitationId::parse("invitation_id", &invitation_id))?;
        let result = self.app.get_invitation(&p, id).await;
        reply(&p, result, |invitation| pb::GetInvitationResponse {
            invitation: Some(invitation.into()),
        })
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, convert::list_invitations(request.into_inner()))?;
        let result = self.app.list_invitations(&p, query).await;
        reply(&p, result, |page| pb::ListInvitationsResponse {
            invitations: page.invitations.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn resend_invitation(
        &self,
        request: Request<pb::ResendInvitationRequest>,
    ) -> Result<Response<pb::ResendInvitationResponse>, Status> {
        let p = principal(&request)?;
        let pb::ResendInvitationRequest {
            invitation_id,
            send_email,
        } = request.into_inner();
        let id = parse(&p, InvitationId::parse("invitation_id", &invitation_id))?;
        let result = self.app.resend_invitation(&p, id, send_email).await;
        reply(&p, result, |created| pb::ResendInvitationResponse {
            invitation: Some(created.invitation.into()),
            accept_link: created
                .accept_link
                .map(Secret::into_exposed)
                .unwrap_or_default(),
        })
    }

    async fn cancel_invitation(
        &self,
        request: Request<pb::CancelInvitationRequest>,
    ) -> Result<Response<pb::CancelInvitationResponse>, Status> {
        let p = principal(&request)?;
        let pb::CancelInvitationRequest { invitation_id } = request.into_inner();
        let id = parse(&p, InvitationId::parse("invitation_id", &invitation_id))?;
        let result = self.app.cancel_invitation(&p, id).await;
        reply(&p, result, |invitation| pb::CancelInvitationResponse {
            invitation: Some(invitation.into()),
        })
    }

    async fn preview_invitation(
        &self,
        request: Request<pb::PreviewInvitationRequest>,
    ) -> Result<Response<pb::PreviewInvitationResponse>, Status> {
        let p = principal(&request)?;
        let pb::PreviewInvitationRequest { token } = request.into_inner();
        let token = parse(&p, convert::token(&token))?;
        let result = self.app.preview_invitation(&p, &token).await;
        reply(&p, result, Into::into)
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::AcceptInvitationResponse>, Status> {
        let p = principal(&request)?;
        let min = self.app.password_min_chars();
        let (token, acceptor) = parse(&p, convert::accept_invitation(request.into_inner(), min))?;
        let result = self.app.accept_invitation(&p, &token, acceptor).await;
        reply(&p, result, |accepted| pb::AcceptInvitationResponse {
            member: Some(accepted.member.into()),
            created_user_id: accepted
                .created_user_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        })
    }
}
