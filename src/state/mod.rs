//! The state database (SQLite, WAL): cursors, the ledger of decisions, the outbox, events.
//!
//! Every message delega looks at gets a ledger row before anything is done to it; actions
//! are marked done, and the mailbox cursor advanced, in one transaction afterwards. So a
//! crash at any point leaves either a pending row (the action is redone) or a done row (the
//! message is never looked at again). The schema evolves by numbered migrations.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::classify::Category;

mod corrections;
mod digest;
mod lock;
mod outbox;
mod pool;
mod tasks;
mod undo;

pub use corrections::Correction;
pub use lock::{InstanceLock, LockError, holder, lock_path};
pub use outbox::{InDoubt, OutboxRow, OutboxState};
pub use pool::{Lease, StatePool};
pub use tasks::{TaskFilter, TaskRow};
pub use undo::{UndoFilter, UndoOutcome};

/// Schema migrations; `PRAGMA user_version` says how many have run. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: the first release.
    "CREATE TABLE cursor (
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid    INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        PRIMARY KEY (account, mailbox)
    );
    CREATE TABLE ledger (
        id          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  TEXT,
        date        INTEGER,
        from_addr   TEXT NOT NULL,
        from_name   TEXT,
        subject     TEXT NOT NULL,
        excerpt     TEXT NOT NULL,
        list_id     TEXT,
        category    TEXT NOT NULL,
        rule        TEXT,
        why         TEXT NOT NULL,
        observe     INTEGER NOT NULL,
        assistant   TEXT,
        action      TEXT NOT NULL,
        status      TEXT NOT NULL,
        detail      TEXT,
        decided_at  INTEGER NOT NULL,
        done_at     INTEGER,
        UNIQUE (account, mailbox, uidvalidity, uid)
    );
    CREATE INDEX ledger_message_id ON ledger (account, message_id);
    CREATE INDEX ledger_decided ON ledger (account, decided_at);
    CREATE TABLE event (
        id      INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL
    );
    CREATE INDEX event_account_at ON event (account, at);
    CREATE TABLE account_status (
        account        TEXT PRIMARY KEY,
        last_check_at  INTEGER,
        last_error     TEXT,
        last_error_at  INTEGER
    );
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        ledger_id       INTEGER NOT NULL UNIQUE REFERENCES ledger (id),
        account         TEXT NOT NULL,
        forward_id      TEXT NOT NULL UNIQUE,
        assistant       TEXT NOT NULL,
        address         TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    );
    CREATE INDEX outbox_account_state ON outbox (account, state);
    CREATE TABLE digest (
        account      TEXT NOT NULL,
        day          TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        period_end   INTEGER NOT NULL,
        sent_at      INTEGER NOT NULL,
        PRIMARY KEY (account, day)
    );
    CREATE TABLE correction (
        id          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  TEXT,
        from_addr   TEXT NOT NULL,
        list_id     TEXT,
        subject     TEXT NOT NULL,
        ledger_id   INTEGER REFERENCES ledger (id),
        category    TEXT,
        rule        TEXT,
        at          INTEGER NOT NULL,
        UNIQUE (account, mailbox, uidvalidity, uid)
    );
    CREATE INDEX correction_account ON correction (account, at);",
    // 2: the hourly forward limit counts recent sends without reading the whole outbox.
    "CREATE INDEX outbox_account_sent ON outbox (account, sent_at);",
    // 3: a send that may have reached the assistant is a state (`in_doubt` while unsettled)
    // and a count (`interrupted`), no longer an "unconfirmed" note. A row left `sending` by
    // an older delega may or may not have gone: it is sent again, counted as interrupted.
    "ALTER TABLE outbox ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET interrupted = 1, last_error = NULL
        WHERE state = 'sent' AND last_error LIKE 'unconfirmed%';
    UPDATE outbox SET state = 'pending', interrupted = 1, next_attempt_at = 0
        WHERE state = 'sending';",
    // 4: a Date header that names no real time is kept as written, for the digest to show.
    "ALTER TABLE ledger ADD COLUMN date_written TEXT;",
    // 5: `delega undo`: what it moved back (never a correction, never filed again) and
    // what it could not.
    "CREATE TABLE undo (
        id         INTEGER PRIMARY KEY,
        account    TEXT NOT NULL,
        ledger_id  INTEGER NOT NULL REFERENCES ledger (id),
        message_id TEXT,
        outcome    TEXT NOT NULL,
        at         INTEGER NOT NULL
    );
    CREATE INDEX undo_ledger ON undo (ledger_id);
    CREATE INDEX undo_message_id ON undo (account, message_id);",
    // 6: each forward is a task (`state/tasks.rs`), every forward already made included.
    tasks::MIGRATION,
];

/// A mailbox's position: what delega has already looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The UIDVALIDITY the UIDs belong to.
    pub uidvalidity: u32,
    /// Every UID up to this one has been triaged.
    pub last_uid: u32,
    /// Unix time of the first start on this mailbox (mail before it is not triaged).
    pub since: i64,
}

/// What delega does about a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave it in the Inbox (strategic), marked with delega's keyword.
    Keep,
    /// Move it to this folder.
    File(String),
    /// Forward to the assistant, then move it to this folder.
    Forward(String),
    /// Observe mode: do nothing.
    Nothing,
}

impl Action {
    fn encode(&self) -> String {
        match self {
            Action::Keep => "keep".into(),
            Action::File(f) => format!("file:{f}"),
            Action::Forward(f) => format!("forward:{f}"),
            Action::Nothing => "nothing".into(),
        }
    }

    fn decode(s: &str) -> Action {
        match s.split_once(':') {
            Some(("file", f)) => Action::File(f.into()),
            Some(("forward", f)) => Action::Forward(f.into()),
            _ if s == "keep" => Action::Keep,
            _ => Action::Nothing,
        }
    }
}

/// Where a ledger row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Recorded; the action is not done yet.
    Pending,
    /// The action is done.
    Done,
    /// The action could not be done (see `detail`); the message stays in the Inbox.
    Failed,
    /// Filed as a copy on a server that cannot move mail safely: the copy is in the folder,
    /// the original stays in the Inbox.
    Copied,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Copied => "copied",
        }
    }

    fn decode(s: &str) -> Status {
        match s {
            "done" => Status::Done,
            "failed" => Status::Failed,
            "copied" => Status::Copied,
            _ => Status::Pending,
        }
    }
}

/// A decision about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The message's UID in the mailbox.
    pub uid: u32,
    /// Its Message-ID, if any.
    pub message_id: Option<String>,
    /// Its Date, as Unix time, when it names a real time no later than its arrival.
    pub date: Option<i64>,
    /// Its Date header as written, when there is one but `date` could not be read from it
    /// (an impossible or future date).
    pub date_written: Option<String>,
    /// The sender's address ("" when none).
    pub from_addr: String,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// The decoded subject.
    pub subject: String,
    /// A one-line excerpt of the body.
    pub excerpt: String,
    /// The List-Id, for grouping noise by list.
    pub list_id: Option<String>,
    /// The category decided.
    pub category: Category,
    /// The rule that decided.
    pub rule: Option<String>,
    /// Why.
    pub why: String,
    /// Decided by an observe-only rule or in observe mode.
    pub observe: bool,
    /// The assistant, for delegable decisions.
    pub assistant: Option<String>,
    /// What will be done.
    pub action: Action,
}

/// A decision as [`State::record`] wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its ledger row id.
    pub id: i64,
    /// The forward planned with it, when it is a decision to forward.
    pub forward: Option<OutboxRow>,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// The mailbox it was found in.
    pub mailbox: String,
    /// UIDVALIDITY at the time.
    pub uidvalidity: u32,
    /// The decision and the message's summary.
    pub entry: NewEntry,
    /// Where the action stands.
    pub status: Status,
    /// Why it failed, or what was done.
    pub detail: Option<String>,
    /// When it was decided (Unix time).
    pub decided_at: i64,
}

/// The state database.
pub struct State {
    conn: Connection,
}

impl State {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> anyhow::Result<State> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open state database {}", path.display()))?;
        Self::setup(conn).with_context(|| format!("state database {}", path.display()))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> anyhow::Result<State> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> anyhow::Result<State> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // IMMEDIATE takes the write lock before reading the version, so two processes (or
        // account tasks) opening a new database migrate it once, one after the other.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            anyhow::bail!(
                "the database was written by a newer delega (schema {version}, this one knows {}): upgrade delega",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)
                .with_context(|| format!("migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1)?;
        }
        tx.commit()?;
        Ok(State { conn })
    }

    /// The cursor of a mailbox, if delega has seen it before.
    pub fn cursor(&self, account: &str, mailbox: &str) -> anyhow::Result<Option<Cursor>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uidvalidity, last_uid, since FROM cursor WHERE account = ?1 AND mailbox = ?2",
                params![account, mailbox],
                |r| {
                    Ok(Cursor {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                        since: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets a mailbox's cursor (first start, or a UIDVALIDITY change).
    pub fn set_cursor(&self, account: &str, mailbox: &str, cursor: Cursor) -> anyhow::Result<()> {
        set_cursor(&self.conn, account, mailbox, cursor)
    }

    /// The row for a UID, if that message was already looked at.
    pub fn entry_by_uid(
        &self,
        account: &str,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> anyhow::Result<Option<Entry>> {
        let sql = format!(
            "{SELECT_ENTRY} WHERE account = ?1 AND mailbox = ?2 AND uidvalidity = ?3 AND uid = ?4"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![account, mailbox, uidvalidity, uid], entry_row)
            .optional()?)
    }

    /// Which of `uids` (of one mailbox numbering) already have a row: one query for a batch.
    pub fn recorded_uids(
        &self,
        account: &str,
        mailbox: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> anyhow::Result<HashSet<u32>> {
        let (Some(&low), Some(&high)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(HashSet::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT uid FROM ledger
             WHERE account = ?1 AND mailbox = ?2 AND uidvalidity = ?3 AND uid BETWEEN ?4 AND ?5",
        )?;
        let found = stmt.query_map(params![account, mailbox, uidvalidity, low, high], |r| {
            r.get::<_, u32>(0)
        })?;
        let wanted: HashSet<u32> = uids.iter().copied().collect();
        let mut recorded = HashSet::new();
        for uid in found {
            let uid = uid?;
            if wanted.contains(&uid) {
                recorded.insert(uid);
            }
        }
        Ok(recorded)
    }

    /// The latest row for a Message-ID in this account, if any.
    pub fn entry_by_message_id(
        &self,
        account: &str,
        message_id: &str,
    ) -> anyhow::Result<Option<Entry>> {
        let sql = format!(
            "{SELECT_ENTRY} WHERE account = ?1 AND message_id = ?2 ORDER BY id DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![account, message_id], entry_row)
            .optional()?)
    }

    /// Moves a pending row to the message's number after the server renumbered the
    /// mailbox (found again by Message-ID). False, changing nothing, when that number is
    /// already recorded for another row.
    pub fn renumber_entry(&self, id: i64, uidvalidity: u32, uid: u32) -> anyhow::Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE OR IGNORE ledger SET uidvalidity = ?2, uid = ?3
                 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, uidvalidity, uid])?;
        Ok(changed == 1)
    }

    /// Records a batch of decisions, in one transaction; returns their rows, in order. A
    /// decision with an action is pending until [`State::complete`]; one with nothing to do
    /// (observed) is done at once. A decision to forward gets its outbox row in the same
    /// transaction, with the assistant's address from `address_of`, so a forward is planned
    /// exactly when its decision is recorded; that row is handed back with it.
    pub fn record(
        &mut self,
        account: &str,
        mailbox: &str,
        uidvalidity: u32,
        entries: &[NewEntry],
        address_of: &dyn Fn(&str) -> Option<String>,
        now: i64,
    ) -> anyhow::Result<Vec<Recorded>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO ledger (account, mailbox, uidvalidity, uid, message_id, date,
                    from_addr, from_name, subject, excerpt, list_id, category, rule, why,
                    observe, assistant, action, status, decided_at, done_at, date_written)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21)",
            )?;
            for e in entries {
                let (status, done_at) = match e.action {
                    Action::Nothing => (Status::Done, Some(now)),
                    _ => (Status::Pending, None),
                };
                insert.execute(params![
                    account,
                    mailbox,
                    uidvalidity,
                    e.uid,
                    e.message_id,
                    e.date,
                    e.from_addr,
                    e.from_name,
                    e.subject,
                    e.excerpt,
                    e.list_id,
                    e.category.as_str(),
                    e.rule,
                    e.why,
                    e.observe,
                    e.assistant,
                    e.action.encode(),
                    status.as_str(),
                    now,
                    done_at,
                    e.date_written,
                ])?;
                let id = tx.last_insert_rowid();
                let mut forward = None;
                if let (Action::Forward(_), Some(assistant)) = (&e.action, &e.assistant) {
                    let address = address_of(assistant)
                        .with_context(|| format!("assistant {assistant} is not configured"))?;
                    forward = Some(outbox::enqueue(&tx, id, account, assistant, &address, now)?);
                    tasks::open(&tx, id, account, assistant, now)?;
                }
                ids.push(Recorded { id, forward });
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Marks rows done or failed and, in the same transaction, moves the cursor.
    pub fn complete(
        &mut self,
        account: &str,
        outcomes: &[(i64, Status, Option<String>)],
        cursor: Option<(&str, Cursor)>,
        now: i64,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        set_status(&tx, outcomes, now)?;
        if let Some((mailbox, cursor)) = cursor {
            set_cursor(&tx, account, mailbox, cursor)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rows whose action is not done yet, oldest first.
    pub fn pending(&self, account: &str) -> anyhow::Result<Vec<Entry>> {
        let sql = format!("{SELECT_ENTRY} WHERE account = ?1 AND status = 'pending' ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![account], entry_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rows decided in `[from, to)`, oldest first.
    pub fn entries_between(&self, account: &str, from: i64, to: i64) -> anyhow::Result<Vec<Entry>> {
        let sql = format!(
            "{SELECT_ENTRY} WHERE account = ?1 AND decided_at >= ?2 AND decided_at < ?3 ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![account, from, to], entry_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many messages were decided in `[from, to)`, per category (counted by SQLite: a
    /// busy day is tens of thousands of rows).
    pub fn decided_counts(
        &self,
        account: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<BTreeMap<Category, usize>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT category, COUNT(*) FROM ledger
             WHERE account = ?1 AND decided_at >= ?2 AND decided_at < ?3 GROUP BY category",
        )?;
        let rows = stmt.query_map(params![account, from, to], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, usize>(1)?))
        })?;
        let mut counts = BTreeMap::new();
        for row in rows {
            let (category, n) = row?;
            // As for a row read whole: an unknown category reads as strategic.
            let category = category.parse().unwrap_or(Category::Strategic);
            *counts.entry(category).or_default() += n;
        }
        Ok(counts)
    }

    /// Notes a successful check of the account's mailbox.
    pub fn record_check(&self, account: &str, now: i64) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO account_status (account, last_check_at) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET last_check_at = ?2",
            params![account, now],
        )?;
        Ok(())
    }

    /// Notes a problem (connection failure, failed action) for status and the digest.
    pub fn record_event(
        &self,
        account: &str,
        kind: &str,
        detail: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO event (account, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![account, now, kind, detail],
        )?;
        self.conn.execute(
            "INSERT INTO account_status (account, last_error, last_error_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET last_error = ?2, last_error_at = ?3",
            params![account, format!("{kind}: {detail}"), now],
        )?;
        Ok(())
    }

    /// Problems recorded in `[from, to)`: (time, kind, detail).
    pub fn events_between(
        &self,
        account: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<(i64, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT at, kind, detail FROM event WHERE account = ?1 AND at >= ?2 AND at < ?3 ORDER BY at",
        )?;
        let rows = stmt.query_map(params![account, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last successful check and the last error: (last_check_at, last_error, last_error_at).
    pub fn account_status(
        &self,
        account: &str,
    ) -> anyhow::Result<(Option<i64>, Option<String>, Option<i64>)> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_check_at, last_error, last_error_at FROM account_status WHERE account = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .unwrap_or((None, None, None)))
    }
}

const SELECT_ENTRY: &str = "SELECT id, mailbox, uidvalidity, uid, message_id, date, from_addr,
    from_name, subject, excerpt, list_id, category, rule, why, observe, assistant, action,
    status, detail, decided_at, date_written FROM ledger";

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let category: String = r.get(11)?;
    let action: String = r.get(16)?;
    let status: String = r.get(17)?;
    Ok(Entry {
        id: r.get(0)?,
        mailbox: r.get(1)?,
        uidvalidity: r.get(2)?,
        entry: NewEntry {
            uid: r.get(3)?,
            message_id: r.get(4)?,
            date: r.get(5)?,
            date_written: r.get(20)?,
            from_addr: r.get(6)?,
            from_name: r.get(7)?,
            subject: r.get(8)?,
            excerpt: r.get(9)?,
            list_id: r.get(10)?,
            category: category.parse().unwrap_or(Category::Strategic),
            rule: r.get(12)?,
            why: r.get(13)?,
            observe: r.get(14)?,
            assistant: r.get(15)?,
            action: Action::decode(&action),
        },
        status: Status::decode(&status),
        detail: r.get(18)?,
        decided_at: r.get(19)?,
    })
}

fn set_cursor(conn: &Connection, account: &str, mailbox: &str, c: Cursor) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO cursor (account, mailbox, uidvalidity, last_uid, since) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account, mailbox) DO UPDATE SET uidvalidity = ?3, last_uid = ?4, since = ?5",
        params![account, mailbox, c.uidvalidity, c.last_uid, c.since],
    )?;
    Ok(())
}

fn set_status(
    tx: &Transaction<'_>,
    outcomes: &[(i64, Status, Option<String>)],
    now: i64,
) -> anyhow::Result<()> {
    // A pass settles thousands of rows, nearly all without a detail: those go in one
    // statement per status, the ids passed as a JSON array.
    let mut plain: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut update = tx
        .prepare_cached("UPDATE ledger SET status = ?2, detail = ?3, done_at = ?4 WHERE id = ?1")?;
    for (id, status, detail) in outcomes {
        match detail {
            None => plain.entry(status.as_str()).or_default().push(*id),
            Some(_) => {
                update.execute(params![id, status.as_str(), detail, now])?;
            }
        }
    }
    let mut update_all = tx.prepare_cached(
        "UPDATE ledger SET status = ?1, detail = NULL, done_at = ?2
         WHERE id IN (SELECT value FROM json_each(?3))",
    )?;
    for (status, ids) in plain {
        let ids = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        update_all.execute(params![status, now, ids])?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(uid: u32, category: Category, action: Action) -> NewEntry {
        NewEntry {
            uid,
            message_id: Some(format!("m{uid}@x.example")),
            date: Some(1_700_000_000),
            date_written: None,
            from_addr: "a@x.example".into(),
            from_name: Some("A".into()),
            subject: format!("subject {uid}"),
            excerpt: "hello".into(),
            list_id: None,
            category,
            rule: Some("r".into()),
            why: "because".into(),
            observe: false,
            assistant: None,
            action,
        }
    }

    #[test]
    fn migrations_run_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/state.db");
        State::open(&path).expect("creates");
        let state = State::open(&path).expect("reopens");
        let version: usize = state
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len());
    }

    #[test]
    fn a_newer_schema_is_refused_with_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 999).expect("set");
        drop(conn);
        let err = State::open(&path).err().expect("refused");
        assert!(format!("{err:#}").contains("upgrade delega"));
    }

    #[test]
    fn a_decision_with_nothing_to_do_is_recorded_done() {
        let mut s = State::in_memory().expect("db");
        s.record(
            "g",
            "INBOX",
            7,
            &[
                entry(1, Category::Delegable, Action::Nothing),
                entry(2, Category::Strategic, Action::Keep),
            ],
            &|_| None,
            100,
        )
        .expect("recorded");
        let pending: Vec<u32> = s
            .pending("g")
            .expect("pending")
            .iter()
            .map(|e| e.entry.uid)
            .collect();
        assert_eq!(pending, [2]);
        let rows = s.entries_between("g", 0, 1000).expect("rows");
        assert_eq!(rows[0].status, Status::Done);
    }

    #[test]
    fn completing_sets_each_rows_own_status_and_detail() {
        let mut s = State::in_memory().expect("db");
        let entries: Vec<NewEntry> = (1..=5)
            .map(|uid| entry(uid, Category::Noise, Action::File("Noise".into())))
            .collect();
        let ids = s
            .record("g", "INBOX", 7, &entries, &|_| None, 100)
            .expect("recorded")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<i64>>();
        s.complete(
            "g",
            &[
                (ids[0], Status::Done, None),
                (ids[1], Status::Failed, Some("550 refused".into())),
                (ids[2], Status::Done, None),
                (ids[3], Status::Failed, None),
            ],
            None,
            101,
        )
        .expect("completed");
        let rows = s.entries_between("g", 0, 1000).expect("rows");
        let got: Vec<(Status, Option<&str>)> = rows
            .iter()
            .map(|r| (r.status, r.detail.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Status::Done, None),
                (Status::Failed, Some("550 refused")),
                (Status::Done, None),
                (Status::Failed, None),
                (Status::Pending, None),
            ]
        );
    }

    #[test]
    fn recorded_rows_are_pending_until_completed_with_the_cursor() {
        let mut s = State::in_memory().expect("db");
        let ids = s
            .record(
                "g",
                "INBOX",
                7,
                &[
                    entry(10, Category::Noise, Action::File("Noise".into())),
                    entry(11, Category::Strategic, Action::Keep),
                ],
                &|_| None,
                100,
            )
            .expect("recorded")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<i64>>();
        assert_eq!(s.pending("g").expect("pending").len(), 2);
        assert_eq!(s.cursor("g", "INBOX").expect("cursor"), None);

        let cursor = Cursor {
            uidvalidity: 7,
            last_uid: 11,
            since: 50,
        };
        s.complete(
            "g",
            &[(ids[0], Status::Done, None), (ids[1], Status::Done, None)],
            Some(("INBOX", cursor)),
            101,
        )
        .expect("completed");
        assert!(s.pending("g").expect("pending").is_empty());
        assert_eq!(s.cursor("g", "INBOX").expect("cursor"), Some(cursor));

        let recorded = |uidvalidity, uids: &[u32]| {
            let mut found: Vec<u32> = s
                .recorded_uids("g", "INBOX", uidvalidity, uids)
                .expect("query")
                .into_iter()
                .collect();
            found.sort_unstable();
            found
        };
        assert_eq!(recorded(7, &[9, 10, 11, 12]), [10, 11]);
        assert_eq!(recorded(7, &[10, 12]), [10], "only the UIDs asked about");
        assert!(recorded(8, &[10, 11]).is_empty(), "another numbering");
        assert!(recorded(7, &[]).is_empty());
        let row = s
            .entry_by_uid("g", "INBOX", 7, 10)
            .expect("query")
            .expect("row");
        assert_eq!(row.entry.action, Action::File("Noise".into()));
        assert_eq!(row.status, Status::Done);
        let by_id = s
            .entry_by_message_id("g", "m11@x.example")
            .expect("query")
            .expect("row");
        assert_eq!(by_id.entry.category, Category::Strategic);
        assert_eq!(s.entries_between("g", 100, 101).expect("range").len(), 2);
        let counts = s.decided_counts("g", 100, 101).expect("counts");
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [(Category::Strategic, 1), (Category::Noise, 1)]
        );
        assert!(s.decided_counts("g", 101, 200).expect("counts").is_empty());
        assert!(
            s.entries_between("other", 0, 1000)
                .expect("range")
                .is_empty()
        );
    }

    #[test]
    fn the_same_uid_cannot_be_recorded_twice() {
        let mut s = State::in_memory().expect("db");
        let e = entry(10, Category::Noise, Action::File("Noise".into()));
        s.record("g", "INBOX", 7, std::slice::from_ref(&e), &|_| None, 1)
            .expect("first");
        assert!(s.record("g", "INBOX", 7, &[e], &|_| None, 2).is_err());
    }

    #[test]
    fn events_update_the_account_status() {
        let s = State::in_memory().expect("db");
        s.record_check("g", 10).expect("check");
        s.record_event("g", "imap", "connection refused", 20)
            .expect("event");
        assert_eq!(
            s.account_status("g").expect("status"),
            (Some(10), Some("imap: connection refused".into()), Some(20))
        );
        assert_eq!(s.events_between("g", 0, 30).expect("events").len(), 1);
    }
}
