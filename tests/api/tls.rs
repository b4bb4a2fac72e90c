//! TLS and mutual TLS on the gRPC port, with certificates made in the test
//! (rcgen): plain HTTP/2 is refused, the health check stays open to probes
//! without a client certificate, other methods need one from the right CA,
//! and a certificate replaced on disk is used without a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use identityd::config::Settings;
use identityd::proto::ListRolesRequest;
use identityd::proto::admin_service_client::AdminServiceClient;
use identityd::startup::Application;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{assert_error, fresh_postgres_database, test_settings};

/// A certificate authority made for one test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate and key for `names`, for a server or a client; the
    /// certificate PEM is the full chain (leaf, then this CA).
    fn issue(&self, names: &[&str], server: bool) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "test leaf");
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a leaf certificate");
        (format!("{}{}", cert.pem(), self.pem()), key.serialize_pem())
    }
}

/// A server with TLS from files in its own directory.
struct TlsServer {
    address: std::net::SocketAddr,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TlsServer {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.path("data/bootstrap-token"))
            .expect("the bootstrap token")
            .trim()
            .to_owned()
    }
}

async fn start(server_ca: &TestCa, client_ca: Option<&TestCa>) -> TlsServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (cert, key) = server_ca.issue(&["localhost", "127.0.0.1"], true);
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    let mut settings: Settings =
        test_settings(dir.path().join("data"), fresh_postgres_database().await);
    settings.server.tls_cert_path = Some(dir.path().join("server.pem"));
    settings.server.tls_key_path = Some(dir.path().join("server.key"));
    if let Some(ca) = client_ca {
        write(dir.path(), "clients.pem", &ca.pem());
        settings.server.tls_client_ca_path = Some(dir.path().join("clients.pem"));
    }
    settings.server.tls_reload_secs = 1;
    let application = Application::build(settings).await.expect("build with TLS");
    let address = application.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        application
            .run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
    });
    TlsServer {
        address,
        dir,
        stop: Some(stop),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    // Written beside and renamed, as certificate tools do, so a reload never
    // reads half a file.
    let temporary = dir.join(format!("{name}.new"));
    std::fs::write(&temporary, text).expect("write");
    std::fs::rename(&temporary, dir.join(name)).expect("rename");
}

async fn channel(
    server: &TlsServer,
    trusted: &TestCa,
    client: Option<(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(trusted.pem()))
        .domain_name("localhost");
    if let Some((cert, key)) = client {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Channel::from_shared(format!("https://{}", server.address))
        .expect("a URI")
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

async fn list_roles(channel: Channel, token: &str) -> Result<usize, tonic::Status> {
    let mut request = tonic::Request::new(ListRolesRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII"),
    );
    AdminServiceClient::new(channel)
        .list_roles(request)
        .await
        .map(|r| r.into_inner().roles.len())
}

async fn healthy(channel: Channel) -> bool {
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn the_grpc_port_speaks_tls_only_and_the_probe_follows() {
    let ca = TestCa::new("server CA");
    let server = start(&ca, None).await;
    let secure = channel(&server, &ca, None).await.expect("a TLS connection");
    assert!(healthy(secure.clone()).await);
    list_roles(secure, &server.token())
        .await
        .expect("an authenticated call over TLS");

    // Plain HTTP/2 gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", server.address))
        .expect("a URI")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    match plain {
        Err(_) => {}
        Ok(plain) => assert!(!healthy(plain).await, "plain HTTP/2 was answered"),
    }
    // A client that trusts another CA refuses the server.
    let stranger = TestCa::new("another CA");
    match channel(&server, &stranger, None).await {
        Err(_) => {}
        Ok(untrusted) => assert!(!healthy(untrusted).await),
    }

    // `identityd health` trusts the certificate file it is pointed at.
    let status = identityd::startup::check_health(
        &server.address.to_string(),
        Some((&server.path("server.pem"), "localhost")),
    )
    .await
    .expect("the probe over TLS");
    assert_eq!(status, "SERVING");
}

#[tokio::test]
async fn with_a_client_ca_every_method_but_health_needs_a_client_certificate() {
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let server = start(&server_ca, Some(&client_ca)).await;
    let token = server.token();

    // No client certificate: the health check answers, nothing else does.
    let anonymous = channel(&server, &server_ca, None)
        .await
        .expect("TLS without a certificate");
    assert!(
        healthy(anonymous.clone()).await,
        "probes need no certificate"
    );
    let refused = list_roles(anonymous, &token)
        .await
        .expect_err("no client certificate");
    assert_error(
        &refused,
        Code::Unauthenticated,
        "CLIENT_CERTIFICATE_REQUIRED",
    );

    // A certificate from the client CA passes.
    let billing = client_ca.issue(&["billing.internal"], false);
    let trusted = channel(&server, &server_ca, Some(billing))
        .await
        .expect("mutual TLS");
    list_roles(trusted, &token)
        .await
        .expect("a call with a client certificate");

    // One from any other CA does not get through the handshake.
    let rogue = TestCa::new("rogue CA").issue(&["billing.internal"], false);
    let result = match channel(&server, &server_ca, Some(rogue)).await {
        Err(_) => None,
        Ok(channel) => Some(list_roles(channel, &token).await),
    };
    assert!(
        !matches!(result, Some(Ok(_))),
        "a certificate from another CA was accepted"
    );
}

#[tokio::test]
async fn a_replaced_certificate_is_used_without_a_restart_and_a_broken_one_is_not() {
    let first_ca = TestCa::new("first CA");
    let server = start(&first_ca, None).await;
    let old = channel(&server, &first_ca, None)
        .await
        .expect("the first certificate");
    assert!(healthy(old.clone()).await);

    // A broken pair on disk (a key that belongs to another certificate) is
    // not taken: new connections still get the first certificate.
    let second_ca = TestCa::new("second CA");
    let (cert, _) = second_ca.issue(&["localhost", "127.0.0.1"], true);
    let (_, other_key) = second_ca.issue(&["localhost"], true);
    write(server.dir.path(), "server.pem", &cert);
    write(server.dir.path(), "server.key", &other_key);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = channel(&server, &first_ca, None)
        .await
        .expect("the first certificate stays");
    assert!(healthy(still).await);

    // The renewed pair is picked up within the reload interval.
    let (cert, key) = second_ca.issue(&["localhost", "127.0.0.1"], true);
    write(server.dir.path(), "server.pem", &cert);
    write(server.dir.path(), "server.key", &key);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(renewed) = channel(&server, &second_ca, None).await
            && healthy(renewed).await
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Connections made before keep working.
    assert!(
        healthy(old).await,
        "an open connection keeps its certificate"
    );
}
