//! AccountService: client accounts, owners, members and their permissions.

use std::collections::BTreeSet;

use identityd::proto::{
    Account, AccountPermission, AccountProfile, AccountStatus, AddMemberRequest,
    CloseAccountRequest, CreateAccountRequest, CreateUserRequest, DeleteAccountRequest,
    DeleteUserRequest, GetAccountRequest, GetUserRequest, ListAccountPermissionsRequest,
    ListAccountsRequest, ListActivityRequest, ListMembersRequest, ListUserAccountsRequest,
    ListUsersRequest, Member, NewOwner, RemoveMemberRequest, ReopenAccountRequest,
    TransferOwnershipRequest, UpdateAccountRequest, UpdateMemberPermissionsRequest, User,
    create_account_request::Owner,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{TestApp, assert_error, spawn_app, violated_fields};

use AccountPermission as P;

fn profile(name: &str) -> AccountProfile {
    let slug = name.to_lowercase().replace(' ', "-");
    AccountProfile {
        display_name: name.into(),
        full_name: format!("{name} Billing"),
        company: format!("{name} GmbH"),
        email: format!("billing@{slug}.example"),
        country: "DE".into(),
        ..Default::default()
    }
}

async fn create_user(app: &TestApp, username: &str) -> User {
    app.users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: format!("{username} Example"),
            username: username.into(),
            email: format!("{username}@example.com"),
            ..Default::default()
        })
        .await
        .expect("create a user")
        .into_inner()
        .user
        .expect("a user")
}

async fn account_owned_by(app: &TestApp, name: &str, owner: &User) -> Account {
    app.accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile(name)),
            owner: Some(Owner::OwnerUserId(owner.id.clone())),
            request_id: String::new(),
        })
        .await
        .expect("create an account")
        .into_inner()
        .account
        .expect("an account")
}

async fn members(app: &TestApp, account: &Account) -> Vec<Member> {
    app.accounts
        .clone()
        .list_members(ListMembersRequest {
            account_id: account.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list members")
        .into_inner()
        .members
}

async fn add_member(app: &TestApp, account: &Account, user: &User, permissions: &[P]) -> Member {
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account.id.clone(),
            user_id: user.id.clone(),
            permissions: permissions.iter().map(|p| *p as i32).collect(),
        })
        .await
        .expect("add a member")
        .into_inner()
        .member
        .expect("a member")
}

fn all_permissions() -> Vec<i32> {
    (1..=13).collect()
}

#[tokio::test]
async fn an_account_can_create_its_owner_from_the_billing_profile() {
    let app = spawn_app().await;
    let account = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile("Acme Hosting")),
            owner: Some(Owner::NewOwner(NewOwner {
                username: "acme".into(),
                password: "tidal-lantern-oboe-42".into(),
                locale: "de".into(),
                send_set_password_email: false,
            })),
            request_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner()
        .account
        .expect("an account");
    assert_eq!(account.status(), AccountStatus::Active);
    let owner = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: account.owner_user_id.clone(),
        })
        .await
        .expect("the owner exists")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(owner.username, "acme");
    assert_eq!(owner.full_name, "Acme Hosting Billing");
    assert_eq!(owner.email, "billing@acme-hosting.example");
    assert!(owner.has_password);

    let listed = members(&app, &account).await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].owner);
    assert_eq!(listed[0].permissions, all_permissions());
}

#[tokio::test]
async fn a_new_owner_without_a_username_gets_one_from_the_email_address() {
    let app = spawn_app().await;
    let account = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile("Beta Shop")),
            owner: Some(Owner::NewOwner(NewOwner::default())),
            request_id: String::new(),
        })
        .await
        .expect("create")
        .into_inner()
        .account
        .expect("an account");
    let owner = members(&app, &account).await.remove(0);
    assert!(owner.username.starts_with("billing-"), "{}", owner.username);
    assert!(!owner.username.is_empty());
}

#[tokio::test]
async fn a_failed_owner_creation_leaves_no_account_behind() {
    let app = spawn_app().await;
    create_user(&app, "taken").await;
    let status = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(AccountProfile {
                email: "taken@example.com".into(),
                ..profile("Gamma")
            }),
            owner: Some(Owner::NewOwner(NewOwner::default())),
            request_id: String::new(),
        })
        .await
        .expect_err("email taken");
    assert_error(&status, Code::AlreadyExists, "EMAIL_TAKEN");
    let listed = app
        .accounts
        .clone()
        .list_accounts(ListAccountsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .accounts;
    assert!(listed.is_empty(), "the transaction rolled back: {listed:?}");
}

#[tokio::test]
async fn invalid_account_requests_name_every_bad_field() {
    let app = spawn_app().await;
    let status = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(AccountProfile {
                display_name: String::new(),
                email: "nope".into(),
                country: "Germany".into(),
                phone: "call me".into(),
                postcode: "1".repeat(17),
                ..profile("x")
            }),
            owner: None,
            request_id: String::new(),
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        vec![
            "profile.display_name",
            "profile.postcode",
            "profile.country",
            "profile.phone",
            "profile.email",
            "owner"
        ]
    );
    let status = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile("Delta")),
            owner: Some(Owner::OwnerUserId(uuid::Uuid::now_v7().to_string())),
            request_id: String::new(),
        })
        .await
        .expect_err("unknown owner");
    assert_error(&status, Code::NotFound, "USER_NOT_FOUND");
}

#[tokio::test]
async fn a_retried_create_returns_the_first_account_and_owner() {
    let app = spawn_app().await;
    let request = CreateAccountRequest {
        profile: Some(profile("Epsilon")),
        owner: Some(Owner::NewOwner(NewOwner {
            username: "epsilon".into(),
            ..Default::default()
        })),
        request_id: "billing-order-991".into(),
    };
    let first = app
        .accounts
        .clone()
        .create_account(request.clone())
        .await
        .expect("first");
    let retry = app
        .accounts
        .clone()
        .create_account(request)
        .await
        .expect("retry");
    assert_eq!(first.into_inner(), retry.into_inner());
    let users = app
        .users
        .clone()
        .list_users(ListUsersRequest {
            query: "epsilon".into(),
            include_total_size: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(users.total_size, 1);
}

#[tokio::test]
async fn a_web_designer_acts_for_three_customers_with_separate_permissions() {
    let app = spawn_app().await;
    let designer = create_user(&app, "designer").await;
    let mut expected = Vec::new();
    for (name, permissions) in [
        ("Bakery", vec![P::Products, P::ManageProducts]),
        ("Florist", vec![P::Domains, P::ManageDomains, P::Invoices]),
        ("Garage", vec![P::Tickets]),
    ] {
        let owner = create_user(&app, &name.to_lowercase()).await;
        let account = account_owned_by(&app, name, &owner).await;
        let member = add_member(&app, &account, &designer, &permissions).await;
        assert!(!member.owner);
        expected.push((
            account.id,
            permissions.iter().map(|p| *p as i32).collect::<Vec<_>>(),
        ));
    }
    let listed = app
        .accounts
        .clone()
        .list_user_accounts(ListUserAccountsRequest {
            user_id: designer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list user accounts")
        .into_inner()
        .accounts;
    let got: Vec<(String, Vec<i32>)> = listed
        .into_iter()
        .map(|entry| {
            assert!(!entry.owner);
            (entry.account.expect("account").id, entry.permissions)
        })
        .collect();
    assert_eq!(got, expected);

    // ListUsers can be narrowed to one account's people.
    let people: BTreeSet<String> = app
        .users
        .clone()
        .list_users(ListUsersRequest {
            account_id: expected[0].0.clone(),
            ..Default::default()
        })
        .await
        .expect("list users")
        .into_inner()
        .users
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(
        people,
        BTreeSet::from(["bakery".to_owned(), "designer".to_owned()])
    );
}

#[tokio::test]
async fn member_rules_protect_the_owner() {
    let app = spawn_app().await;
    let owner = create_user(&app, "owner1").await;
    let helper = create_user(&app, "helper1").await;
    let account = account_owned_by(&app, "Zeta", &owner).await;
    add_member(&app, &account, &helper, &[P::Invoices]).await;
    let mut accounts = app.accounts.clone();

    let status = accounts
        .add_member(AddMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![P::Profile as i32],
        })
        .await
        .expect_err("already a member");
    assert_error(&status, Code::AlreadyExists, "ALREADY_MEMBER");

    let updated = accounts
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![P::Quotes as i32, P::Invoices as i32],
        })
        .await
        .expect("update")
        .into_inner()
        .member
        .expect("member");
    assert_eq!(
        updated.permissions,
        vec![P::Invoices as i32, P::Quotes as i32]
    );

    let status = accounts
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account.id.clone(),
            user_id: owner.id.clone(),
            permissions: vec![P::Invoices as i32],
        })
        .await
        .expect_err("owner fixed");
    assert_error(&status, Code::FailedPrecondition, "OWNER_PERMISSIONS_FIXED");

    let status = accounts
        .remove_member(RemoveMemberRequest {
            account_id: account.id.clone(),
            user_id: owner.id.clone(),
        })
        .await
        .expect_err("owner stays");
    assert_error(&status, Code::FailedPrecondition, "OWNER_CANNOT_BE_REMOVED");

    let status = accounts
        .add_member(AddMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![0, 99],
        })
        .await
        .expect_err("bad permissions");
    assert_eq!(
        violated_fields(&status),
        vec!["permissions[0]", "permissions[1]"]
    );

    accounts
        .remove_member(RemoveMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
        })
        .await
        .expect("remove");
    let status = accounts
        .remove_member(RemoveMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id,
        })
        .await
        .expect_err("gone");
    assert_error(&status, Code::NotFound, "MEMBER_NOT_FOUND");
    assert_eq!(members(&app, &account).await.len(), 1);
}

#[tokio::test]
async fn ownership_moves_and_the_previous_owner_keeps_every_permission_unless_removed() {
    let app = spawn_app().await;
    let first = create_user(&app, "first").await;
    let second = create_user(&app, "second").await;
    let third = create_user(&app, "third").await;
    let account = account_owned_by(&app, "Eta", &first).await;
    let mut accounts = app.accounts.clone();

    let moved = accounts
        .transfer_ownership(TransferOwnershipRequest {
            account_id: account.id.clone(),
            new_owner_user_id: second.id.clone(),
            remove_previous_owner: false,
        })
        .await
        .expect("transfer")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(moved.owner_user_id, second.id);
    let listed = members(&app, &account).await;
    let first_member = listed
        .iter()
        .find(|m| m.user_id == first.id)
        .expect("first stays");
    assert!(!first_member.owner);
    assert_eq!(first_member.permissions, all_permissions());
    assert!(listed.iter().any(|m| m.user_id == second.id && m.owner));

    accounts
        .transfer_ownership(TransferOwnershipRequest {
            account_id: account.id.clone(),
            new_owner_user_id: third.id.clone(),
            remove_previous_owner: true,
        })
        .await
        .expect("transfer again");
    let ids: BTreeSet<String> = members(&app, &account)
        .await
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(ids, BTreeSet::from([first.id.clone(), third.id.clone()]));

    let history = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            account_id: account.id.clone(),
            action: "account.ownership_transferred".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .events;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].details.get("new_owner_user_id"), Some(&third.id));
}

#[tokio::test]
async fn concurrent_transfers_leave_exactly_one_owner() {
    let app = spawn_app().await;
    let founder = create_user(&app, "founder").await;
    let account = account_owned_by(&app, "Theta", &founder).await;
    let mut candidates = Vec::new();
    for i in 0..8 {
        candidates.push(create_user(&app, &format!("heir{i}")).await);
    }
    for remove_previous_owner in [false, true] {
        let calls: Vec<_> = candidates
            .iter()
            .map(|candidate| {
                let mut accounts = app.accounts.clone();
                let request = TransferOwnershipRequest {
                    account_id: account.id.clone(),
                    new_owner_user_id: candidate.id.clone(),
                    remove_previous_owner,
                };
                tokio::spawn(async move { accounts.transfer_ownership(request).await })
            })
            .collect();
        for call in calls {
            call.await.expect("task").expect("every transfer succeeds");
        }
        let account_now = app
            .accounts
            .clone()
            .get_account(GetAccountRequest {
                account_id: account.id.clone(),
            })
            .await
            .expect("get")
            .into_inner()
            .account
            .expect("account");
        let listed = members(&app, &account).await;
        let owners: Vec<&Member> = listed.iter().filter(|m| m.owner).collect();
        assert_eq!(owners.len(), 1, "exactly one owner: {listed:?}");
        assert_eq!(owners[0].user_id, account_now.owner_user_id);
        assert!(candidates.iter().any(|c| c.id == account_now.owner_user_id));
    }
}

#[tokio::test]
async fn a_closed_account_refuses_changes_until_reopened() {
    let app = spawn_app().await;
    let owner = create_user(&app, "iris").await;
    let helper = create_user(&app, "jon").await;
    let account = account_owned_by(&app, "Iota", &owner).await;
    let mut accounts = app.accounts.clone();
    let closed = accounts
        .close_account(CloseAccountRequest {
            account_id: account.id.clone(),
            reason: "customer left".into(),
        })
        .await
        .expect("close")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(closed.status(), AccountStatus::Closed);
    assert!(closed.close_time.is_some());

    let status = accounts
        .add_member(AddMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![P::Profile as i32],
        })
        .await
        .expect_err("closed");
    assert_error(&status, Code::FailedPrecondition, "ACCOUNT_CLOSED");
    let status = accounts
        .update_account(UpdateAccountRequest {
            account_id: account.id.clone(),
            profile: Some(profile("Renamed")),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect_err("closed");
    assert_error(&status, Code::FailedPrecondition, "ACCOUNT_CLOSED");
    let only_closed = accounts
        .list_accounts(ListAccountsRequest {
            status: AccountStatus::Closed.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .accounts;
    assert_eq!(only_closed.len(), 1);

    let reopened = accounts
        .reopen_account(ReopenAccountRequest {
            account_id: account.id.clone(),
            reason: "came back".into(),
        })
        .await
        .expect("reopen")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(reopened.status(), AccountStatus::Active);
    assert!(reopened.close_time.is_none());
    add_member(&app, &account, &helper, &[P::Profile]).await;

    let history: Vec<String> = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            account_id: account.id.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .events
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        history,
        vec![
            "account.member_added",
            "account.reopened",
            "account.closed",
            "account.created"
        ]
    );
}

#[tokio::test]
async fn profile_updates_change_only_the_masked_fields_and_accounts_are_searchable() {
    let app = spawn_app().await;
    let owner = create_user(&app, "kate").await;
    let account = account_owned_by(&app, "Kappa", &owner).await;
    let updated = app
        .accounts
        .clone()
        .update_account(UpdateAccountRequest {
            account_id: account.id.clone(),
            profile: Some(AccountProfile {
                company: "Kappa Cloud AG".into(),
                tax_id: "DE123456789".into(),
                display_name: "ignored".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["company".into(), "profile.tax_id".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner()
        .account
        .expect("account");
    let updated_profile = updated.profile.expect("profile");
    assert_eq!(updated_profile.company, "Kappa Cloud AG");
    assert_eq!(updated_profile.tax_id, "DE123456789");
    assert_eq!(updated_profile.display_name, "Kappa");

    for query in ["CLOUD ag", "kappa", "billing@kappa"] {
        let found = app
            .accounts
            .clone()
            .list_accounts(ListAccountsRequest {
                query: query.into(),
                include_total_size: true,
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        assert_eq!(found.total_size, 1, "{query}");
    }
    let status = app
        .accounts
        .clone()
        .update_account(UpdateAccountRequest {
            account_id: account.id,
            profile: None,
            update_mask: Some(FieldMask {
                paths: vec!["owner_user_id".into()],
            }),
        })
        .await
        .expect_err("not a profile field");
    assert_eq!(violated_fields(&status), vec!["update_mask"]);
}

#[tokio::test]
async fn accounts_list_by_member_and_page_in_creation_order() {
    let app = spawn_app().await;
    let owner = create_user(&app, "lena").await;
    let other = create_user(&app, "max").await;
    for name in ["Lambda", "Mu", "Nu"] {
        account_owned_by(&app, name, &owner).await;
    }
    account_owned_by(&app, "Xi", &other).await;
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .accounts
            .clone()
            .list_accounts(ListAccountsRequest {
                member_user_id: owner.id.clone(),
                page_size: 2,
                page_token: token.clone(),
                order: identityd::proto::AccountOrder::OldestFirst.into(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        names.extend(
            page.accounts
                .into_iter()
                .map(|a| a.profile.expect("profile").display_name),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, vec!["Lambda", "Mu", "Nu"]);
}

#[tokio::test]
async fn deleting_an_account_can_take_its_orphaned_users_with_it() {
    let app = spawn_app().await;
    let owner = create_user(&app, "olga").await;
    let loner = create_user(&app, "pete").await;
    let busy = create_user(&app, "quinn").await;
    let account = account_owned_by(&app, "Omicron", &owner).await;
    add_member(&app, &account, &loner, &[P::Invoices]).await;
    add_member(&app, &account, &busy, &[P::Invoices]).await;
    let elsewhere = account_owned_by(&app, "Pi", &create_user(&app, "rita").await).await;
    add_member(&app, &elsewhere, &busy, &[P::Profile]).await;

    let deleted = app
        .accounts
        .clone()
        .delete_account(DeleteAccountRequest {
            account_id: account.id.clone(),
            delete_orphan_users: true,
        })
        .await
        .expect("delete")
        .into_inner()
        .deleted_user_ids;
    let deleted: BTreeSet<String> = deleted.into_iter().collect();
    assert_eq!(
        deleted,
        BTreeSet::from([owner.id.clone(), loner.id.clone()])
    );
    for (user, exists) in [(&owner, false), (&loner, false), (&busy, true)] {
        let found = app
            .users
            .clone()
            .get_user(GetUserRequest {
                user_id: user.id.clone(),
            })
            .await;
        assert_eq!(found.is_ok(), exists, "{}", user.username);
    }
    let status = app
        .accounts
        .clone()
        .get_account(GetAccountRequest {
            account_id: account.id,
        })
        .await
        .expect_err("deleted");
    assert_error(&status, Code::NotFound, "ACCOUNT_NOT_FOUND");
}

#[tokio::test]
async fn deleting_an_account_keeps_its_users_by_default() {
    let app = spawn_app().await;
    let owner = create_user(&app, "sam").await;
    let account = account_owned_by(&app, "Rho", &owner).await;
    let deleted = app
        .accounts
        .clone()
        .delete_account(DeleteAccountRequest {
            account_id: account.id,
            delete_orphan_users: false,
        })
        .await
        .expect("delete")
        .into_inner()
        .deleted_user_ids;
    assert!(deleted.is_empty());
    app.users
        .clone()
        .get_user(GetUserRequest { user_id: owner.id })
        .await
        .expect("the owner remains");
}

#[tokio::test]
async fn an_account_owner_cannot_be_deleted_until_ownership_moves() {
    let app = spawn_app().await;
    let owner = create_user(&app, "tina").await;
    let successor = create_user(&app, "uma").await;
    let account = account_owned_by(&app, "Sigma", &owner).await;
    let status = app
        .users
        .clone()
        .delete_user(DeleteUserRequest {
            user_id: owner.id.clone(),
        })
        .await
        .expect_err("owns an account");
    assert_error(&status, Code::FailedPrecondition, "USER_OWNS_ACCOUNT");
    app.accounts
        .clone()
        .transfer_ownership(TransferOwnershipRequest {
            account_id: account.id.clone(),
            new_owner_user_id: successor.id,
            remove_previous_owner: false,
        })
        .await
        .expect("transfer");
    app.users
        .clone()
        .delete_user(DeleteUserRequest { user_id: owner.id })
        .await
        .expect("delete the former owner");
    assert_eq!(
        members(&app, &account).await.len(),
        1,
        "their membership went with them"
    );
}

#[tokio::test]
async fn the_account_permission_catalogue_describes_every_permission() {
    let app = spawn_app().await;
    let permissions = app
        .accounts
        .clone()
        .list_account_permissions(ListAccountPermissionsRequest {})
        .await
        .expect("catalogue")
        .into_inner()
        .permissions;
    assert_eq!(permissions.len(), 13);
    assert!(
        permissions
            .iter()
            .all(|p| p.permission != 0 && !p.description.is_empty())
    );
}

#[tokio::test]
async fn a_new_owner_gets_a_link_to_set_a_first_password() {
    let app = crate::helpers::spawn_app_with(crate::helpers::hold_mail).await;
    app.accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile("Omega")),
            owner: Some(Owner::NewOwner(NewOwner {
                username: "omega".into(),
                send_set_password_email: true,
                ..Default::default()
            })),
            request_id: String::new(),
        })
        .await
        .expect("create");
    let link = app
        .queued_secret("billing@omega.example", "set_password", "link")
        .await
        .expect("a set-password link");
    assert!(link.starts_with("https://accounts.example.test/password/set?token="));
    assert_eq!(
        app.mail_count("billing@omega.example", "password_reset")
            .await,
        0
    );

    let status = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(profile("Both Ways")),
            owner: Some(Owner::NewOwner(NewOwner {
                username: "bothways".into(),
                password: "tidal-lantern-oboe-42".into(),
                send_set_password_email: true,
                ..Default::default()
            })),
            request_id: String::new(),
        })
        .await
        .expect_err("a password and a link");
    assert_eq!(
        violated_fields(&status),
        vec!["new_owner.send_set_password_email"]
    );
}

#[tokio::test]
async fn a_grant_of_nothing_is_refused_for_members_and_invitations() {
    use identityd::proto::CreateInvitationRequest;
    let app = spawn_app().await;
    let owner = create_user(&app, "gina").await;
    let helper = create_user(&app, "hank").await;
    let account = account_owned_by(&app, "Grant Co", &owner).await;
    let empty = app
        .accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![],
        })
        .await
        .expect_err("a member with no permissions");
    assert_eq!(violated_fields(&empty), ["permissions"]);
    add_member(&app, &account, &helper, &[P::Profile]).await;
    let emptied = app
        .accounts
        .clone()
        .update_member_permissions(UpdateMemberPermissionsRequest {
            account_id: account.id.clone(),
            user_id: helper.id.clone(),
            permissions: vec![],
        })
        .await
        .expect_err("taking every permission away is RemoveMember");
    assert_eq!(violated_fields(&emptied), ["permissions"]);

    let mut invitations = app.invitations();
    let empty = invitations
        .create_invitation(CreateInvitationRequest {
            account_id: account.id.clone(),
            email: "ivy@example.test".into(),
            send_email: true,
            ..Default::default()
        })
        .await
        .expect_err("an invitation that grants nothing");
    assert_eq!(violated_fields(&empty), ["permissions"]);
    invitations
        .create_invitation(CreateInvitationRequest {
            account_id: account.id.clone(),
            email: "ivy@example.test".into(),
            all_permissions: true,
            send_email: true,
            ..Default::default()
        })
        .await
        .expect("all_permissions is an explicit grant");
}
