//! The activity log.

use identityd::proto::{
    ActorKind, CreateApiCredentialRequest, CreateRoleRequest, DuplicateRoleRequest,
    ListActivityActionsRequest, ListActivityRequest, ListRolesRequest, RevokeApiCredentialRequest,
    RoleKind,
};
use tonic::Code;

use crate::helpers::{assert_error, spawn_app, violated_fields};

async fn actions(app: &crate::helpers::TestApp, request: ListActivityRequest) -> Vec<String> {
    app.admin
        .clone()
        .list_activity(request)
        .await
        .expect("list activity")
        .into_inner()
        .events
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn an_operator_walkthrough_is_recorded_step_by_step() {
    let app = spawn_app().await;
    let mut admin = app.admin.clone();
    let role = app
        .create_role("Support API", RoleKind::Api, &["roles.read"])
        .await;
    let copy = admin
        .duplicate_role(DuplicateRoleRequest {
            role_id: role.id.clone(),
            name: "Support API (copy)".into(),
            request_id: String::new(),
        })
        .await
        .expect("duplicate")
        .into_inner()
        .role
        .expect("role");
    let staff = admin
        .list_staff_users(identityd::proto::ListStaffUsersRequest::default())
        .await
        .expect("staff")
        .into_inner()
        .staff_users
        .remove(0);
    let created = admin
        .create_api_credential(CreateApiCredentialRequest {
            owner_user_id: staff.user_id.clone(),
            description: "support tooling".into(),
            role_ids: vec![copy.id.clone()],
            expire_time: None,
        })
        .await
        .expect("mint")
        .into_inner();
    let credential = created.api_credential.expect("credential");
    app.client(&created.token)
        .list_roles(ListRolesRequest::default())
        .await
        .expect("call with the new credential");
    admin
        .revoke_api_credential(RevokeApiCredentialRequest {
            api_credential_id: credential.id.clone(),
        })
        .await
        .expect("revoke");

    let events = admin
        .list_activity(ListActivityRequest {
            actor_kind: ActorKind::ApiCredential.into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    let steps: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target_id.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("api_credential.revoked", credential.id.as_str()),
            ("api_credential.created", credential.id.as_str()),
            ("role.duplicated", copy.id.as_str()),
            ("role.created", role.id.as_str()),
        ]
    );
    let revoked = &events[0];
    assert_eq!(revoked.client_ip, "127.0.0.1");
    assert!(!revoked.request_id.is_empty());
    assert_eq!(revoked.details.get("staff_user_id"), Some(&staff.user_id));
    assert!(
        !format!("{events:?}").contains(&created.secret),
        "no secret in the log"
    );
    assert_eq!(events[2].details.get("source_role_id"), Some(&role.id));
}

#[tokio::test]
async fn bootstrap_is_recorded_as_the_system() {
    let app = spawn_app().await;
    let actions = actions(
        &app,
        ListActivityRequest {
            actor_kind: ActorKind::System.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        actions,
        vec![
            "api_credential.created",
            "staff_user.created",
            "role.created",
            "role.created"
        ]
    );
}

#[tokio::test]
async fn a_refused_change_leaves_no_event() {
    let app = spawn_app().await;
    app.create_role("Only once", RoleKind::Api, &[]).await;
    let filter = ListActivityRequest {
        action: "role.created".into(),
        actor_kind: ActorKind::ApiCredential.into(),
        ..Default::default()
    };
    let before = actions(&app, filter.clone()).await;
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "ONLY ONCE".into(),
            kind: RoleKind::Api.into(),
            ..Default::default()
        })
        .await
        .expect_err("name taken");
    assert_error(&status, Code::AlreadyExists, "ROLE_NAME_TAKEN");
    assert_eq!(actions(&app, filter).await, before);
}

#[tokio::test]
async fn activity_filters_by_action_actor_and_time_and_pages_newest_first() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_role(&format!("Filtered {i}"), RoleKind::Api, &[])
            .await;
    }
    let page = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            action: "role.created".into(),
            actor_kind: ActorKind::ApiCredential.into(),
            page_size: 3,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(page.events.len(), 3);
    assert!(!page.next_page_token.is_empty());
    let times: Vec<_> = page.events.iter().map(|e| e.time.expect("time")).collect();
    assert!(
        times
            .windows(2)
            .all(|w| (w[0].seconds, w[0].nanos) >= (w[1].seconds, w[1].nanos))
    );
    let actor = page.events[0].actor.clone().expect("actor");
    assert_eq!(actor.kind(), ActorKind::ApiCredential);

    let rest = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            action: "role.created".into(),
            actor_kind: ActorKind::ApiCredential.into(),
            page_size: 3,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(rest.events.len(), 2);
    assert!(rest.next_page_token.is_empty());

    let by_actor = actions(
        &app,
        ListActivityRequest {
            actor_id: actor.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_actor.len(), 5);

    // Nothing happened before the epoch, and everything before the far future.
    let empty = actions(
        &app,
        ListActivityRequest {
            end_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(empty.is_empty());
    let all = actions(
        &app,
        ListActivityRequest {
            start_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            page_size: 500,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        all.len(),
        9,
        "four bootstrap events and five role creations"
    );
}

#[tokio::test]
async fn invalid_activity_filters_are_reported() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            actor_kind: 42,
            actor_id: "someone".into(),
            start_time: Some(prost_types::Timestamp {
                seconds: 10,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 5,
                nanos: -1,
            }),
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        vec!["actor_kind", "actor_id", "end_time"]
    );
}

#[tokio::test]
async fn what_happened_to_one_user_is_answered_by_target_and_action_prefix() {
    use identityd::proto::{ActivateUserRequest, SuspendUserRequest};
    let app = spawn_app().await;
    let ann = crate::people::active_user(&app, "ann").await;
    let bob = crate::people::active_user(&app, "bob").await;
    let mut users = app.users.clone();
    users
        .suspend_user(SuspendUserRequest {
            user_id: ann.id.clone(),
            reason: "chargeback".into(),
        })
        .await
        .expect("suspend");
    users
        .activate_user(ActivateUserRequest {
            user_id: ann.id.clone(),
            reason: "resolved".into(),
        })
        .await
        .expect("activate");
    crate::people::session_of(&app, "bob").await;

    let about_ann = actions(
        &app,
        ListActivityRequest {
            target_type: "user".into(),
            target_id: ann.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        about_ann,
        ["user.activated", "user.suspended", "user.created"],
        "newest first, and nothing about Bob"
    );
    let user_changes = actions(
        &app,
        ListActivityRequest {
            action_prefix: "user.".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(user_changes.iter().all(|a| a.starts_with("user.")));
    assert!(user_changes.len() >= 4, "{user_changes:?}");
    let bob_signed_in = actions(
        &app,
        ListActivityRequest {
            action_prefix: "auth.login_".into(),
            target_type: "session".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(bob_signed_in, ["auth.login_succeeded"], "{}", bob.id);

    // The prefix is literal: LIKE's wildcards match nothing.
    for wildcard in ["%", "_", "user%", "us_r."] {
        let none = actions(
            &app,
            ListActivityRequest {
                action_prefix: wildcard.into(),
                ..Default::default()
            },
        )
        .await;
        assert!(none.is_empty(), "{wildcard}: {none:?}");
    }

    let bad = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            target_type: "planet".into(),
            target_id: "x".repeat(129),
            ..Default::default()
        })
        .await
        .expect_err("unknown target type and a long id");
    assert_eq!(violated_fields(&bad), ["target_type", "target_id"]);
    assert_eq!(bad.code(), Code::InvalidArgument);
}

/// Every `"area.name"` string in `src/app` that names an action: what the
/// use cases can record.
fn actions_in_the_code() -> std::collections::BTreeSet<String> {
    const AREAS: [&str; 14] = [
        "account",
        "api_credential",
        "auth",
        "invitation",
        "mail",
        "mail_template",
        "retention",
        "role",
        "session",
        "settings",
        "sso",
        "staff",
        "staff_user",
        "user",
    ];
    fn walk(dir: &std::path::Path, found: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read src/app") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            for literal in text.split('"').skip(1).step_by(2) {
                let Some((area, name)) = literal.split_once('.') else {
                    continue;
                };
                let plain = |s: &str| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                };
                if AREAS.contains(&area) && plain(name) {
                    found.insert(literal.to_owned());
                }
            }
        }
    }
    let mut found = std::collections::BTreeSet::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app"),
        &mut found,
    );
    found
}

#[tokio::test]
async fn every_action_the_code_records_is_in_the_listed_catalogue() {
    let in_code = actions_in_the_code();
    assert!(in_code.len() > 50, "the scan found {in_code:?}");
    let app = spawn_app().await;
    let listed: std::collections::BTreeSet<String> = app
        .admin
        .clone()
        .list_activity_actions(ListActivityActionsRequest {})
        .await
        .expect("list actions")
        .into_inner()
        .actions
        .into_iter()
        .map(|a| {
            assert!(
                !a.description.is_empty() && !a.target_type.is_empty(),
                "{a:?}"
            );
            a.name
        })
        .collect();
    let missing: Vec<&String> = in_code.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&in_code).collect();
    assert!(
        missing.is_empty(),
        "recorded but not catalogued: {missing:?}"
    );
    assert!(stale.is_empty(), "catalogued but never recorded: {stale:?}");

    let (auditor, _) = app.staff_token_with("auditor", &["users.read"]).await;
    let refused = app
        .client(&auditor)
        .list_activity_actions(ListActivityActionsRequest {})
        .await
        .expect_err("needs activity.read");
    assert_error(&refused, Code::PermissionDenied, "PERMISSION_DENIED");
}
