//! Account contacts and ClassifyCorrespondent (AccountService).

use super::accounts::permissions_out;
use super::{bounded, timestamp};
use crate::app::{Contact, ContactDetails, Correspondent};
use crate::domain::{
    AccountId, AccountPermissions, ContactMail, ContactMails, Email, FullName, ValidationError,
    Validator,
};
use crate::proto as pb;

/// The most mail kinds a request may list (there are 5; repeats tolerated).
const MAILS_MAX: usize = 16;

fn mail_out(mail: ContactMail) -> pb::ContactMail {
    match mail {
        ContactMail::General => pb::ContactMail::General,
        ContactMail::Invoices => pb::ContactMail::Invoices,
        ContactMail::Support => pb::ContactMail::Support,
        ContactMail::Products => pb::ContactMail::Products,
        ContactMail::Domains => pb::ContactMail::Domains,
    }
}

/// A contact as the API shows it.
pub fn contact(contact: Contact) -> pb::Contact {
    pb::Contact {
        id: contact.id,
        account_id: contact.account_id.to_string(),
        full_name: contact.full_name,
        email: contact.email,
        mails: contact.mails.iter().map(|m| mail_out(m).into()).collect(),
        create_time: Some(timestamp(contact.created_at)),
        update_time: Some(timestamp(contact.updated_at)),
    }
}

/// A contact's name, address and mails, checked.
pub fn details(
    full_name: &str,
    email: &str,
    mails: &[i32],
) -> Result<ContactDetails, ValidationError> {
    let mut v = Validator::new();
    let full_name = v.check(FullName::parse("full_name", full_name));
    let email = v.check(Email::parse("email", email));
    let mut kinds = Vec::new();
    for (index, value) in bounded(&mut v, "mails", mails, MAILS_MAX)
        .iter()
        .enumerate()
    {
        let kind = pb::ContactMail::try_from(*value).ok().and_then(|p| {
            ContactMail::ALL
                .into_iter()
                .find(|kind| mail_out(*kind) == p)
        });
        match kind {
            Some(kind) => kinds.push(kind),
            None => v.violation(format!("mails[{index}]"), "is not a kind of contact mail"),
        }
    }
    v.finish_with(|| {
        Some(ContactDetails {
            full_name: full_name?,
            email: email?,
            mails: ContactMails::of(kinds),
        })
    })
}

/// A parsed AddContact request.
pub fn add(request: pb::AddContactRequest) -> Result<(AccountId, ContactDetails), ValidationError> {
    let pb::AddContactRequest {
        account_id,
        full_name,
        email,
        mails,
    } = request;
    let mut v = Validator::new();
    let account = v.check(AccountId::parse("account_id", &account_id));
    let details = v.check(details(&full_name, &email, &mails));
    v.finish_with(|| Some((account?, details?)))
}

/// A parsed ClassifyCorrespondent request.
pub fn classify(
    request: pb::ClassifyCorrespondentRequest,
) -> Result<(AccountId, Email), ValidationError> {
    let pb::ClassifyCorrespondentRequest { account_id, email } = request;
    let mut v = Validator::new();
    let account = v.check(AccountId::parse("account_id", &account_id));
    let email = v.check(Email::parse("email", &email));
    v.finish_with(|| Some((account?, email?)))
}

/// A classification as the API shows it.
pub fn correspondent(found: Correspondent) -> pb::ClassifyCorrespondentResponse {
    let mut answer = pb::ClassifyCorrespondentResponse::default();
    let kind = match found {
        Correspondent::Owner(user_id) => {
            answer.user_id = user_id.to_string();
            answer.permissions = permissions_out(&AccountPermissions::all());
            pb::Correspondent::Owner
        }
        Correspondent::AuthorizedUser(user_id, permissions) => {
            answer.user_id = user_id.to_string();
            answer.permissions = permissions_out(&permissions);
            pb::Correspondent::AuthorizedUser
        }
        Correspondent::SubAccount(found) => {
            answer.contact = Some(contact(found));
            pb::Correspondent::SubAccount
        }
        Correspondent::Operator(user_id) => {
            answer.user_id = user_id.to_string();
            pb::Correspondent::Operator
        }
        Correspondent::RegisteredUser(user_id) => {
            answer.user_id = user_id.to_string();
            pb::Correspondent::RegisteredUser
        }
        Correspondent::Guest => pb::Correspondent::Guest,
    };
    answer.correspondent = kind.into();
    answer
}
