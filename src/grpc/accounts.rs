//! `identity.v1.AccountService`.

use tonic::{Request, Response, Status};

use super::convert::accounts as convert;
use super::convert::contacts;
use super::convert::with_reason;
use super::{parse, principal, reply};
use crate::app::App;
use crate::domain::{AccountId, UserId};
use crate::proto as pb;
use crate::proto::account_service_server::AccountService;

/// The AccountService implementation over the use cases.
#[derive(Debug, Clone)]
pub struct AccountApi {
    app: App,
}

impl AccountApi {
    /// The service over `app`.
    pub fn new(app: App) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        let p = principal(&request)?;
        let min = self.app.password_min_chars();
        let (new, request_id) = parse(&p, convert::create_account(request.into_inner(), min))?;
        let result = self.app.create_account(&p, new, request_id).await;
        reply(&p, result, |account| pb::CreateAccountResponse {
            account: Some(account.into()),
        })
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::GetAccountRequest { account_id } = request.into_inner();
        let id = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.get_account(&p, id).await;
        reply(&p, result, |account| pb::GetAccountResponse {
            account: Some(account.into()),
        })
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let p = principal(&request)?;
        let query = parse(&p, convert::list_accounts(request.into_inner()))?;
        let result = self.app.list_accounts(&p, query).await;
        reply(&p, result, |page| pb::ListAccountsResponse {
            accounts: page.accounts.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
            total_size: page
                .total
                .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)),
        })
    }

    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::UpdateAccountResponse>, Status> {
        let p = principal(&request)?;
        let (id, changes) = parse(&p, convert::update_account(request.into_inner()))?;
        let result = self.app.update_account(&p, id, changes).await;
        reply(&p, result, |account| pb::UpdateAccountResponse {
            account: Some(account.into()),
        })
    }

    async fn close_account(
        &self,
        request: Request<pb::CloseAccountRequest>,
    ) -> Result<Response<pb::CloseAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::CloseAccountRequest { account_id, reason } = request.into_inner();
        let (id, reason) = parse(
            &p,
            with_reason(AccountId::parse("account_id", &account_id), &reason),
        )?;
        let result = self.app.close_account(&p, id, &reason).await;
        reply(&p, result, |account| pb::CloseAccountResponse {
            account: Some(account.into()),
        })
    }

    async fn reopen_account(
        &self,
        request: Request<pb::ReopenAccountRequest>,
    ) -> Result<Response<pb::ReopenAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::ReopenAccountRequest { account_id, reason } = request.into_inner();
        let (id, reason) = parse(
            &p,
            with_reason(AccountId::parse("account_id", &account_id), &reason),
        )?;
        let result = self.app.reopen_account(&p, id, &reason).await;
        reply(&p, result, |account| pb::ReopenAccountResponse {
            account: Some(account.into()),
        })
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let p = principal(&request)?;
        let pb::DeleteAccountRequest {
            account_id,
            delete_orphan_users,
        } = request.into_inner();
        let id = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.delete_account(&p, id, delete_orphan_users).await;
        reply(&p, result, |deleted| pb::DeleteAccountResponse {
            deleted_user_ids: deleted.iter().map(ToString::to_string).collect(),
        })
    }

    async fn transfer_ownership(
        &self,
        request: Request<pb::TransferOwnershipRequest>,
    ) -> Result<Response<pb::TransferOwnershipResponse>, Status> {
        let p = principal(&request)?;
        let pb::TransferOwnershipRequest {
            account_id,
            new_owner_user_id,
            remove_previous_owner,
        } = request.into_inner();
        let (account, user) = parse(
            &p,
            convert::account_and_user(&account_id, "new_owner_user_id", &new_owner_user_id),
        )?;
        let result = self
            .app
            .transfer_ownership(&p, account, user, remove_previous_owner)
            .await;
        reply(&p, result, |account| pb::TransferOwnershipResponse {
            account: Some(account.into()),
        })
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListMembersRequest {
            account_id,
            page_size,
            page_token,
        } = request.into_inner();
        let (id, size) = parse(
            &p,
            convert::paged(
                |v| v.check(AccountId::parse("account_id", &account_id)),
                page_size,
            ),
        )?;
        let result = self.app.list_members(&p, id, size, &page_token).await;
        reply(&p, result, |page| pb::ListMembersResponse {
            members: page.entries.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn add_member(
        &self,
        request: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::AddMemberResponse>, Status> {
        let p = principal(&request)?;
        let pb::AddMemberRequest {
            account_id,
            user_id,
            permissions,
        } = request.into_inner();
        let (account, user, permissions) = parse(
            &p,
            convert::new_membership(&account_id, &user_id, &permissions),
        )?;
        let result = self.app.add_member(&p, account, user, permissions).await;
        reply(&p, result, |member| pb::AddMemberResponse {
            member: Some(member.into()),
        })
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListContactsRequest { account_id } = request.into_inner();
        let account = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.list_contacts(&p, account).await;
        reply(&p, result, |found| pb::ListContactsResponse {
            contacts: found.into_iter().map(contacts::contact).collect(),
        })
    }

    async fn add_contact(
        &self,
        request: Request<pb::AddContactRequest>,
    ) -> Result<Response<pb::AddContactResponse>, Status> {
        let p = principal(&request)?;
        let (account, details) = parse(&p, contacts::add(request.into_inner()))?;
        let result = self.app.add_contact(&p, account, details).await;
        reply(&p, result, |added| pb::AddContactResponse {
            contact: Some(contacts::contact(added)),
        })
    }

    async fn update_contact(
        &self,
        request: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        let p = principal(&request)?;
        let pb::UpdateContactRequest {
            contact_id,
            full_name,
            email,
            mails,
        } = request.into_inner();
        let details = parse(&p, contacts::details(&full_name, &email, &mails))?;
        let result = self.app.update_contact(&p, &contact_id, details).await;
        reply(&p, result, |updated| pb::UpdateContactResponse {
            contact: Some(contacts::contact(updated)),
        })
    }

    async fn remove_contact(
        &self,
        request: Request<pb::RemoveContactRequest>,
    ) -> Result<Response<pb::RemoveContactResponse>, Status> {
        let p = principal(&request)?;
        let pb::RemoveContactRequest { contact_id } = request.into_inner();
        let result = self.app.remove_contact(&p, &contact_id).await;
        reply(&p, result, |()| pb::RemoveContactResponse {})
    }

    async fn classify_correspondent(
        &self,
        request: Request<pb::ClassifyCorrespondentRequest>,
    ) -> Result<Response<pb::ClassifyCorrespondentResponse>, Status> {
        let p = principal(&request)?;
        let (account, email) = parse(&p, contacts::classify(request.into_inner()))?;
        let result = self.app.classify_correspondent(&p, account, &email).await;
        reply(&p, result, contacts::correspondent)
    }

    async fn update_member_permissions(
        &self,
        request: Request<pb::UpdateMemberPermissionsRequest>,
    ) -> Result<Response<pb::UpdateMemberPermissionsResponse>, Status> {
        let p = principal(&request)?;
        let pb::UpdateMemberPermissionsRequest {
            account_id,
            user_id,
            permissions,
        } = request.into_inner();
        let (account, user, permissions) = parse(
            &p,
            convert::new_membership(&account_id, &user_id, &permissions),
        )?;
        let result = self
            .app
            .update_member_permissions(&p, account, user, permissions)
            .await;
        reply(&p, result, |member| pb::UpdateMemberPermissionsResponse {
            member: Some(member.into()),
        })
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::RemoveMemberResponse>, Status> {
        let p = principal(&request)?;
        let pb::RemoveMemberRequest {
            account_id,
            user_id,
        } = request.into_inner();
        let (account, user) = parse(
            &p,
            convert::account_and_user(&account_id, "user_id", &user_id),
        )?;
        let result = self.app.remove_member(&p, account, user).await;
        reply(&p, result, |()| pb::RemoveMemberResponse {})
    }

    async fn list_user_accounts(
        &self,
        request: Request<pb::ListUserAccountsRequest>,
    ) -> Result<Response<pb::ListUserAccountsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListUserAccountsRequest {
            user_id,
            page_size,
            page_token,
        } = request.into_inner();
        let (id, size) = parse(
            &p,
            convert::paged(|v| v.check(UserId::parse("user_id", &user_id)), page_size),
        )?;
        let result = self.app.list_user_accounts(&p, id, size, &page_token).await;
        reply(&p, result, |page| pb::ListUserAccountsResponse {
            accounts: page.entries.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn list_account_permissions(
        &self,
        request: Request<pb::ListAccountPermissionsRequest>,
    ) -> Result<Response<pb::ListAccountPermissionsResponse>, Status> {
        let p = principal(&request)?;
        let pb::ListAccountPermissionsRequest {} = request.into_inner();
        let result = self.app.account_permission_catalogue(&p);
        reply(&p, result, |catalogue| pb::ListAccountPermissionsResponse {
            permissions: catalogue
                .iter()
                .map(|permission| pb::AccountPermissionInfo {
                    permission: convert::permission(*permission).into(),
                    description: permission.description().to_owned(),
                })
                .collect(),
        })
    }

    async fn record_account_activity(
        &self,
        request: Request<pb::RecordAccountActivityRequest>,
    ) -> Result<Response<pb::RecordAccountActivityResponse>, Status> {
        let p = principal(&request)?;
        let (id, at) = parse(&p, convert::record_activity(request.into_inner()))?;
        let result = self.app.record_account_activity(&p, id, at).await;
        reply(&p, result, |account| pb::RecordAccountActivityResponse {
            account: Some(account.into()),
        })
    }

    async fn set_retention_hold(
        &self,
        request: Request<pb::SetRetentionHoldRequest>,
    ) -> Result<Response<pb::SetRetentionHoldResponse>, Status> {
        let p = principal(&request)?;
        let pb::SetRetentionHoldRequest {
            account_id,
            hold,
            reason,
        } = request.into_inner();
        let id = parse(&p, AccountId::parse("account_id", &account_id))?;
        let result = self.app.set_retention_hold(&p, id, hold, &reason).await;
        reply(&p, result, |account| pb::SetRetentionHoldResponse {
            account: Some(account.into()),
        })
    }
}
