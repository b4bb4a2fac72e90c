//! Three replicas over one PostgreSQL database under a mixed load (sign-ups,
//! sign-ins, invitations and their mail), with one replica killed mid-load:
//! every mail goes out exactly once, throttles hold across replicas, a
//! revoked session stops working everywhere within the token cache's
//! lifetime (`auth.cache_ttl_ms`), and no acknowledged write is lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use identityd::config::{MailTransportKind, Settings};
use identityd::proto::{
    CreateInvitationRequest, IntrospectSessionRequest, ListMailsRequest, LoginRequest,
    LogoutRequest, LookupUserRequest, MailStatus, RegisterRequest, lookup_user_request::Key,
};
use tonic::Code;

use crate::helpers::{assert_error, spawn_app_with};
use crate::people::{PASSWORD, account_of, active_user, session_of};
use crate::smtp_sink::{SmtpSink, message_id};

fn smtp_to(port: u16) -> impl Fn(&mut Settings) + Clone {
    move |settings: &mut Settings| {
        settings.mail.transport = MailTransportKind::Smtp;
        settings.mail.smtp.port = port;
    }
}

fn recipient(message: &str) -> String {
    message
        .lines()
        .find_map(|line| line.strip_prefix("To: "))
        .unwrap_or_default()
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned()
}

#[tokio::test]
async fn three_replicas_share_one_database_under_load_and_survive_a_kill() {
    if std::env::var("IDENTITYD_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: replicas need PostgreSQL (IDENTITYD_TEST_POSTGRES_URL)");
        return;
    }
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(smtp_to(sink.port)).await;
    let second = app.start_replica(smtp_to(sink.port)).await;
    let third = app.start_replica(smtp_to(sink.port)).await;
    let owner = active_user(&app, "load-owner").await;
    let account = account_of(&app, &owner.id, "Load Ltd").await;
    let owner_session = session_of(&app, "load-owner").await;
    let clients = [app.auth_public(), second.auth_public(), third.auth_public()];
    let inviters = [
        app.invitations_as(&owner_session),
        second.invitations_as(&owner_session),
        third.invitations_as(&owner_session),
    ];

    // The load: sign-ups and invitations round-robin over the replicas, in
    // parallel; the third replica is killed while it runs.
    let mut calls = Vec::new();
    for i in 0..24 {
        let mut auth = clients[i % 3].clone();
        calls.push(tokio::spawn(async move {
            let email = format!("load{i}@example.test");
            let answer = auth
                .register(RegisterRequest {
                    full_name: format!("Load Person {i}"),
                    username: format!("load{i}"),
                    email: email.clone(),
                    password: PASSWORD.into(),
                    locale: String::new(),
                })
                .await;
            (email, answer.is_ok())
        }));
        let mut invitations = inviters[i % 3].clone();
        let account = account.clone();
        calls.push(tokio::spawn(async move {
            let email = format!("guest{i}@example.test");
            let answer = invitations
                .create_invitation(CreateInvitationRequest {
                    account_id: account,
                    email: email.clone(),
                    all_permissions: true,
                    send_email: true,
                    ..Default::default()
                })
                .await;
            (email, answer.is_ok())
        }));
        if i == 12 {
            third.kill();
        }
    }
    let mut acknowledged = Vec::new();
    for call in calls {
        let (email, ok) = call.await.expect("a load task");
        if ok {
            acknowledged.push(email);
        }
    }
    assert!(
        acknowledged.len() >= 32,
        "most calls went to live replicas: {}",
        acknowledged.len()
    );

    // Every acknowledged sign-up is there, whichever replica took it.
    for email in acknowledged.iter().filter(|e| e.starts_with("load")) {
        app.users
            .clone()
            .lookup_user(LookupUserRequest {
                key: Some(Key::Email(email.clone())),
            })
            .await
            .unwrap_or_else(|e| panic!("the acknowledged sign-up of {email} was lost: {e:?}"));
    }

    // Every acknowledged write's mail goes out, exactly once, once the outbox
    // drains (a mail the killed replica had claimed waits out its lease).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let queued = app
            .admin
            .clone()
            .list_mails(ListMailsRequest {
                status: MailStatus::Queued.into(),
                ..Default::default()
            })
            .await
            .expect("the outbox")
            .into_inner()
            .mails;
        if queued.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} mails stayed queued",
            queued.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let delivered = sink.messages();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for message in &delivered {
        *per_id
            .entry(message_id(message).expect("a Message-ID"))
            .or_default() += 1;
        *per_recipient.entry(recipient(message)).or_default() += 1;
    }
    assert!(
        per_id.values().all(|&n| n == 1),
        "a mail went out twice: {per_id:?}"
    );
    for email in &acknowledged {
        assert_eq!(
            per_recipient.get(email),
            Some(&1),
            "{email} got {:?} mails",
            per_recipient.get(email)
        );
    }

    // Throttles are shared: wrong passwords spread over two replicas count
    // together, and the next attempt anywhere is held back.
    let victim = active_user(&app, "load-victim").await;
    let wrong = || LoginRequest {
        identifier: victim.username.clone(),
        password: "not-the-password-1".into(),
        user_agent: "load".into(),
        device_token: String::new(),
    };
    let live = [app.auth_public(), second.auth_public()];
    // Five free failures, and a sixth that starts the delay.
    for attempt in 0..6 {
        let mut auth = live[attempt % 2].clone();
        let refused = auth.login(wrong()).await.expect_err("a wrong password");
        assert_error(&refused, Code::Unauthenticated, "LOGIN_FAILED");
    }
    for mut auth in live.clone() {
        let held = auth.login(wrong()).await.expect_err("throttled");
        assert_error(&held, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    }

    // A session signed out through one replica stops working on the other
    // within the cache's lifetime (1 s in tests).
    let session = session_of(&app, "load-owner").await;
    let introspect = |token: &str| IntrospectSessionRequest {
        session_token: token.to_owned(),
    };
    let mut other = second.auth_as(&app.token);
    let before = other
        .introspect_session(introspect(&session))
        .await
        .expect("introspect on the other replica")
        .into_inner();
    assert!(before.active, "the session works on the other replica");
    app.auth_as(&session)
        .logout(LogoutRequest {})
        .await
        .expect("sign out through the first replica");
    let deadline = Instant::now() + Duration::from_millis(1_000 + 2_000);
    loop {
        let now = other
            .introspect_session(introspect(&session))
            .await
            .expect("introspect on the other replica")
            .into_inner();
        if !now.active {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the other replica still honoured a signed-out session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
