//! Which server certificates delega trusts, and why a TLS handshake failed, in plain words.
//!
//! Trust is the usual chain to a root (the system's, or those of `ca_file`), plus one thing
//! mail clients call "accept this certificate": a `ca_file` holding the server's own
//! certificate trusts exactly that certificate, whether or not it is marked as a CA (a
//! plain `openssl req -x509` marks it CA:TRUE, which a chain check refuses as a server's).
//! It is still verified: the same bytes, valid for the host name, within its dates, and
//! the handshake signed with its key. Never "insecure".

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{WebPkiServerVerifier, verify_server_name};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};

use crate::certificate::Certificate;

/// The chain check of the roots, and the certificates trusted as themselves.
#[derive(Debug)]
pub struct Verifier {
    chain: Arc<WebPkiServerVerifier>,
    /// The certificates of `ca_file`: a server presenting exactly one of them is trusted.
    pinned: Vec<CertificateDer<'static>>,
}

impl Verifier {
    /// Trusts chains to `roots`, and each of `pinned` as itself.
    pub fn new(
        roots: RootCertStore,
        pinned: Vec<CertificateDer<'static>>,
        provider: Arc<tokio_rustls::rustls::crypto::CryptoProvider>,
    ) -> anyhow::Result<Verifier> {
        let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|err| anyhow::anyhow!("TLS setup: {err}"))?;
        Ok(Verifier { chain, pinned })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let chained = self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match chained {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                verify_pinned(end_entity, server_name, now)
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// A certificate trusted as itself: valid for the name, and within its dates.
fn verify_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Error> {
    verify_server_name(&ParsedCertificate::try_from(cert)?, server_name)?;
    let fields =
        Certificate::parse(cert).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now_secs > fields.not_after {
        return Err(Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    fields.not_after.max(0) as u64,
                )),
            },
        ));
    }
    if now_secs < fields.not_before {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    Ok(ServerCertVerified::assertion())
}

/// Why a TLS handshake failed, as a user can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The port answered in plain text: it is not a TLS port.
    PlainText,
    /// The certificate is signed by nobody this machine trusts.
    UnknownIssuer,
    /// The certificate signs itself (marked as a CA, as `openssl req -x509` makes them),
    /// and `ca_file` does not hold it.
    SelfSigned,
    /// The certificate is valid, but for other names.
    NameMismatch {
        /// The names it holds (empty when rustls did not say).
        names: Vec<String>,
    },
    /// The certificate has expired.
    Expired {
        /// Its end of validity, as Unix time (when known).
        not_after: Option<i64>,
    },
    /// The certificate is not valid yet.
    NotYetValid,
    /// Anything else, as rustls words it.
    Other(String),
}

impl TlsFailure {
    /// Reads a handshake's I/O error.
    pub fn from_io(err: &std::io::Error) -> TlsFailure {
        match err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
            Some(tls) => TlsFailure::from_rustls(tls),
            None => TlsFailure::Other(err.to_string()),
        }
    }

    fn from_rustls(err: &Error) -> TlsFailure {
        match err {
            Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => TlsFailure::PlainText,
            Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
                CertificateError::NotValidForName => TlsFailure::NameMismatch { names: Vec::new() },
                CertificateError::NotValidForNameContext { presented, .. } => {
                    TlsFailure::NameMismatch {
                        names: presented.clone(),
                    }
                }
                CertificateError::Expired => TlsFailure::Expired { not_after: None },
                CertificateError::ExpiredContext { not_after, .. } => TlsFailure::Expired {
                    not_after: i64::try_from(not_after.as_secs()).ok(),
                },
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsFailure::NotYetValid
                }
                // webpki's error for a self-signed CA:TRUE certificate.
                CertificateError::Other(other)
                    if format!("{other:?}").contains("CaUsedAsEndEntity") =>
                {
                    TlsFailure::SelfSigned
                }
                other => {
                    TlsFailure::Other(format!("the certificate is not valid ({})", words(other)))
                }
            },
            other => TlsFailure::Other(other.to_string()),
        }
    }

    /// The failure and its fix, for the server `host:port`.
    pub fn explain(&self, host: &str, port: u16) -> String {
        let reason = match self {
            TlsFailure::PlainText => format!(
                "the port answered in plain text, not TLS: set security = \"starttls\" for \
                 port {port}, or use the server's TLS port (993 for IMAP, 465 for SMTP)"
            ),
            TlsFailure::UnknownIssuer => "its certificate is signed by an authority this machine \
                 does not trust: if it is your own server's certificate (self-signed or a \
                 private CA), save it as PEM and set ca_file to that file"
                .to_string(),
            TlsFailure::SelfSigned => "its certificate is self-signed, an authority this machine \
                 does not trust: if it is your own server's certificate, save it as PEM and set \
                 ca_file to that file"
                .to_string(),
            TlsFailure::NameMismatch { names } if names.is_empty() => format!(
                "its certificate is not valid for the name {host}: set host to a name the \
                 certificate holds"
            ),
            TlsFailure::NameMismatch { names } => format!(
                "its certificate is for {}, not {host}: set host to one of these names",
                names.join(", ")
            ),
            TlsFailure::Expired { not_after } => {
                match not_after.and_then(|t| jiff::Timestamp::from_second(t).ok()) {
                    Some(at) => format!(
                        "its certificate expired on {}: the server's administrator must renew it",
                        at.strftime("%Y-%m-%d %H:%M UTC")
                    ),
                    None => "its certificate has expired: the server's administrator must renew it"
                        .to_string(),
                }
            }
            TlsFailure::NotYetValid => {
                "its certificate is not valid yet: check this machine's clock".to_string()
            }
            TlsFailure::Other(text) => text.clone(),
        };
        format!("TLS handshake with {host}:{port} failed: {reason}")
    }
}

/// A certificate error in words, not as the library's debug text.
fn words(err: &CertificateError) -> &'static str {
    match err {
        CertificateError::BadEncoding => "it cannot be read",
        CertificateError::BadSignature => "its signature does not verify",
        CertificateError::Revoked => "it was revoked",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "it is not meant for a server"
        }
        _ => "the chain to a trusted authority does not verify",
    }
}

/// A TLS handshake that failed, with the reason in plain words.
#[derive(Debug, thiserror::Error)]
#[error("{}", failure.explain(host, *port))]
pub struct TlsError {
    /// The server's host as configured.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Why.
    pub failure: TlsFailure,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_explained_with_the_fix() {
        let plain = TlsFailure::from_rustls(&Error::InvalidMessage(
            tokio_rustls::rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(plain, TlsFailure::PlainText);
        assert!(plain.explain("mail.example.org", 143).contains("starttls"));

        let unknown =
            TlsFailure::from_rustls(&Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(unknown.explain("h", 993).contains("ca_file"));

        let names = TlsFailure::NameMismatch {
            names: vec!["mail.example.org".into(), "*.example.org".into()],
        };
        assert_eq!(
            names.explain("imap.example.com", 993),
            "TLS handshake with imap.example.com:993 failed: its certificate is for \
             mail.example.org, *.example.org, not imap.example.com: set host to one of these \
             names"
        );
        let expired = TlsFailure::Expired {
            not_after: Some(1_767_225_600),
        };
        assert!(
            expired
                .explain("h", 993)
                .contains("expired on 2026-01-01 00:00 UTC"),
            "{}",
            expired.explain("h", 993)
        );
        for failure in [plain, unknown, names, expired] {
            let text = failure.explain("h", 1);
            assert!(
                !text.contains("Some(") && !text.contains("Error("),
                "{text}"
            );
        }
    }
}
