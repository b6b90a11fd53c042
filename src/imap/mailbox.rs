//! Reading and filing messages in a selected mailbox.
//!
//! Fetches use `BODY.PEEK[]` so nothing is marked seen, and come in batches bounded by count
//! and bytes so memory stays flat however long the backlog. How to file is decided once at
//! login ([`FilingMode`]): `UID MOVE` where the server has it, else `UID COPY` + `\Deleted` +
//! `UID EXPUNGE` of exactly those UIDs (UIDPLUS), else `UID COPY` alone, the original left.

use std::collections::HashSet;

use anyhow::Context;
use futures::{Stream, TryStreamExt};

use super::Session;
use super::namespace::{self, Hierarchy};

/// How this server lets delega file a message out of the Inbox, decided at login from its
/// capabilities, before any action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingMode {
    /// `UID MOVE` (RFC 6851).
    Move,
    /// `UID COPY`, `\Deleted`, `UID EXPUNGE` of exactly the copied UIDs (RFC 4315 UIDPLUS).
    CopyExpunge,
    /// Neither: a plain EXPUNGE would also remove messages the user marked `\Deleted`, so
    /// delega only copies, and the original stays in the Inbox (reported as such).
    CopyOnly,
}

impl FilingMode {
    /// The mode a server announcing these capabilities allows.
    pub fn from_capabilities(has_move: bool, has_uidplus: bool) -> FilingMode {
        match (has_move, has_uidplus) {
            (true, _) => FilingMode::Move,
            (false, true) => FilingMode::CopyExpunge,
            (false, false) => FilingMode::CopyOnly,
        }
    }
}

/// What SELECT told about the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxInfo {
    /// UIDs are only meaningful together with this.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// How many messages the mailbox holds.
    pub exists: u32,
}

/// One fetched message.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its UID.
    pub uid: u32,
    /// Its flags and keywords, as the server spells them.
    pub flags: Vec<String>,
    /// Its raw bytes.
    pub raw: Vec<u8>,
}

/// What of a message to fetch.
#[derive(Clone, Copy)]
enum Part {
    Whole,
    Header,
}

impl Part {
    fn query(self) -> &'static str {
        match self {
            Part::Whole => "(UID FLAGS BODY.PEEK[])",
            Part::Header => "(UID FLAGS BODY.PEEK[HEADER])",
        }
    }
}

impl Fetched {
    /// The message in a FETCH response, or `None` for a response without a UID.
    fn read(f: &async_imap::types::Fetch, part: Part) -> Option<Fetched> {
        let uid = f.uid?;
        let flags = f.flags().map(|flag| flag_name(&flag)).collect();
        let bytes = match part {
            Part::Whole => f.body(),
            Part::Header => f.header(),
        };
        let raw = bytes.unwrap_or_default().to_vec();
        Some(Fetched { uid, flags, raw })
    }
}

/// Messages per fetch batch: with the byte bound, keeps memory flat. (Filing is gathered
/// over many batches: see `triage::filing`.)
const BATCH_COUNT: usize = 2000;
/// Bytes per fetch batch (a single larger message is fetched alone).
const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// What the server said it can do, read once at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// How messages are filed.
    pub filing: FilingMode,
    /// The server has IDLE (RFC 2177).
    pub has_idle: bool,
    /// The server has NAMESPACE (RFC 2342).
    pub has_namespace: bool,
    /// The personal namespace and delimiter configured folder names are resolved in.
    pub hierarchy: Hierarchy,
}

/// One logged-in IMAP connection: the session, what its server can do, and the operations
/// on its selected mailbox (fetch, move, flag).
pub struct Connection {
    /// The session.
    pub session: Session,
    /// What the server can do.
    pub server: ServerInfo,
    /// The selected mailbox keeps delega's keyword (its PERMANENTFLAGS has `\*` or it).
    pub keywords: bool,
}

impl Connection {
    /// Wraps a logged-in session, asking the server what it can do and where its folders are.
    pub async fn new(mut session: Session) -> anyhow::Result<Self> {
        let caps = session.capabilities().await.context("CAPABILITY")?;
        let (has_move, has_uidplus, has_idle, has_namespace) = (
            caps.has_str("MOVE"),
            caps.has_str("UIDPLUS"),
            caps.has_str("IDLE"),
            caps.has_str("NAMESPACE"),
        );
        drop(caps);
        while session.unsolicited_responses.try_recv().is_ok() {}
        let mut hierarchy = match has_namespace {
            true => namespace::namespace(&mut session).await?,
            false => None,
        }
        .unwrap_or_default();
        if hierarchy.delimiter.is_none() {
            hierarchy.delimiter = root_delimiter(&mut session).await?;
        }
        let mut me = Self {
            session,
            server: ServerInfo {
                filing: FilingMode::from_capabilities(has_move, has_uidplus),
                has_idle,
                has_namespace,
                hierarchy,
            },
            keywords: true,
        };
        me.drain();
        Ok(me)
    }

    /// Drops untagged data the server volunteered (EXISTS, EXPUNGE, COPYUID...): delega
    /// re-reads what it needs, and async-imap's channel holds only 100 items.
    pub fn drain(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }

    /// Selects `mailbox` (read-write).
    pub async fn select(&mut self, mailbox: &str) -> anyhow::Result<MailboxInfo> {
        let m = self
            .session
            .select(mailbox)
            .await
            .with_context(|| format!("cannot select {mailbox}"))?;
        self.drain();
        self.keywords = keeps_keywords(&m.permanent_flags);
        Ok(MailboxInfo {
            uidvalidity: m.uid_validity.context("the server gave no UIDVALIDITY")?,
            uidnext: m.uid_next.unwrap_or(1),
            exists: m.exists,
        })
    }

    /// UIDs above `after`, ascending.
    pub async fn uids_after(&mut self, after: u32) -> anyhow::Result<Vec<u32>> {
        let start = after.saturating_add(1);
        // `n:*` also returns the last message when its UID is below n (RFC 3501 6.4.8).
        let found = self
            .session
            .uid_search(format!("UID {start}:*"))
            .await
            .context("UID SEARCH")?;
        self.drain();
        Ok(sorted(found.into_iter().filter(|&u| u > after)))
    }

    /// True when the selected mailbox has mail above UID `after`, or the server announced a
    /// new message while answering (before IDLE: see below).
    ///
    /// Dovecot searches the mailbox as of its last report and announces what came in since
    /// (`* N EXISTS`) in the same answer: a message arriving between SELECT and this SEARCH
    /// is announced here but not found. Dropped with the other volunteered data, it would not
    /// be announced again in the IDLE that follows.
    pub async fn arrived_after(&mut self, after: u32) -> anyhow::Result<bool> {
        let start = after.saturating_add(1);
        let found = self
            .session
            .uid_search(format!("UID {start}:*"))
            .await
            .context("UID SEARCH")?;
        let mut announced = false;
        while let Ok(response) = self.session.unsolicited_responses.try_recv() {
            announced |= matches!(response, async_imap::types::UnsolicitedResponse::Exists(_));
        }
        // `n:*` also returns the last message when its UID is below n (RFC 3501 6.4.8).
        Ok(announced || found.into_iter().any(|u| u > after))
    }

    /// UIDs of messages whose Message-ID header contains `id` (a substring search: the
    /// caller checks the header), ascending; none when `id` cannot be searched for as is.
    pub async fn uids_with_message_id(&mut self, id: &str) -> anyhow::Result<Vec<u32>> {
        // A quoted string holds no quote, backslash or line break (RFC 3501 9).
        if id.is_empty() || !id.is_ascii() || id.contains(['"', '\\', '\r', '\n']) {
            return Ok(Vec::new());
        }
        let found = self
            .session
            .uid_search(format!("HEADER Message-ID \"{id}\""))
            .await
            .context("UID SEARCH HEADER Message-ID")?;
        self.drain();
        Ok(sorted(found))
    }

    /// UIDs of messages whose internal date is on or after `date` (`17-Nov-2026`), ascending.
    pub async fn uids_since(&mut self, date: &str) -> anyhow::Result<Vec<u32>> {
        let found = self
            .session
            .uid_search(format!("SINCE {date}"))
            .await
            .context("UID SEARCH SINCE")?;
        self.drain();
        Ok(sorted(found))
    }

    /// UIDs of the messages delega filed (its keyword) whose Message-ID header holds `id`
    /// (as mail-parser gives it, without `<>`), ascending. `None` when `id` cannot be put
    /// in a search (not printable ASCII).
    pub async fn uids_filed_with_message_id(
        &mut self,
        id: &str,
    ) -> anyhow::Result<Option<Vec<u32>>> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_graphic()) {
            return Ok(None);
        }
        let quoted = id.replace('\\', "\\\\").replace('"', "\\\"");
        let found = self
            .session
            .uid_search(format!(
                "KEYWORD {} HEADER Message-ID \"{quoted}\"",
                super::KEYWORD
            ))
            .await
            .context("UID SEARCH HEADER Message-ID")?;
        self.drain();
        Ok(Some(sorted(found)))
    }

    /// The messages above UID `after`, ascending, in fetch batches bounded by count and
    /// size: one `UID FETCH after+1:* (RFC822.SIZE)` tells both which and how big.
    pub async fn batches_after(&mut self, after: u32) -> anyhow::Result<Vec<Vec<u32>>> {
        let start = after.saturating_add(1);
        // `n:*` also returns the last message when its UID is below n (RFC 3501 6.4.8).
        let mut sizes: Vec<(u32, u64)> = self
            .session
            .uid_fetch(format!("{start}:*"), "(UID RFC822.SIZE)")
            .await
            .context("UID FETCH RFC822.SIZE")?
            .try_filter_map(|f| async move {
                Ok(f.uid
                    .filter(|&u| u > after)
                    .map(|u| (u, u64::from(f.size.unwrap_or(0)))))
            })
            .try_collect()
            .await
            .context("UID FETCH RFC822.SIZE")?;
        self.drain();
        sizes.sort_unstable();
        sizes.dedup_by_key(|&mut (uid, _)| uid);
        let mut batches = Vec::new();
        let (mut batch, mut bytes) = (Vec::new(), 0);
        for (uid, size) in sizes {
            if !batch.is_empty() && (batch.len() >= BATCH_COUNT || bytes + size > BATCH_BYTES) {
                batches.push(std::mem::take(&mut batch));
                bytes = 0;
            }
            batch.push(uid);
            bytes += size;
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        Ok(batches)
    }

    /// Fetches whole messages without marking them seen.
    pub async fn fetch(&mut self, uids: &[u32]) -> anyhow::Result<Vec<Fetched>> {
        self.fetch_part(uids, Part::Whole).await
    }

    /// Fetches whole messages without marking them seen, as a stream: each message comes
    /// as soon as it is read, while the server sends the next ones. Once it is done,
    /// [`Connection::drain`] drops what the server volunteered meanwhile.
    pub async fn fetch_stream(
        &mut self,
        uids: &[u32],
    ) -> anyhow::Result<impl Stream<Item = anyhow::Result<Fetched>> + Send + '_> {
        let stream = self
            .session
            .uid_fetch(uid_set(uids), Part::Whole.query())
            .await
            .context("UID FETCH")?;
        Ok(stream
            .map_err(|err| anyhow::Error::new(err).context("UID FETCH"))
            .try_filter_map(|f| async move { Ok(Fetched::read(&f, Part::Whole)) }))
    }

    /// Fetches the headers of messages (enough to recognise them), without marking them seen.
    pub async fn fetch_headers(&mut self, uids: &[u32]) -> anyhow::Result<Vec<Fetched>> {
        self.fetch_part(uids, Part::Header).await
    }

    async fn fetch_part(&mut self, uids: &[u32], part: Part) -> anyhow::Result<Vec<Fetched>> {
        let mut out: Vec<Fetched> = self
            .session
            .uid_fetch(uid_set(uids), part.query())
            .await
            .context("UID FETCH")?
            .try_filter_map(|f| async move { Ok(Fetched::read(&f, part)) })
            .try_collect()
            .await
            .context("UID FETCH")?;
        self.drain();
        out.sort_by_key(|f| f.uid);
        Ok(out)
    }

    /// Adds a keyword to messages (`+FLAGS.SILENT`: \Seen and the rest are untouched).
    /// Where the mailbox cannot keep keywords nothing is stored (and nothing retried): delega
    /// then knows its own mail by Message-ID alone.
    pub async fn add_keyword(&mut self, uids: &[u32], keyword: &str) -> anyhow::Result<()> {
        if uids.is_empty() || !self.keywords {
            return Ok(());
        }
        self.session
            .uid_store(uid_set(uids), format!("+FLAGS.SILENT ({keyword})"))
            .await
            .context("UID STORE")?
            .try_collect::<Vec<_>>()
            .await
            .context("UID STORE")?;
        self.drain();
        Ok(())
    }

    /// Files messages in `folder` as the server allows ([`FilingMode`]): with `CopyOnly` the
    /// originals stay where they are.
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> anyhow::Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        match self.server.filing {
            FilingMode::Move => self
                .session
                .uid_mv(&set, folder)
                .await
                .with_context(|| format!("UID MOVE to {folder}"))?,
            FilingMode::CopyOnly => self
                .session
                .uid_copy(&set, folder)
                .await
                .with_context(|| format!("UID COPY to {folder}"))?,
            FilingMode::CopyExpunge => {
                self.session
                    .uid_copy(&set, folder)
                    .await
                    .with_context(|| format!("UID COPY to {folder}"))?;
                self.session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .await
                    .context("UID STORE \\Deleted")?
                    .try_collect::<Vec<_>>()
                    .await
                    .context("UID STORE \\Deleted")?;
                self.session
                    .uid_expunge(&set)
                    .await
                    .context("UID EXPUNGE")?
                    .try_collect::<Vec<_>>()
                    .await
                    .context("UID EXPUNGE")?;
            }
        }
        self.drain();
        Ok(())
    }

    /// The server's name for the configured folder `configured` (see [`namespace::resolve`]),
    /// created unless LIST finds it. A refused CREATE is a [`FolderRefused`]: it will not
    /// fix itself.
    pub async fn ensure_folder(&mut self, configured: &str) -> anyhow::Result<String> {
        let folder = namespace::resolve(configured, &self.server.hierarchy);
        if !self.folder_exists(&folder).await?
            && let Err(err) = self.session.create(&folder).await
        {
            self.drain();
            return Err(FolderRefused {
                folder,
                reason: server_text(&err),
            }
            .into());
        }
        self.drain();
        Ok(folder)
    }

    /// Whether LIST finds `folder`.
    pub async fn folder_exists(&mut self, folder: &str) -> anyhow::Result<bool> {
        let existing: Vec<_> = self
            .session
            .list(None, Some(folder))
            .await
            .context("LIST")?
            .try_collect()
            .await
            .context("LIST")?;
        let exists = existing.iter().any(|n| {
            n.name() == folder
                || (n.name().eq_ignore_ascii_case("INBOX") && folder.eq_ignore_ascii_case("INBOX"))
        });
        drop(existing);
        self.drain();
        Ok(exists)
    }
}

/// A folder the server refused to create: it will not fix itself (a wrong name, no rights,
/// a quota), so the account needs attention rather than a quick retry.
#[derive(Debug, thiserror::Error)]
#[error("the server refused to create the folder {folder}: {reason}")]
pub struct FolderRefused {
    /// The server's name for the folder.
    pub folder: String,
    /// What the server said.
    pub reason: String,
}

/// What a server said when it refused a command, without the library's debug text.
pub fn server_text(err: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match err {
        Error::No(text) | Error::Bad(text) => refusal_words(text),
        Error::Io(io) => format!("connection error: {io}"),
        Error::ConnectionLost => "the connection was lost".to_string(),
        other => other.to_string(),
    }
}

/// The server's own words in the text of async-imap's `No`/`Bad` errors, which it writes as
/// Rust debug output (`code: Some(Alert), info: Some("Disk full")`, or `outcome: …` with
/// `information: Some("…")`): `[ALERT] Disk full`. Text in another form is kept as it is.
pub fn refusal_words(text: &str) -> String {
    let text = text.trim();
    let info = ["info: Some(\"", "information: Some(\""]
        .iter()
        .find_map(|key| text.find(key).map(|at| &text[at + key.len()..]))
        .and_then(debug_string);
    let Some(info) = info else {
        return text.to_string();
    };
    let code = text
        .find("code: Some(")
        .map(|at| &text[at + "code: Some(".len()..])
        .and_then(|rest| rest.split(['(', ')', ',', ' ']).next())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()));
    match code {
        Some(code) if !info.starts_with('[') => format!("[{}] {info}", code.to_uppercase()),
        _ => info,
    }
}

/// The contents of a string literal as `{:?}` writes it, up to its closing quote.
fn debug_string(literal: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The delimiter of the root of the hierarchy (`LIST "" ""`), for a server without NAMESPACE.
async fn root_delimiter(session: &mut Session) -> anyhow::Result<Option<char>> {
    let names: Vec<_> = session
        .list(Some(""), Some(""))
        .await
        .context("LIST")?
        .try_collect()
        .await
        .context("LIST")?;
    Ok(names
        .iter()
        .find_map(|n| n.delimiter().and_then(|d| d.chars().next())))
}

/// True when a mailbox with these PERMANENTFLAGS keeps delega's keyword. A server that
/// lists none is taken at its word of RFC 3501 (all flags can be changed permanently).
pub fn keeps_keywords(permanent: &[async_imap::types::Flag<'_>]) -> bool {
    use async_imap::types::Flag;
    permanent.is_empty()
        || permanent.iter().any(|f| match f {
            Flag::MayCreate => true,
            Flag::Custom(name) => name.eq_ignore_ascii_case(super::KEYWORD),
            _ => false,
        })
}

/// A flag as IMAP spells it: `\Seen`, `$delega`.
fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(name) => name.to_string(),
    }
}

fn sorted(uids: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut v: Vec<u32> = uids
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    v.sort_unstable();
    v
}

/// An IMAP sequence set for sorted UIDs, with runs compressed: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{refusal_words, uid_set};

    #[test]
    fn refusals_are_told_in_the_servers_words_not_async_imaps_debug_output() {
        assert_eq!(
            refusal_words(
                "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")"
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            refusal_words("code: Some(Alert), info: Some(\"Disk \\\"full\\\"\\u{e8}\")"),
            "[ALERT] Disk \"full\"\u{e8}"
        );
        assert_eq!(
            refusal_words(
                "outcome: ResponseOutcome { code: None, information: Some(\"Mailbox doesn't exist: Nois\") }"
            ),
            "Mailbox doesn't exist: Nois"
        );
        assert_eq!(refusal_words(" [INUSE] busy "), "[INUSE] busy");
        assert_eq!(
            refusal_words("code: None, info: None"),
            "code: None, info: None"
        );
    }

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }
}
