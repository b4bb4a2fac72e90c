//! Integration tests: the real server on 127.0.0.1:0, a fresh database per
//! test (SQLite, or PostgreSQL when IDENTITYD_TEST_POSTGRES_URL is set), and
//! the generated tonic client over a real socket.

mod accounts;
mod activity;
mod auth;
mod authz;
mod brute_force;
mod clock;
mod contacts;
mod credentials;
mod edge;
mod external;
mod helpers;
mod invitations;
mod mail;
mod metrics;
mod mfa;
mod module_graph;
mod oidc_provider;
mod operations;
mod people;
mod replicas;
mod retention;
mod roles;
mod server;
mod settings;
mod smtp_sink;
mod sso;
mod staff;
mod tls;
mod users;
