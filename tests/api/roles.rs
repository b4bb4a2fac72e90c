//! Admin and API roles.

use identityd::proto::{
    CreateRoleRequest, DeleteRoleRequest, DuplicateRoleRequest, GetRoleRequest,
    ListPermissionsRequest, ListRolesRequest, Role, RoleKind, UpdateRoleRequest,
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{assert_error, spawn_app, violated_fields};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

#[tokio::test]
async fn the_permission_catalogue_lists_every_permission_with_a_description() {
    let app = spawn_app().await;
    let permissions = app
        .admin
        .clone()
        .list_permissions(ListPermissionsRequest {})
        .await
        .expect("list permissions")
        .into_inner()
        .permissions;
    let names: Vec<&str> = permissions.iter().map(|p| p.name.as_str()).collect();
    for expected in [
        "users.read",
        "users.write",
        "roles.write",
        "credentials.write",
        "activity.read",
        "staff.write",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(permissions.iter().all(|p| !p.description.is_empty()));
}

#[tokio::test]
async fn a_created_role_can_be_read_back() {
    let app = spawn_app().await;
    let created = app
        .create_role(
            "Billing support",
            RoleKind::Api,
            &["users.write", "users.read", "users.read"],
        )
        .await;
    assert_eq!(created.permissions, vec!["users.read", "users.write"]);
    assert_eq!(created.kind(), RoleKind::Api);
    assert!(!created.full_access);
    assert!(created.create_time.is_some());

    let fetched = app
        .admin
        .clone()
        .get_role(GetRoleRequest {
            role_id: created.id.clone(),
        })
        .await
        .expect("get role")
        .into_inner()
        .role
        .expect("a role");
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn role_names_are_unique_per_kind_regardless_of_case() {
    let app = spawn_app().await;
    app.create_role("Support", RoleKind::Admin, &[]).await;
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "SUPPORT".into(),
            kind: RoleKind::Admin.into(),
            ..Default::default()
        })
        .await
        .expect_err("duplicate name");
    assert_error(&status, Code::AlreadyExists, "ROLE_NAME_TAKEN");
    // The same name is free for the other kind.
    app.create_role("support", RoleKind::Api, &[]).await;
}

#[tokio::test]
async fn an_invalid_role_request_names_every_bad_field() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "   ".into(),
            description: "d".repeat(501),
            kind: 0,
            permissions: vec!["users.read".into(), "users.destroy".into()],
            full_access: false,
            request_id: "not valid!".into(),
        })
        .await
        .expect_err("invalid");
    let fields = violated_fields(&status);
    assert_eq!(
        fields,
        vec![
            "name",
            "description",
            "kind",
            "permissions[1]",
            "request_id"
        ]
    );
}

#[tokio::test]
async fn oversized_and_out_of_range_fields_are_invalid_arguments() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "n".repeat(65),
            kind: 99,
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(violated_fields(&status), vec!["name", "kind"]);

    let status = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("negative page size");
    assert_eq!(violated_fields(&status), vec!["page_size"]);

    let status = app
        .admin
        .clone()
        .get_role(GetRoleRequest {
            role_id: "42".into(),
        })
        .await
        .expect_err("not a UUID");
    assert_eq!(violated_fields(&status), vec!["role_id"]);
}

#[tokio::test]
async fn an_unknown_role_is_not_found() {
    let app = spawn_app().await;
    let status = app
        .admin
        .clone()
        .get_role(GetRoleRequest {
            role_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("missing");
    assert_error(&status, Code::NotFound, "ROLE_NOT_FOUND");
}

#[tokio::test]
async fn duplicating_a_role_copies_its_permissions_under_a_new_name() {
    let app = spawn_app().await;
    let source = app
        .create_role("Sales", RoleKind::Admin, &["users.read", "accounts.read"])
        .await;
    let copy = app
        .admin
        .clone()
        .duplicate_role(DuplicateRoleRequest {
            role_id: source.id.clone(),
            name: "Sales (EU)".into(),
            request_id: String::new(),
        })
        .await
        .expect("duplicate")
        .into_inner()
        .role
        .expect("a role");
    assert_ne!(copy.id, source.id);
    assert_eq!(copy.name, "Sales (EU)");
    assert_eq!(copy.kind, source.kind);
    assert_eq!(copy.permissions, source.permissions);

    let status = app
        .admin
        .clone()
        .duplicate_role(DuplicateRoleRequest {
            role_id: source.id,
            name: "sales".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("name taken");
    assert_error(&status, Code::AlreadyExists, "ROLE_NAME_TAKEN");
}

#[tokio::test]
async fn an_update_changes_only_the_masked_fields() {
    let app = spawn_app().await;
    let role = app
        .create_role("Auditors", RoleKind::Api, &["activity.read"])
        .await;
    let updated = app
        .admin
        .clone()
        .update_role(UpdateRoleRequest {
            role: Some(Role {
                id: role.id.clone(),
                name: "Ignored because unmasked".into(),
                description: "Reads the activity log and users".into(),
                permissions: vec!["activity.read".into(), "users.read".into()],
                ..Default::default()
            }),
            update_mask: mask(&["description", "permissions"]),
        })
        .await
        .expect("update")
        .into_inner()
        .role
        .expect("a role");
    assert_eq!(updated.name, "Auditors");
    assert_eq!(updated.description, "Reads the activity log and users");
    assert_eq!(updated.permissions, vec!["activity.read", "users.read"]);
    let seconds_nanos =
        |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(seconds_nanos(&updated.update_time) >= seconds_nanos(&role.update_time));
}

#[tokio::test]
async fn an_update_needs_a_mask_of_known_fields() {
    let app = spawn_app().await;
    let role = app.create_role("Auditors", RoleKind::Api, &[]).await;
    for paths in [vec![], vec!["kind"], vec!["full_access"]] {
        let status = app
            .admin
            .clone()
            .update_role(UpdateRoleRequest {
                role: Some(Role {
                    id: role.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&paths),
            })
            .await
            .expect_err("bad mask");
        assert_eq!(
            violated_fields(&status),
            vec!["update_mask"],
            "mask {paths:?}"
        );
    }
}

#[tokio::test]
async fn a_full_access_role_cannot_be_given_a_permission_list() {
    let app = spawn_app().await;
    let full = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Superusers".into(),
            kind: RoleKind::Admin.into(),
            full_access: true,
            ..Default::default()
        })
        .await
        .expect("a full-access caller may create a full-access role")
        .into_inner()
        .role
        .expect("a role");
    assert!(full.full_access);
    assert!(full.permissions.is_empty());
    let status = app
        .admin
        .clone()
        .update_role(UpdateRoleRequest {
            role: Some(Role {
                id: full.id,
                permissions: vec!["users.read".into()],
                ..Default::default()
            }),
            update_mask: mask(&["permissions"]),
        })
        .await
        .expect_err("fixed");
    assert_error(&status, Code::FailedPrecondition, "FULL_ACCESS_ROLE_FIXED");
}

#[tokio::test]
async fn a_role_in_use_cannot_be_deleted_until_it_is_free() {
    let app = spawn_app().await;
    let admin_role = app
        .create_role("Helpdesk", RoleKind::Admin, &["users.read"])
        .await;
    let api_role = app
        .create_role("Helpdesk API", RoleKind::Api, &["users.read"])
        .await;
    let staff = app.create_staff("helpdesk1", &admin_role.id).await;
    app.mint_credential(&staff.user_id, &[&api_role.id]).await;
    let mut admin = app.admin.clone();

    for role_id in [&admin_role.id, &api_role.id] {
        let status = admin
            .delete_role(DeleteRoleRequest {
                role_id: role_id.clone(),
            })
            .await
            .expect_err("in use");
        assert_error(&status, Code::FailedPrecondition, "ROLE_IN_USE");
    }

    let unused = app.create_role("Unused", RoleKind::Api, &[]).await;
    admin
        .delete_role(DeleteRoleRequest {
            role_id: unused.id.clone(),
        })
        .await
        .expect("delete an unused role");
    let status = admin
        .get_role(GetRoleRequest { role_id: unused.id })
        .await
        .expect_err("deleted");
    assert_error(&status, Code::NotFound, "ROLE_NOT_FOUND");
}

#[tokio::test]
async fn a_caller_cannot_grant_permissions_it_does_not_hold() {
    let app = spawn_app().await;
    let (token, _) = app
        .staff_token_with("rolesmith", &["roles.write", "roles.read"])
        .await;
    let mut rolesmith = app.client(&token);

    let status = rolesmith
        .create_role(CreateRoleRequest {
            name: "Everything".into(),
            kind: RoleKind::Admin.into(),
            permissions: vec!["roles.write".into(), "credentials.write".into()],
            ..Default::default()
        })
        .await
        .expect_err("escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");

    let status = rolesmith
        .create_role(CreateRoleRequest {
            name: "Root".into(),
            kind: RoleKind::Admin.into(),
            full_access: true,
            ..Default::default()
        })
        .await
        .expect_err("full access escalation");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");

    // What it holds, it may hand on.
    rolesmith
        .create_role(CreateRoleRequest {
            name: "Role readers".into(),
            kind: RoleKind::Api.into(),
            permissions: vec!["roles.read".into()],
            ..Default::default()
        })
        .await
        .expect("grant a held permission");

    // Nor may it change a role that grants more than it holds.
    let powerful = app
        .create_role("Powerful", RoleKind::Admin, &["users.write"])
        .await;
    let status = rolesmith
        .update_role(UpdateRoleRequest {
            role: Some(Role {
                id: powerful.id,
                name: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
        })
        .await
        .expect_err("cannot touch a stronger role");
    assert_error(&status, Code::PermissionDenied, "PRIVILEGE_ESCALATION");
}

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_returns_the_first_role() {
    let app = spawn_app().await;
    let request = CreateRoleRequest {
        name: "Retry-safe".into(),
        kind: RoleKind::Api.into(),
        permissions: vec!["users.read".into()],
        request_id: "create-retry-safe-1".into(),
        ..Default::default()
    };
    let first = app
        .admin
        .clone()
        .create_role(request.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = app
        .admin
        .clone()
        .create_role(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.role, retry.role);

    let status = app
        .admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Something else".into(),
            ..request
        })
        .await
        .expect_err("reused id");
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn concurrent_retries_of_one_create_make_exactly_one_role() {
    let app = spawn_app().await;
    let request = CreateRoleRequest {
        name: "Concurrent".into(),
        kind: RoleKind::Api.into(),
        request_id: "concurrent-1".into(),
        ..Default::default()
    };
    let calls = (0..8).map(|_| {
        let mut client = app.admin.clone();
        let request = request.clone();
        async move { client.create_role(request).await }
    });
    let results = futures_join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| {
            r.expect("every retry succeeds")
                .into_inner()
                .role
                .expect("a role")
                .id
        })
        .collect();
    assert_eq!(ids.len(), 1, "retries created several roles: {ids:?}");

    let roles = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            kind: RoleKind::Api.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .roles;
    assert_eq!(roles.iter().filter(|r| r.name == "Concurrent").count(), 1);
}

/// Runs futures concurrently on the test runtime and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}

#[tokio::test]
async fn roles_page_in_creation_order_with_opaque_tokens() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_role(&format!("Paged {i}"), RoleKind::Api, &[])
            .await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .admin
            .clone()
            .list_roles(ListRolesRequest {
                page_size: 2,
                page_token: token.clone(),
                kind: RoleKind::Api.into(),
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.roles.len() <= 2);
        seen.extend(page.roles.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A row added while paging lands after the cursor and is still seen.
        if seen.len() == 2 {
            app.create_role("Added while paging", RoleKind::Api, &[])
                .await;
        }
    }
    assert_eq!(
        seen,
        vec![
            "Full Access API",
            "Paged 0",
            "Paged 1",
            "Paged 2",
            "Paged 3",
            "Paged 4",
            "Added while paging"
        ]
    );

    // A token is tied to the filters it was made under.
    let first = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            page_size: 1,
            kind: RoleKind::Api.into(),
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    let status = app
        .admin
        .clone()
        .list_roles(ListRolesRequest {
            page_size: 1,
            page_token: first.next_page_token,
            kind: RoleKind::Admin.into(),
        })
        .await
        .expect_err("token under other filters");
    assert_eq!(violated_fields(&status), vec!["page_token"]);
}
