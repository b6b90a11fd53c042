//! The transport under IMAP and SMTP: TCP with the socket options delega wants, and TLS
//! with verified certificates (the system's roots, or `ca_file`: see [`crate::trust`]).
//!
//! Both protocols are short command/response exchanges, so Nagle's algorithm is off: with
//! it, each command written in two pieces waits for the server's delayed ACK (~40 ms).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, RootCertStore, pki_types::ServerName};

use crate::config::Server;
use crate::trust::{TlsError, TlsFailure, Verifier};

/// Opens a TCP connection to the server, with Nagle's algorithm off and keepalive probes on.
pub async fn connect_tcp(server: &Server) -> anyhow::Result<TcpStream> {
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .with_context(|| format!("cannot connect to {}:{}", server.host, server.port))?;
    tcp.set_nodelay(true).ok();
    // A peer that vanishes without a reset would leave a read waiting forever: keepalive
    // probes notice within about two minutes.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(15));
    socket2::SockRef::from(&tcp)
        .set_tcp_keepalive(&keepalive)
        .ok();
    Ok(tcp)
}

/// A connection to a mail server: plain TCP or TLS over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Unencrypted (only when configured explicitly).
    Plain(TcpStream),
    /// TLS, implicit or after STARTTLS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The certificates a connection trusts: those of `ca_file` when it is set (a server with
/// a private CA is trusted for that CA alone, as `curl --cacert` does), else the system's;
/// and, second, the certificates of `ca_file`, each also trusted as itself (see
/// [`crate::trust`]).
fn trusted(
    ca_file: Option<&Path>,
) -> anyhow::Result<(
    RootCertStore,
    Vec<rustls::pki_types::CertificateDer<'static>>,
)> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = RootCertStore::empty();
    let Some(path) = ca_file else {
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            bail!(
                "no trusted CA certificates found on this system: install ca-certificates or \
                 set ca_file"
            );
        }
        return Ok((roots, Vec::new()));
    };
    let mut pinned = Vec::new();
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read CA file {}", path.display()))?;
    for cert in certs {
        let cert = cert.with_context(|| format!("bad PEM in CA file {}", path.display()))?;
        roots
            .add(cert.clone())
            .with_context(|| format!("unusable certificate in {}", path.display()))?;
        pinned.push(cert);
    }
    if roots.is_empty() {
        bail!("CA file {} holds no certificate", path.display());
    }
    Ok((roots, pinned))
}

/// A TLS client config trusting [`trusted`], and `ca_file`'s certificates as themselves.
fn tls_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (roots, pinned) = trusted(ca_file)?;
    let verifier = Verifier::new(roots, pinned, Arc::clone(&provider))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TLS config for `ca_file`, built once per process and shared by every account and
/// reconnection (loading the system's roots costs time and about 100 kB each).
fn shared_tls_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    static CONFIGS: Mutex<Vec<(Option<PathBuf>, Arc<rustls::ClientConfig>)>> =
        Mutex::new(Vec::new());
    let mut configs = CONFIGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, config)) = configs.iter().find(|(path, _)| path.as_deref() == ca_file) {
        return Ok(Arc::clone(config));
    }
    let config = tls_config(ca_file)?;
    configs.push((ca_file.map(Path::to_path_buf), Arc::clone(&config)));
    Ok(config)
}

/// Secures `tcp` with TLS, checking the server's certificate for `server.host`.
pub async fn tls_wrap(tcp: TcpStream, server: &Server) -> anyhow::Result<Stream> {
    let config = shared_tls_config(server.ca_file.as_deref())?;
    let name = ServerName::try_from(server.host.clone())
        .with_context(|| format!("`{}` is not a valid TLS server name", server.host))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|err| TlsError {
            host: server.host.clone(),
            port: server.port,
            failure: TlsFailure::from_io(&err),
        })?;
    Ok(Stream::Tls(Box::new(tls)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::trusted;

    #[test]
    fn a_ca_file_is_trusted_alone_and_must_hold_a_certificate() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
        let (roots, pinned) = trusted(Some(&fixture)).expect("the fixture CA");
        assert_eq!(pinned.len(), 1);
        assert_eq!(
            roots.len(),
            1,
            "only the CA file's certificate, not the system's"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = trusted(Some(&empty)).expect_err("no certificate");
        assert!(
            format!("{err:#}").contains("holds no certificate"),
            "{err:#}"
        );
        let missing = dir.path().join("missing.pem");
        let err = trusted(Some(&missing)).expect_err("missing");
        assert!(
            format!("{err:#}").contains("cannot read CA file"),
            "{err:#}"
        );
    }
}
