//! TLS and mutual TLS on the gRPC port (rustls), with certificates reloaded
//! without a restart.
//!
//! `server.tls_cert_path` and `server.tls_key_path` turn TLS on. With
//! `server.tls_client_ca_path`, callers must also present a certificate
//! signed by that CA (mutual TLS) for every method but the health check, so
//! probes that hold no client certificate still see whether the replica
//! serves. The files are read again when they change (checked every
//! `server.tls_reload_secs`) and on SIGHUP; a new handshake uses the new
//! certificate, connections already open keep theirs. A reload that fails
//! (a half-written file, a key that does not match) keeps the previous
//! certificate and logs why.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_stream::{Stream, StreamExt};

use crate::limits::{LimitedConnection, LimitedIncoming};

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The files TLS is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates, PEM, that client certificates must chain to; none
    /// asks for no client certificate.
    pub client_ca: Option<PathBuf>,
}

/// Why TLS could not be set up from the files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("{0}")]
    Config(String),
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The rustls server configuration the files make.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error(&files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&files.cert, e))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| file_error(&files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| file_error(ca, e))? {
                let cert = cert.map_err(|e| file_error(ca, e))?;
                roots.add(cert).map_err(|e| file_error(ca, e))?;
            }
            if roots.is_empty() {
                return Err(file_error(ca, "holds no CA certificate"));
            }
            // The handshake accepts callers without a certificate so the
            // health check stays open to probes; the authorization layer
            // refuses them every other method.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// When and how big each file was, to notice a change.
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(files: &TlsFiles) -> Stamps {
    [
        Some(&files.cert),
        Some(&files.key),
        files.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    })
    .collect()
}

/// The TLS configuration in use, swapped whole when the files change.
#[derive(Debug)]
pub struct TlsReloader {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
    seen: Mutex<Stamps>,
}

impl TlsReloader {
    /// Loads the files; a start with unusable files fails here.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let seen = stamps(&files);
        let config = server_config(&files)?;
        Ok(Self {
            files,
            current: ArcSwap::from_pointee(config),
            seen: Mutex::new(seen),
        })
    }

    /// Whether clients must present a certificate (mutual TLS).
    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// The configuration new handshakes use.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Reads the files again if they changed since the last load (or
    /// always, when `force`); whether a new configuration is in use. A
    /// failure keeps the previous one.
    pub fn reload(&self, force: bool) -> bool {
        let now = stamps(&self.files);
        {
            let Ok(mut seen) = self.seen.lock() else {
                return false;
            };
            if !force && *seen == now {
                return false;
            }
            *seen = now;
        }
        match server_config(&self.files) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(error) => {
                tracing::error!(%error, "TLS files changed but cannot be used; keeping the previous certificate");
                false
            }
        }
    }

    /// Reloads when the files change (checked every `every`) and on SIGHUP,
    /// until `stop` turns true.
    pub async fn watch(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.tick().await;
        loop {
            #[cfg(unix)]
            let hangup_received = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hangup_received = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = tick.tick() => {
                    self.reload(false);
                }
                _ = hangup_received => {
                    tracing::info!("SIGHUP: reloading the TLS certificate");
                    self.reload(true);
                }
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// The TLS connections made from `incoming`: each handshake runs on its own
/// task (a slow client holds nobody else up) with the configuration current
/// when it starts, and only finished handshakes are handed to the server.
pub struct TlsIncoming {
    connections: mpsc::Receiver<io::Result<TlsStream<LimitedConnection>>>,
}

impl TlsIncoming {
    /// Accepts from `incoming` until it ends.
    pub fn new(mut incoming: LimitedIncoming, tls: Arc<TlsReloader>) -> Self {
        let (sender, connections) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                // Stop accepting once the server is gone, so the listener closes.
                let accepted = tokio::select! {
                    accepted = incoming.next() => accepted,
                    () = sender.closed() => return,
                };
                let Some(accepted) = accepted else {
                    return;
                };
                let stream = match accepted {
                    Ok(stream) => stream,
                    Err(error) => {
                        if sender.send(Err(error)).await.is_err() {
                            return;
                        }
                        continue;
                    }
                };
                let acceptor = TlsAcceptor::from(tls.current());
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let _ = sender.send(Ok(tls_stream)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Self { connections }
    }
}

impl Stream for TlsIncoming {
    type Item = io::Result<TlsStream<LimitedConnection>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx)
    }
}
