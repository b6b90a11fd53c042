//! A small IMAP client for tests, over plaintext IMAP on 127.0.0.1: puts messages where a test
//! needs them and reads back what the daemon did. It is deliberately independent of delega's own
//! IMAP code, so a bug there cannot hide itself in the checks.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use async_imap::types::Flag;
use futures::TryStreamExt as _;
use tokio::net::TcpStream;

use super::MailSystem;

/// How long any single IMAP exchange may take before the test fails instead of hanging.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`TestImap::wait_for`] looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A logged-in IMAP session of one user.
pub struct TestImap {
    session: async_imap::Session<TcpStream>,
}

/// One message as stored on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The message's UID in the mailbox it was fetched from.
    pub uid: u32,
    /// Its flags, as IMAP spells them (`\Seen`, `$Forwarded`…).
    pub flags: Vec<String>,
    /// The full message, exactly as the server returns it.
    pub raw: Vec<u8>,
}

impl TestImap {
    /// Connects to `ms`'s plaintext IMAP port and logs `user` in with the common password.
    pub async fn login(ms: &MailSystem, user: &str) -> Result<TestImap> {
        let port = ms.imap_port();
        let stream = timed("connecting", TcpStream::connect(("127.0.0.1", port)))
            .await?
            .with_context(|| format!("connecting to IMAP on 127.0.0.1:{port}"))?;
        let mut client = async_imap::Client::new(stream);
        // async-imap 0.12 leaves reading the server's greeting to the caller.
        timed("reading the greeting", client.read_response())
            .await?
            .context("reading the IMAP greeting")?
            .context("the server closed the connection before greeting")?;
        let session = timed("logging in", client.login(user, ms.password()))
            .await?
            .map_err(|(err, _client)| err)
            .with_context(|| format!("logging in as {user}"))?;
        Ok(TestImap { session })
    }

    /// Stores `raw` in `mailbox` with `flags` (such as `["\\Seen"]`).
    pub async fn append(&mut self, mailbox: &str, raw: &[u8], flags: &[&str]) -> Result<()> {
        let flags = (!flags.is_empty()).then(|| format!("({})", flags.join(" ")));
        timed(
            "APPEND",
            self.session.append(mailbox, flags.as_deref(), None, raw),
        )
        .await?
        .with_context(|| format!("appending to {mailbox}"))?;
        self.drain_unsolicited();
        Ok(())
    }

    /// Creates `mailbox`.
    pub async fn create(&mut self, mailbox: &str) -> Result<()> {
        timed("CREATE", self.session.create(mailbox))
            .await?
            .with_context(|| format!("creating {mailbox}"))?;
        self.drain_unsolicited();
        Ok(())
    }

    /// Every message in `mailbox`, in UID order, fetched with `BODY.PEEK[]` so none is
    /// marked seen.
    pub async fn fetch_all(&mut self, mailbox: &str) -> Result<Vec<Fetched>> {
        let selected = timed("EXAMINE", self.session.examine(mailbox))
            .await?
            .with_context(|| format!("examining {mailbox}"))?;
        if selected.exists == 0 {
            self.drain_unsolicited();
            return Ok(Vec::new());
        }
        let fetches: Vec<_> = timed("UID FETCH", async {
            self.session
                .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
                .await?
                .try_collect()
                .await
        })
        .await?
        .with_context(|| format!("fetching from {mailbox}"))?;
        self.drain_unsolicited();
        let mut messages = fetches
            .iter()
            .map(|fetch| {
                Ok(Fetched {
                    uid: fetch.uid.context("the server sent a FETCH without UID")?,
                    flags: fetch.flags().map(|flag| flag_name(&flag)).collect(),
                    raw: fetch
                        .body()
                        .context("the server sent a FETCH without the body")?
                        .to_vec(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        messages.sort_by_key(|message| message.uid);
        Ok(messages)
    }

    /// Moves the message with `uid` from mailbox `from` to mailbox `to`.
    pub async fn uid_move(&mut self, uid: u32, from: &str, to: &str) -> Result<()> {
        timed("SELECT", self.session.select(from))
            .await?
            .with_context(|| format!("selecting {from}"))?;
        timed("UID MOVE", self.session.uid_mv(uid.to_string(), to))
            .await?
            .with_context(|| format!("moving UID {uid} from {from} to {to}"))?;
        self.drain_unsolicited();
        Ok(())
    }

    /// The names of all the user's mailboxes, sorted.
    pub async fn mailboxes(&mut self) -> Result<Vec<String>> {
        let names: Vec<_> = timed("LIST", async {
            self.session
                .list(Some(""), Some("*"))
                .await?
                .try_collect()
                .await
        })
        .await?
        .context("listing mailboxes")?;
        self.drain_unsolicited();
        let mut names: Vec<String> = names.iter().map(|name| name.name().to_owned()).collect();
        names.sort();
        Ok(names)
    }

    /// Waits until `mailbox` holds at least `count` messages, and returns them; fails after
    /// `timeout` saying how many there were. A mailbox that does not exist yet counts as empty.
    pub async fn wait_for(
        &mut self,
        mailbox: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Fetched>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = match self.fetch_all(mailbox).await {
                Ok(messages) => messages,
                Err(err) if is_no_response(&err) => Vec::new(),
                Err(err) => return Err(err),
            };
            if messages.len() >= count {
                return Ok(messages);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{mailbox} held {} message(s), not {count}, after {timeout:?}",
                    messages.len()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Logs out politely (dropping a `TestImap` just closes the connection).
    pub async fn logout(mut self) -> Result<()> {
        timed("LOGOUT", self.session.logout())
            .await?
            .context("logging out")
    }

    /// Discards untagged responses not tied to a command (EXISTS, EXPUNGE…). async-imap queues
    /// them in a channel of 100 that nobody reads here; once full, the session would block.
    fn drain_unsolicited(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }
}

/// Runs one IMAP exchange under [`COMMAND_TIMEOUT`], so a silent server fails the test.
async fn timed<T>(what: &str, exchange: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, exchange)
        .await
        .with_context(|| format!("IMAP {what}: no answer within {COMMAND_TIMEOUT:?}"))
}

/// Whether the server refused the command with NO (e.g. the mailbox does not exist).
fn is_no_response(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<async_imap::error::Error>(),
            Some(async_imap::error::Error::No(_))
        )
    })
}

/// A flag as IMAP spells it.
fn flag_name(flag: &Flag<'_>) -> String {
    match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Recent => "\\Recent".to_owned(),
        Flag::MayCreate => "\\*".to_owned(),
        Flag::Custom(name) => name.to_string(),
    }
}
