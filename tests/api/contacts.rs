//! Account contacts (people an account mails who are not logins) and
//! ClassifyCorrespondent, for staff and for sessions acting for an account.

use identityd::proto::{
    AccountPermission as P, AddContactRequest, AddMemberRequest, ClassifyCorrespondentRequest,
    ClassifyCorrespondentResponse, ContactMail, Correspondent, ListContactsRequest,
    RemoveContactRequest, UpdateContactRequest,
};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, spawn_app, violated_fields};
use crate::people::{account_of, active_user, email_of, session_of};

fn contact(account_id: &str, name: &str, email: &str, mails: &[ContactMail]) -> AddContactRequest {
    AddContactRequest {
        account_id: account_id.to_owned(),
        full_name: name.to_owned(),
        email: email.to_owned(),
        mails: mails.iter().map(|m| (*m).into()).collect(),
    }
}

async fn classify(app: &TestApp, account_id: &str, email: &str) -> ClassifyCorrespondentResponse {
    app.accounts
        .clone()
        .classify_correspondent(ClassifyCorrespondentRequest {
            account_id: account_id.to_owned(),
            email: email.to_owned(),
        })
        .await
        .expect("classify")
        .into_inner()
}

#[tokio::test]
async fn staff_keep_an_accounts_contacts_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let owner = active_user(&app, "olive").await;
    let account = account_of(&app, &owner.id, "Olive Ltd").await;
    let mut accounts = app.accounts.clone();

    let added = accounts
        .add_contact(contact(
            &account,
            "Carl Accountant",
            "carl@books.example",
            &[
                ContactMail::Support,
                ContactMail::Invoices,
                ContactMail::Invoices,
            ],
        ))
        .await
        .expect("add")
        .into_inner()
        .contact
        .expect("a contact");
    assert_eq!(added.account_id, account);
    assert_eq!(
        added.mails,
        [
            i32::from(ContactMail::Invoices),
            i32::from(ContactMail::Support)
        ],
        "each once, in a fixed order"
    );

    let twice = accounts
        .add_contact(contact(&account, "Carl Again", "CARL@books.example", &[]))
        .await
        .expect_err("one contact per address");
    assert_error(&twice, Code::AlreadyExists, "CONTACT_EMAIL_TAKEN");

    let bad = accounts
        .add_contact(AddContactRequest {
            account_id: account.clone(),
            full_name: " ".into(),
            email: "not an address".into(),
            mails: vec![99],
        })
        .await
        .expect_err("bad fields");
    assert_eq!(violated_fields(&bad), ["full_name", "email", "mails[0]"]);

    let updated = accounts
        .update_contact(UpdateContactRequest {
            contact_id: added.id.clone(),
            full_name: "Carl Books".into(),
            email: "carl@newbooks.example".into(),
            mails: vec![ContactMail::General.into()],
        })
        .await
        .expect("update")
        .into_inner()
        .contact
        .expect("a contact");
    assert_eq!(updated.full_name, "Carl Books");
    assert_eq!(updated.mails, [i32::from(ContactMail::General)]);

    let listed = accounts
        .list_contacts(ListContactsRequest {
            account_id: account.clone(),
        })
        .await
        .expect("list")
        .into_inner()
        .contacts;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].email, "carl@newbooks.example");

    accounts
        .remove_contact(RemoveContactRequest {
            contact_id: added.id.clone(),
        })
        .await
        .expect("remove");
    let gone = accounts
        .remove_contact(RemoveContactRequest {
            contact_id: added.id.clone(),
        })
        .await
        .expect_err("gone");
    assert_error(&gone, Code::NotFound, "CONTACT_NOT_FOUND");
}

#[tokio::test]
async fn sessions_need_the_contacts_permission_in_their_own_account() {
    let app = spawn_app().await;
    let owner = active_user(&app, "olga").await;
    let account = account_of(&app, &owner.id, "Olga Co").await;
    let helper = active_user(&app, "hugo").await;
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account.clone(),
            user_id: helper.id.clone(),
            permissions: vec![P::Tickets.into()],
        })
        .await
        .expect("add a member");
    let stranger = active_user(&app, "sven").await;
    let elsewhere = account_of(&app, &stranger.id, "Sven AB").await;

    // The owner holds every permission, CONTACTS included.
    let mut as_owner = app.accounts_as(&session_of(&app, "olga").await);
    let added = as_owner
        .add_contact(contact(
            &account,
            "Pat Support",
            "pat@olga.example",
            &[ContactMail::Support],
        ))
        .await
        .expect("the owner adds a contact")
        .into_inner()
        .contact
        .expect("a contact");

    // A member without CONTACTS may not read or change them.
    let mut as_helper = app.accounts_as(&session_of(&app, "hugo").await);
    let denied = as_helper
        .list_contacts(ListContactsRequest {
            account_id: account.clone(),
        })
        .await
        .expect_err("no CONTACTS permission");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Another account's owner cannot see or touch this one's contacts.
    let mut as_stranger = app.accounts_as(&session_of(&app, "sven").await);
    let hidden = as_stranger
        .remove_contact(RemoveContactRequest {
            contact_id: added.id.clone(),
        })
        .await
        .expect_err("someone else's contact");
    assert_error(&hidden, Code::NotFound, "CONTACT_NOT_FOUND");
    let other = as_stranger
        .add_contact(contact(&account, "Eve", "eve@evil.example", &[]))
        .await
        .expect_err("not their account");
    assert_error(&other, Code::PermissionDenied, "ACCOUNT_NOT_SELECTED");
    as_stranger
        .add_contact(contact(&elsewhere, "Own Contact", "own@sven.example", &[]))
        .await
        .expect("their own account");
}

#[tokio::test]
async fn a_support_desk_learns_who_an_address_is_for_an_account() {
    let app = spawn_app().await;
    let owner = active_user(&app, "oscar").await;
    let account = account_of(&app, &owner.id, "Oscar Inc").await;
    let member = active_user(&app, "mia").await;
    app.accounts
        .clone()
        .add_member(AddMemberRequest {
            account_id: account.clone(),
            user_id: member.id.clone(),
            permissions: vec![P::Tickets.into(), P::Invoices.into()],
        })
        .await
        .expect("add a member");
    let outsider = active_user(&app, "otto").await;
    app.accounts
        .clone()
        .add_contact(contact(
            &account,
            "Cleo",
            "cleo@oscar.example",
            &[ContactMail::Support],
        ))
        .await
        .expect("add a contact");
    let (_, staff) = app.staff_token_with("desk", &["accounts.read"]).await;

    let answer = classify(&app, &account, &email_of("oscar").to_uppercase()).await;
    assert_eq!(answer.correspondent(), Correspondent::Owner);
    assert_eq!(answer.user_id, owner.id);
    let answer = classify(&app, &account, &email_of("mia")).await;
    assert_eq!(answer.correspondent(), Correspondent::AuthorizedUser);
    assert_eq!(answer.user_id, member.id);
    assert_eq!(
        answer.permissions,
        [i32::from(P::Invoices), i32::from(P::Tickets)]
    );
    let answer = classify(&app, &account, "cleo@oscar.example").await;
    assert_eq!(answer.correspondent(), Correspondent::SubAccount);
    assert_eq!(answer.contact.expect("the contact").full_name, "Cleo");
    let answer = classify(&app, &account, &staff.email).await;
    assert_eq!(answer.correspondent(), Correspondent::Operator);
    let answer = classify(&app, &account, &outsider.email).await;
    assert_eq!(answer.correspondent(), Correspondent::RegisteredUser);
    assert_eq!(answer.user_id, outsider.id);
    let answer = classify(&app, &account, "nobody@example.test").await;
    assert_eq!(answer.correspondent(), Correspondent::Guest);
    assert!(answer.user_id.is_empty() && answer.permissions.is_empty());

    // It tells whether an address is registered: accounts.read alone is not enough.
    let (reader, _) = app.staff_token_with("reader", &["accounts.read"]).await;
    let denied = app
        .accounts_as(&reader)
        .classify_correspondent(ClassifyCorrespondentRequest {
            account_id: account.clone(),
            email: "nobody@example.test".into(),
        })
        .await
        .expect_err("needs users.read too");
    assert_eq!(denied.code(), Code::PermissionDenied);
}
