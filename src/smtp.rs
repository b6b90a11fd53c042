//! The SMTP client: the [`Mailer`], and the error kinds delivery decides by.
//!
//! A message is sent with lettre's SMTP client over implicit TLS, STARTTLS, or plaintext
//! only where the config says so, with certificates checked. The connection is delega's own
//! ([`crate::net`]: Nagle off, keepalive on) and is kept for the sends of one pass, then
//! closed with [`Mailer::close`]. Every step waits at most the configured timeout and gives
//! way to shutdown. The transaction is driven step by step so that the caller can record
//! the one moment that matters ([`Mailer::send_forward`]): the server's go-ahead to DATA,
//! after which the message may reach the assistant whatever happens to delega.
//! Failures come back typed: [`SendError::Unreachable`] (no connection, or a server gone
//! silent), [`SendError::Transient`] (4xx), [`SendError::Permanent`] (5xx),
//! [`SendError::InDoubt`] (no reply after the message went out). What to do about each
//! (retry, backoff, the circuit, the outbox rows) is [`crate::delivery`]'s.
//!
//! With `auth = "oauth2"`, delega speaks the SASL exchange itself (`AUTH XOAUTH2` or
//! `AUTH OAUTHBEARER` with the token as initial response): lettre 0.11 knows XOAUTH2 but
//! cannot answer the error challenge a server sends for a refused token, and has no
//! OAUTHBEARER. A refused token is replaced once by a fresh one on the same connection.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::{Sasl, Secret, Security, Server, Smtp};
use crate::net::{Stream, connect_tcp, tls_wrap};
use crate::oauth2::{self, Tokens, sasl};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server could not be reached, or stopped answering before the message went out:
    /// the other sends of a pass would meet the same (delivery's circuit).
    #[error("temporary failure: {0}")]
    Unreachable(String),
    /// Worth retrying later: the server said 4xx.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Refused for good (5xx): retrying will not help.
    #[error("refused: {0}")]
    Permanent(String),
    /// The message went out and no reply came (a timeout, a dropped connection, delega
    /// stopping): the server may have taken it.
    #[error("no reply after the message was sent: {0}")]
    InDoubt(String),
    /// delega is stopping and the message had not gone out: nothing was sent.
    #[error("not sent: delega is stopping")]
    Stopped,
}

/// A connection left open after a send is used again without a check for this long; an
/// older one is first asked for a NOOP (servers close idle connections after a few minutes).
const REUSE_UNCHECKED: Duration = Duration::from_secs(10);

/// After shutdown, how long a message already sent still waits for the server's reply
/// (then it is recorded in doubt and sent again at the next start). SIGTERM must end delega
/// within 5 s whatever the server does; this leaves the rest for closing up.
pub const DATA_GRACE: Duration = Duration::from_secs(2);

/// The least throughput a transaction is allowed before it counts as stuck: a message of
/// `n` bytes has `timeout + n / MIN_THROUGHPUT` seconds.
const MIN_THROUGHPUT: u64 = 256 * 1024;

/// An SMTP client for the configured server, holding at most one open connection.
pub struct Mailer {
    server: Server,
    /// The username and where its password comes from: read at each connection, under the
    /// timeout (a `password_command` that hangs is killed, and a stop does not wait for it).
    login: Option<(String, Secret)>,
    /// The OAuth2 sign-in (user, tokens), instead of `credentials`.
    oauth2: Option<(String, std::sync::Arc<Tokens>)>,
    /// For STARTTLS, which lettre performs itself on the connection: built at the first
    /// connection (loading the system's roots takes time and memory, and many runs send
    /// nothing).
    starttls: OnceLock<TlsParameters>,
    hello: ClientId,
    open: Mutex<Option<(AsyncSmtpConnection, Instant)>>,
}

impl Mailer {
    /// Prepares the client (connects, and reads the password, only when sending).
    pub fn new(smtp: &Smtp) -> anyhow::Result<Mailer> {
        let server = &smtp.server;
        let oauth2 = match (&server.username, &server.oauth2) {
            (Some(user), Some(o)) => Some((user.clone(), oauth2::tokens(o))),
            _ => None,
        };
        let login = match (&server.username, &server.password) {
            (Some(user), Some(secret)) => Some((user.clone(), secret.clone())),
            _ => None,
        };
        Ok(Mailer {
            server: server.clone(),
            login,
            oauth2,
            starttls: OnceLock::new(),
            hello: ClientId::default(),
            open: Mutex::new(None),
        })
    }

    /// Sends one message; returns once the server accepted it (250 after DATA). For the
    /// digest, which records nothing in between; shutdown does not interrupt it.
    pub async fn send(&self, message: lettre::Message) -> Result<(), SendError> {
        self.send_forward(&message, &CancellationToken::new(), || Ok(()))
            .await
    }

    /// Sends one message; returns once the server accepted it (250 after DATA).
    ///
    /// `data_phase` runs when the server has said go ahead to DATA, before any byte of the
    /// message goes out: from then until the reply, an interruption leaves the server
    /// perhaps holding the message ([`SendError::InDoubt`]). Before it, shutdown abandons
    /// the send at once ([`SendError::Stopped`]); after it, the reply gets
    /// [`DATA_GRACE`] more before delega stops waiting.
    pub async fn send_forward(
        &self,
        message: &lettre::Message,
        shutdown: &CancellationToken,
        data_phase: impl FnOnce() -> anyhow::Result<()>,
    ) -> Result<(), SendError> {
        let envelope = message.envelope().clone();
        let body = message.formatted();
        let mut open = self.open.lock().await;
        let before_data = async {
            let mut conn = self.connection(open.take()).await?;
            let timeout = self.server.timeout;
            let step =
                tokio::time::timeout(timeout, envelope_commands(&mut conn, &envelope, &body));
            match step.await {
                Ok(Ok(())) => Ok(conn),
                Ok(Err(err)) => Err(classify(&err)),
                Err(_) => Err(self.no_answer(timeout)),
            }
        };
        let mut conn = tokio::select! {
            conn = before_data => conn?,
            () = shutdown.cancelled() => return Err(SendError::Stopped),
        };
        if let Err(err) = data_phase() {
            // Nothing went out: the connection is dropped, the server discards the mail.
            return Err(SendError::Transient(format!(
                "cannot record the send: {err:#}"
            )));
        }
        let limit = self.server.timeout + Duration::from_secs(body.len() as u64 / MIN_THROUGHPUT);
        let grace = async {
            shutdown.cancelled().await;
            tokio::time::sleep(DATA_GRACE).await;
        };
        tokio::select! {
            reply = tokio::time::timeout(limit, conn.message(&body)) => match reply {
                Ok(Ok(_)) => {
                    *open = Some((conn, Instant::now()));
                    Ok(())
                }
                // A reply came, and it was a refusal: the server does not have the message.
                Ok(Err(err)) if err.is_permanent() => Err(SendError::Permanent(err.to_string())),
                Ok(Err(err)) if err.is_transient() => Err(SendError::Transient(err.to_string())),
                Ok(Err(err)) => Err(SendError::InDoubt(error_chain(&err))),
                Err(_) => Err(SendError::InDoubt(format!(
                    "no answer from {}:{} within {limit:?}",
                    self.server.host, self.server.port
                ))),
            },
            () = grace => Err(SendError::InDoubt("delega stopped before the server answered".into())),
        }
    }

    /// The open connection if it still works, else a new one.
    async fn connection(
        &self,
        open: Option<(AsyncSmtpConnection, Instant)>,
    ) -> Result<AsyncSmtpConnection, SendError> {
        match open {
            Some((conn, since)) if since.elapsed() < REUSE_UNCHECKED => return Ok(conn),
            Some((mut conn, _)) => {
                let alive = tokio::time::timeout(self.server.timeout, conn.test_connected());
                if alive.await.unwrap_or(false) {
                    return Ok(conn);
                }
                // Dropped, not QUIT: a server that stopped answering would not answer that.
            }
            None => {}
        }
        self.connect().await
    }

    fn no_answer(&self, within: Duration) -> SendError {
        SendError::Unreachable(format!(
            "no answer from {}:{} within {within:?}",
            self.server.host, self.server.port
        ))
    }

    /// Says goodbye to the open connection, if any (after a pass's sends).
    pub async fn close(&self) {
        if let Some((mut conn, _)) = self.open.lock().await.take() {
            // Short: the state is committed, a slow goodbye is not waited for.
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.quit()).await;
        }
    }

    /// lettre's TLS settings for STARTTLS, trusting what [`crate::net`] trusts: the CA
    /// file alone when set, else the system's roots.
    fn starttls_params(&self) -> anyhow::Result<TlsParameters> {
        if let Some(params) = self.starttls.get() {
            return Ok(params.clone());
        }
        let server = &self.server;
        let mut params = TlsParameters::builder(server.host.clone());
        if let Some(path) = &server.ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?;
            let cert = Certificate::from_pem(&pem)
                .with_context(|| format!("bad certificate in {}", path.display()))?;
            params = params
                .certificate_store(CertificateStore::None)
                .add_root_certificate(cert);
        }
        let params = params.build_rustls().context("SMTP TLS setup")?;
        Ok(self.starttls.get_or_init(|| params).clone())
    }

    /// Connects, secures the connection as configured, and logs in, within the timeout.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let server = &self.server;
        let work = async {
            let credentials = match &self.login {
                Some((user, secret)) => {
                    let password = secret.resolve_within(server.timeout).await;
                    let password = password
                        .map_err(|err| SendError::Transient(format!("SMTP password: {err:#}")))?;
                    Some(Credentials::new(
                        user.clone(),
                        password.expose().to_string(),
                    ))
                }
                None => None,
            };
            let tcp = connect_tcp(server)
                .await
                .map_err(|err| SendError::Transient(format!("{err:#}")))?;
            let stream = match server.security {
                Security::Tls => tls_wrap(tcp, server)
                    .await
                    .map_err(|err| SendError::Transient(format!("{err:#}")))?,
                Security::StartTls | Security::Plain => Stream::Plain(tcp),
            };
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(|err| classify(&err))?;
            if server.security == Security::StartTls {
                let params = self
                    .starttls_params()
                    .map_err(|err| SendError::Transient(format!("{err:#}")))?;
                conn.starttls(params, &self.hello)
                    .await
                    .map_err(|err| classify(&err))?;
            }
            if let Some(credentials) = &credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|err| classify(&err))?;
            }
            if let Some((user, tokens)) = &self.oauth2 {
                self.oauth2_auth(&mut conn, user, tokens).await?;
            }
            Ok(conn)
        };
        let connected = tokio::time::timeout(server.timeout, work)
            .await
            .unwrap_or_else(|_| Err(self.no_answer(server.timeout)));
        // A refusal of the login (5xx) is not an outage: only transient failures are.
        connected.map_err(|err| match err {
            SendError::Transient(why) => SendError::Unreachable(why),
            other => other,
        })
    }
}

/// MAIL, RCPT and DATA, as lettre's own `send` does them, up to the server's go-ahead.
async fn envelope_commands(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    body: &[u8],
) -> Result<(), lettre::transport::smtp::Error> {
    let mut options = Vec::new();
    let non_ascii = envelope
        .from()
        .is_some_and(|a| !AsRef::<str>::as_ref(a).is_ascii())
        || envelope
            .to()
            .iter()
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    let info = conn.server_info();
    // RFC 6531 and RFC 6152: said only where needed; a server without them gets the
    // message as is and refuses it if it must (a 5xx, reported as a refusal).
    if non_ascii && info.supports_feature(Extension::SmtpUtfEight) {
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() && info.supports_feature(Extension::EightBitMime) {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), options))
        .await?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), Vec::new())).await?;
    }
    conn.command(Data).await?;
    Ok(())
}

impl Mailer {
    /// `AUTH` with an OAuth2 token; once more with a fresh one if the server refuses it. A
    /// failure is transient: forwards wait until the sign-in works again.
    async fn oauth2_auth(
        &self,
        conn: &mut AsyncSmtpConnection,
        user: &str,
        tokens: &Tokens,
    ) -> Result<(), SendError> {
        let server = &self.server;
        let now = || jiff::Timestamp::now().as_second();
        let token_failed = |err: oauth2::TokenError| SendError::Transient(err.to_string());
        // lettre lists only the mechanisms it knows: OAUTHBEARER is tried where XOAUTH2 is
        // not offered, and the server's refusal, if any, says so.
        let offers_xoauth2 = conn
            .server_info()
            .supports_auth_mechanism(Mechanism::Xoauth2);
        let mechanism = sasl::choose(tokens.settings().sasl, |s| {
            s == Sasl::XOAuth2 && offers_xoauth2
        })
        .unwrap_or(Sasl::OAuthBearer);
        let mut token = tokens.access(now(), false).await.map_err(token_failed)?;
        let mut retried = false;
        loop {
            use base64::Engine as _;
            let initial =
                sasl::initial_response(mechanism, user, token.expose(), &server.host, server.port);
            let b64 = base64::engine::general_purpose::STANDARD;
            let line = RawCommand(format!(
                "AUTH {} {}\r\n",
                mechanism.name(),
                b64.encode(initial)
            ));
            let mut answer = conn.command(line).await;
            if let Ok(r) = &answer
                && r.has_code(334)
            {
                // The server's error report (RFC 7628 §3.2.2); answering ends the exchange.
                let end = b64.encode(sasl::answer_to_error(mechanism));
                answer = conn.command(RawCommand(format!("{end}\r\n"))).await;
            }
            let err = match answer {
                Ok(r) if r.is_positive() && !r.has_code(334) => return Ok(()),
                Ok(r) => format!("unexpected answer {}", r.code()),
                Err(err) if err.is_permanent() && !retried => {
                    tracing::info!(
                        mechanism = mechanism.name(),
                        "the SMTP server refused the access token; trying once more with a fresh one"
                    );
                    retried = true;
                    token = tokens.access(now(), true).await.map_err(token_failed)?;
                    continue;
                }
                Err(err) => err.to_string(),
            };
            return Err(SendError::Transient(format!(
                "{} as {user} failed: the SMTP server refused the OAuth2 token ({err}); check \
                 the username and the scopes",
                mechanism.name()
            )));
        }
    }
}

/// What `delega doctor` learned from the SMTP server, having sent nothing.
#[derive(Debug, Clone)]
pub struct SmtpProbe {
    /// The lines of the server's EHLO answer (its name first, then its extensions).
    pub ehlo: Vec<String>,
    /// Per recipient tried: accepted, or the server's refusal.
    pub recipients: Vec<(String, Result<(), String>)>,
}

impl Mailer {
    /// Connects and logs in as for a send, asks EHLO again, then for each recipient
    /// `MAIL FROM` / `RCPT TO` and `RSET`: nothing is sent (`delega doctor`).
    pub async fn probe(&self, from: &str, recipients: &[String]) -> anyhow::Result<SmtpProbe> {
        let work = async {
            let mut conn = self
                .connect()
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            let hello = RawCommand(format!("EHLO {}\r\n", self.hello));
            let ehlo = conn.command(hello).await.context("EHLO")?;
            let ehlo = ehlo.message().map(str::to_string).collect();
            let mut out = Vec::new();
            for rcpt in recipients {
                let mail = RawCommand(format!("MAIL FROM:<{from}>\r\n"));
                let rcpt_line = RawCommand(format!("RCPT TO:<{rcpt}>\r\n"));
                let verdict = match conn.command(mail).await {
                    Err(err) => Err(format!("MAIL FROM:<{from}> refused: {err}")),
                    Ok(_) => conn
                        .command(rcpt_line)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                };
                conn.command(RawCommand("RSET\r\n".into()))
                    .await
                    .context("RSET")?;
                out.push((rcpt.clone(), verdict));
            }
            let _ = conn.quit().await;
            Ok(SmtpProbe {
                ehlo,
                recipients: out,
            })
        };
        tokio::time::timeout(self.server.timeout * 4, work)
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "no answer from {}:{} within {:?}",
                    self.server.host,
                    self.server.port,
                    self.server.timeout * 4
                ))
            })
    }
}

/// A command line written as is (it ends with CRLF).
struct RawCommand(String);

impl std::fmt::Display for RawCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The error kind of a lettre failure: 5xx is permanent, anything else may pass later.
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    if err.is_permanent() {
        SendError::Permanent(err.to_string())
    } else {
        SendError::Transient(error_chain(err))
    }
}

impl AsyncTokioStream for Stream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Stream::Plain(tcp) => tcp.peer_addr(),
            Stream::Tls(tls) => tls.get_ref().0.peer_addr(),
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
