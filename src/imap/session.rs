//! Connecting to an IMAP server: TCP, TLS (implicit or STARTTLS) with verified
//! certificates, the greeting, and login.
//!
//! Plaintext is used only when the config says `security = "plain"`; certificates are
//! checked by [`crate::net`]. The password is read from its source here, at login time, and
//! never logged. With `auth = "oauth2"`, login is `AUTHENTICATE XOAUTH2` or `OAUTHBEARER`
//! (with the token in the command where the server offers SASL-IR), and a refused token is
//! replaced once by a fresh one.

use anyhow::{Context, anyhow, bail};
use async_imap::imap_proto::{Capability, Response};

use super::deadline::Deadline;
use crate::config::{Sasl, Security, Server};
use crate::net::{Stream, connect_tcp, tls_wrap};
use crate::oauth2::{self, AccessToken, Tokens, sasl};

/// How a connection proves who it is.
enum Credential {
    Password(crate::config::Password),
    OAuth2(std::sync::Arc<Tokens>, AccessToken),
}

/// A logged-in IMAP session; every wait on the server is bounded by its timeout
/// (`imap::deadline`).
pub type Session = async_imap::Session<Deadline<Stream>>;

/// A connection before login.
type Client = async_imap::Client<Deadline<Stream>>;

/// Connects, reads the greeting, secures the connection and logs in, all within the
/// server's timeout.
pub async fn connect(server: &Server) -> anyhow::Result<Session> {
    let username = server
        .username
        .as_deref()
        .ok_or_else(|| anyhow!("no IMAP username configured"))?;
    let credential = match &server.oauth2 {
        Some(o) => {
            let tokens = oauth2::tokens(o);
            // Fetched before the connection: the token endpoint has a timeout of its own.
            let token = tokens.access(now(), false).await?;
            Credential::OAuth2(tokens, token)
        }
        None => Credential::Password(
            server
                .password
                .as_ref()
                .ok_or_else(|| anyhow!("no IMAP password source configured"))?
                .resolve_within(server.timeout)
                .await?,
        ),
    };
    let work = async {
        let tcp = connect_tcp(server).await?;
        let stream = match server.security {
            Security::Tls => tls_wrap(tcp, server).await?,
            Security::Plain | Security::StartTls => Stream::Plain(tcp),
        };
        let bounded = |stream| Deadline::new(stream, server.timeout, server_name(server));
        let mut client = async_imap::Client::new(bounded(stream));
        greeting(&mut client).await?;
        if server.security == Security::StartTls {
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .context("the server refused STARTTLS")?;
            let Stream::Plain(tcp) = client.into_inner().into_inner() else {
                bail!("STARTTLS over a connection that is already TLS");
            };
            client = async_imap::Client::new(bounded(tls_wrap(tcp, server).await?));
        }
        match credential {
            Credential::Password(password) => client
                .login(username, password.expose())
                .await
                .map_err(|(err, _)| login_failed(err, username)),
            Credential::OAuth2(tokens, token) => {
                oauth2_login(client, server, username, &tokens, token).await
            }
        }
    };
    tokio::time::timeout(server.timeout, work)
        .await
        .with_context(|| {
            format!(
                "no answer from {}:{} within {:?}",
                server.host, server.port, server.timeout
            )
        })?
}

/// A refused login is about the credentials; a connection dropped or reset during login is
/// not (a server at its connection limit does that), and is not worded as if it were.
fn login_failed(err: async_imap::error::Error, username: &str) -> anyhow::Error {
    let refused = matches!(err, async_imap::error::Error::No(_));
    if refused {
        return anyhow::Error::new(err).context(LoginRefused {
            username: username.to_string(),
        });
    }
    anyhow::Error::new(err).context(format!(
        "login as {username} was cut short: the connection failed before the server answered"
    ))
}

/// The context of a login the server refused: typed, so that `attention` keeps the user
/// name as data rather than this sentence.
#[derive(Debug, thiserror::Error)]
#[error("login as {username} failed (check username and password)")]
pub struct LoginRefused {
    /// The user name delega logged in as.
    pub username: String,
}

async fn greeting(client: &mut Client) -> anyhow::Result<()> {
    // async-imap 0.12 has no connect(): the greeting must be read before any command.
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("the server closed the connection before its greeting"),
        Err(err) => Err(err).context("cannot read the server greeting"),
    }
}

/// `host:port`, as errors name the server.
fn server_name(server: &Server) -> String {
    format!("{}:{}", server.host, server.port)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// `AUTHENTICATE` with the token; if the server refuses it, once more with a fresh one.
async fn oauth2_login(
    mut client: Client,
    server: &Server,
    username: &str,
    tokens: &Tokens,
    token: AccessToken,
) -> anyhow::Result<Session> {
    let caps = capabilities(&mut client).await?;
    let offers = |s: Sasl| {
        caps.iter()
            .any(|c| c.eq_ignore_ascii_case(&format!("AUTH={}", s.name())))
    };
    let Some(mechanism) = sasl::choose(tokens.settings().sasl, offers) else {
        bail!(
            "the server offers neither XOAUTH2 nor OAUTHBEARER, so it cannot take an OAuth2 \
             token (check the host, or use auth = \"password\")"
        );
    };
    let sasl_ir = caps.iter().any(|c| c.eq_ignore_ascii_case("SASL-IR"));
    let mut token = token;
    let mut retried = false;
    loop {
        let mut auth = Authenticate {
            initial: sasl::initial_response(
                mechanism,
                username,
                token.expose(),
                &server.host,
                server.port,
            ),
            mechanism,
            sent: sasl_ir,
            refusal: None,
        };
        let command = if sasl_ir {
            use base64::Engine as _;
            let ir = base64::engine::general_purpose::STANDARD.encode(&auth.initial);
            format!("{} {ir}", mechanism.name())
        } else {
            mechanism.name().to_string()
        };
        let (err, back) = match client.authenticate(command, &mut auth).await {
            Ok(session) => return Ok(session),
            Err(failed) => failed,
        };
        let status = auth.refusal.as_deref().unwrap_or("none");
        if retried || !matches!(err, async_imap::error::Error::No(_)) {
            // Kept typed: a refusal needs attention (a slow retry), not a quick loop.
            return Err(anyhow::Error::new(err)).with_context(|| {
                format!(
                    "{} as {username} failed: the server refused the OAuth2 token (status \
                     {status}); check the username and the scopes",
                    mechanism.name()
                )
            });
        }
        tracing::info!(
            mechanism = mechanism.name(),
            status,
            "the server refused the access token; trying once more with a fresh one"
        );
        retried = true;
        client = back;
        token = tokens.access(now(), true).await?;
    }
}

/// The capabilities the server lists now (after STARTTLS, before login).
async fn capabilities(client: &mut Client) -> anyhow::Result<Vec<String>> {
    // async-imap 0.12 runs tagged commands on a client only through calls that drop the
    // untagged answers; this one is written by hand, with a tag its counter never makes.
    use tokio::io::AsyncWriteExt as _;
    const TAG: &str = "dlgcap";
    client
        .get_mut()
        .write_all(format!("{TAG} CAPABILITY\r\n").as_bytes())
        .await?;
    client.get_mut().flush().await?;
    let mut caps = Vec::new();
    loop {
        let Some(response) = client.read_response().await? else {
            bail!("the server closed the connection after CAPABILITY");
        };
        match response.parsed() {
            Response::Capabilities(list) => caps.extend(list.iter().map(|c| match c {
                Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                Capability::Auth(a) => format!("AUTH={a}"),
                Capability::Atom(a) => a.to_string(),
            })),
            Response::Done { tag, .. } if tag.0 == TAG => return Ok(caps),
            _ => {}
        }
    }
}

/// One SASL exchange: the initial response (unless already sent with SASL-IR), then the
/// answer that ends a refusal, remembering the server's error status.
struct Authenticate {
    initial: Vec<u8>,
    mechanism: Sasl,
    sent: bool,
    refusal: Option<String>,
}

impl async_imap::Authenticator for &mut Authenticate {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        if !self.sent {
            self.sent = true;
            return std::mem::take(&mut self.initial);
        }
        // A challenge after the token is the server's error report (RFC 7628 §3.2.2).
        self.refusal = sasl::error_status(challenge).or(Some("unknown".into()));
        sasl::answer_to_error(self.mechanism).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::login_failed;

    #[test]
    fn a_dropped_connection_at_login_is_not_blamed_on_the_password() {
        let refused = async_imap::error::Error::No("[AUTHENTICATIONFAILED] no".into());
        let said = format!("{:#}", login_failed(refused, "giulia"));
        assert!(said.contains("check username and password"), "{said}");

        let dropped = async_imap::error::Error::ConnectionLost;
        let said = format!("{:#}", login_failed(dropped, "giulia"));
        assert!(!said.contains("password"), "{said}");
        assert!(said.contains("the connection failed"), "{said}");

        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let said = format!("{:#}", login_failed(reset.into(), "giulia"));
        assert!(!said.contains("password"), "{said}");
    }
}
