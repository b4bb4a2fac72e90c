//! RPC throughput and latency of identityd, beside the gRPC health check as a
//! baseline measured in the same run on the same server.
//!
//! `cargo bench --bench rpc` (SQLite in a temporary directory), or with
//! `IDENTITYD_BENCH_POSTGRES_URL=postgres://user@host/postgres`, an account
//! that may create databases: the run creates `identityd_bench_*` and drops it. `IDENTITYD_BENCH_SECONDS` (default 5) and
//! `IDENTITYD_BENCH_CONCURRENCY` (default 16) shape each scenario.

mod common;

use identityd::proto::admin_service_client::AdminServiceClient;
use identityd::proto::{CreateRoleRequest, GetRoleRequest, ListPermissionsRequest, RoleKind};

use common::Bench;

/// Runs the benchmark.
fn main() {
    common::block_on(run());
}

/// Starts the server, measures each scenario and prints the table.
async fn run() {
    let bench = Bench::from_env().await;
    let application = bench.build().await;
    let server = bench.serve(application).await;
    let admin = server.client(AdminServiceClient::with_interceptor);
    let role_id = admin
        .clone()
        .create_role(CreateRoleRequest {
            name: "Benchmark".into(),
            kind: RoleKind::Api.into(),
            permissions: vec!["users.read".into()],
            ..Default::default()
        })
        .await
        .expect("create a role")
        .into_inner()
        .role
        .expect("a role")
        .id;

    let baseline = bench.measure_health(&server).await;
    let client = admin.clone();
    let listed = bench
        .measure("AdminService/ListPermissions (authenticated)", move || {
            let mut client = client.clone();
            async move {
                client
                    .list_permissions(ListPermissionsRequest {})
                    .await
                    .expect("list permissions");
            }
        })
        .await;
    let client = admin.clone();
    let fetched = bench
        .measure("AdminService/GetRole (authenticated + 1 read)", move || {
            let mut client = client.clone();
            let role_id = role_id.clone();
            async move {
                client
                    .get_role(GetRoleRequest { role_id })
                    .await
                    .expect("get role");
            }
        })
        .await;

    bench.print_table("identityd RPC benchmark", &[], &[baseline, listed, fetched]);
    bench.finish().await;
}
