//! InvitationService: inviting by email, previewing, accepting as an existing
//! or a new user, resending, cancelling, expiry and single use.

use std::time::Duration;

use identityd::config::{MailTransportKind, Settings};
use identityd::proto::{
    AcceptInvitationRequest, AcceptInvitationResponse, AccountPermission, ActivityEvent,
    AddMemberRequest, CancelInvitationRequest, CreateInvitationRequest, CreateInvitationResponse,
    GetInvitationRequest, GetUserRequest, InvitationStatus, InvitedUser, ListActivityRequest,
    ListInvitationsRequest, ListMembersRequest, PreviewInvitationRequest, ResendInvitationRequest,
    UserStatus, accept_invitation_request,
};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, hold_mail, spawn_app_with, violated_fields};
use crate::people::{PASSWORD, account_of, active_user, email_of, session_of};
use crate::smtp_sink::SmtpSink;

/// An owner with an account and a session acting for it.
struct Owner {
    account_id: String,
    session: String,
}

async fn owner(app: &TestApp, username: &str, account_name: &str) -> Owner {
    let user = active_user(app, username).await;
    let account_id = account_of(app, &user.id, account_name).await;
    let session = session_of(app, username).await;
    Owner {
        account_id,
        session,
    }
}

fn invite(account_id: &str, email: &str) -> CreateInvitationRequest {
    CreateInvitationRequest {
        account_id: account_id.to_owned(),
        email: email.to_owned(),
        permissions: vec![
            AccountPermission::Invoices.into(),
            AccountPermission::Tickets.into(),
        ],
        send_email: true,
        ..Default::default()
    }
}

async fn create_as(
    app: &TestApp,
    token: &str,
    request: CreateInvitationRequest,
) -> Result<CreateInvitationResponse, tonic::Status> {
    app.invitations_as(token)
        .create_invitation(request)
        .await
        .map(tonic::Response::into_inner)
}

/// `owner` invites `email` to their account by mail; the mailed link.
async fn owner_invites(app: &TestApp, owner: &Owner, email: &str) -> String {
    create_as(app, &owner.session, invite(&owner.account_id, email))
        .await
        .expect("the owner invites");
    queued_link(app, email).await
}

/// The newest 100 activity events of an account.
async fn account_events(app: &TestApp, account_id: &str) -> Vec<ActivityEvent> {
    app.admin
        .clone()
        .list_activity(ListActivityRequest {
            account_id: account_id.to_owned(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list activity")
        .into_inner()
        .events
}

/// The link in the newest invitation mail queued for `email`.
async fn queued_link(app: &TestApp, email: &str) -> String {
    app.queued_secret(email, "invitation", "link")
        .await
        .expect("an invitation mail in the outbox")
}

fn token_of(link: &str) -> String {
    link.split_once("token=")
        .expect("a token in the link")
        .1
        .to_owned()
}

fn new_user(username: &str, email: &str) -> accept_invitation_request::Acceptor {
    accept_invitation_request::Acceptor::NewUser(InvitedUser {
        full_name: format!("{username} Person"),
        username: username.to_owned(),
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        locale: String::new(),
    })
}

async fn accept_as_new(
    app: &TestApp,
    token: &str,
    username: &str,
    email: &str,
) -> Result<AcceptInvitationResponse, tonic::Status> {
    app.invitations_public()
        .accept_invitation(AcceptInvitationRequest {
            token: token.to_owned(),
            acceptor: Some(new_user(username, email)),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn accept_with_session(
    app: &TestApp,
    session: &str,
    token: &str,
) -> Result<AcceptInvitationResponse, tonic::Status> {
    app.invitations_as(session)
        .accept_invitation(AcceptInvitationRequest {
            token: token.to_owned(),
            acceptor: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn status_of(app: &TestApp, invitation_id: &str) -> InvitationStatus {
    app.invitations()
        .get_invitation(GetInvitationRequest {
            invitation_id: invitation_id.to_owned(),
        })
        .await
        .expect("get the invitation")
        .into_inner()
        .invitation
        .expect("an invitation")
        .status()
}

async fn member_count(app: &TestApp, account_id: &str) -> usize {
    app.accounts
        .clone()
        .list_members(ListMembersRequest {
            account_id: account_id.to_owned(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .expect("list members")
        .into_inner()
        .members
        .len()
}

#[tokio::test]
async fn a_new_user_with_the_invited_address_accepts_and_starts_active() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "olga", "Olga's Bakery").await;
    let invited = "Newcomer@Example.test";

    let created = create_as(&app, &owner.session, invite(&owner.account_id, invited))
        .await
        .expect("the owner invites");
    let invitation = created.invitation.expect("an invitation");
    assert_eq!(invitation.status(), InvitationStatus::Pending);
    assert!(
        created.accept_link.is_empty(),
        "mailed links are not returned"
    );
    let link = queued_link(&app, invited).await;
    assert!(link.starts_with("https://accounts.example.test/invitations/accept?token=idi_"));

    let preview = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest {
            token: token_of(&link),
        })
        .await
        .expect("anyone with the link previews it")
        .into_inner();
    assert_eq!(preview.account_name, "Olga's Bakery");
    assert_eq!(preview.inviter_name, "olga Person");
    assert_eq!(preview.status(), InvitationStatus::Pending);
    assert_eq!(preview.permissions.len(), 2);

    let accepted = accept_as_new(&app, &token_of(&link), "newcomer", "newcomer@example.test")
        .await
        .expect("accept as a new user");
    let member = accepted.member.expect("a member");
    assert_eq!(member.account_id, owner.account_id);
    assert_eq!(member.user_id, accepted.created_user_id);
    assert!(!member.owner);
    assert_eq!(
        member.permissions,
        vec![
            i32::from(AccountPermission::Invoices),
            i32::from(AccountPermission::Tickets)
        ]
    );
    let user = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: accepted.created_user_id.clone(),
        })
        .await
        .expect("get the new user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(user.status(), UserStatus::Active);
    assert!(user.email_verified, "the link proved the mailbox");
    session_of(&app, "newcomer").await;

    assert_eq!(
        status_of(&app, &invitation.id).await,
        InvitationStatus::Accepted
    );
    assert_eq!(
        app.mail_count(&email_of("olga"), "invitation_accepted")
            .await,
        1,
        "the inviter hears of it"
    );
    let events = account_events(&app, &owner.account_id).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "invitation.created",
        "invitation.accepted",
        "account.member_added",
        "user.created",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_new_user_with_another_address_must_verify_it() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "oscar", "Oscar Ltd").await;
    let link = owner_invites(&app, &owner, "invited@example.test").await;

    let accepted = accept_as_new(&app, &token_of(&link), "other", "other@example.test")
        .await
        .expect("any address may accept");

    let user = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: accepted.created_user_id,
        })
        .await
        .expect("get the new user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(user.status(), UserStatus::PendingVerification);
    assert!(!user.email_verified);
    assert_eq!(
        app.mail_count("other@example.test", "verification_code")
            .await,
        1
    );
}

#[tokio::test]
async fn an_existing_user_accepts_with_their_session_whatever_their_address() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "opal", "Opal Inc").await;
    let existing = active_user(&app, "eve").await;
    let eve_session = session_of(&app, "eve").await;
    let token = token_of(&owner_invites(&app, &owner, "someone@else.test").await);

    let accepted = accept_with_session(&app, &eve_session, &token)
        .await
        .expect("accept as the signed-in user");

    assert_eq!(accepted.member.expect("a member").user_id, existing.id);
    assert!(accepted.created_user_id.is_empty());
    assert_eq!(member_count(&app, &owner.account_id).await, 2);
}

#[tokio::test]
async fn accepting_needs_a_new_user_or_a_session_and_never_an_api_credential() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "otto", "Otto Co").await;
    let created = create_as(
        &app,
        &app.token,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "x@example.test")
        },
    )
    .await
    .expect("invite");
    let token = token_of(&created.accept_link);

    let status = app
        .invitations_public()
        .accept_invitation(AcceptInvitationRequest {
            token: token.clone(),
            acceptor: None,
        })
        .await
        .expect_err("no session, no new user");
    assert_eq!(violated_fields(&status), ["new_user"]);

    let status = accept_with_session(&app, &app.token, &token)
        .await
        .expect_err("an API credential is no session");
    assert_error(&status, Code::PermissionDenied, "SESSION_REQUIRED");
}

#[tokio::test]
async fn the_owner_of_another_account_cannot_manage_its_invitations() {
    let app = spawn_app_with(hold_mail).await;
    let alice = owner(&app, "alice", "Alice's").await;
    let mallory = owner(&app, "mallory", "Mallory's").await;
    let created = create_as(
        &app,
        &alice.session,
        invite(&alice.account_id, "i@example.test"),
    )
    .await
    .expect("alice invites");
    let id = created.invitation.expect("an invitation").id;

    let status = create_as(
        &app,
        &mallory.session,
        invite(&alice.account_id, "m@example.test"),
    )
    .await
    .expect_err("mallory cannot invite to alice's account");
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    let mut client = app.invitations_as(&mallory.session);
    let status = client
        .list_invitations(ListInvitationsRequest {
            account_id: alice.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("nor list its invitations");
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    let status = client
        .cancel_invitation(CancelInvitationRequest {
            invitation_id: id.clone(),
        })
        .await
        .expect_err("nor cancel one");
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    let status = client
        .resend_invitation(ResendInvitationRequest {
            invitation_id: id.clone(),
            send_email: true,
        })
        .await
        .expect_err("nor resend one");
    assert_error(&status, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    assert_eq!(status_of(&app, &id).await, InvitationStatus::Pending);
}

#[tokio::test]
async fn a_member_who_is_not_the_owner_cannot_invite() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "orla", "Orla's").await;
    let member = active_user(&app, "mike").await;
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: owner.account_id.clone(),
            user_id: member.id,
            permissions: vec![AccountPermission::Profile.into()],
        })
        .await
        .expect("add a member");
    let session = session_of(&app, "mike").await;

    let status = create_as(&app, &session, invite(&owner.account_id, "z@example.test"))
        .await
        .expect_err("members do not invite");
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn disabled_client_user_management_stops_owners_but_not_staff() {
    let app = spawn_app_with(|s: &mut Settings| {
        hold_mail(s);
        s.accounts.client_user_management = false;
    })
    .await;
    let owner = owner(&app, "omar", "Omar's").await;

    let status = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "a@example.test"),
    )
    .await
    .expect_err("owners may not invite");
    assert_error(
        &status,
        Code::PermissionDenied,
        "CLIENT_USER_MANAGEMENT_DISABLED",
    );
    let status = app
        .invitations_as(&owner.session)
        .list_invitations(ListInvitationsRequest {
            account_id: owner.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("nor list");
    assert_error(
        &status,
        Code::PermissionDenied,
        "CLIENT_USER_MANAGEMENT_DISABLED",
    );

    create_as(
        &app,
        &app.token,
        invite(&owner.account_id, "a@example.test"),
    )
    .await
    .expect("staff still may");
    let (read_only, _) = app.staff_token_with("reader", &["invitations.read"]).await;
    let status = create_as(
        &app,
        &read_only,
        invite(&owner.account_id, "b@example.test"),
    )
    .await
    .expect_err("staff need invitations.write");
    assert_error(&status, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn invitations_expire_after_seven_days_and_resending_revives_them() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "omega", "Omega").await;
    let created = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "late@example.test"),
    )
    .await
    .expect("invite");
    let id = created.invitation.expect("an invitation").id;
    let old_token = token_of(&queued_link(&app, "late@example.test").await);

    app.clock.advance(Duration::from_secs(7 * 24 * 3600 - 60));
    assert_eq!(status_of(&app, &id).await, InvitationStatus::Pending);
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(status_of(&app, &id).await, InvitationStatus::Expired);
    let preview = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest {
            token: old_token.clone(),
        })
        .await
        .expect("an expired link still previews")
        .into_inner();
    assert_eq!(preview.status(), InvitationStatus::Expired);
    let status = accept_as_new(&app, &old_token, "late", "late@example.test")
        .await
        .expect_err("an expired link does not work");
    assert_eq!(violated_fields(&status), ["token"]);
    let expired = app
        .invitations()
        .list_invitations(ListInvitationsRequest {
            account_id: owner.account_id.clone(),
            status: InvitationStatus::Expired.into(),
            ..Default::default()
        })
        .await
        .expect("list expired invitations")
        .into_inner()
        .invitations;
    assert_eq!(expired.len(), 1);

    // The owner's session ended long ago; they sign in again.
    let session = session_of(&app, "omega").await;
    let resent = app
        .invitations_as(&session)
        .resend_invitation(ResendInvitationRequest {
            invitation_id: id.clone(),
            send_email: true,
        })
        .await
        .expect("resend")
        .into_inner();
    assert_eq!(
        resent.invitation.expect("an invitation").status(),
        InvitationStatus::Pending
    );
    let new_token = token_of(&queued_link(&app, "late@example.test").await);
    assert_ne!(new_token, old_token);
    accept_as_new(&app, &new_token, "late", "late@example.test")
        .await
        .expect("the fresh link works");
}

#[tokio::test]
async fn resending_kills_the_old_link() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "olaf", "Olaf").await;
    let created = create_as(
        &app,
        &app.token,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "r@example.test")
        },
    )
    .await
    .expect("invite");
    assert_eq!(app.mail_count("r@example.test", "invitation").await, 0);
    let old_token = token_of(&created.accept_link);
    let id = created.invitation.expect("an invitation").id;

    let resent = app
        .invitations()
        .resend_invitation(ResendInvitationRequest {
            invitation_id: id,
            send_email: false,
        })
        .await
        .expect("staff resend")
        .into_inner();
    let new_token = token_of(&resent.accept_link);

    let status = accept_as_new(&app, &old_token, "rita", "r@example.test")
        .await
        .expect_err("the old link is dead");
    assert_eq!(violated_fields(&status), ["token"]);
    accept_as_new(&app, &new_token, "rita", "r@example.test")
        .await
        .expect("the new link works");
}

#[tokio::test]
async fn a_cancelled_invitation_cannot_be_accepted_or_cancelled_again() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "ophelia", "Ophelia").await;
    let created = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "c@example.test"),
    )
    .await
    .expect("invite");
    let id = created.invitation.expect("an invitation").id;
    let token = token_of(&queued_link(&app, "c@example.test").await);

    let cancelled = app
        .invitations_as(&owner.session)
        .cancel_invitation(CancelInvitationRequest {
            invitation_id: id.clone(),
        })
        .await
        .expect("the owner cancels")
        .into_inner()
        .invitation
        .expect("an invitation");
    assert_eq!(cancelled.status(), InvitationStatus::Cancelled);
    assert!(cancelled.cancel_time.is_some());

    let status = accept_as_new(&app, &token, "carl", "c@example.test")
        .await
        .expect_err("a cancelled link is dead");
    assert_eq!(violated_fields(&status), ["token"]);
    let status = app
        .invitations()
        .cancel_invitation(CancelInvitationRequest { invitation_id: id })
        .await
        .expect_err("only pending invitations can be cancelled");
    assert_error(&status, Code::FailedPrecondition, "INVITATION_NOT_PENDING");
}

#[tokio::test]
async fn a_link_works_once() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "oliver", "Oliver").await;
    let token = token_of(&owner_invites(&app, &owner, "d@example.test").await);
    accept_as_new(&app, &token, "dora", "d@example.test")
        .await
        .expect("the first accept works");

    let status = accept_as_new(&app, &token, "dan", "dan@example.test")
        .await
        .expect_err("the second does not");
    assert_eq!(violated_fields(&status), ["token"]);
    let preview = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest { token })
        .await
        .expect("preview a used link")
        .into_inner();
    assert_eq!(preview.status(), InvitationStatus::Accepted);
    let status = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest {
            token: format!("idi_{}", "0".repeat(64)),
        })
        .await
        .expect_err("an unknown token");
    assert_eq!(violated_fields(&status), ["token"]);
}

#[tokio::test]
async fn concurrent_accepts_of_one_link_make_exactly_one_member() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "orson", "Orson").await;
    let created = create_as(
        &app,
        &app.token,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "race@example.test")
        },
    )
    .await
    .expect("invite");
    let token = token_of(&created.accept_link);

    let mut tasks = Vec::new();
    for n in 0..8 {
        let client = app.invitations_public();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = client;
            client
                .accept_invitation(AcceptInvitationRequest {
                    token,
                    acceptor: Some(new_user(
                        &format!("racer{n}"),
                        &format!("racer{n}@example.test"),
                    )),
                })
                .await
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.expect("the task ends") {
            Ok(_) => succeeded += 1,
            Err(status) => assert_eq!(violated_fields(&status), ["token"]),
        }
    }

    assert_eq!(succeeded, 1);
    assert_eq!(member_count(&app, &owner.account_id).await, 2);
}

#[tokio::test]
async fn one_pending_invitation_per_address_and_none_for_members() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "odile", "Odile").await;
    let first = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "Twice@Example.test"),
    )
    .await
    .expect("invite");
    let first_id = first.invitation.expect("an invitation").id;
    let first_token = token_of(&queued_link(&app, "twice@example.test").await);

    let status = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "twice@example.test"),
    )
    .await
    .expect_err("one pending invitation per address");
    assert_error(&status, Code::AlreadyExists, "INVITATION_PENDING");

    let second = create_as(
        &app,
        &owner.session,
        CreateInvitationRequest {
            replace_pending: true,
            ..invite(&owner.account_id, "twice@example.test")
        },
    )
    .await
    .expect("replace the pending invitation");
    assert_ne!(second.invitation.expect("an invitation").id, first_id);
    assert_eq!(
        status_of(&app, &first_id).await,
        InvitationStatus::Cancelled
    );
    let status = accept_as_new(&app, &first_token, "twice", "twice@example.test")
        .await
        .expect_err("the replaced link is dead");
    assert_eq!(violated_fields(&status), ["token"]);
    let token = token_of(&queued_link(&app, "twice@example.test").await);
    accept_as_new(&app, &token, "twice", "twice@example.test")
        .await
        .expect("the replacement works");

    let status = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "twice@example.test"),
    )
    .await
    .expect_err("a member cannot be invited again");
    assert_error(&status, Code::AlreadyExists, "ALREADY_MEMBER");
    let status = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, &email_of("odile")),
    )
    .await
    .expect_err("nor the owner");
    assert_error(&status, Code::AlreadyExists, "ALREADY_MEMBER");
}

#[tokio::test]
async fn an_existing_member_accepting_another_invitation_is_refused() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "ozzy", "Ozzy").await;
    let token = token_of(&owner_invites(&app, &owner, "n@example.test").await);

    let member = active_user(&app, "nora").await;
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: owner.account_id.clone(),
            user_id: member.id,
            permissions: vec![AccountPermission::Profile.into()],
        })
        .await
        .expect("add a member");
    let session = session_of(&app, "nora").await;

    let status = accept_with_session(&app, &session, &token)
        .await
        .expect_err("nora is a member already");
    assert_error(&status, Code::AlreadyExists, "ALREADY_MEMBER");
    accept_as_new(&app, &token, "nick", "n@example.test")
        .await
        .expect("the link still works for someone else");
}

#[tokio::test]
async fn a_retried_create_returns_the_same_invitation_without_the_link() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "orin", "Orin").await;
    let request = CreateInvitationRequest {
        send_email: false,
        request_id: "retry-1".to_owned(),
        ..invite(&owner.account_id, "retry@example.test")
    };
    let first = create_as(&app, &app.token, request.clone())
        .await
        .expect("create");
    let again = create_as(&app, &app.token, request).await.expect("retry");

    assert!(!first.accept_link.is_empty());
    assert!(again.accept_link.is_empty());
    assert_eq!(
        first.invitation.expect("an invitation").id,
        again.invitation.expect("an invitation").id
    );
}

#[tokio::test]
async fn the_invitation_mail_arrives_over_smtp_with_a_working_link() {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_app_with(move |s: &mut Settings| {
        s.mail.transport = MailTransportKind::Smtp;
        s.mail.smtp.port = port;
    })
    .await;
    let owner = owner(&app, "orwell", "Orwell Books").await;
    create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "reader@example.test"),
    )
    .await
    .expect("invite");

    let delivered = sink.wait_for(1).await;
    let message = delivered
        .iter()
        .map(|m| m.replace("=\r\n", "").replace("=3D", "="))
        .find(|m| m.contains("reader@example.test"))
        .expect("the invitation mail was delivered");
    assert!(message.contains("Orwell Books"));
    let start = message
        .find("https://accounts.example.test/invitations/accept?token=")
        .expect("a link in the mail");
    let link: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/._?=-".contains(*c))
        .collect();
    let token = token_of(&link);

    let preview = app
        .invitations_public()
        .preview_invitation(PreviewInvitationRequest {
            token: token.clone(),
        })
        .await
        .expect("preview with the delivered link")
        .into_inner();
    assert_eq!(preview.account_name, "Orwell Books");
    accept_as_new(&app, &token, "reader", "reader@example.test")
        .await
        .expect("accept with the delivered link");
    assert_eq!(member_count(&app, &owner.account_id).await, 2);
}

#[tokio::test]
async fn concurrent_accepts_by_signed_in_users_make_exactly_one_member() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "orla", "Orla").await;
    let created = create_as(
        &app,
        &app.token,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "crowd@example.test")
        },
    )
    .await
    .expect("invite");
    let token = token_of(&created.accept_link);
    let mut sessions = Vec::new();
    for n in 0..8 {
        let username = format!("signed{n}");
        active_user(&app, &username).await;
        sessions.push(session_of(&app, &username).await);
    }

    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let mut client = app.invitations_as(&session);
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .accept_invitation(AcceptInvitationRequest {
                        token,
                        acceptor: None,
                    })
                    .await
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.expect("the task ends") {
            Ok(_) => succeeded += 1,
            Err(status) => assert_eq!(violated_fields(&status), ["token"]),
        }
    }

    assert_eq!(succeeded, 1);
    assert_eq!(member_count(&app, &owner.account_id).await, 2);
}

#[tokio::test]
async fn invitations_list_newest_first_in_pages_and_by_status() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "opie", "Opie").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = create_as(
            &app,
            &owner.session,
            invite(&owner.account_id, &format!("p{n}@example.test")),
        )
        .await
        .expect("invite");
        ids.push(created.invitation.expect("an invitation").id);
    }
    app.invitations()
        .cancel_invitation(CancelInvitationRequest {
            invitation_id: ids[0].clone(),
        })
        .await
        .expect("cancel the first");
    let mut client = app.invitations_as(&owner.session);
    let list = |status: InvitationStatus, page_token: String| ListInvitationsRequest {
        account_id: owner.account_id.clone(),
        status: status.into(),
        page_size: 2,
        page_token,
    };

    let first = client
        .list_invitations(list(InvitationStatus::Unspecified, String::new()))
        .await
        .expect("the first page")
        .into_inner();
    let second = client
        .list_invitations(list(InvitationStatus::Unspecified, first.next_page_token))
        .await
        .expect("the second page")
        .into_inner();
    let pending = client
        .list_invitations(list(InvitationStatus::Pending, String::new()))
        .await
        .expect("pending invitations")
        .into_inner();
    let cancelled = client
        .list_invitations(list(InvitationStatus::Cancelled, String::new()))
        .await
        .expect("cancelled invitations")
        .into_inner();

    let listed: Vec<String> = first
        .invitations
        .iter()
        .chain(&second.invitations)
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(listed, [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    assert!(second.next_page_token.is_empty());
    assert_eq!(pending.invitations.len(), 2);
    assert!(pending.next_page_token.is_empty());
    assert_eq!(cancelled.invitations.len(), 1);
    assert_eq!(cancelled.invitations[0].id, ids[0]);
    let status = client
        .list_invitations(list(InvitationStatus::Pending, "bogus".to_owned()))
        .await
        .expect_err("a foreign page token");
    assert_eq!(violated_fields(&status), ["page_token"]);
}

// Issue 11, defect 1: verified email addresses that nobody proved.

#[tokio::test]
async fn an_owner_session_cannot_take_the_link_instead_of_a_mail() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "ursula", "Ursula's").await;

    let status = create_as(
        &app,
        &owner.session,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "victim@example.test")
        },
    )
    .await
    .expect_err("only staff may take the link");
    assert_error(&status, Code::PermissionDenied, "LINK_REQUIRES_STAFF");
    let listed = app
        .invitations()
        .list_invitations(ListInvitationsRequest {
            account_id: owner.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .invitations;
    assert!(listed.is_empty(), "nothing was created: {listed:?}");

    let created = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "victim@example.test"),
    )
    .await
    .expect("a mailed invitation is fine");
    let status = app
        .invitations_as(&owner.session)
        .resend_invitation(ResendInvitationRequest {
            invitation_id: created.invitation.expect("an invitation").id,
            send_email: false,
        })
        .await
        .expect_err("nor on resend");
    assert_error(&status, Code::PermissionDenied, "LINK_REQUIRES_STAFF");
}

/// The user `accepted` created, as staff sees it.
async fn created_user(
    app: &TestApp,
    accepted: &AcceptInvitationResponse,
) -> identityd::proto::User {
    app.users
        .clone()
        .get_user(GetUserRequest {
            user_id: accepted.created_user_id.clone(),
        })
        .await
        .expect("get the new user")
        .into_inner()
        .user
        .expect("a user")
}

#[tokio::test]
async fn a_link_handed_to_staff_does_not_verify_the_invited_address() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "umberto", "Umberto's").await;
    let created = create_as(
        &app,
        &app.token,
        CreateInvitationRequest {
            send_email: false,
            ..invite(&owner.account_id, "nobody-proved@example.test")
        },
    )
    .await
    .expect("staff take the link");
    assert!(!created.accept_link.is_empty());

    let accepted = accept_as_new(
        &app,
        &token_of(&created.accept_link),
        "unproved",
        "nobody-proved@example.test",
    )
    .await
    .expect("accept as a new user");

    let user = created_user(&app, &accepted).await;
    assert_eq!(user.status(), UserStatus::PendingVerification);
    assert!(!user.email_verified, "identityd never reached that mailbox");
    assert_eq!(
        app.mail_count("nobody-proved@example.test", "verification_code")
            .await,
        1
    );
}

#[tokio::test]
async fn a_resend_that_returns_the_link_makes_the_invitation_unmailed_again() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "ulrike", "Ulrike's").await;
    let invited = "twice-sent@example.test";
    let created = create_as(&app, &owner.session, invite(&owner.account_id, invited))
        .await
        .expect("a mailed invitation");
    let invitation = created.invitation.expect("an invitation");
    assert!(invitation.link_mailed);
    let id = invitation.id;
    let resend = |send_email: bool| ResendInvitationRequest {
        invitation_id: id.clone(),
        send_email,
    };

    // Staff take a fresh link: the mailed one dies and the new one was
    // never mailed, so it proves nothing.
    let handed = app
        .invitations()
        .resend_invitation(resend(false))
        .await
        .expect("staff resend without mail")
        .into_inner();
    assert!(
        !handed
            .invitation
            .as_ref()
            .expect("an invitation")
            .link_mailed
    );
    let accepted = accept_as_new(&app, &token_of(&handed.accept_link), "handed", invited)
        .await
        .expect("accept with the handed link");
    let user = created_user(&app, &accepted).await;
    assert!(!user.email_verified);
    assert_eq!(user.status(), UserStatus::PendingVerification);

    // A mailed link proves the mailbox again.
    let second = create_as(
        &app,
        &app.token,
        invite(&owner.account_id, "later@example.test"),
    )
    .await
    .expect("invite another");
    let second_id = second.invitation.expect("an invitation").id;
    app.invitations()
        .resend_invitation(ResendInvitationRequest {
            invitation_id: second_id.clone(),
            send_email: false,
        })
        .await
        .expect("resend without mail");
    app.invitations()
        .resend_invitation(ResendInvitationRequest {
            invitation_id: second_id,
            send_email: true,
        })
        .await
        .expect("resend with mail");
    let mailed = queued_link(&app, "later@example.test").await;
    let accepted = accept_as_new(&app, &token_of(&mailed), "later", "later@example.test")
        .await
        .expect("accept with the mailed link");
    let user = created_user(&app, &accepted).await;
    assert!(user.email_verified);
    assert_eq!(user.status(), UserStatus::Active);
}

// Issue 11, defect 5: staff granting themselves membership.

/// A user with [`PASSWORD`] made staff with an admin role granting exactly
/// `permissions`, and a session of theirs.
async fn staff_with_session(
    app: &TestApp,
    username: &str,
    permissions: &[&str],
) -> (String, String) {
    let user = active_user(app, username).await;
    let role = app
        .create_role(
            &format!("{username} role"),
            identityd::proto::RoleKind::Admin,
            permissions,
        )
        .await;
    app.admin
        .clone()
        .assign_admin_role(identityd::proto::AssignAdminRoleRequest {
            user_id: user.id.clone(),
            role_id: role.id,
        })
        .await
        .expect("make them staff");
    (user.id, session_of(app, username).await)
}

#[tokio::test]
async fn staff_cannot_invite_a_staff_address_nor_accept_their_own_invitation() {
    let app = spawn_app_with(hold_mail).await;
    let victim = owner(&app, "vera", "Vera's Shop").await;
    let (sam_id, sam) = staff_with_session(&app, "sam", &["invitations.write"]).await;
    let (_, sue) = staff_with_session(&app, "sue", &["invitations.write"]).await;
    let all = |email: &str| CreateInvitationRequest {
        all_permissions: true,
        send_email: false,
        ..invite(&victim.account_id, email)
    };

    // Their own address, or a colleague's (who could return the favour).
    for email in [email_of("sam"), email_of("sue")] {
        let status = create_as(&app, &sam, all(&email))
            .await
            .expect_err("no staff address");
        assert_error(&status, Code::PermissionDenied, "INVITEE_IS_STAFF");
    }

    // Any other address gets a link, but sam cannot accept it himself, nor
    // can a colleague.
    let created = create_as(&app, &sam, all("alias-of-sam@example.test"))
        .await
        .expect("invite another address");
    let token = token_of(&created.accept_link);
    let status = accept_with_session(&app, &sam, &token)
        .await
        .expect_err("the inviter cannot accept");
    assert_error(&status, Code::PermissionDenied, "INVITER_CANNOT_ACCEPT");
    let status = accept_with_session(&app, &sue, &token)
        .await
        .expect_err("nor another staff user");
    assert_error(&status, Code::PermissionDenied, "INVITEE_IS_STAFF");

    // Through an API credential the inviter is the credential's owner.
    let api_role = app
        .create_role(
            "sam api",
            identityd::proto::RoleKind::Api,
            &["invitations.write"],
        )
        .await;
    let credential = app.mint_credential(&sam_id, &[&api_role.id]).await;
    let created = create_as(&app, &credential, all("other-alias@example.test"))
        .await
        .expect("the credential invites");
    let status = accept_with_session(&app, &sam, &token_of(&created.accept_link))
        .await
        .expect_err("the credential's owner cannot accept");
    assert_error(&status, Code::PermissionDenied, "INVITER_CANNOT_ACCEPT");

    assert_eq!(member_count(&app, &victim.account_id).await, 1);
    assert_eq!(
        status_of(&app, &created.invitation.expect("an invitation").id).await,
        InvitationStatus::Pending
    );
}

// Issue 11, defect 6: invitations outliving the right to invite.

#[tokio::test]
async fn transferring_ownership_retires_the_previous_owners_invitations() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "walter", "Walter's").await;
    let heir = active_user(&app, "wendy").await;
    let created = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "friend-of-walter@example.test"),
    )
    .await
    .expect("invite");
    let id = created.invitation.expect("an invitation").id;
    let token = token_of(&queued_link(&app, "friend-of-walter@example.test").await);

    app.accounts
        .clone()
        .transfer_ownership(identityd::proto::TransferOwnershipRequest {
            account_id: owner.account_id.clone(),
            new_owner_user_id: heir.id,
            remove_previous_owner: false,
        })
        .await
        .expect("transfer");

    assert_eq!(status_of(&app, &id).await, InvitationStatus::Cancelled);
    let status = accept_as_new(&app, &token, "friend", "friend-of-walter@example.test")
        .await
        .expect_err("the link died with the right to invite");
    assert_eq!(violated_fields(&status), ["token"]);
    let events = account_events(&app, &owner.account_id).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "invitation.cancelled" && e.target_id == id),
        "no cancellation event in {events:?}"
    );
}

#[tokio::test]
async fn accepting_rechecks_that_the_inviter_may_still_invite() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "xena", "Xena's").await;
    let owners_token = token_of(&owner_invites(&app, &owner, "owner-invited@example.test").await);
    let (staff_id, staff) = staff_with_session(&app, "xavier", &["invitations.write"]).await;
    let created = create_as(
        &app,
        &staff,
        invite(&owner.account_id, "staff-invited@example.test"),
    )
    .await
    .expect("staff invite");
    let staff_token = token_of(&queued_link(&app, "staff-invited@example.test").await);

    // Staff who lose their admin role can no longer bring anyone in.
    app.admin
        .clone()
        .unassign_admin_role(identityd::proto::UnassignAdminRoleRequest { user_id: staff_id })
        .await
        .expect("demote");
    let status = accept_as_new(
        &app,
        &staff_token,
        "staffinvitee",
        "staff-invited@example.test",
    )
    .await
    .expect_err("the inviter lost invitations.write");
    assert_error(&status, Code::FailedPrecondition, "INVITATION_WITHDRAWN");
    assert_eq!(
        status_of(&app, &created.invitation.expect("an invitation").id).await,
        InvitationStatus::Pending
    );

    // A revoked credential's invitations stop too, though its owner is
    // still staff.
    let (credential, billing) = app
        .staff_token_with("billing", &["invitations.write"])
        .await;
    create_as(
        &app,
        &credential,
        invite(&owner.account_id, "billing-invited@example.test"),
    )
    .await
    .expect("the credential invites");
    let billing_token = token_of(&queued_link(&app, "billing-invited@example.test").await);
    let credential_id = app
        .admin
        .clone()
        .list_api_credentials(identityd::proto::ListApiCredentialsRequest {
            owner_user_id: billing.user_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list credentials")
        .into_inner()
        .api_credentials[0]
        .id
        .clone();
    app.admin
        .clone()
        .revoke_api_credential(identityd::proto::RevokeApiCredentialRequest {
            api_credential_id: credential_id,
        })
        .await
        .expect("revoke");
    let status = accept_as_new(
        &app,
        &billing_token,
        "billinginvitee",
        "billing-invited@example.test",
    )
    .await
    .expect_err("the credential no longer works");
    assert_error(&status, Code::FailedPrecondition, "INVITATION_WITHDRAWN");

    // Owners stop when the operator turns client user management off.
    let app = app
        .restart_with(|s: &mut Settings| {
            hold_mail(s);
            s.accounts.client_user_management = false;
        })
        .await;
    let status = accept_as_new(
        &app,
        &owners_token,
        "ownerinvitee",
        "owner-invited@example.test",
    )
    .await
    .expect_err("owners may no longer manage members");
    assert_error(&status, Code::FailedPrecondition, "INVITATION_WITHDRAWN");
    assert_eq!(member_count(&app, &owner.account_id).await, 1);
}

#[tokio::test]
async fn an_old_link_racing_a_resend_never_wins() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "yusuf", "Yusuf's").await;
    for round in 0..4 {
        let email = format!("racer-{round}@example.test");
        let created = create_as(
            &app,
            &app.token,
            CreateInvitationRequest {
                send_email: false,
                ..invite(&owner.account_id, &email)
            },
        )
        .await
        .expect("invite");
        let id = created.invitation.expect("an invitation").id;
        let old_token = token_of(&created.accept_link);

        // Accepting as a new user hashes a password between reading the
        // invitation and updating it: a resend lands in that gap.
        let mut accepting = app.invitations_public();
        let accept = tokio::spawn(async move {
            accepting
                .accept_invitation(AcceptInvitationRequest {
                    token: old_token,
                    acceptor: Some(new_user(&format!("racer{round}"), &email)),
                })
                .await
        });
        let mut resending = app.invitations();
        let resend = tokio::spawn(async move {
            resending
                .resend_invitation(ResendInvitationRequest {
                    invitation_id: id,
                    send_email: false,
                })
                .await
        });
        let accepted = accept.await.expect("the accept ends");
        let resent = resend.await.expect("the resend ends");

        match (&accepted, &resent) {
            (Ok(_), Err(status)) => {
                assert_error(status, Code::FailedPrecondition, "INVITATION_NOT_PENDING");
            }
            (Err(status), Ok(_)) => assert_eq!(violated_fields(status), ["token"]),
            _ => panic!("exactly one must win: {accepted:?} / {resent:?}"),
        }
    }
}

// Issue 11, defect 7: AcceptInvitation telling who has signed up.

#[tokio::test]
async fn a_known_address_gets_the_answer_an_unverified_new_user_gets() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "zelda", "Zelda's").await;
    active_user(&app, "eve").await;
    create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "z1@example.test"),
    )
    .await
    .expect("invite");
    let id = app
        .invitations()
        .list_invitations(ListInvitationsRequest {
            account_id: owner.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .invitations[0]
        .id
        .clone();
    let token = token_of(&queued_link(&app, "z1@example.test").await);

    let probe = accept_as_new(&app, &token, "prober", &email_of("eve"))
        .await
        .expect("a known address is not told apart");
    let member = probe.member.expect("a member");
    assert!(!probe.created_user_id.is_empty());
    assert_eq!(member.user_id, probe.created_user_id);
    assert_eq!(member.email, email_of("eve"));
    assert_eq!(member.username, "prober");
    assert!(!member.owner);
    assert_eq!(member.permissions.len(), 2);

    // Nothing was created, the invitation waits, and eve hears of it.
    let status = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: probe.created_user_id.clone(),
        })
        .await
        .expect_err("no such user");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status_of(&app, &id).await, InvitationStatus::Pending);
    assert_eq!(member_count(&app, &owner.account_id).await, 1);
    assert_eq!(app.mail_count(&email_of("eve"), "sign_up_attempt").await, 1);

    // A new address that is not the invited one looks the same.
    let real = accept_as_new(&app, &token, "newbie", "newbie@example.test")
        .await
        .expect("a new user");
    let real_member = real.member.clone().expect("a member");
    assert!(!real.created_user_id.is_empty());
    assert_eq!(real_member.permissions, member.permissions);
    assert_eq!(real_member.owner, member.owner);
    assert_eq!(
        created_user(&app, &real).await.status(),
        UserStatus::PendingVerification
    );
}

#[tokio::test]
async fn taken_usernames_in_accept_are_counted_against_the_throttles() {
    let app = spawn_app_with(hold_mail).await;
    let owner = owner(&app, "quinn", "Quinn's").await;
    active_user(&app, "taken").await;
    let token = token_of(&owner_invites(&app, &owner, "q@example.test").await);

    let mut throttled = false;
    for attempt in 0..30 {
        let status = accept_as_new(&app, &token, "taken", "q@example.test")
            .await
            .expect_err("the username is taken");
        if status.code() == Code::ResourceExhausted {
            assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
            assert!(attempt > 0, "the first attempt is answered");
            throttled = true;
            break;
        }
        assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");
    }
    assert!(throttled, "probing usernames must be throttled");
}

// Issue 11, defect 10: one caller mailing strangers in bulk.

#[tokio::test]
async fn one_inviter_cannot_mail_more_invitations_than_the_hourly_budget() {
    let app = spawn_app_with(|s: &mut Settings| {
        hold_mail(s);
        s.invitations.mails_per_hour = 3;
    })
    .await;
    let other = owner(&app, "honest", "Honest Ltd").await;
    let owner = owner(&app, "spammer", "Spam Inc").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = create_as(
            &app,
            &owner.session,
            invite(&owner.account_id, &format!("stranger{n}@example.test")),
        )
        .await
        .expect("within the budget");
        ids.push(created.invitation.expect("an invitation").id);
    }

    let status = create_as(
        &app,
        &owner.session,
        invite(&owner.account_id, "stranger3@example.test"),
    )
    .await
    .expect_err("over the budget");
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    let retry = tonic_types::StatusExt::get_details_retry_info(&status).expect("RetryInfo");
    let delay = retry.retry_delay.expect("a delay");
    assert!(delay > Duration::from_secs(3000) && delay <= Duration::from_secs(3600));
    assert_eq!(
        app.mail_count("stranger3@example.test", "invitation").await,
        0
    );
    let status = app
        .invitations_as(&owner.session)
        .resend_invitation(ResendInvitationRequest {
            invitation_id: ids[0].clone(),
            send_email: true,
        })
        .await
        .expect_err("resending counts too");
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    assert_eq!(
        app.mail_count("stranger0@example.test", "invitation").await,
        1
    );
    let listed = app
        .invitations()
        .list_invitations(ListInvitationsRequest {
            account_id: owner.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .invitations;
    assert_eq!(listed.len(), 3, "the refused call wrote nothing");

    create_as(
        &app,
        &other.session,
        invite(&other.account_id, "friend@example.test"),
    )
    .await
    .expect("another inviter has their own budget");
    app.clock.advance(Duration::from_secs(3600));
    let session = session_of(&app, "spammer").await;
    create_as(
        &app,
        &session,
        invite(&owner.account_id, "stranger3@example.test"),
    )
    .await
    .expect("a new hour, a new budget");
}
