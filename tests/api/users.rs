//! UserService.

use std::collections::BTreeSet;

use identityd::proto::{
    ActivateUserRequest, CreateUserRequest, DeleteUserRequest, GetUserRequest, ListActivityRequest,
    ListRolesRequest, ListSessionsRequest, ListUsersRequest, LookupUserRequest, SuspendUserRequest,
    UpdateUserRequest, User, UserOrder, UserStatus, lookup_user_request::Key,
};
use prost_types::FieldMask;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, spawn_app, violated_fields};
use crate::people::{active_user, session_of};

fn new_user(username: &str) -> CreateUserRequest {
    CreateUserRequest {
        skip_primary_account: true,
        full_name: format!("{username} Tester"),
        username: username.into(),
        email: format!("{username}@example.com"),
        ..Default::default()
    }
}

async fn create(app: &TestApp, request: CreateUserRequest) -> User {
    app.users
        .clone()
        .create_user(request)
        .await
        .expect("create a user")
        .into_inner()
        .user
        .expect("a user")
}

async fn list(app: &TestApp, request: ListUsersRequest) -> (Vec<String>, String, i64) {
    let page = app
        .users
        .clone()
        .list_users(request)
        .await
        .expect("list users")
        .into_inner();
    (
        page.users.into_iter().map(|u| u.username).collect(),
        page.next_page_token,
        page.total_size,
    )
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

#[tokio::test]
async fn a_created_user_is_active_and_found_by_id_email_or_username() {
    let app = spawn_app().await;
    let created = create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            photo_url: "https://cdn.example.com/ann.png".into(),
            locale: "pt-BR".into(),
            ..new_user("ann.lee")
        },
    )
    .await;
    assert_eq!(created.status(), UserStatus::Active);
    assert!(!created.email_verified);
    assert!(!created.has_password);
    assert_eq!(created.locale, "pt-BR");
    assert!(created.admin_role_id.is_empty());

    let mut users = app.users.clone();
    let by_id = users
        .get_user(GetUserRequest {
            user_id: created.id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .user;
    assert_eq!(by_id.as_ref(), Some(&created));
    for key in [
        Key::Email("ANN.LEE@example.COM".into()),
        Key::Username("Ann.Lee".into()),
    ] {
        let found = users
            .lookup_user(LookupUserRequest { key: Some(key) })
            .await
            .expect("lookup")
            .into_inner()
            .user;
        assert_eq!(found.as_ref(), Some(&created));
    }
}

#[tokio::test]
async fn lookups_need_a_key_and_unknown_users_are_not_found() {
    let app = spawn_app().await;
    let mut users = app.users.clone();
    let status = users
        .lookup_user(LookupUserRequest { key: None })
        .await
        .expect_err("no key");
    assert_eq!(violated_fields(&status), vec!["key"]);
    let status = users
        .lookup_user(LookupUserRequest {
            key: Some(Key::Email("nobody@example.com".into())),
        })
        .await
        .expect_err("unknown");
    assert_error(&status, Code::NotFound, "USER_NOT_FOUND");
    let status = users
        .get_user(GetUserRequest {
            user_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("unknown");
    assert_error(&status, Code::NotFound, "USER_NOT_FOUND");
}

#[tokio::test]
async fn a_password_is_stored_only_as_an_argon2id_hash() {
    let app = spawn_app().await;
    let password = "tidal-lantern-oboe-42";
    let created = create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            password: password.into(),
            ..new_user("bob")
        },
    )
    .await;
    assert!(created.has_password);
    let db = app.database().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT password_hash FROM users WHERE id = '{}'",
                created.id
            ),
        ))
        .await
        .expect("query")
        .expect("a row");
    let stored: String = row.try_get("", "password_hash").expect("password_hash");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(!stored.contains(password));
}

#[tokio::test]
async fn weak_short_and_personal_passwords_are_refused() {
    let app = spawn_app().await;
    for password in ["short1!", "password123", "qwertyuiop", "carol.king1990"] {
        let status = app
            .users
            .clone()
            .create_user(CreateUserRequest {
                skip_primary_account: true,
                password: password.into(),
                ..new_user("carol.king")
            })
            .await
            .expect_err("weak password");
        assert_eq!(violated_fields(&status), vec!["password"], "{password:?}");
    }
}

#[tokio::test]
async fn every_invalid_field_is_named() {
    let app = spawn_app().await;
    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: " ".into(),
            username: "admin".into(),
            email: "not-an-email".into(),
            photo_url: "javascript:alert(1)".into(),
            locale: "english".into(),
            password: String::new(),
            status: 42,
            request_id: "has spaces".into(),
            send_set_password_email: false,
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        vec![
            "full_name",
            "username",
            "email",
            "photo_url",
            "locale",
            "status",
            "request_id"
        ]
    );
    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: "x".repeat(129),
            username: "a b".into(),
            ..new_user("ignored")
        })
        .await
        .expect_err("invalid");
    assert_eq!(violated_fields(&status), vec!["full_name", "username"]);
}

#[tokio::test]
async fn emails_and_usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    create(&app, new_user("dora")).await;
    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            email: "DORA@EXAMPLE.COM".into(),
            ..new_user("dora2")
        })
        .await
        .expect_err("email taken");
    assert_error(&status, Code::AlreadyExists, "EMAIL_TAKEN");
    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            username: "DORA".into(),
            ..new_user("dora3")
        })
        .await
        .expect_err("username taken");
    assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");
}

#[tokio::test]
async fn many_concurrent_creates_of_one_email_make_exactly_one_user() {
    let app = spawn_app().await;
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let mut users = app.users.clone();
            let request = CreateUserRequest {
                skip_primary_account: true,
                email: "same@example.com".into(),
                ..new_user(&format!("racer{i}"))
            };
            tokio::spawn(async move { users.create_user(request).await })
        })
        .collect();
    let mut created = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => created += 1,
            Err(status) => assert_error(&status, Code::AlreadyExists, "EMAIL_TAKEN"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn retries_with_one_request_id_make_one_user() {
    let app = spawn_app().await;
    let request = CreateUserRequest {
        skip_primary_account: true,
        request_id: "signup-7f3a".into(),
        ..new_user("erin")
    };
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let mut users = app.users.clone();
            let request = request.clone();
            tokio::spawn(async move { users.create_user(request).await })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for call in calls {
        let user = call
            .await
            .expect("task")
            .expect("every retry succeeds")
            .into_inner()
            .user;
        ids.insert(user.expect("a user").id);
    }
    assert_eq!(ids.len(), 1);

    let status = app
        .users
        .clone()
        .create_user(CreateUserRequest {
            skip_primary_account: true,
            full_name: "Someone Else".into(),
            ..request
        })
        .await
        .expect_err("reused");
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn search_matches_name_username_and_email_without_case_and_takes_wildcards_literally() {
    let app = spawn_app().await;
    create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            full_name: "Zoë Åberg".into(),
            ..new_user("zoe")
        },
    )
    .await;
    create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            email: "billing@acme-hosting.example".into(),
            ..new_user("frank")
        },
    )
    .await;
    create(&app, new_user("grace_100")).await;

    let search = |query: &str| ListUsersRequest {
        query: query.into(),
        ..Default::default()
    };
    assert_eq!(list(&app, search("ÅBERG")).await.0, vec!["zoe"]);
    assert_eq!(list(&app, search("Acme-Host")).await.0, vec!["frank"]);
    assert_eq!(list(&app, search("RACE_1")).await.0, vec!["grace_100"]);
    assert!(
        list(&app, search("%")).await.0.is_empty(),
        "% is a literal, not a wildcard"
    );
    assert!(
        list(&app, search("grac_")).await.0.is_empty(),
        "_ is a literal, not a wildcard"
    );

    for bad in [
        &"q".repeat(129),
        "jo\u{0}se",
        "\u{0}\u{0}\u{0}",
        "é\ta",
        "ab\u{202E}c",
    ] {
        let status = app
            .users
            .clone()
            .list_users(search(bad))
            .await
            .expect_err("too long, or a control or invisible character");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(violated_fields(&status), vec!["query"], "{bad:?}");
    }
}

/// The usernames of every user whose search text contains `query`, found by
/// the scan ListUsers used before SQLite had its trigram index: `LIKE` over
/// the lower-cased search text, wildcards escaped.
async fn scanned(app: &TestApp, query: &str) -> BTreeSet<String> {
    let db = app.database().await;
    let backend = db.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let mut pattern = String::from("%");
    for c in query.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT username FROM users WHERE search_text LIKE {placeholder} ESCAPE '\\'"),
            [pattern.into()],
        ))
        .await
        .expect("scan users");
    rows.iter()
        .map(|row| row.try_get::<String>("", "username").expect("a username"))
        .collect()
}

/// The usernames ListUsers finds for `query`, every page of them.
async fn searched(app: &TestApp, query: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .users
            .clone()
            .list_users(ListUsersRequest {
                query: query.into(),
                page_size: 7,
                page_token,
                ..Default::default()
            })
            .await
            .expect("list users")
            .into_inner();
        found.extend(page.users.into_iter().map(|u| u.username));
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

/// Asserts that ListUsers and the scan agree on every query.
async fn assert_search_agrees(app: &TestApp, queries: &[&str]) {
    for query in queries {
        assert_eq!(
            searched(app, query).await,
            scanned(app, query).await,
            "ListUsers and a scan disagree on {query:?}"
        );
    }
}

#[tokio::test]
async fn search_finds_what_a_scan_of_every_user_finds() {
    let app = spawn_app().await;
    let people = [
        ("jose1", "José Álvarez", "jose1@correo.example"),
        ("jose2", "JOSE ALVAREZ", "jose2@example.com"),
        ("jose3", "Jose Alvarado", "jose3@example.org"),
        ("zoe", "Zoë Straße", "zoe@example.com"),
        ("unal", "Ünal Çelik", "unal@example.com"),
        ("ota", "Ōta Ken", "ota@example.jp"),
        ("obrien", "Seán O'Brien", "sean@example.ie"),
        ("quoted", "Ann \"Nan\" Lee", "nan@example.com"),
        ("percent", "Percy 100% Sure", "percy@example.com"),
        ("under_score", "Una Der_Score", "una@example.com"),
        ("ilker", "İlker Işık", "ilker@example.com.tr"),
        ("wei", "王伟", "wei@example.cn"),
    ];
    for (username, full_name, email) in people {
        create(
            &app,
            CreateUserRequest {
                skip_primary_account: true,
                username: username.into(),
                full_name: full_name.into(),
                email: email.into(),
                ..Default::default()
            },
        )
        .await;
    }
    let queries = [
        "jos",
        "JOSÉ",
        "josé",
        "jose",
        "álv",
        "alv",
        "ÁLVAREZ",
        "é",
        "é a",
        "zoë",
        "zoe",
        "straße",
        "STRASSE",
        "ünal",
        "çel",
        "ōta",
        "o'b",
        "\"nan\"",
        "\"",
        "nan",
        "100%",
        "%",
        "% s",
        "_sc",
        "der_",
        "i\u{307}lk",
        "ilk",
        "işı",
        "ışı",
        "王伟",
        "伟",
        "example",
        "correo",
        ".example.",
        "@",
        "a",
        "ez ",
        " o'",
        "x",
        "zz",
        "qqq",
        "ee",
        "e a",
        "alvarez jose",
        "ann \"nan\" lee",
        // Characters that mean something to FTS5's query syntax are text
        // like any other.
        "*",
        "jos*",
        "NEAR(a b)",
        "a OR b",
        "\\\\x",
        "^jos",
    ];
    assert_search_agrees(&app, &queries).await;
    assert_eq!(
        searched(&app, "álvarez").await,
        BTreeSet::from(["jose1".to_owned()]),
        "accents are not folded"
    );
    assert_eq!(
        searched(&app, "alvarez").await,
        BTreeSet::from(["jose2".to_owned()]),
        "case is folded"
    );

    // The index follows renames and deletions, in the same transaction.
    let zoe = searched_user(&app, "zoe").await;
    app.users
        .clone()
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: zoe.id,
                full_name: "Chloé Bernard".into(),
                ..Default::default()
            }),
            update_mask: mask(&["full_name"]),
        })
        .await
        .expect("rename");
    let jose3 = searched_user(&app, "jose3").await;
    app.users
        .clone()
        .delete_user(DeleteUserRequest { user_id: jose3.id })
        .await
        .expect("delete");
    assert!(searched(&app, "straße").await.is_empty());
    assert_eq!(
        searched(&app, "chloé").await,
        BTreeSet::from(["zoe".to_owned()])
    );
    assert!(searched(&app, "alvarado").await.is_empty());
    assert_search_agrees(&app, &queries).await;
    assert_search_agrees(&app, &["chloé", "bernard", "alvarado"]).await;
}

/// The one user whose username is `username`.
async fn searched_user(app: &TestApp, username: &str) -> User {
    app.users
        .clone()
        .lookup_user(LookupUserRequest {
            key: Some(Key::Username(username.into())),
        })
        .await
        .expect("look up")
        .into_inner()
        .user
        .expect("a user")
}

#[tokio::test]
async fn users_list_by_status_newest_or_oldest_first_with_a_total() {
    let app = spawn_app().await;
    for name in ["usr1", "usr2", "usr3"] {
        create(&app, new_user(name)).await;
    }
    create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            status: UserStatus::PendingVerification.into(),
            ..new_user("usr4")
        },
    )
    .await;

    let (newest, _, _) = list(
        &app,
        ListUsersRequest {
            query: "usr".into(),
            status: UserStatus::Active.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(newest, vec!["usr3", "usr2", "usr1"]);
    let (oldest, _, total) = list(
        &app,
        ListUsersRequest {
            query: "usr".into(),
            status: UserStatus::Active.into(),
            order: UserOrder::OldestFirst.into(),
            include_total_size: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(oldest, vec!["usr1", "usr2", "usr3"]);
    assert_eq!(total, 3);
    let (pending, _, _) = list(
        &app,
        ListUsersRequest {
            status: UserStatus::PendingVerification.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(pending, vec!["usr4"]);
}

#[tokio::test]
async fn pages_stay_stable_while_users_are_created() {
    let app = spawn_app().await;
    for i in 0..7 {
        create(&app, new_user(&format!("page{i}"))).await;
    }
    for order in [UserOrder::NewestFirst, UserOrder::OldestFirst] {
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let (names, next, _) = list(
                &app,
                ListUsersRequest {
                    query: "page".into(),
                    page_size: 3,
                    page_token: token.clone(),
                    order: order.into(),
                    ..Default::default()
                },
            )
            .await;
            seen.extend(names);
            pages += 1;
            // Users created mid-listing never shift or repeat later pages.
            create(
                &app,
                new_user(&format!("page-late-{order:?}-{pages}").to_lowercase()),
            )
            .await;
            if next.is_empty() {
                break;
            }
            token = next;
        }
        let originals: Vec<String> = seen
            .iter()
            .filter(|n| !n.contains("late"))
            .cloned()
            .collect();
        let mut expected: Vec<String> = (0..7).map(|i| format!("page{i}")).collect();
        if order == UserOrder::NewestFirst {
            expected.reverse();
        }
        assert_eq!(originals, expected, "{order:?}");
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no user appears twice");
    }
}

#[tokio::test]
async fn an_update_changes_masked_fields_and_a_new_email_is_unverified() {
    let app = spawn_app().await;
    let user = create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            photo_url: "https://cdn.example.com/h.png".into(),
            ..new_user("henry")
        },
    )
    .await;
    // Pretend the address was verified, as a finished verification would leave it.
    let db = app.database().await;
    db.execute_unprepared(&format!(
        "UPDATE users SET email_verified = true WHERE id = '{}'",
        user.id
    ))
    .await
    .expect("mark verified");

    let updated = app
        .users
        .clone()
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: user.id.clone(),
                full_name: "Henry Ford II".into(),
                email: "henry.ford@example.com".into(),
                photo_url: String::new(),
                username: "ignored-because-unmasked".into(),
                ..Default::default()
            }),
            update_mask: mask(&["full_name", "email", "photo_url"]),
        })
        .await
        .expect("update")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(updated.full_name, "Henry Ford II");
    assert_eq!(updated.email, "henry.ford@example.com");
    assert!(
        !updated.email_verified,
        "a new email address is not verified"
    );
    assert_eq!(updated.photo_url, "", "an empty masked photo URL clears it");
    assert_eq!(updated.username, "henry");
    assert_eq!(
        list(
            &app,
            ListUsersRequest {
                query: "ford ii".into(),
                ..Default::default()
            }
        )
        .await
        .0,
        vec!["henry"]
    );

    create(&app, new_user("ivy")).await;
    let status = app
        .users
        .clone()
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: user.id.clone(),
                username: "IVY".into(),
                ..Default::default()
            }),
            update_mask: mask(&["username"]),
        })
        .await
        .expect_err("taken");
    assert_error(&status, Code::AlreadyExists, "USERNAME_TAKEN");

    let status = app
        .users
        .clone()
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: user.id,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .expect_err("not updatable");
    assert_eq!(violated_fields(&status), vec!["update_mask"]);
}

#[tokio::test]
async fn suspension_and_activation_are_recorded_with_their_reasons() {
    let app = spawn_app().await;
    let user = create(
        &app,
        CreateUserRequest {
            skip_primary_account: true,
            status: UserStatus::PendingVerification.into(),
            ..new_user("jack")
        },
    )
    .await;
    let mut users = app.users.clone();
    let activated = users
        .activate_user(ActivateUserRequest {
            user_id: user.id.clone(),
            reason: "verified by phone".into(),
        })
        .await
        .expect("activate")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(activated.status(), UserStatus::Active);
    let suspended = users
        .suspend_user(SuspendUserRequest {
            user_id: user.id.clone(),
            reason: "chargeback".into(),
        })
        .await
        .expect("suspend")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(suspended.status(), UserStatus::Suspended);

    let events = app
        .admin
        .clone()
        .list_activity(ListActivityRequest::default())
        .await
        .expect("activity")
        .into_inner()
        .events;
    let suspended_event = events
        .iter()
        .find(|e| e.action == "user.suspended")
        .expect("suspension event");
    assert_eq!(suspended_event.target_id, user.id);
    assert_eq!(
        suspended_event.details.get("reason").map(String::as_str),
        Some("chargeback")
    );
    let activated_event = events
        .iter()
        .find(|e| e.action == "user.activated")
        .expect("activation event");
    assert_eq!(
        activated_event
            .details
            .get("previous_status")
            .map(String::as_str),
        Some("pending_verification")
    );

    let status = users
        .suspend_user(SuspendUserRequest {
            user_id: user.id,
            reason: String::new(),
        })
        .await
        .expect_err("reason required");
    assert_eq!(violated_fields(&status), vec!["reason"]);
}

#[tokio::test]
async fn suspending_a_staff_user_stops_their_credentials() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("kim", &["roles.read"]).await;
    let mut kim = app.client(&token);
    kim.list_roles(ListRolesRequest::default())
        .await
        .expect("works");
    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: staff.user_id.clone(),
            reason: "left the company".into(),
        })
        .await
        .expect("suspend");
    let status = kim
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("suspended");
    assert_error(&status, Code::Unauthenticated, "CREDENTIAL_OWNER_NOT_STAFF");
}

#[tokio::test]
async fn deleting_a_user_deletes_their_credentials() {
    let app = spawn_app().await;
    let (token, staff) = app.staff_token_with("leo", &["roles.read"]).await;
    app.users
        .clone()
        .delete_user(DeleteUserRequest {
            user_id: staff.user_id.clone(),
        })
        .await
        .expect("delete");
    let status = app
        .client(&token)
        .list_roles(ListRolesRequest::default())
        .await
        .expect_err("credential deleted");
    assert_error(&status, Code::Unauthenticated, "CREDENTIAL_INVALID");
    let status = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: staff.user_id,
        })
        .await
        .expect_err("deleted");
    assert_error(&status, Code::NotFound, "USER_NOT_FOUND");
}

#[tokio::test]
async fn the_last_full_access_staff_user_cannot_be_deleted_or_suspended() {
    let app = spawn_app().await;
    let (admin_user, _, _) = list(
        &app,
        ListUsersRequest {
            query: "admin@identityd.invalid".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(admin_user, vec!["admin"]);
    let admin = app
        .users
        .clone()
        .lookup_user(LookupUserRequest {
            key: Some(Key::Username("admin".into())),
        })
        .await
        .expect("lookup")
        .into_inner()
        .user
        .expect("a user");
    let status = app
        .users
        .clone()
        .delete_user(DeleteUserRequest {
            user_id: admin.id.clone(),
        })
        .await
        .expect_err("last full access");
    assert_error(&status, Code::FailedPrecondition, "LAST_FULL_ACCESS_STAFF");
    let status = app
        .users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: admin.id,
            reason: "testing".into(),
        })
        .await
        .expect_err("last full access");
    assert_error(&status, Code::FailedPrecondition, "LAST_FULL_ACCESS_STAFF");
}

#[tokio::test]
async fn a_weaker_caller_cannot_suspend_or_change_a_stronger_staff_user() {
    let app = spawn_app().await;
    let (token, _) = app
        .staff_token_with("mia", &["users.write", "users.read"])
        .await;
    let strong_role = app
        .create_role(
            "Strong",
            identityd::proto::RoleKind::Admin,
            &["users.write", "roles.write"],
        )
        .await;
    let strong = app.create_staff("noah", &strong_role.id).await;
    let mut mia = app.users_as(&token);
    let status = mia
        .suspend_user(SuspendUserRequest {
            user_id: strong.user_id.clone(),
            reason: "power grab".into(),
        })
        .await
        .expect_err("escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
    let status = mia
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: strong.user_id,
                email: "mia-controls-this@example.com".into(),
                ..Default::default()
            }),
            update_mask: mask(&["email"]),
        })
        .await
        .expect_err("escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");

    // A client user has no admin role, so users.write is enough.
    let client = create(&app, new_user("olive")).await;
    mia.suspend_user(SuspendUserRequest {
        user_id: client.id,
        reason: "fraud review".into(),
    })
    .await
    .expect("suspend a client user");
}

#[tokio::test]
async fn suspension_ends_a_users_sessions_for_good() {
    let app = spawn_app().await;
    let user = active_user(&app, "nina").await;
    let token = session_of(&app, "nina").await;
    let mut nina = app.auth_as(&token);
    nina.list_sessions(ListSessionsRequest::default())
        .await
        .expect("signed in");
    let live = |app: &TestApp, user_id: String| {
        let mut auth = app.auth.clone();
        async move {
            auth.list_sessions(ListSessionsRequest {
                user_id,
                ..Default::default()
            })
            .await
            .expect("list sessions")
            .into_inner()
            .sessions
            .len()
        }
    };
    assert_eq!(live(&app, user.id.clone()).await, 1);

    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: user.id.clone(),
            reason: "stolen laptop".into(),
        })
        .await
        .expect("suspend");
    assert_eq!(
        live(&app, user.id.clone()).await,
        0,
        "a suspended user's sessions are not listed as live"
    );
    let status = nina
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect_err("suspended");
    assert_error(&status, Code::Unauthenticated, "SESSION_INVALID");

    // Activating the user does not bring the old token back.
    app.users
        .clone()
        .activate_user(ActivateUserRequest {
            user_id: user.id.clone(),
            reason: "laptop found".into(),
        })
        .await
        .expect("activate");
    let status = nina
        .list_sessions(ListSessionsRequest::default())
        .await
        .expect_err("the old session stays ended");
    assert_error(&status, Code::Unauthenticated, "SESSION_INVALID");
    assert_eq!(live(&app, user.id.clone()).await, 0);

    let db = app.database().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT revoke_reason FROM sessions WHERE user_id = '{}'",
                user.id
            ),
        ))
        .await
        .expect("query")
        .expect("a session row");
    let reason: Option<String> = row.try_get("", "revoke_reason").expect("revoke_reason");
    assert_eq!(reason.as_deref(), Some("user_suspended"));
    let events = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            action: "user.suspended".into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    assert_eq!(
        events[0].details.get("sessions_ended").map(String::as_str),
        Some("1")
    );
}

#[tokio::test]
async fn users_sort_by_name_username_or_email_in_stable_pages() {
    let app = spawn_app().await;
    // Full names, usernames and addresses in three different orders, with
    // mixed case and a tie on the full name.
    let people = [
        ("zed", "Anna Zahl", "m.zed@example.com"),
        ("Bob", "carla Berg", "a.bob@example.com"),
        ("amy", "Anna Zahl", "z.amy@example.com"),
        ("dan", "Bert Dorf", "b.dan@example.com"),
    ];
    for (username, full_name, email) in people {
        create(
            &app,
            CreateUserRequest {
                skip_primary_account: true,
                full_name: full_name.into(),
                username: username.into(),
                email: email.into(),
                ..Default::default()
            },
        )
        .await;
    }
    let all_pages = |order: UserOrder| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut token = String::new();
            loop {
                let (names, next, _) = list(
                    app,
                    ListUsersRequest {
                        query: "example.com".into(),
                        page_size: 3,
                        page_token: token,
                        order: order.into(),
                        ..Default::default()
                    },
                )
                .await;
                seen.extend(names);
                if next.is_empty() {
                    return seen;
                }
                token = next;
            }
        }
    };
    // Ties on the name go by creation: zed before amy.
    assert_eq!(
        all_pages(UserOrder::FullName).await,
        ["zed", "amy", "dan", "Bob"]
    );
    assert_eq!(
        all_pages(UserOrder::Username).await,
        ["amy", "Bob", "dan", "zed"]
    );
    assert_eq!(
        all_pages(UserOrder::Email).await,
        ["Bob", "dan", "zed", "amy"]
    );

    // A token is bound to its order.
    let (_, token, _) = list(
        &app,
        ListUsersRequest {
            query: "example.com".into(),
            page_size: 2,
            order: UserOrder::Email.into(),
            ..Default::default()
        },
    )
    .await;
    let foreign = app
        .users
        .clone()
        .list_users(ListUsersRequest {
            query: "example.com".into(),
            page_size: 2,
            page_token: token,
            order: UserOrder::Username.into(),
            ..Default::default()
        })
        .await
        .expect_err("a token from another order");
    assert_eq!(foreign.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_new_user_gets_a_primary_account_unless_skipped() {
    use identityd::proto::{DeleteAccountRequest, GetAccountRequest, ListUserAccountsRequest};
    let app = spawn_app().await;
    let mut with = new_user("primo");
    with.skip_primary_account = false;
    let primo = create(&app, with).await;
    assert!(!primo.primary_account_id.is_empty(), "{primo:?}");
    let account = app
        .accounts
        .clone()
        .get_account(GetAccountRequest {
            account_id: primo.primary_account_id.clone(),
        })
        .await
        .expect("the primary account")
        .into_inner()
        .account
        .expect("an account");
    assert_eq!(account.owner_user_id, primo.id);
    let profile = account.profile.expect("a profile");
    assert_eq!(profile.display_name, "primo", "named after the username");
    assert_eq!(profile.email, primo.email);
    assert_eq!(profile.full_name, primo.full_name);
    let listed = app
        .accounts
        .clone()
        .list_user_accounts(ListUserAccountsRequest {
            user_id: primo.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the user's accounts")
        .into_inner();
    assert_eq!(listed.accounts.len(), 1);

    // Someone who will only be invited gets none.
    let mut without = new_user("invitee");
    without.skip_primary_account = true;
    let invitee = create(&app, without).await;
    assert!(invitee.primary_account_id.is_empty());

    // The primary account can be deleted like any other; the user then has none.
    app.accounts
        .clone()
        .delete_account(DeleteAccountRequest {
            account_id: primo.primary_account_id.clone(),
            delete_orphan_users: false,
        })
        .await
        .expect("delete the primary account");
    let after = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: primo.id.clone(),
        })
        .await
        .expect("the user stays")
        .into_inner()
        .user
        .expect("a user");
    assert!(after.primary_account_id.is_empty());
}
