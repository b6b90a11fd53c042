//! The ledger: one row per message delega decided about, written before anything is done.
//!
//! [`State::record`] writes a batch of decisions (and the outbox row and task of each forward)
//! in one transaction; [`State::complete`] marks them done or failed and advances the cursor
//! in another. Between the two, a crash leaves pending rows that the next pass redoes.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use rusqlite::{OptionalExtension, Transaction, params};

use super::cursor::{Cursor, set_cursor};
use super::{OutboxRow, State, outbox, tasks};
use crate::classify::Category;
use crate::reason::Reason;

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
    /// Why, as data, when the decision is not what the rules alone would say (stored in
    /// its own column; put into words by the digest).
    pub reason: Option<Reason>,
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
    pub decision: NewEntry,
    /// Where the action stands.
    pub status: Status,
    /// Why it failed, or what was done.
    pub detail: Option<String>,
    /// When it was decided (Unix time).
    pub decided_at: i64,
}

impl State {
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

    /// Records why a planned forward of row `id` will not go out, as the row's reason: the
    /// digest says it in its language, with or without an outbox row.
    pub fn ledger_not_sent(&self, id: i64, why: &crate::reason::NotSent) -> anyhow::Result<()> {
        let reason = Reason::NotSent(why.clone()).to_json();
        self.conn
            .prepare_cached("UPDATE ledger SET reason = ?2 WHERE id = ?1")?
            .execute(params![id, reason])?;
        Ok(())
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
                    observe, assistant, action, status, decided_at, done_at, date_written,
                    reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
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
                    e.reason.as_ref().map(Reason::to_json),
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
}

/// The columns [`entry_row`] reads, in its order.
macro_rules! entry_columns {
    () => {
        "id, mailbox, uidvalidity, uid, message_id, date, from_addr,
    from_name, subject, excerpt, list_id, category, rule, why, observe, assistant, action,
    status, detail, decided_at, date_written, reason"
    };
}
/// The columns [`entry_row`] reads, to select with more after them.
pub(super) const ENTRY_COLUMNS: &str = entry_columns!();
pub(super) const SELECT_ENTRY: &str = concat!("SELECT ", entry_columns!(), " FROM ledger");

pub(super) fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let category: String = r.get(11)?;
    let action: String = r.get(16)?;
    let status: String = r.get(17)?;
    Ok(Entry {
        id: r.get(0)?,
        mailbox: r.get(1)?,
        uidvalidity: r.get(2)?,
        decision: NewEntry {
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
            reason: r
                .get::<_, Option<String>>(21)?
                .as_deref()
                .and_then(Reason::from_json),
            observe: r.get(14)?,
            assistant: r.get(15)?,
            action: Action::decode(&action),
        },
        status: Status::decode(&status),
        detail: r.get(18)?,
        decided_at: r.get(19)?,
    })
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
