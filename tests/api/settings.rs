//! Run-time settings, mail templates and test mail: AdminService's
//! configuration menu, on both backends, with real SMTP sinks.

use std::time::{Duration, Instant};

use identityd::config::{MailTransportKind, Settings};
use identityd::proto::{
    AuthPolicy, GetMailTemplateRequest, GetMfaStatusRequest, GetSettingsRequest,
    GetSettingsResponse, ListActivityRequest, ListMailTemplatesRequest, ListSessionsRequest,
    MailPolicy, MailTemplateSource, MfaRequirement, PasswordPolicy, PreviewMailTemplateRequest,
    RegisterRequest, ResetMailTemplateRequest, RuntimeSettings, SendTestMailRequest, SettingSource,
    SignUpPolicy, SmtpServer, UpdateMailTemplateRequest, UpdateSettingsRequest,
    UpdateSettingsResponse,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{
    AdminClient, AuthClient, TestApp, assert_error, spawn_app, spawn_app_with, violated_fields,
};
use crate::people::{active_user, session_of};
use crate::smtp_sink::{SmtpSink, unused_port};

const PASSWORD: &str = "correct horse battery staple";

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn get(client: &AdminClient) -> GetSettingsResponse {
    client
        .clone()
        .get_settings(GetSettingsRequest {})
        .await
        .expect("get settings")
        .into_inner()
}

async fn update(
    client: &AdminClient,
    settings: RuntimeSettings,
    paths: &[&str],
    etag: &str,
) -> Result<UpdateSettingsResponse, tonic::Status> {
    client
        .clone()
        .update_settings(UpdateSettingsRequest {
            settings: Some(settings),
            update_mask: mask(paths),
            reset_paths: Vec::new(),
            etag: etag.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Stores `auth.session_idle_timeout_secs` under `etag`.
async fn set_idle_timeout(
    client: &AdminClient,
    secs: u64,
    etag: &str,
) -> Result<UpdateSettingsResponse, tonic::Status> {
    let settings = auth(AuthPolicy {
        session_idle_timeout_secs: secs,
        ..Default::default()
    });
    update(client, settings, &["auth.session_idle_timeout_secs"], etag).await
}

fn auth(policy: AuthPolicy) -> RuntimeSettings {
    RuntimeSettings {
        auth: Some(policy),
        ..Default::default()
    }
}

fn smtp(server: SmtpServer) -> RuntimeSettings {
    RuntimeSettings {
        mail: Some(MailPolicy {
            smtp: Some(server),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn idle_timeout(settings: &Option<RuntimeSettings>) -> u64 {
    settings
        .as_ref()
        .and_then(|s| s.auth.as_ref())
        .map(|a| a.session_idle_timeout_secs)
        .expect("auth settings")
}

fn source_of(info: &[identityd::proto::SettingInfo], path: &str) -> identityd::proto::SettingInfo {
    info.iter()
        .find(|i| i.path == path)
        .cloned()
        .unwrap_or_else(|| panic!("no info for {path}"))
}

async fn settings_events(app: &TestApp) -> Vec<identityd::proto::ActivityEvent> {
    app.admin
        .clone()
        .list_activity(ListActivityRequest {
            target_type: "settings".into(),
            ..Default::default()
        })
        .await
        .expect("list activity")
        .into_inner()
        .events
}

async fn register(
    client: &mut AuthClient,
    username: &str,
    domain: &str,
) -> Result<(), tonic::Status> {
    client
        .register(RegisterRequest {
            full_name: "Sam Signup".into(),
            username: username.into(),
            email: format!("{username}@{domain}"),
            password: PASSWORD.into(),
            locale: String::new(),
        })
        .await
        .map(drop)
}

#[tokio::test]
async fn settings_read_back_with_their_sources_and_change_only_under_the_etag_read() {
    let app = spawn_app().await;
    let before = get(&app.admin).await;
    assert_eq!(idle_timeout(&before.settings), 7_200);
    let idle = source_of(&before.info, "auth.session_idle_timeout_secs");
    assert_eq!(idle.source(), SettingSource::Default);
    // The tests' settings file sets its own From address.
    assert_eq!(
        source_of(&before.info, "mail.from").source(),
        SettingSource::File
    );

    let changed = set_idle_timeout(&app.admin, 600, &before.etag)
        .await
        .expect("update with the etag read");
    assert_eq!(idle_timeout(&changed.settings), 600);
    assert_ne!(changed.etag, before.etag);
    let stored = source_of(&changed.info, "auth.session_idle_timeout_secs");
    assert_eq!(stored.source(), SettingSource::Stored);
    assert!(stored.update_time.is_some() && stored.updated_by.is_some());
    assert_eq!(idle_timeout(&get(&app.admin).await.settings), 600);

    // A writer holding the old etag lost the race: nothing changes.
    let stale = set_idle_timeout(&app.admin, 900, &before.etag)
        .await
        .expect_err("a stale etag");
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");
    assert_eq!(idle_timeout(&get(&app.admin).await.settings), 600);

    // Reset: the settings file's value applies again.
    let reset = app
        .admin
        .clone()
        .update_settings(UpdateSettingsRequest {
            reset_paths: vec!["auth".into()],
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    assert_eq!(idle_timeout(&reset.settings), 7_200);
    assert_eq!(
        source_of(&reset.info, "auth.session_idle_timeout_secs").source(),
        SettingSource::Default
    );

    let events = settings_events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let first = events.last().expect("the first change");
    assert_eq!(first.action, "settings.updated");
    assert_eq!(
        first
            .details
            .get("auth.session_idle_timeout_secs")
            .map(String::as_str),
        Some("7200 -> 600")
    );
    assert_eq!(
        events[0]
            .details
            .get("auth.session_idle_timeout_secs")
            .map(String::as_str),
        Some("600 -> 7200")
    );
}

#[tokio::test]
async fn bad_values_are_refused_by_field_and_nothing_is_half_saved() {
    let app = spawn_app().await;
    let before = get(&app.admin).await;

    let err = update(
        &app.admin,
        RuntimeSettings {
            auth: Some(AuthPolicy {
                sso_token_ttl_secs: 61,
                ..Default::default()
            }),
            passwords: Some(PasswordPolicy { min_length: 12 }),
            ..Default::default()
        },
        &["passwords.min_length", "auth.sso_token_ttl_secs"],
        "",
    )
    .await
    .expect_err("61 s is over the cap");
    assert_eq!(violated_fields(&err), ["settings.auth.sso_token_ttl_secs"]);
    let after = get(&app.admin).await;
    assert_eq!(
        after.etag, before.etag,
        "the good value was not saved either"
    );
    assert_eq!(
        source_of(&after.info, "passwords.min_length").source(),
        SettingSource::Default
    );

    let cases: Vec<(RuntimeSettings, Vec<&str>, &str)> = vec![
        (
            RuntimeSettings::default(),
            vec!["auth.no_such_setting"],
            "update_mask.paths[0]",
        ),
        (
            RuntimeSettings::default(),
            vec!["server.listen"],
            "update_mask.paths[0]",
        ),
        (RuntimeSettings::default(), vec![], "update_mask"),
        (
            auth(AuthPolicy::default()),
            vec!["auth.mfa_required"],
            "settings.auth.mfa_required",
        ),
        (
            auth(AuthPolicy {
                session_idle_timeout_secs: 7_200,
                session_absolute_timeout_secs: 3_600,
                ..Default::default()
            }),
            vec![
                "auth.session_idle_timeout_secs",
                "auth.session_absolute_timeout_secs",
            ],
            "settings.auth.session_absolute_timeout_secs",
        ),
        (
            RuntimeSettings {
                mail: Some(MailPolicy {
                    from: "not an address".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            vec!["mail.from"],
            "settings.mail.from",
        ),
        (
            RuntimeSettings {
                sign_up: Some(SignUpPolicy {
                    blocked_email_domains: vec!["@spam.test".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            vec!["sign_up.blocked_email_domains"],
            "settings.sign_up.blocked_email_domains",
        ),
    ];
    for (settings, paths, field) in cases {
        let err = update(&app.admin, settings, &paths, "")
            .await
            .expect_err("refused");
        assert_eq!(violated_fields(&err), [field], "{paths:?}");
    }
    assert_eq!(get(&app.admin).await.etag, before.etag);
}

#[tokio::test]
async fn the_smtp_password_is_write_only_sealed_at_rest_and_masked_in_the_log() {
    let app = spawn_app().await;
    let secret = "s3cret-smtp-passw0rd";
    let set = update(
        &app.admin,
        smtp(SmtpServer {
            username: "mailer".into(),
            password: secret.into(),
            ..Default::default()
        }),
        &["mail.smtp.username", "mail.smtp.password"],
        "",
    )
    .await
    .expect("set the password");
    let shown = format!("{set:?}");
    assert!(!shown.contains(secret), "{shown}");
    let info = source_of(&set.info, "mail.smtp.password");
    assert!(info.secret && info.secret_set);
    let read = get(&app.admin).await;
    assert_eq!(
        read.settings.unwrap().mail.unwrap().smtp.unwrap().password,
        "",
        "never returned"
    );

    // At rest it is sealed, bound to its setting.
    use sea_orm::ConnectionTrait;
    let db = app.database().await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT value FROM runtime_settings WHERE key = 'mail.smtp.password'",
        ))
        .await
        .expect("query")
        .expect("a stored password");
    let stored: String = row.try_get("", "value").expect("a value");
    assert!(
        !stored.contains(secret) && stored.contains("v1."),
        "{stored}"
    );

    update(
        &app.admin,
        smtp(SmtpServer {
            password: "another-passw0rd".into(),
            ..Default::default()
        }),
        &["mail.smtp.password"],
        "",
    )
    .await
    .expect("change it");
    let cleared = update(
        &app.admin,
        smtp(SmtpServer::default()),
        &["mail.smtp.password"],
        "",
    )
    .await
    .expect("an empty password clears it");
    assert!(!source_of(&cleared.info, "mail.smtp.password").secret_set);

    let events = settings_events(&app).await;
    let masked: Vec<&str> = events
        .iter()
        .rev()
        .filter_map(|e| e.details.get("mail.smtp.password").map(String::as_str))
        .collect();
    assert_eq!(masked, ["unset -> set", "set -> changed", "set -> unset"]);
    let all = format!("{events:?}");
    assert!(!all.contains(secret) && !all.contains("another-passw0rd"));
}

#[tokio::test]
async fn sign_up_is_closed_or_limited_to_domains_at_run_time() {
    let app = spawn_app().await;
    let mut public = app.auth_public();
    register(&mut public, "early", "example.com")
        .await
        .expect("open by default");

    let sign_up = |policy: SignUpPolicy| RuntimeSettings {
        sign_up: Some(policy),
        ..Default::default()
    };
    update(
        &app.admin,
        sign_up(SignUpPolicy::default()),
        &["sign_up.open"],
        "",
    )
    .await
    .expect("close sign-up");
    let closed = register(&mut public, "late", "example.com")
        .await
        .expect_err("closed");
    assert_error(&closed, Code::FailedPrecondition, "SIGN_UP_CLOSED");

    update(
        &app.admin,
        sign_up(SignUpPolicy {
            open: true,
            allowed_email_domains: vec!["Corp.Example".into()],
            blocked_email_domains: vec!["contractors.corp.example".into()],
        }),
        &["sign_up"],
        "",
    )
    .await
    .expect("open to one domain");
    let outside = register(&mut public, "outsider", "example.com")
        .await
        .expect_err("not on the allow list");
    assert_error(&outside, Code::FailedPrecondition, "SIGN_UP_DOMAIN_REFUSED");
    let blocked = register(&mut public, "contractor", "contractors.corp.example")
        .await
        .expect_err("blocked subdomain");
    assert_error(&blocked, Code::FailedPrecondition, "SIGN_UP_DOMAIN_REFUSED");
    register(&mut public, "insider", "eu.corp.example")
        .await
        .expect("a subdomain of an allowed domain");
}

fn smtp_to(port: u16) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.mail.transport = MailTransportKind::Smtp;
        settings.mail.smtp.port = port;
    }
}

#[tokio::test]
async fn a_stored_template_is_checked_then_used_by_the_next_mail() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(smtp_to(sink.port)).await;

    let broken = store_template(
        &app,
        verification_template(
            "Your code",
            "Hello,\nyour code is {{ code }\n",
            "<p>{{ code }}</p>",
        ),
    )
    .await
    .expect_err("a syntax error");
    assert_eq!(violated_fields(&broken), ["text"]);
    let description = broken
        .get_details_bad_request()
        .expect("details")
        .field_violations[0]
        .description
        .clone();
    assert!(description.starts_with("line 2:"), "{description}");

    let unknown = store_template(
        &app,
        verification_template("{{ secret_of_another_mail }}", "x", "x"),
    )
    .await
    .expect_err("an unknown variable");
    assert_eq!(violated_fields(&unknown), ["subject"]);

    // A template that would loop for ever runs out of fuel instead.
    let endless = store_template(
        &app,
        verification_template(
            "s",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "x",
        ),
    )
    .await
    .expect_err("bounded");
    assert_eq!(violated_fields(&endless), ["text"]);

    let current = app
        .admin
        .clone()
        .get_mail_template(GetMailTemplateRequest {
            kind: "verification_code".into(),
            locale: String::new(),
        })
        .await
        .expect("get")
        .into_inner()
        .template
        .expect("a template");
    assert_eq!(current.source(), MailTemplateSource::BuiltIn);
    assert!(current.variables.contains(&"code".to_owned()));
    let stored = store_template(
        &app,
        UpdateMailTemplateRequest {
            etag: current.etag.clone(),
            ..verification_template(
                "{{ product_name }} code",
                "Custom: your code is {{ code }}.",
                "<p>Custom: <b>{{ code }}</b></p>",
            )
        },
    )
    .await
    .expect("a good template");
    assert_eq!(stored.source(), MailTemplateSource::Stored);
    assert!(stored.updated_by.is_some());
    let stale = store_template(
        &app,
        UpdateMailTemplateRequest {
            etag: current.etag,
            ..verification_template("s", "t {{ code }}", "h")
        },
    )
    .await
    .expect_err("someone stored one since");
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH");

    register(&mut app.auth_public(), "templated", "example.com")
        .await
        .expect("register");
    let delivered = sink.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].contains("Custom: your code is"),
        "{}",
        delivered[0]
    );

    let reset = app
        .admin
        .clone()
        .reset_mail_template(ResetMailTemplateRequest {
            kind: "verification_code".into(),
            locale: "en".into(),
        })
        .await
        .expect("reset")
        .into_inner()
        .template
        .expect("a template");
    assert_eq!(reset.source(), MailTemplateSource::BuiltIn);
    let again = app
        .admin
        .clone()
        .reset_mail_template(ResetMailTemplateRequest {
            kind: "verification_code".into(),
            locale: "en".into(),
        })
        .await
        .expect_err("nothing stored");
    assert_error(&again, Code::NotFound, "MAIL_TEMPLATE_NOT_STORED");
}

#[tokio::test]
async fn templates_list_per_locale_and_preview_with_sample_values() {
    let app = spawn_app().await;
    let list = |kind: &str| {
        let mut admin = app.admin.clone();
        let kind = kind.to_owned();
        async move {
            admin
                .list_mail_templates(ListMailTemplatesRequest { kind })
                .await
                .expect("list")
                .into_inner()
                .templates
        }
    };
    let all = list("").await;
    assert!(all.len() >= 13, "one built-in template per kind");
    assert!(all.iter().all(|t| t.locale == "en"));

    app.admin
        .clone()
        .update_mail_template(UpdateMailTemplateRequest {
            kind: "invitation".into(),
            locale: "pt-br".into(),
            subject: "Convite para {{ account_name }}".into(),
            text: "Olá! {{ inviter_name }} convidou você: {{ link }}".into(),
            html: "<p>{{ inviter_name }}: <a href=\"{{ link }}\">aceitar</a></p>".into(),
            etag: String::new(),
        })
        .await
        .expect("store a Brazilian Portuguese template");
    let invitations = list("invitation").await;
    let locales: Vec<&str> = invitations.iter().map(|t| t.locale.as_str()).collect();
    assert_eq!(
        locales,
        ["en", "pt-BR"],
        "locales are stored in canonical form"
    );
    assert_eq!(invitations[1].source(), MailTemplateSource::Stored);

    let preview = app
        .admin
        .clone()
        .preview_mail_template(PreviewMailTemplateRequest {
            kind: "invitation".into(),
            locale: "pt-BR".into(),
            ..Default::default()
        })
        .await
        .expect("preview the stored one")
        .into_inner();
    assert_eq!(preview.subject, "Convite para Bakery Brot");
    let proposed = app
        .admin
        .clone()
        .preview_mail_template(PreviewMailTemplateRequest {
            kind: "verification_code".into(),
            locale: String::new(),
            subject: "Code {{ code }}".into(),
            text: "{{ code }} from {{ product_name }}".into(),
            html: "<p>{{ recipient_name }} & {{ code }}</p>".into(),
        })
        .await
        .expect("preview proposed parts")
        .into_inner();
    assert_eq!(proposed.subject, "Code 123456");
    assert_eq!(proposed.text, "123456 from identityd");
    assert_eq!(proposed.html, "<p>Ann Lee & 123456</p>");

    let bad_kind = app
        .admin
        .clone()
        .get_mail_template(GetMailTemplateRequest {
            kind: "welcome".into(),
            locale: "x".into(),
        })
        .await
        .expect_err("unknown kind and bad locale");
    assert_eq!(violated_fields(&bad_kind), ["kind", "locale"]);
}

#[tokio::test]
async fn smtp_settings_changed_at_run_time_send_the_next_mail_to_another_server() {
    let first = SmtpSink::start().await;
    let second = SmtpSink::start().await;
    let app = spawn_app_with(smtp_to(first.port)).await;
    let mut public = app.auth_public();
    register(&mut public, "before", "example.com")
        .await
        .expect("register");
    assert_eq!(first.wait_for(1).await.len(), 1);

    update(
        &app.admin,
        smtp(SmtpServer {
            port: u32::from(second.port),
            ..Default::default()
        }),
        &["mail.smtp.port"],
        "",
    )
    .await
    .expect("point mail at the second server");
    register(&mut public, "after", "example.com")
        .await
        .expect("register");
    let delivered = second.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains("after@example.com"));
    assert_eq!(first.messages().len(), 1, "nothing more went to the first");

    let test = app
        .admin
        .clone()
        .send_test_mail(SendTestMailRequest {
            to: "operator@example.com".into(),
            ..Default::default()
        })
        .await
        .expect("send a test mail")
        .into_inner();
    assert!(test.delivered, "{test:?}");
    assert_eq!(test.transport, "smtp");
    assert!(test.reply.starts_with("250"), "{test:?}");
    let delivered = second.wait_for(2).await;
    assert!(delivered[1].contains("Subject: [Test]"), "{}", delivered[1]);

    // Nobody listens here: the answer says so, and nothing fails.
    update(
        &app.admin,
        smtp(SmtpServer {
            port: u32::from(unused_port()),
            ..Default::default()
        }),
        &["mail.smtp.port"],
        "",
    )
    .await
    .expect("point mail at a closed port");
    let refused = app
        .admin
        .clone()
        .send_test_mail(SendTestMailRequest {
            to: "operator@example.com".into(),
            ..Default::default()
        })
        .await
        .expect("the call itself succeeds")
        .into_inner();
    assert!(!refused.delivered);
    assert!(!refused.reply.is_empty());
}

#[tokio::test]
async fn another_replica_applies_a_change_within_its_refresh_interval() {
    let app = spawn_app().await;
    // Both replicas look for changes every 100 ms (the tests' setting).
    let replica = app.start_replica(|_| {}).await;
    let mut on_replica = replica.auth_public();
    register(&mut on_replica, "first", "example.com")
        .await
        .expect("open");

    let closed_at = Instant::now();
    update(
        &app.admin,
        RuntimeSettings {
            sign_up: Some(SignUpPolicy::default()),
            ..Default::default()
        },
        &["sign_up.open"],
        "",
    )
    .await
    .expect("close sign-up through the first replica");
    // Register on the second replica reads only what it has applied; it
    // never looks at the database for settings itself.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match register(&mut on_replica, &format!("probe{attempt}"), "example.com").await {
            Err(status) if status.code() == Code::FailedPrecondition => break,
            Ok(()) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(
            closed_at.elapsed() < Duration::from_secs(5),
            "the replica did not apply the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = get(&replica.client(&app.token)).await;
    assert!(!seen.settings.unwrap().sign_up.unwrap().open);
}

#[tokio::test]
async fn settings_read_holders_cannot_change_settings_or_send_mail() {
    let app = spawn_app().await;
    let (reader, _) = app.staff_token_with("reader", &["settings.read"]).await;
    let reader = app.client(&reader);
    get(&reader).await;
    let denied = update(
        &reader,
        auth(AuthPolicy {
            mfa_required: MfaRequirement::None.into(),
            ..Default::default()
        }),
        &["auth.mfa_required"],
        "",
    )
    .await
    .expect_err("read only");
    assert_error(&denied, Code::PermissionDenied, "PERMISSION_DENIED");
    let denied = reader
        .clone()
        .send_test_mail(SendTestMailRequest {
            to: "me@example.com".into(),
            ..Default::default()
        })
        .await
        .expect_err("read only");
    assert_error(&denied, Code::PermissionDenied, "PERMISSION_DENIED");

    let (nobody, _) = app.staff_token_with("nobody", &["users.read"]).await;
    let denied = app
        .client(&nobody)
        .get_settings(GetSettingsRequest {})
        .await
        .expect_err("no settings.read");
    assert_error(&denied, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn requiring_two_factor_at_run_time_holds_back_live_sessions() {
    let app = spawn_app().await;
    active_user(&app, "rita").await;
    let session = session_of(&app, "rita").await;
    let mut auth = app.auth_as(&session);
    auth.list_sessions(ListSessionsRequest::default())
        .await
        .expect("a full session before the change");

    update(
        &app.admin,
        auth_policy(MfaRequirement::Clients),
        &["auth.mfa_required"],
        "",
    )
    .await
    .expect("require a second factor of clients");
    let held = auth
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect_err("the same session now waits for enrolment");
    assert_error(&held, Code::FailedPrecondition, "MFA_ENROLLMENT_REQUIRED");
    auth.get_mfa_status(GetMfaStatusRequest {})
        .await
        .expect("enrolment calls still work");

    update(
        &app.admin,
        auth_policy(MfaRequirement::None),
        &["auth.mfa_required"],
        "",
    )
    .await
    .expect("back to each user's choice");
    auth.list_sessions(ListSessionsRequest::default())
        .await
        .expect("a full session again");
}

/// Stores a mail template through UpdateMailTemplate.
async fn store_template(
    app: &TestApp,
    request: UpdateMailTemplateRequest,
) -> Result<identityd::proto::MailTemplate, tonic::Status> {
    app.admin
        .clone()
        .update_mail_template(request)
        .await
        .map(|response| response.into_inner().template.expect("a template"))
}

/// A verification-code template with these parts, stored over any etag.
fn verification_template(subject: &str, text: &str, html: &str) -> UpdateMailTemplateRequest {
    UpdateMailTemplateRequest {
        kind: "verification_code".into(),
        locale: "en".into(),
        subject: subject.into(),
        text: text.into(),
        html: html.into(),
        etag: String::new(),
    }
}

fn auth_policy(requirement: MfaRequirement) -> RuntimeSettings {
    auth(AuthPolicy {
        mfa_required: requirement.into(),
        ..Default::default()
    })
}
