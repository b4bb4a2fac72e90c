//! Prometheus metrics on their own port: every documented metric is served,
//! calls are counted by method and code, made-up paths do not become labels,
//! and nothing but `GET /metrics` is answered.

use identityd::proto::{GetUserRequest, ListRolesRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// The metric names docs/OPERATIONS.md documents.
pub const DOCUMENTED: &[&str] = &[
    "identityd_grpc_calls_total",
    "identityd_grpc_call_duration_seconds_bucket",
    "identityd_password_hash_rejections_total",
    "identityd_password_hash_abandoned_total",
    "identityd_password_hash_in_flight",
    "identityd_password_hash_capacity",
    "identityd_mail_outbox_pending",
    "identityd_mail_outbox_oldest_pending_age_seconds",
    "identityd_mail_sent_total",
    "identityd_mail_delivery_failures_total",
    "identityd_mail_failed_total",
    "identityd_throttle_blocks_total",
    "identityd_auth_cache_hits_total",
    "identityd_auth_cache_misses_total",
    "identityd_db_connections",
    "identityd_build_info",
];

async fn http_get(app: &TestApp, request: &str) -> String {
    let address = app.metrics_address.expect("metrics are on");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the metrics port");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read the answer");
    answer
}

async fn scrape(app: &TestApp) -> String {
    let answer = http_get(app, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    answer
}

#[tokio::test]
async fn every_documented_metric_is_served_and_calls_are_counted() {
    let app = spawn_app_with(|settings| {
        settings.server.metrics_listen = Some("127.0.0.1:0".parse().expect("an address"));
    })
    .await;
    app.admin
        .clone()
        .list_roles(ListRolesRequest::default())
        .await
        .expect("list roles");
    let missing = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("no such user");
    assert_eq!(missing.code(), Code::NotFound);

    let text = scrape(&app).await;
    for name in DOCUMENTED {
        assert!(
            text.lines().any(|line| line.starts_with(name)),
            "{name} is not served:\n{text}"
        );
    }
    assert!(text.contains(
        r#"identityd_grpc_calls_total{method="/identity.v1.AdminService/ListRoles",code="OK"}"#
    ));
    assert!(text.contains(
        r#"identityd_grpc_calls_total{method="/identity.v1.UserService/GetUser",code="NOT_FOUND"}"#
    ));
    assert!(text.contains(r#"identityd_db_connections{pool="writer",state="in_use"}"#));
    assert!(text.contains(&format!(
        r#"identityd_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
}

#[tokio::test]
async fn made_up_paths_are_one_label_and_other_requests_get_404() {
    let app = spawn_app_with(|settings| {
        settings.server.metrics_listen = Some("127.0.0.1:0".parse().expect("an address"));
    })
    .await;
    let mut channel = tonic::client::Grpc::new(app.channel());
    for i in 0..5 {
        channel.ready().await.expect("ready");
        let path = format!("/identity.v1.Nope/Made{i}")
            .parse()
            .expect("a path");
        let _ = channel
            .unary::<(), (), _>(
                tonic::Request::new(()),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await;
    }
    let text = scrape(&app).await;
    assert!(!text.contains("Made0"), "a made-up path became a label");
    assert!(text.contains(r#"method="unknown""#));

    let other = http_get(&app, "GET / HTTP/1.1\r\n\r\n").await;
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let post = http_get(&app, "POST /metrics HTTP/1.1\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 404"), "{post}");
}

#[tokio::test]
async fn metrics_are_off_unless_configured() {
    let app = spawn_app().await;
    assert!(app.metrics_address.is_none());
}
