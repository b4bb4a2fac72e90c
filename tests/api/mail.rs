//! Mail: the outbox, the delivery worker, SMTP through lettre, retries.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use identityd::config::{MailTransportKind, Settings};
use identityd::mail::{MailKind, OutgoingMail};
use identityd::proto::{
    Account, AccountProfile, CreateAccountRequest, CreateUserRequest, ListActivityRequest,
    ListMailsRequest, Mail, MailStatus, RetryMailRequest, TransferOwnershipRequest, User,
    create_account_request::Owner,
};
use identityd::startup::Application;
use sea_orm::TransactionTrait;
use tonic::Code;

use crate::helpers::{
    TestApp, assert_error, spawn_app, spawn_app_with, test_settings, violated_fields,
};
use crate::smtp_sink::{SmtpSink, message_id, unused_port};

fn smtp_to(port: u16) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.mail.transport = MailTransportKind::Smtp;
        settings.mail.smtp.port = port;
    }
}

async fn user(app: &TestApp, username: &str, full_name: &str) -> User {
    app.users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: full_name.into(),
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

/// An account owned by a new user, handed over to another new user: two mails.
async fn hand_over(app: &TestApp, name: &str) -> Account {
    let slug: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let from = user(app, &format!("{slug}-old"), "Olive Oldowner").await;
    let to = user(app, &format!("{slug}-new"), "Nina Newowner").await;
    let account = app
        .accounts
        .clone()
        .create_account(CreateAccountRequest {
            profile: Some(AccountProfile {
                display_name: name.into(),
                full_name: "Olive Oldowner".into(),
                email: format!("billing@{slug}.example"),
                ..Default::default()
            }),
            owner: Some(Owner::OwnerUserId(from.id)),
            request_id: String::new(),
        })
        .await
        .expect("create an account")
        .into_inner()
        .account
        .expect("an account");
    app.accounts
        .clone()
        .transfer_ownership(TransferOwnershipRequest {
            account_id: account.id.clone(),
            new_owner_user_id: to.id,
            remove_previous_owner: false,
        })
        .await
        .expect("the transfer succeeds whatever happens to its mail");
    account
}

async fn mails(app: &TestApp, request: ListMailsRequest) -> Vec<Mail> {
    app.admin
        .clone()
        .list_mails(request)
        .await
        .expect("list mails")
        .into_inner()
        .mails
}

/// Waits up to 20 s until `check` holds for the listed mails.
async fn wait_until(app: &TestApp, check: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = mails(app, ListMailsRequest::default()).await;
        if check(&listed) || Instant::now() > deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_ownership_notice_is_delivered_over_smtp_with_the_rendered_template() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(smtp_to(sink.port)).await;
    let account = hand_over(&app, "Fish & Chips").await;

    // Undo quoted-printable soft line breaks, which may split long lines.
    let delivered: Vec<String> = sink
        .wait_for(2)
        .await
        .iter()
        .map(|m| m.replace("=\r\n", ""))
        .collect();
    assert_eq!(delivered.len(), 2, "one notice to each owner");
    let to_new = delivered
        .iter()
        .find(|m| m.contains("To: fishchips-new@example.com"))
        .expect("a mail to the new owner");
    assert!(
        to_new.contains("Subject: Fish & Chips has a new owner"),
        "{to_new}"
    );
    assert!(
        to_new.contains("You are now the owner of Fish & Chips"),
        "{to_new}"
    );
    assert!(
        to_new.contains("Fish &amp; Chips"),
        "the HTML part escapes: {to_new}"
    );
    assert!(to_new.contains(&format!(
        "https://accounts.example.test/accounts/{}",
        account.id
    )));
    assert!(to_new.contains("<no-reply@identityd.test>"), "{to_new}");
    let to_old = delivered
        .iter()
        .find(|m| m.contains("To: fishchips-old@example.com"))
        .expect("a mail to the previous owner");
    assert!(
        to_old.contains("Nina Newowner is now the owner of Fish & Chips"),
        "{to_old}"
    );

    let listed = wait_until(&app, |m| m.iter().all(|m| m.status() == MailStatus::Sent)).await;
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|m| m.status() == MailStatus::Sent && m.attempts == 1 && m.send_time.is_some())
    );
    assert!(
        listed
            .iter()
            .all(|m| m.account_id == account.id && m.kind == "account_owner_changed")
    );
}

#[tokio::test]
async fn with_smtp_down_mail_waits_and_is_delivered_exactly_once_when_it_returns() {
    let port = unused_port();
    let app = spawn_app_with(smtp_to(port)).await;
    hand_over(&app, "Patience").await;

    let waiting = wait_until(&app, |m| m.len() == 2 && m.iter().all(|m| m.attempts >= 2)).await;
    assert!(
        waiting.iter().all(|m| m.status() == MailStatus::Queued),
        "{waiting:?}"
    );
    assert!(
        waiting
            .iter()
            .all(|m| !m.last_error.is_empty() && m.next_attempt_time.is_some())
    );

    let sink = SmtpSink::start_on(port).await;
    let delivered = sink.wait_for(2).await;
    wait_until(&app, |m| m.iter().all(|m| m.status() == MailStatus::Sent)).await;
    // Give any duplicate a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered_after = sink.messages();
    assert_eq!(delivered_after.len(), 2, "{delivered:?}");
    let ids: BTreeSet<Option<String>> = delivered_after.iter().map(|m| message_id(m)).collect();
    assert_eq!(ids.len(), 2, "each mail once");
}

#[tokio::test]
async fn two_workers_on_one_database_never_deliver_a_mail_twice() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(smtp_to(sink.port)).await;
    let _replica = app.start_replica(smtp_to(sink.port)).await;

    // A burst written straight into the outbox, for both workers to race over.
    let db = app.database().await;
    let txn = db.begin().await.expect("begin");
    for i in 0..60 {
        identityd::mail::enqueue_at(
            &txn,
            app.clock.now(),
            OutgoingMail {
                kind: MailKind::PasswordChanged,
                to: format!("racer{i}@example.com"),
                locale: String::new(),
                account_id: None,
                context: [("recipient_name", "Racer"), ("time", "now")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                secrets: Default::default(),
            },
        )
        .await
        .expect("enqueue");
    }
    txn.commit().await.expect("commit");

    sink.wait_for(60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = sink.messages();
    let ids: BTreeSet<Option<String>> = delivered.iter().map(|m| message_id(m)).collect();
    assert_eq!(delivered.len(), 60, "every mail exactly once");
    assert_eq!(ids.len(), 60);
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_mail_behind() {
    let app = spawn_app().await;
    let db = app.database().await;
    let txn = db.begin().await.expect("begin");
    identityd::mail::enqueue_at(
        &txn,
        app.clock.now(),
        OutgoingMail {
            kind: MailKind::PasswordChanged,
            to: "ghost@example.com".into(),
            locale: String::new(),
            account_id: None,
            context: Default::default(),
            secrets: Default::default(),
        },
    )
    .await
    .expect("enqueue");
    txn.rollback().await.expect("rollback");
    assert!(mails(&app, ListMailsRequest::default()).await.is_empty());
}

#[tokio::test]
async fn a_failed_mail_can_be_retried_by_an_operator() {
    let port = unused_port();
    let app = spawn_app_with(|settings| {
        smtp_to(port)(settings);
        settings.mail.max_attempts = 2;
    })
    .await;
    let account = hand_over(&app, "Retry Me").await;
    let failed = wait_until(&app, |m| {
        m.len() == 2 && m.iter().all(|m| m.status() == MailStatus::Failed)
    })
    .await;
    assert!(
        failed
            .iter()
            .all(|m| m.attempts == 2 && !m.last_error.is_empty()),
        "{failed:?}"
    );

    let sink = SmtpSink::start_on(port).await;
    let mut admin = app.admin.clone();
    for mail in &failed {
        let queued = admin
            .retry_mail(RetryMailRequest {
                mail_id: mail.id.clone(),
            })
            .await
            .expect("retry")
            .into_inner()
            .mail
            .expect("a mail");
        assert_eq!(queued.attempts, 0);
    }
    assert_eq!(sink.wait_for(2).await.len(), 2);
    let sent = wait_until(&app, |m| m.iter().all(|m| m.status() == MailStatus::Sent)).await;
    let status = admin
        .retry_mail(RetryMailRequest {
            mail_id: sent[0].id.clone(),
        })
        .await
        .expect_err("only failed mail");
    assert_error(&status, Code::FailedPrecondition, "MAIL_NOT_FAILED");

    let retried = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            account_id: account.id,
            action: "mail.retried".into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    assert_eq!(retried.len(), 2);
}

#[tokio::test]
async fn mails_are_listed_by_status_recipient_and_kind() {
    let app = spawn_app().await;
    hand_over(&app, "Listing").await;
    let sent = wait_until(&app, |m| {
        m.len() == 2 && m.iter().all(|m| m.status() == MailStatus::Sent)
    })
    .await;
    assert_eq!(sent.len(), 2);
    let to_new = mails(
        &app,
        ListMailsRequest {
            recipient: "LISTING-NEW@example.com".into(),
            kind: "account_owner_changed".into(),
            status: MailStatus::Sent.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(to_new.len(), 1);
    let status = app
        .admin
        .clone()
        .list_mails(ListMailsRequest {
            kind: "newsletter".into(),
            status: 9,
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(violated_fields(&status), vec!["status", "kind"]);
}

#[tokio::test]
async fn the_file_transport_writes_one_eml_per_mail() {
    let mail_dir = tempfile::tempdir().expect("a directory");
    let dir = mail_dir.path().to_owned();
    let app = spawn_app_with(move |settings| {
        settings.mail.transport = MailTransportKind::File;
        settings.mail.file_dir = Some(dir);
    })
    .await;
    hand_over(&app, "Filed").await;
    let sent = wait_until(&app, |m| {
        m.len() == 2 && m.iter().all(|m| m.status() == MailStatus::Sent)
    })
    .await;
    for mail in sent {
        let eml = std::fs::read_to_string(mail_dir.path().join(format!("{}.eml", mail.id)))
            .expect("an .eml file");
        assert!(eml.contains("Subject: Filed has a new owner"));
    }
}

#[tokio::test]
async fn a_broken_template_stops_the_start_and_names_the_file() {
    let templates = tempfile::tempdir().expect("a directory");
    std::fs::create_dir(templates.path().join("de")).expect("a locale directory");
    std::fs::write(
        templates.path().join("de/invitation.subject"),
        "{{ inviter_name ",
    )
    .expect("a template");
    let data_dir = tempfile::tempdir().expect("a directory");
    let mut settings = test_settings(data_dir.path().join("data"), None);
    settings.mail.templates_dir = Some(templates.path().to_owned());
    let error = match Application::build(settings).await {
        Ok(_) => panic!("a broken template must stop the start"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("de/invitation.subject"), "{error}");
}

#[tokio::test]
async fn every_failed_mail_is_retried_in_one_call_after_an_outage() {
    use identityd::proto::RetryFailedMailsRequest;
    let port = unused_port();
    let app = spawn_app_with(|settings| {
        smtp_to(port)(settings);
        settings.mail.max_attempts = 1;
    })
    .await;
    hand_over(&app, "Outage Co").await;
    wait_until(&app, |m| {
        m.len() == 2 && m.iter().all(|m| m.status() == MailStatus::Failed)
    })
    .await;
    let bad = app
        .admin
        .clone()
        .retry_failed_mails(RetryFailedMailsRequest {
            kind: "no_such_kind".into(),
        })
        .await
        .expect_err("an unknown kind");
    assert_eq!(violated_fields(&bad), ["kind"]);
    // Staff who may only read the outbox cannot requeue it.
    let (reader, _) = app.staff_token_with("outbox-reader", &["mail.read"]).await;
    let denied = app
        .client(&reader)
        .retry_failed_mails(RetryFailedMailsRequest::default())
        .await
        .expect_err("mail.read only");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let sink = SmtpSink::start_on(port).await;
    let requeued = app
        .admin
        .clone()
        .retry_failed_mails(RetryFailedMailsRequest::default())
        .await
        .expect("retry all")
        .into_inner()
        .requeued;
    assert_eq!(requeued, 2);
    assert_eq!(sink.wait_for(2).await.len(), 2);
    wait_until(&app, |m| m.iter().all(|m| m.status() == MailStatus::Sent)).await;
}

#[tokio::test]
async fn a_code_that_cannot_be_delivered_before_it_expires_is_given_up() {
    let port = unused_port();
    let app = spawn_app_with(|settings| {
        smtp_to(port)(settings);
        settings.mail.max_attempts = 1000;
    })
    .await;
    // A verification code is worth sending for its 10 minutes only.
    app.auth_public()
        .register(identityd::proto::RegisterRequest {
            full_name: "Vera Late".into(),
            username: "vera.late".into(),
            email: "vera.late@example.test".into(),
            password: "tidal-lantern-oboe-42".into(),
            locale: String::new(),
        })
        .await
        .expect("register");
    let queued = wait_until(&app, |m| {
        m.iter()
            .any(|m| m.kind == "verification_code" && m.attempts > 0)
    })
    .await;
    let code = queued
        .iter()
        .find(|m| m.kind == "verification_code")
        .expect("the code's mail");
    assert_eq!(
        code.status(),
        MailStatus::Queued,
        "still retried within its life"
    );

    app.clock.advance(Duration::from_secs(11 * 60));
    let given_up = wait_until(&app, |m| {
        m.iter()
            .any(|m| m.kind == "verification_code" && m.status() == MailStatus::Failed)
    })
    .await;
    let code = given_up
        .iter()
        .find(|m| m.kind == "verification_code")
        .expect("the code's mail");
    assert_eq!(code.status(), MailStatus::Failed);
    assert!(
        code.last_error.contains("no longer worth sending"),
        "{code:?}"
    );
}
