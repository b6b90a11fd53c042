//! The I/O floor for benches/compare: the least an IMAP client must do to file a backlog.
//!
//! One TLS connection, one pipelined `UID FETCH 1:* (BODY.PEEK[HEADER])`, a trivial
//! classification of the headers (list or machine mail to Noise, an invoice-like subject to
//! Delegated), and one `UID MOVE` per destination. No database, no rules engine, no
//! forwarding: what delega or imapfilter spend beyond this is their own cost.
//!
//! With `--delega-io` it also asks of the server what delega's job needs beyond that: a
//! `UID SEARCH SINCE` for a first start's backfill, whole messages (`BODY.PEEK[]`: rules
//! read bodies, the digest an excerpt, a forward the original) instead of headers, and a
//! keyword on the messages it keeps or files as noise (`UID STORE +FLAGS.SILENT`, before
//! the moves), as delega marks what it has triaged. Still no database and no rules engine.
//!
//! Usage: `imap-floor PORT USER PASSWORD_FILE CA_FILE [--delega-io]` (the server is
//! localhost).

#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures::TryStreamExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// Where a message goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Destination {
    Inbox,
    Noise,
    Delegated,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (args, delega_io) = match args.split_last() {
        Some((last, rest)) if last == "--delega-io" => (rest, true),
        _ => (args.as_slice(), false),
    };
    let [port, user, password_file, ca_file] = args else {
        bail!("usage: imap-floor PORT USER PASSWORD_FILE CA_FILE [--delega-io]");
    };
    let port: u16 = port.parse().context("PORT")?;
    let password = std::fs::read_to_string(password_file)
        .with_context(|| format!("cannot read {password_file}"))?;
    // One thread, as a minimal client would be; delega's multi-threaded runtime has one
    // account here, so it gains nothing from the second core either.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let (noise, delegated, total) = runtime.block_on(async {
        let mut session = connect(port, user, password.trim(), Path::new(ca_file)).await?;
        file_backlog(&mut session, delega_io).await
    })?;
    println!("fetched {total}, moved {noise} to Noise and {delegated} to Delegated");
    Ok(())
}

async fn connect(port: u16, user: &str, password: &str, ca: &Path) -> anyhow::Result<Session> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).context("CA file")? {
        roots.add(cert.context("CA file")?).context("CA file")?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("localhost", port))
        .await
        .context("connect")?;
    tcp.set_nodelay(true).ok();
    let name = ServerName::try_from("localhost").context("server name")?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    let mut client = async_imap::Client::new(tls);
    // async-imap does not read the greeting by itself.
    client
        .read_response()
        .await
        .context("greeting")?
        .context("the server closed the connection before its greeting")?;
    client
        .login(user, password)
        .await
        .map_err(|(err, _)| err)
        .context("login")
}

/// Fetches every header (or message), classifies, moves; returns (to Noise, to Delegated,
/// fetched).
async fn file_backlog(
    session: &mut Session,
    delega_io: bool,
) -> anyhow::Result<(usize, usize, usize)> {
    for folder in ["Noise", "Delegated"] {
        // Fails when the folder exists, which is as good.
        session.create(folder).await.ok();
    }
    session.select("INBOX").await.context("SELECT")?;
    if delega_io {
        // delega's backfill on a first start: the messages of the last 30 days.
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30 * 24);
        let date = since.strftime("%d-%b-%Y").to_string();
        session
            .uid_search(format!("SINCE {date}"))
            .await
            .context("UID SEARCH")?;
    }
    let query = if delega_io {
        "BODY.PEEK[]"
    } else {
        "BODY.PEEK[HEADER]"
    };
    let decided: Vec<(u32, Destination)> = session
        .uid_fetch("1:*", query)
        .await
        .context("UID FETCH")?
        .try_filter_map(|f| async move {
            let raw = if delega_io { f.body() } else { f.header() }.unwrap_or_default();
            let end = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(raw.len());
            Ok(f.uid.map(|uid| (uid, classify(&raw[..end]))))
        })
        .try_collect()
        .await
        .context("UID FETCH")?;
    if delega_io {
        let marked: Vec<String> = decided
            .iter()
            .filter(|(_, d)| *d != Destination::Delegated)
            .map(|(uid, _)| uid.to_string())
            .collect();
        session
            .uid_store(marked.join(","), "+FLAGS.SILENT ($delega)")
            .await
            .context("UID STORE")?
            .try_collect::<Vec<_>>()
            .await
            .context("UID STORE")?;
    }
    let mut moved = [0; 2];
    for (i, (dest, folder)) in [
        (Destination::Noise, "Noise"),
        (Destination::Delegated, "Delegated"),
    ]
    .into_iter()
    .enumerate()
    {
        let uids: Vec<String> = decided
            .iter()
            .filter(|(_, d)| *d == dest)
            .map(|(uid, _)| uid.to_string())
            .collect();
        if uids.is_empty() {
            continue;
        }
        // One command per destination, whatever the number of messages.
        session
            .uid_mv(uids.join(","), folder)
            .await
            .with_context(|| format!("UID MOVE to {folder}"))?;
        moved[i] = uids.len();
    }
    session.logout().await.context("LOGOUT")?;
    Ok((moved[0], moved[1], decided.len()))
}

/// Subject words that send a message to Delegated in the floor's classification.
const DELEGABLE_WORDS: [&str; 6] = [
    "fattura",
    "invoice",
    "receipt",
    "ordine",
    "meeting",
    "traduzione",
];

/// The trivial rules of the floor: headers only, raw bytes, no decoding.
fn classify(header: &[u8]) -> Destination {
    // A leading newline lets the first header line match "\nname:" too.
    let text = format!("\n{}", String::from_utf8_lossy(header).to_ascii_lowercase());
    let has = |needle: &str| text.contains(needle);
    if has("\nlist-id:")
        || has("\nlist-unsubscribe:")
        || has("\nprecedence: bulk")
        || has("\nauto-submitted: auto")
    {
        return Destination::Noise;
    }
    let subject = text
        .lines()
        .find_map(|l| l.strip_prefix("subject:"))
        .unwrap_or_default();
    if DELEGABLE_WORDS.iter().any(|k| subject.contains(k)) {
        return Destination::Delegated;
    }
    Destination::Inbox
}
