//! `delega auth login`: enrolling a grant once, from a terminal.
//!
//! Two flows, as the providers want them: the device-code flow (RFC 8628: Microsoft; the
//! user opens a page anywhere and types a code) and the loopback-redirect flow with PKCE
//! (RFC 8252, RFC 7636: Google; the browser comes back to a port delega listens on at
//! 127.0.0.1). Either ends with the refresh token written (atomically, mode 0600) to the
//! configured `refresh_token_file`; the daemon picks it up at its next token request.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::endpoint::{self, EndpointError, Issued};
use super::store::write_atomically;
use crate::config::{Provider, RefreshGrant};

/// How the user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Type a code on a page, from any device.
    DeviceCode,
    /// A browser on this machine, redirected back to delega (PKCE).
    Loopback,
}

/// The flow for a grant: the device code where the provider has it (Microsoft), the
/// loopback redirect otherwise (Google's device flow does not allow the mail scope).
pub fn default_flow(provider: Option<Provider>, grant: &RefreshGrant) -> Flow {
    match (provider, &grant.device_url, &grant.auth_url) {
        (Some(Provider::Google), _, _) => Flow::Loopback,
        (_, Some(_), _) | (_, None, None) => Flow::DeviceCode,
        (_, None, Some(_)) => Flow::Loopback,
    }
}

/// How long the user has to sign in in the loopback flow.
const LOOPBACK_WAIT: Duration = Duration::from_secs(600);
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `flow` for the mailbox `username`, telling the user what to do on `out`, and saves
/// the refresh token in `target`.
pub async fn login(
    grant: &RefreshGrant,
    flow: Flow,
    username: &str,
    target: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let secret = match &grant.client_secret {
        Some(s) => Some(s.resolve().context("the client secret")?),
        None => None,
    };
    let issued = match flow {
        Flow::DeviceCode => device_code(grant, username, secret.as_ref(), out).await?,
        Flow::Loopback => loopback(grant, username, secret.as_ref(), out).await?,
    };
    let Some(refresh) = issued.refresh else {
        bail!(
            "the provider gave no refresh token: check that the scopes include offline access \
             (Microsoft: `offline_access`)"
        );
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomically(target, format!("{}\n", refresh.expose()).as_bytes())
        .with_context(|| format!("cannot save the refresh token in {}", target.display()))?;
    writeln!(
        out,
        "Signed in as {username}. The refresh token is saved in {} (mode 0600); delega uses it \
         from its next connection, no restart needed.",
        target.display()
    )?;
    Ok(())
}

async fn device_code(
    grant: &RefreshGrant,
    username: &str,
    secret: Option<&crate::config::Password>,
    out: &mut dyn Write,
) -> anyhow::Result<Issued> {
    let Some(url) = &grant.device_url else {
        bail!("this provider has no device-code endpoint: set `device_url`, or use --browser");
    };
    let code = endpoint::device_start(grant, url, TIMEOUT).await?;
    writeln!(
        out,
        "To let delega use the mailbox {username}, open {} in any browser, enter the code {} \
         and sign in as {username}.\nThe code is good for {} minutes; waiting…",
        code.verification_uri,
        code.user_code,
        code.expires_in / 60
    )?;
    out.flush()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in);
    let mut interval = Duration::from_secs(code.interval);
    loop {
        tokio::time::sleep(interval).await;
        match endpoint::device_poll(grant, &code.device_code, secret, TIMEOUT).await {
            Ok(issued) => return Ok(issued),
            Err(EndpointError::Pending) => {}
            Err(EndpointError::SlowDown) => interval += Duration::from_secs(5),
            Err(EndpointError::Transient(_)) if tokio::time::Instant::now() < deadline => {}
            Err(other) => return Err(other.into()),
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the code expired before the sign-in finished: run the command again");
        }
    }
}

fn random_b64(bytes: usize) -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("no randomness from the system"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// RFC 7636 §4.2: BASE64URL(SHA256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

async fn loopback(
    grant: &RefreshGrant,
    username: &str,
    secret: Option<&crate::config::Password>,
    out: &mut dyn Write,
) -> anyhow::Result<Issued> {
    let Some(auth_url) = &grant.auth_url else {
        bail!("this provider has no authorisation endpoint: set `auth_url`, or use --device");
    };
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on 127.0.0.1 for the browser's return")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = random_b64(32)?;
    let state = random_b64(16)?;
    let scope = grant.scopes.join(" ");
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &grant.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &scope)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("login_hint", username)
        // Google hands out a refresh token only with these two.
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .finish();
    let sep = if auth_url.contains('?') { '&' } else { '?' };
    writeln!(
        out,
        "To let delega use the mailbox {username}, open this address in a browser on this \
         machine and sign in as {username}:\n\n  {auth_url}{sep}{query}\n\n\
         (On a machine without a browser: `ssh -L {port}:127.0.0.1:{port} THIS-HOST` from your \
         computer first, then open the address there.) Waiting up to {} minutes…",
        LOOPBACK_WAIT.as_secs() / 60
    )?;
    out.flush()?;
    let code = tokio::time::timeout(LOOPBACK_WAIT, redirect(&listener, &state))
        .await
        .context("nobody signed in within the time allowed: run the command again")??;
    Ok(endpoint::exchange_code(grant, &code, &verifier, &redirect_uri, secret, TIMEOUT).await?)
}

/// Waits for the browser's return and takes the code from it. Each connection is answered on
/// its own, so one that sends nothing (a browser's speculative connection) does not hold up
/// the one that brings the code; other requests (a favicon) are answered and ignored.
async fn redirect(listener: &TcpListener, state: &str) -> anyhow::Result<String> {
    let mut answering = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = accepted?;
                let state = state.to_string();
                answering.spawn(async move {
                    tokio::time::timeout(HEAD_WAIT, answer(tcp, &state)).await.ok().flatten()
                });
            }
            Some(answered) = answering.join_next() => {
                if let Ok(Some(result)) = answered {
                    return result;
                }
            }
        }
    }
}

/// How long a connection to the loopback port may take to send its request.
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// The most of a request's head read; the rest is not needed and not waited for.
const HEAD_MAX: u64 = 16 * 1024;

/// Reads one request to the loopback port and answers it: the code (or the refusal) the
/// browser brought back, or `None` for any other request and for a connection that broke.
/// The whole head is read before answering: closing a socket with a request still unread
/// makes the kernel reset the connection, and the browser may then show an error instead of
/// the page.
async fn answer(tcp: TcpStream, state: &str) -> Option<anyhow::Result<String>> {
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    {
        let mut head = (&mut reader).take(HEAD_MAX);
        head.read_line(&mut line).await.ok()?;
        let mut header = String::new();
        while head.read_line(&mut header).await.ok()? > 0 && !header.trim_end().is_empty() {
            header.clear();
        }
    }
    let target = line.split(' ').nth(1).unwrap_or_default().to_string();
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (page, result) = match (get("code"), get("error")) {
        (Some(code), _) if get("state").as_deref() == Some(state) => {
            ("delega is signed in. You can close this tab.", Ok(code))
        }
        (Some(_), _) => (
            "This sign-in was not started by delega (state mismatch).",
            Err(anyhow::anyhow!(
                "the browser came back with a foreign state"
            )),
        ),
        (None, Some(error)) => (
            "The sign-in was refused.",
            Err(anyhow::anyhow!(
                "the sign-in was refused: {error} {}",
                get("error_description").unwrap_or_default()
            )),
        ),
        (None, None) => {
            let mut tcp = reader.into_inner();
            let _ = tcp
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            let _ = tcp.shutdown().await;
            return None;
        }
    };
    let mut tcp = reader.into_inner();
    let body = format!("<!doctype html><title>delega</title><p>{page}</p>\n");
    let _ = tcp
        .write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let _ = tcp.shutdown().await;
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_the_unpadded_base64url_of_the_verifiers_sha256() {
        // Computed apart, with Python's hashlib and base64.urlsafe_b64encode.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r2wW1gFWFOEjXk"),
            "dZrJz5b___3oA5uVny1DZqEO9NM98brdg_f4AEY03Bc"
        );
        assert_eq!(random_b64(32).expect("random").len(), 43);
    }
}
