//! Data retention pruning: closed and inactive accounts, their orphaned
//! users and unverified sign-ups deleted at the right time on the server's
//! clock, warnings before inactivity deletions, holds, activity from
//! billing services, and runs on two replicas at once.

use std::time::Duration;

use identityd::app::Principal;
use identityd::config::Settings;
use identityd::proto::{
    CloseAccountRequest, ExportUserRequest, GetAccountRequest, GetRetentionStatusRequest,
    ListActivityRequest, PreviewRetentionRequest, RecordAccountActivityRequest, RegisterRequest,
    RetentionReason, RunRetentionRequest, SetRetentionHoldRequest,
};
use identityd::startup::{build_app, open_database};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, hold_mail, spawn_app_with, test_settings};
use crate::people::{PASSWORD, account_of, active_user, session_of};

const DAY: Duration = Duration::from_secs(86_400);

async fn exists(app: &TestApp, account_id: &str) -> bool {
    match app
        .accounts
        .clone()
        .get_account(GetAccountRequest {
            account_id: account_id.to_owned(),
        })
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

async fn user_exists(app: &TestApp, user_id: &str) -> bool {
    match app
        .users
        .clone()
        .get_user(identityd::proto::GetUserRequest {
            user_id: user_id.to_owned(),
        })
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

async fn run(app: &TestApp) -> identityd::proto::RetentionRun {
    app.admin
        .clone()
        .run_retention(RunRetentionRequest {})
        .await
        .expect("run retention")
        .into_inner()
        .run
        .expect("a run")
}

async fn close(app: &TestApp, account_id: &str) {
    app.accounts
        .clone()
        .close_account(CloseAccountRequest {
            account_id: account_id.to_owned(),
            reason: "customer left".to_owned(),
        })
        .await
        .expect("close");
}

async fn events(app: &TestApp, action_prefix: &str) -> Vec<identityd::proto::ActivityEvent> {
    app.admin
        .clone()
        .list_activity(ListActivityRequest {
            action_prefix: action_prefix.to_owned(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events
}

fn deleted_by(run: &identityd::proto::RetentionRun) -> u64 {
    run.counts.get("closed_account").copied().unwrap_or(0)
}

fn prune_closed_after_30_days(settings: &mut Settings) {
    hold_mail(settings);
    settings.pruning.closed_accounts_after_days = 30;
    settings.pruning.delete_orphan_users = true;
}

#[tokio::test]
async fn closed_accounts_go_after_their_days_and_not_a_day_early_with_their_orphans() {
    let app = spawn_app_with(prune_closed_after_30_days).await;
    let owner = active_user(&app, "olga").await;
    let member_elsewhere = active_user(&app, "mona").await;
    let closed = account_of(&app, &owner.id, "Olga's Old Shop").await;
    let kept = account_of(&app, &member_elsewhere.id, "Mona's Shop").await;
    let held = account_of(&app, &member_elsewhere.id, "Mona's Archive").await;
    close(&app, &closed).await;
    close(&app, &held).await;
    app.accounts
        .clone()
        .set_retention_hold(SetRetentionHoldRequest {
            account_id: held.clone(),
            hold: true,
            reason: "unpaid invoice 1042".into(),
        })
        .await
        .expect("hold");

    app.clock.advance(29 * DAY);
    assert_eq!(run(&app).await.counts.get("closed_account"), None);
    assert!(exists(&app, &closed).await, "not a day early");

    app.clock.advance(DAY + Duration::from_secs(1));
    let preview = app
        .admin
        .clone()
        .preview_retention(PreviewRetentionRequest::default())
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.items.len(), 1, "{preview:?}");
    assert_eq!(preview.items[0].target_id, closed);
    assert_eq!(preview.items[0].reason(), RetentionReason::ClosedAccount);

    let done = run(&app).await;
    assert_eq!(done.counts.get("closed_account"), Some(&1));
    assert_eq!(done.counts.get("orphan_user"), Some(&1));
    assert!(!exists(&app, &closed).await);
    assert!(!user_exists(&app, &owner.id).await, "left with no account");
    assert!(exists(&app, &held).await, "a hold protects");
    assert!(exists(&app, &kept).await);
    assert!(user_exists(&app, &member_elsewhere.id).await);

    let deleted = events(&app, "account.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].actor.as_ref().map(|a| a.kind()),
        Some(identityd::proto::ActorKind::System),
        "automation is attributed to System"
    );
    assert_eq!(
        deleted[0].details.get("reason").map(String::as_str),
        Some("closed_account")
    );

    let status = app
        .admin
        .clone()
        .get_retention_status(GetRetentionStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert!(status.enabled);
    assert_eq!(status.last_run.expect("a run").id, done.id);
}

#[tokio::test]
async fn staff_and_users_with_another_account_are_never_orphans() {
    let app = spawn_app_with(prune_closed_after_30_days).await;
    let owner = active_user(&app, "otto").await;
    let _ = account_of(&app, &owner.id, "Otto's Other Shop").await;
    let closed = account_of(&app, &owner.id, "Otto's Closed Shop").await;
    let (_, staff) = app.staff_token_with("stella", &["users.read"]).await;
    let staff_owned = account_of(&app, &staff.user_id, "Stella's Shop").await;
    close(&app, &closed).await;
    close(&app, &staff_owned).await;

    app.clock.advance(31 * DAY);
    let done = run(&app).await;
    assert_eq!(done.counts.get("closed_account"), Some(&2));
    assert_eq!(done.counts.get("orphan_user"), None);
    assert!(
        user_exists(&app, &owner.id).await,
        "still owns another account"
    );
    assert!(
        user_exists(&app, &staff.user_id).await,
        "staff are never pruned"
    );
}

#[tokio::test]
async fn inactive_accounts_are_warned_once_and_a_sign_in_or_recorded_activity_cancels() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.pruning.inactive_accounts_after_months = 12;
        settings.pruning.warning_days = 14;
    })
    .await;
    let idle = active_user(&app, "ida").await;
    let idle_account = account_of(&app, &idle.id, "Ida's Idle Shop").await;
    let busy = active_user(&app, "bert").await;
    let busy_account = account_of(&app, &busy.id, "Bert's Busy Shop").await;
    let billed = active_user(&app, "bill").await;
    let billed_account = account_of(&app, &billed.id, "Bill's Billed Shop").await;

    // 360 days: 14 days before the 12 months are up, owners are warned.
    app.clock.advance(345 * DAY);
    assert_eq!(run(&app).await.counts.get("inactivity_warning"), None);
    app.clock.advance(DAY);
    let warned = run(&app).await;
    assert_eq!(warned.counts.get("inactivity_warning"), Some(&3));
    assert_eq!(
        app.mail_count("ida@example.test", "account_inactivity_warning")
            .await,
        1
    );
    assert_eq!(
        run(&app).await.counts.get("inactivity_warning"),
        None,
        "warned once"
    );

    // Bert signs in; a billing service records Bill's paid invoice.
    session_of(&app, "bert").await;
    app.accounts
        .clone()
        .record_account_activity(RecordAccountActivityRequest {
            account_id: billed_account.clone(),
            activity_time: None,
        })
        .await
        .expect("record activity");
    let future = app
        .accounts
        .clone()
        .record_account_activity(RecordAccountActivityRequest {
            account_id: billed_account.clone(),
            activity_time: Some(prost_types::Timestamp {
                seconds: 32_000_000_000,
                nanos: 0,
            }),
        })
        .await
        .expect_err("not in the future");
    assert_eq!(future.code(), Code::InvalidArgument);

    app.clock.advance(15 * DAY);
    let done = run(&app).await;
    assert_eq!(done.counts.get("inactive_account"), Some(&1), "{done:?}");
    assert!(!exists(&app, &idle_account).await);
    assert!(exists(&app, &busy_account).await, "a sign-in cancels");
    assert!(
        exists(&app, &billed_account).await,
        "recorded activity cancels"
    );
    assert_eq!(events(&app, "account.inactivity_warned").await.len(), 3);
}

#[tokio::test]
async fn sign_ups_never_verified_go_with_their_account_after_their_days() {
    let app = spawn_app_with(|settings| {
        hold_mail(settings);
        settings.pruning.unverified_users_after_days = 7;
    })
    .await;
    app.auth_public()
        .register(RegisterRequest {
            full_name: "Nora Neververified".into(),
            username: "nora".into(),
            email: "nora@example.test".into(),
            password: "correct horse battery staple".into(),
            locale: String::new(),
        })
        .await
        .expect("register");
    let verified = active_user(&app, "vera").await;

    app.clock.advance(6 * DAY);
    assert_eq!(run(&app).await.counts.get("unverified_user"), None);
    app.clock.advance(DAY + Duration::from_secs(1));
    let done = run(&app).await;
    assert_eq!(done.counts.get("unverified_user"), Some(&1));
    assert!(user_exists(&app, &verified.id).await);
    let deleted = events(&app, "user.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].details.get("reason").map(String::as_str),
        Some("never verified")
    );
    assert_eq!(
        events(&app, "account.deleted").await.len(),
        1,
        "its primary account"
    );
}

#[tokio::test]
async fn two_replicas_running_at_once_delete_each_thing_once() {
    let app = spawn_app_with(prune_closed_after_30_days).await;
    let mut closed = Vec::new();
    for i in 0..6 {
        let owner = active_user(&app, &format!("twin{i}")).await;
        let account = account_of(&app, &owner.id, &format!("Twin Shop {i}")).await;
        close(&app, &account).await;
        closed.push(account);
    }
    app.clock.advance(31 * DAY);

    let postgres = (!app.database_url.starts_with("sqlite:")).then(|| app.database_url.clone());
    let mut settings = test_settings(app.data_path(), postgres);
    prune_closed_after_30_days(&mut settings);
    let other = build_app(&settings, open_database(&settings).await.expect("open"))
        .await
        .expect("build a second replica")
        .with_clock(app.clock.clone());
    let system = Principal::system("test");
    // Rounds of two runs at once, one through each replica, until nothing
    // is left. A run may be refused (the other holds the lease) or, on
    // SQLite, stop at a write that collides with the other process; what
    // matters is that every account goes exactly once.
    let mut total = 0;
    for _ in 0..10 {
        let mut admin = app.admin.clone();
        let (a, b) = tokio::join!(
            admin.run_retention(RunRetentionRequest {}),
            other.run_retention(&system)
        );
        match a {
            Ok(run) => total += deleted_by(&run.into_inner().run.expect("a run")),
            Err(status) => assert_error(&status, Code::FailedPrecondition, "RETENTION_RUNNING"),
        }
        match b {
            Ok(run) => total += run.counts.get("closed_account").copied().unwrap_or(0),
            Err(err) => assert!(err.to_string().contains("RETENTION_RUNNING"), "{err}"),
        }
        if total == 6 {
            break;
        }
    }
    assert_eq!(total, 6, "each account deleted once in all");
    assert_eq!(events(&app, "account.deleted").await.len(), 6);
    for account in closed {
        assert!(!exists(&app, &account).await);
    }
}

#[tokio::test]
async fn the_daily_run_starts_once_at_its_time_on_one_replica() {
    let app = spawn_app_with(prune_closed_after_30_days).await;
    let postgres = (!app.database_url.starts_with("sqlite:")).then(|| app.database_url.clone());
    let mut settings = test_settings(app.data_path(), postgres);
    prune_closed_after_30_days(&mut settings);
    let replica = build_app(&settings, open_database(&settings).await.expect("open"))
        .await
        .expect("build a replica")
        .with_clock(app.clock.clone());

    // To one minute before the next 03:00 UTC (the default run_at).
    let day = 86_400_000_000_i64;
    let now = app.clock.now().as_micros();
    let mut next = now.div_euclid(day) * day + 3 * 3_600_000_000;
    if next <= now + 60_000_000 {
        next += day;
    }
    app.clock.advance(Duration::from_micros(
        u64::try_from(next - now).unwrap() - 60_000_000,
    ));
    assert!(
        replica
            .run_scheduled_retention()
            .await
            .expect("check")
            .is_none()
    );
    app.clock.advance(Duration::from_secs(120));
    let run = replica
        .run_scheduled_retention()
        .await
        .expect("run")
        .expect("due now");
    assert_eq!(run.trigger, "schedule");
    assert!(
        replica
            .run_scheduled_retention()
            .await
            .expect("check")
            .is_none(),
        "once a day"
    );
    let status = app
        .admin
        .clone()
        .get_retention_status(GetRetentionStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    let next_run = status.next_run_time.expect("next run");
    assert_eq!(next_run.seconds * 1_000_000, next + day);
    app.clock.advance(DAY);
    assert!(
        replica
            .run_scheduled_retention()
            .await
            .expect("run")
            .is_some()
    );
}

#[tokio::test]
async fn an_export_holds_everything_about_a_user_and_no_secret() {
    let app = spawn_app_with(hold_mail).await;
    let user = active_user(&app, "erin").await;
    let account = account_of(&app, &user.id, "Erin's Shop").await;
    let session = session_of(&app, "erin").await;
    let document = app
        .users
        .clone()
        .export_user(ExportUserRequest {
            user_id: user.id.clone(),
        })
        .await
        .expect("export")
        .into_inner()
        .document;
    let json: serde_json::Value = serde_json::from_str(&document).expect("JSON");
    assert_eq!(json["format"], "identityd.user_export.v1");
    assert_eq!(json["user"]["username"], "erin");
    assert_eq!(json["user"]["has_password"], true);
    assert_eq!(json["memberships"][0]["account_id"], account.as_str());
    assert_eq!(json["memberships"][0]["owner"], true);
    assert_eq!(json["sessions"].as_array().expect("sessions").len(), 1);
    let actions: Vec<&str> = json["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"user.created"), "{actions:?}");
    assert!(actions.contains(&"auth.login_succeeded"), "{actions:?}");
    for secret in [PASSWORD, session.as_str(), "$argon2"] {
        assert!(!document.contains(secret), "the export holds {secret}");
    }

    // Both permissions, or nothing.
    let (reader, _) = app.staff_token_with("reader", &["users.read"]).await;
    let refused = app
        .users_as(&reader)
        .export_user(ExportUserRequest { user_id: user.id })
        .await
        .expect_err("no activity.read");
    assert_error(&refused, Code::PermissionDenied, "PERMISSION_DENIED");
}
