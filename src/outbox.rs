//! Sending over SMTP, once: the [`Mailer`], and the error kinds retries depend on.
//!
//! A forward is sent with lettre over implicit TLS, STARTTLS, or plaintext only where the
//! config says so, with certificates checked. Failures come back typed: a [`SendError::Transient`]
//! (4xx, connection loss, timeouts) is retried with backoff, a [`SendError::Permanent`] one
//! (5xx) is not. The outbox rows that make sending exactly-once live in `state`.

use std::time::Duration;

use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Security, Smtp};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: the server said 4xx, or could not be reached.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Refused for good (5xx): retrying will not help.
    #[error("refused: {0}")]
    Permanent(String),
}

/// An SMTP client for the configured server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    /// Prepares the transport (reads the password now; connects only when sending).
    pub fn new(smtp: &Smtp) -> anyhow::Result<Mailer> {
        let server = &smtp.server;
        let mut builder = match server.security {
            Security::Tls | Security::StartTls => {
                let mut params = TlsParameters::builder(server.host.clone());
                if let Some(path) = &server.ca_file {
                    let pem = std::fs::read(path)
                        .with_context(|| format!("cannot read CA file {}", path.display()))?;
                    let cert = Certificate::from_pem(&pem)
                        .with_context(|| format!("bad certificate in {}", path.display()))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params.build_rustls().context("SMTP TLS setup")?;
                let tls = if server.security == Security::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                };
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
                    .tls(tls)
            }
            Security::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
            }
        }
        .port(server.port)
        .timeout(Some(server.timeout));
        if let (Some(user), Some(secret)) = (&server.username, &server.password) {
            let password = secret.resolve().context("SMTP password")?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
        })
    }

    /// Sends one message; returns once the server accepted it (250 after DATA).
    pub async fn send(&self, message: lettre::Message) -> Result<(), SendError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(SendError::Permanent(err.to_string())),
            Err(err) => Err(SendError::Transient(error_chain(&err))),
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// How long to wait before retry number `attempt` (1-based): 1, 2, 4... minutes, at most an
/// hour, with up to 20% jitter so that many accounts do not retry in step.
pub fn backoff(attempt: u32, jitter_seed: u64) -> Duration {
    let base = 60u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(3600);
    let jitter = jitter_seed % (base / 5 + 1);
    Duration::from_secs(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_an_hour_with_bounded_jitter() {
        assert_eq!(backoff(1, 0).as_secs(), 60);
        assert_eq!(backoff(2, 0).as_secs(), 120);
        assert_eq!(backoff(3, 0).as_secs(), 240);
        assert_eq!(backoff(30, 0).as_secs(), 3600);
        assert!((60..=72).contains(&backoff(1, u64::MAX).as_secs()));
    }
}
