//! `delega doctor`: what a support engineer would ask first about each server, found out
//! without changing anything on either (IMAP: EXAMINE and LIST only; SMTP: MAIL FROM /
//! RCPT TO, then RSET, so nothing is sent).
//!
//! Each check gives a [`Finding`]: a fact, a note (works, but the user should know), or a
//! problem with its fix in one sentence. Printing them is left to the command.

use crate::attention::needs_attention;
use crate::certificate::Certificate;
use crate::config::{Account, Security, Server, Smtp};
use crate::imap::{self, Connection, FilingMode, namespace};
use crate::net::Stream;
use crate::smtp::Mailer;

/// How a finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Works.
    Ok,
    /// Works, with something to know.
    Note,
    /// Does not work.
    Problem,
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How it reads.
    pub level: Level,
    /// What was found.
    pub text: String,
    /// For a problem or a note: what to do, in one sentence.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(text: impl Into<String>) -> Finding {
        Finding {
            level: Level::Ok,
            text: text.into(),
            fix: None,
        }
    }

    fn note(text: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Note,
            text: text.into(),
            fix: Some(fix.into()),
        }
    }

    fn problem(text: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Problem,
            text: text.into(),
            fix: Some(fix.into()),
        }
    }
}

/// How a server is reached, for the report's headings: `host:port (tls)`.
pub fn endpoint(server: &Server) -> String {
    let security = match server.security {
        Security::Tls => "tls",
        Security::StartTls => "starttls",
        Security::Plain => "plain",
    };
    format!("{}:{} ({security})", server.host, server.port)
}

/// The IMAP side of an account.
pub async fn imap(account: &Account) -> Vec<Finding> {
    let mut out = Vec::new();
    let server = &account.imap;
    let connected = imap::connect(server).await;
    // After the login, which may have refreshed the token.
    out.extend(oauth2_state(server));
    let session = match connected {
        Ok(session) => session,
        Err(err) => {
            out.push(failure("cannot connect and log in", &err));
            return out;
        }
    };
    out.push(Finding::ok(connection(session.get_ref().get_ref())));
    out.push(Finding::ok(format!(
        "logged in as {}",
        server.username.as_deref().unwrap_or_default()
    )));
    if let Err(err) = examine(session, account, &mut out).await {
        out.push(failure("the server refused a question", &err));
    }
    out
}

/// Capabilities, namespace, the watched mailbox and where each folder will be.
async fn examine(
    mut session: imap::Session,
    account: &Account,
    out: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    let caps = session.capabilities().await?;
    let has = |name: &str| caps.has_str(name);
    let listed: Vec<String> = ["IDLE", "MOVE", "UIDPLUS", "NAMESPACE"]
        .iter()
        .map(|c| format!("{c} {}", if has(c) { "yes" } else { "no" }))
        .collect();
    drop(caps);
    let mut boxes = Connection::new(session).await?;
    let mailbox = boxes
        .session
        .examine(&account.mailbox)
        .await
        .map_err(|err| {
            anyhow::anyhow!("EXAMINE {}: {}", account.mailbox, imap::server_text(&err))
        })?;
    let keywords = imap::keeps_keywords(&mailbox.permanent_flags);
    boxes.drain();
    out.push(Finding::ok(format!(
        "capabilities: {}, keywords {}",
        listed.join(", "),
        if keywords { "yes" } else { "no" }
    )));
    let server = boxes.server.clone();
    match server.filing {
        FilingMode::Move => {}
        FilingMode::CopyExpunge => out.push(Finding::ok(
            "no MOVE: filing is COPY, then \\Deleted and UID EXPUNGE of exactly the copied \
             messages (UIDPLUS)",
        )),
        FilingMode::CopyOnly => out.push(Finding::note(
            "neither MOVE nor UIDPLUS: delega will copy filed messages to their folder and \
             leave the originals in the Inbox (an EXPUNGE could remove messages you marked \
             deleted)",
            "nothing to change in delega; a server with MOVE or UIDPLUS files without copies",
        )),
    }
    if !server.has_idle {
        out.push(Finding::note(
            "no IDLE: delega checks for new mail every poll_secs",
            "lower poll_secs for faster triage",
        ));
    }
    if !keywords {
        out.push(Finding::note(
            "this mailbox cannot keep delega's $delega keyword: delega recognises its own mail \
             by Message-ID alone",
            "nothing to change in delega",
        ));
    }
    let delimiter = server
        .hierarchy
        .delimiter
        .map_or("none".to_string(), |d| format!("\"{d}\""));
    out.push(Finding::ok(format!(
        "namespace: prefix \"{}\", delimiter {delimiter}{}",
        server.hierarchy.prefix,
        if server.has_namespace {
            ""
        } else {
            " (no NAMESPACE: from LIST)"
        }
    )));
    out.push(Finding::ok(format!(
        "{}: {} messages",
        account.mailbox, mailbox.exists
    )));
    for (setting, configured) in [
        ("folders.noise", &account.folders.noise),
        ("folders.delegated", &account.folders.delegated),
    ] {
        let name = namespace::resolve(configured, &server.hierarchy);
        let exists = boxes.folder_exists(&name).await?;
        let state = if exists { "exists" } else { "will be created" };
        let shown = if &name == configured {
            format!("\"{name}\"")
        } else {
            format!("\"{configured}\" → \"{name}\"")
        };
        out.push(Finding::ok(format!("{setting} {shown}: {state}")));
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), boxes.session.logout()).await;
    Ok(())
}

/// The TLS version and the certificate of a connection, or that it is plain text.
fn connection(stream: &Stream) -> String {
    let Stream::Tls(tls) = stream else {
        return "connected, without encryption (security = \"plain\")".to_string();
    };
    let (_, conn) = tls.get_ref();
    let version = match conn.protocol_version() {
        Some(tokio_rustls::rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(tokio_rustls::rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    };
    let cert = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|c| Certificate::parse(c));
    match cert {
        Some(c) => format!(
            "connected: {version}, certificate {} (issuer {}; for {}), valid until {}",
            c.subject,
            if c.issuer == c.subject {
                "itself".to_string()
            } else {
                c.issuer.clone()
            },
            c.known_names().join(", "),
            jiff::Timestamp::from_second(c.not_after)
                .map_or_else(|_| "?".to_string(), |t| t.strftime("%Y-%m-%d").to_string())
        ),
        None => format!("connected: {version}, verified"),
    }
}

/// A failed step, with the fix when it is known.
/// An OAuth2 sign-in as its state file tells it (`delega auth status`): a refused grant is a
/// problem with the command that fixes it.
fn oauth2_state(server: &Server) -> Option<Finding> {
    let oauth = server.oauth2.as_deref()?;
    let g = crate::oauth2::grant_status(oauth);
    let provider = oauth.provider.map_or("custom token endpoint", |p| p.name());
    let when = |t: Option<i64>| {
        t.and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map_or_else(
                || "never".to_string(),
                |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            )
    };
    Some(match &g.refused {
        Some((at, error, command)) => Finding::problem(
            format!(
                "OAuth2 ({provider}): needs re-authorisation since {} ({error})",
                when(Some(*at))
            ),
            format!("run `{command}`"),
        ),
        None => Finding::ok(format!(
            "OAuth2 ({provider}): {}; last refresh {}, access token valid until {}",
            g.source,
            when(g.last_refresh),
            when(g.expires_at)
        )),
    })
}

fn failure(what: &str, err: &anyhow::Error) -> Finding {
    match needs_attention(err) {
        // These reasons carry their own fix.
        Some(reason) => Finding {
            level: Level::Problem,
            text: format!("{what}: {reason}"),
            fix: None,
        },
        None => Finding::problem(
            format!("{what}: {err:#}"),
            "check host, port and security, and that the server is up and reachable from here",
        ),
    }
}

/// The SMTP side: connection and login, the server's EHLO, and each assistant's address.
pub async fn smtp(smtp: &Smtp, accounts: &[&Account]) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(oauth2_state(&smtp.server));
    let mailer = match Mailer::new(smtp) {
        Ok(m) => m,
        Err(err) => {
            out.push(Finding::problem(
                format!("cannot prepare SMTP: {err:#}"),
                "check the SMTP password source (delega check)",
            ));
            return out;
        }
    };
    let from = match smtp.from.parse::<lettre::message::Mailbox>() {
        Ok(m) => m.email.to_string(),
        Err(_) => smtp.from.clone(),
    };
    // Implicit TLS first on its own, to show the certificate and to say exactly what is
    // wrong with it (STARTTLS is spoken inside SMTP, by the mailer).
    if smtp.server.security == Security::Tls {
        let secured = async {
            let tcp = crate::net::connect_tcp(&smtp.server).await?;
            crate::net::tls_wrap(tcp, &smtp.server).await
        };
        match tokio::time::timeout(smtp.server.timeout, secured).await {
            Ok(Ok(stream)) => out.push(Finding::ok(connection(&stream))),
            Ok(Err(err)) => {
                out.push(failure("cannot connect", &err));
                return out;
            }
            Err(_) => {
                out.push(Finding::problem(
                    format!("no answer within {:?}", smtp.server.timeout),
                    "check host, port and security, and that the server is up and reachable \
                     from here",
                ));
                return out;
            }
        }
    }
    let mut recipients: Vec<String> = accounts
        .iter()
        .flat_map(|a| a.assistants.iter().map(|s| s.address.clone()))
        .collect();
    recipients.sort();
    recipients.dedup();
    let probe = match mailer.probe(&from, &recipients).await {
        Ok(p) => p,
        Err(err) => {
            out.push(failure("cannot connect and log in", &err));
            return out;
        }
    };
    let login = match &smtp.server.username {
        Some(user) => format!(", logged in as {user}"),
        None => ", no login (none configured)".to_string(),
    };
    out.push(Finding::ok(format!("SMTP session{login}")));
    let name = probe.ehlo.first().cloned().unwrap_or_default();
    let auth: Vec<&str> = probe
        .ehlo
        .iter()
        .filter_map(|l| l.strip_prefix("AUTH "))
        .collect();
    let extensions: Vec<&str> = probe
        .ehlo
        .iter()
        .skip(1)
        .filter(|l| !l.starts_with("AUTH "))
        .map(String::as_str)
        .collect();
    out.push(Finding::ok(format!(
        "EHLO {name}: {}",
        extensions.join(", ")
    )));
    out.push(Finding::ok(format!(
        "AUTH mechanisms: {}",
        if auth.is_empty() {
            "none offered".to_string()
        } else {
            auth.join(" ")
        }
    )));
    for (rcpt, verdict) in probe.recipients {
        out.push(match verdict {
            Ok(()) => Finding::ok(format!(
                "MAIL FROM:<{from}> RCPT TO:<{rcpt}>: accepted (then RSET)"
            )),
            Err(why) => Finding::problem(
                format!("MAIL FROM:<{from}> RCPT TO:<{rcpt}>: {why}"),
                "check the assistant's address, and that this server lets smtp.username send \
                 as smtp.from",
            ),
        });
    }
    out
}
