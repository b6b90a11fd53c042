//! Connecting to an IMAP server: TCP, TLS (implicit or STARTTLS) with verified
//! certificates, the greeting, and login.
//!
//! Plaintext is used only when the config says `security = "plain"`; certificates are
//! checked by [`crate::net`]. The password is read from its source here, at login time, and
//! never logged.

use anyhow::{Context, anyhow, bail};

use crate::config::{Security, Server};
use crate::net::{Stream, connect_tcp, tls_wrap};

/// A logged-in IMAP session.
pub type Session = async_imap::Session<Stream>;

/// Connects, reads the greeting, secures the connection and logs in, all within the
/// server's timeout.
pub async fn connect(server: &Server) -> anyhow::Result<Session> {
    let username = server
        .username
        .as_deref()
        .ok_or_else(|| anyhow!("no IMAP username configured"))?;
    let password = server
        .password
        .as_ref()
        .ok_or_else(|| anyhow!("no IMAP password source configured"))?
        .resolve()?;
    let work = async {
        let tcp = connect_tcp(server).await?;
        let stream = match server.security {
            Security::Tls => tls_wrap(tcp, server).await?,
            Security::Plain | Security::StartTls => Stream::Plain(tcp),
        };
        let mut client = async_imap::Client::new(stream);
        greeting(&mut client).await?;
        if server.security == Security::StartTls {
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .context("the server refused STARTTLS")?;
            let Stream::Plain(tcp) = client.into_inner() else {
                bail!("STARTTLS over a connection that is already TLS");
            };
            client = async_imap::Client::new(tls_wrap(tcp, server).await?);
        }
        client
            .login(username, password.expose())
            .await
            .map_err(|(err, _)| err)
            .with_context(|| format!("login as {username} failed (check username and password)"))
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

async fn greeting(client: &mut async_imap::Client<Stream>) -> anyhow::Result<()> {
    // async-imap 0.12 has no connect(): the greeting must be read before any command.
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("the server closed the connection before its greeting"),
        Err(err) => Err(err).context("cannot read the server greeting"),
    }
}
