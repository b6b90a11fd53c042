//! Outbox rows: the forwards delega has decided to send, and where each one stands.
//!
//! A row is written with its ledger row (`pending`) and stays pending through connecting,
//! MAIL, RCPT and DATA: a crash or a failure there means the server has nothing, and the
//! forward is simply sent again. Only once the server says "go ahead" to DATA is the row
//! set `in_doubt` (committed before the first byte of the message goes out), and `sent`
//! once the server accepted it. A row found `in_doubt` (delega died, or no reply came)
//! may have reached the assistant: it is sent again as the same forward (same Message-ID),
//! and its `interrupted` count makes the digest and `status` say it may have gone twice.
//! At least once, never silently lost: mail's own rule (RFC 5321 §6.1).

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};

use super::State;
use crate::reason::{NotSent, Reason};

/// Where a forward stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Not sent yet; tried again at `next_attempt_at`.
    Pending,
    /// The message is being handed over (from DATA's go-ahead to the server's reply): if
    /// this is found later, the server may have it.
    InDoubt,
    /// The server accepted it.
    Sent,
    /// The server refused it for good (5xx).
    Failed,
}

impl OutboxState {
    fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::InDoubt => "in_doubt",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub(super) fn decode(s: &str) -> Self {
        match s {
            "in_doubt" => OutboxState::InDoubt,
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            _ => OutboxState::Pending,
        }
    }
}

/// One planned forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The ledger row of the message forwarded.
    pub ledger_id: i64,
    /// The forward id, in the forward's header and Message-ID.
    pub forward_id: String,
    /// The assistant's id.
    pub assistant: String,
    /// The assistant's address when the forward was planned.
    pub address: String,
    /// Where it stands.
    pub state: OutboxState,
    /// SMTP attempts that did not end in the server's acceptance.
    pub attempts: u32,
    /// When to try next (Unix time).
    pub next_attempt_at: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Why delega itself gave the forward up, as data (`last_error` then holds its English
    /// form, for logs); `None` when the server's own words are all there is.
    pub reason: Option<NotSent>,
    /// Sends cut off between the end of the message and the server's reply: each may have
    /// reached the assistant, so a forward with any is one that may have gone twice.
    pub interrupted: u32,
}

impl OutboxRow {
    /// True when the assistant may have received this forward more than once (or, still
    /// waiting, already once).
    pub fn may_be_duplicate(&self) -> bool {
        self.interrupted > 0
    }
}

/// Plans a forward, inside the transaction that records its decision; returns its row.
pub(super) fn enqueue(
    conn: &Connection,
    ledger_id: i64,
    account: &str,
    assistant: &str,
    address: &str,
    now: i64,
) -> rusqlite::Result<OutboxRow> {
    // Unique across accounts, restarts and databases: the ledger id never repeats in a
    // database, and 48 random bits (SQLite's generator, seeded by the OS) tell databases
    // apart (two offices with an account of the same name; a database started afresh).
    conn.prepare_cached(
        "INSERT INTO outbox (ledger_id, account, forward_id, assistant, address, state,
            next_attempt_at, created_at)
         VALUES (?1, ?2, ?2 || '.' || ?1 || '.' || lower(hex(randomblob(6))), ?3, ?4,
            'pending', ?5, ?5)
         RETURNING id, ledger_id, forward_id, assistant, address, state, attempts,
            next_attempt_at, last_error, interrupted, reason",
    )?
    .query_row(params![ledger_id, account, assistant, address, now], row)
}

const SELECT_ROW: &str = "SELECT id, ledger_id, forward_id, assistant, address, state, attempts,
    next_attempt_at, last_error, interrupted, reason FROM outbox";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let state: String = r.get(5)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        ledger_id: r.get(1)?,
        forward_id: r.get(2)?,
        assistant: r.get(3)?,
        address: r.get(4)?,
        state: OutboxState::decode(&state),
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        interrupted: r.get(9)?,
        reason: match r
            .get::<_, Option<String>>(10)?
            .as_deref()
            .map(Reason::from_json)
        {
            Some(Some(Reason::NotSent(why))) => Some(why),
            _ => None,
        },
    })
}

impl State {
    /// One write of a send's progress (in doubt, sent, waiting, refused), committed with
    /// `synchronous = NORMAL`: in WAL mode the commit is in the WAL file when this returns,
    /// so it survives any end of delega itself (kill -9, OOM, a panic, systemd's SIGKILL),
    /// which is the crash the guarantees are about; only the disk flush is left for later.
    /// That flush (two per forward with FULL) was most of a forward's cost beside Postfix's
    /// own. What a power cut could still take back is bounded, and loses no task:
    /// - the forward's row and id were flushed with its decision ([`State::record`] commits
    ///   with FULL before any send), so a send that left no trace is made again as the same
    ///   forward (same Message-ID: recognisable, and dropped by providers that de-duplicate);
    /// - the original leaves the Inbox only after [`State::sync_sends`] (triage's filing),
    ///   so a forward is never taken as unsent while its message is already filed;
    /// - the one thing a power cut inside a DATA phase can lose is the in-doubt mark of that
    ///   send, so its copy would not be flagged (the copy itself still arrives, recognisable).
    ///
    /// SQLite keeps the WAL's commits in order and whole: a later one never survives an
    /// earlier one.
    fn relaxed(&self, sql: &str, params: impl rusqlite::Params) -> anyhow::Result<usize> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let written = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params));
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(written?)
    }

    /// Flushes to disk what the sends recorded so far (the WAL file), before the server
    /// work that relies on them: one flush for a whole filing, not two per forward.
    pub fn sync_sends(&self) -> anyhow::Result<()> {
        let Some(db) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(()); // in memory
        };
        let wal = format!("{db}-wal");
        match std::fs::File::open(&wal) {
            // fsync flushes the file's pages whichever descriptor wrote them.
            Ok(file) => file
                .sync_data()
                .with_context(|| format!("cannot flush {wal} to disk")),
            // Checkpointed and removed: its commits are in the database file, flushed by
            // the checkpoint.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("cannot open {wal}"))),
        }
    }

    /// The forward planned for a ledger row, if any.
    pub fn outbox_for(&self, ledger_id: i64) -> anyhow::Result<Option<OutboxRow>> {
        let sql = format!("{SELECT_ROW} WHERE ledger_id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![ledger_id], row)
            .optional()?)
    }

    /// Marks a forward as in doubt: the server said go ahead to DATA, the message is about
    /// to go out. Committed before the first byte of it does (see `State::relaxed`).
    pub fn outbox_in_doubt(&self, id: i64, now: i64) -> anyhow::Result<()> {
        self.relaxed(
            "UPDATE outbox SET state = 'in_doubt', next_attempt_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// Records a send cut off after the message went out and before the server's reply:
    /// the forward is pending again, to be sent anew as the same forward, and counted as
    /// one that may have gone twice.
    pub fn outbox_interrupted(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> anyhow::Result<()> {
        self.relaxed(
            "UPDATE outbox SET state = 'pending', interrupted = interrupted + 1,
                    attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
                 WHERE id = ?1",
            params![id, next_attempt_at, error],
        )?;
        Ok(())
    }

    /// Records a send that failed before the message went out (or that the server turned
    /// down with a 4xx): pending, tried again at `next_attempt_at`.
    pub fn outbox_attempted(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> anyhow::Result<()> {
        self.relaxed(
            "UPDATE outbox SET state = 'pending', attempts = attempts + 1,
                    next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, next_attempt_at, error],
        )?;
        Ok(())
    }

    /// Gives a forward up for a reason of delega's own (its assistant gone, its message
    /// gone, a forward that cannot be composed): failed, the reason kept as data.
    pub fn outbox_not_sent(&self, id: i64, why: &NotSent, now: i64) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET state = 'failed', next_attempt_at = ?2, last_error = ?3,
                    reason = ?4 WHERE id = ?1",
            )?
            .execute(params![
                id,
                now,
                why.to_string(),
                Reason::NotSent(why.clone()).to_json()
            ])?;
        Ok(())
    }

    /// Records the outcome of an attempt.
    pub fn outbox_update(
        &self,
        id: i64,
        state: OutboxState,
        next_attempt_at: i64,
        error: Option<&str>,
        now: i64,
    ) -> anyhow::Result<()> {
        let sent_at = (state == OutboxState::Sent).then_some(now);
        self.relaxed(
            "UPDATE outbox SET state = ?2, next_attempt_at = ?3, last_error = ?4,
                    sent_at = COALESCE(?5, sent_at)
                 WHERE id = ?1",
            params![id, state.as_str(), next_attempt_at, error, sent_at],
        )?;
        Ok(())
    }

    /// Makes every waiting forward of the account due now (an operator asked, or the server
    /// has just proved reachable again). Returns how many there are.
    pub fn outbox_due_now(&self, account: &str, now: i64) -> anyhow::Result<usize> {
        self.relaxed(
            "UPDATE outbox SET next_attempt_at = ?2
                 WHERE account = ?1 AND state = 'pending' AND next_attempt_at > ?2",
            params![account, now],
        )
    }

    /// When the server accepted each of the account's forwards sent since `since`, oldest
    /// first: the hourly limit's share of forwards (`delivery::hourly_limit` counts them with
    /// the reminders).
    pub fn forward_send_times(&self, account: &str, since: i64) -> anyhow::Result<Vec<i64>> {
        let mut query = self.conn.prepare_cached(
            "SELECT sent_at FROM outbox WHERE account = ?1 AND sent_at >= ?2 ORDER BY sent_at",
        )?;
        let times = query.query_map(params![account, since], |r| r.get(0))?;
        Ok(times.collect::<Result<_, _>>()?)
    }

    /// How many of the account's forwards are waiting and how many failed for good.
    pub fn outbox_counts(&self, account: &str) -> anyhow::Result<(u32, u32)> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE state IN ('pending', 'in_doubt')),
                    COUNT(*) FILTER (WHERE state = 'failed')
             FROM outbox WHERE account = ?1",
            params![account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The earliest retry time of the account's pending forwards.
    pub fn next_forward_due(&self, account: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE account = ?1 AND state = 'pending'",
            params![account],
            |r| r.get(0),
        )?)
    }

    /// True when a message with this Message-ID was already forwarded (or is being).
    pub fn already_forwarded(&self, account: &str, message_id: &str) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox o JOIN ledger l ON l.id = o.ledger_id
                    WHERE o.account = ?1 AND l.message_id = ?2
                    AND o.state IN ('pending', 'in_doubt', 'sent'))",
            )?
            .query_row(params![account, message_id], |r| r.get(0))?)
    }

    /// Every forward of the account that may have reached its assistant twice: those still
    /// waiting to be sent again, and those sent again in `[from, to)`; newest first, with
    /// the subject and decision time of the message. All of them, however many, for
    /// `status` and the digest.
    pub fn forwards_in_doubt(
        &self,
        account: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<InDoubt>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.forward_id, o.assistant, o.state, o.interrupted, l.subject, l.decided_at
             FROM outbox o JOIN ledger l ON l.id = o.ledger_id
             WHERE o.account = ?1 AND o.interrupted > 0
                AND (o.state != 'sent' OR (o.sent_at >= ?2 AND o.sent_at < ?3))
             ORDER BY l.decided_at DESC, o.id DESC",
        )?;
        let rows = stmt.query_map(params![account, from, to], |r| {
            let state: String = r.get(2)?;
            Ok(InDoubt {
                forward_id: r.get(0)?,
                assistant: r.get(1)?,
                state: OutboxState::decode(&state),
                interrupted: r.get(3)?,
                subject: r.get(4)?,
                decided_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// At start-up, with the instance lock held: a forward left `in_doubt` was cut off
    /// after the message went out (delega died before the reply). It is pending again, to
    /// be sent anew as the same forward, and counted as interrupted. Returns how many.
    pub fn settle_interrupted_sends(&self, account: &str, now: i64) -> anyhow::Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'pending', interrupted = interrupted + 1,
                attempts = attempts + 1, next_attempt_at = ?2
             WHERE account = ?1 AND state = 'in_doubt'",
            params![account, now],
        )?)
    }
}

/// A forward that may have reached its assistant more than once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InDoubt {
    /// The forward id (the left part of its Message-ID).
    pub forward_id: String,
    /// The assistant's id.
    pub assistant: String,
    /// Where it stands now (sent again, or waiting to be).
    pub state: OutboxState,
    /// How many sends were cut off after the message went out.
    pub interrupted: u32,
    /// The forwarded message's subject.
    pub subject: String,
    /// When the message was decided (Unix time).
    pub decided_at: i64,
}

#[cfg(test)]
mod tests {
    use super::super::tests::entry;
    use super::super::{Action, State};
    use super::*;
    use crate::classify::Category;

    fn state_with_forward() -> (State, i64) {
        let (s, recorded) = state_with_planned();
        (s, recorded.id)
    }

    fn state_with_planned() -> (State, crate::state::Recorded) {
        let mut s = State::in_memory().expect("db");
        let mut e = entry(5, Category::Delegable, Action::Forward("Delegated".into()));
        e.assistant = Some("marta".into());
        let ids = s
            .record(
                "g",
                "INBOX",
                1,
                &[e],
                &|_| Some("marta@office.example".into()),
                100,
            )
            .expect("recorded");
        (s, ids.into_iter().next().expect("one"))
    }

    #[test]
    fn send_records_skip_the_flush_and_every_other_commit_keeps_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.db");
        let mut s = State::open(&path).expect("db");
        let mut e = entry(5, Category::Delegable, Action::Forward("Delegated".into()));
        e.assistant = Some("marta".into());
        let planned = s
            .record("g", "INBOX", 1, &[e], &|_| Some("m@x".into()), 100)
            .expect("recorded")
            .remove(0)
            .forward
            .expect("planned");
        let sync = |s: &State| -> i64 {
            s.conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .expect("pragma")
        };
        assert_eq!(sync(&s), 2, "FULL");
        s.outbox_in_doubt(planned.id, 101).expect("in doubt");
        s.outbox_update(planned.id, OutboxState::Sent, 102, None, 102)
            .expect("sent");
        assert_eq!(sync(&s), 2, "FULL again after a send's records");
        s.sync_sends().expect("flushed");
        // What another process (the next start) reads back.
        let again = State::open(&path).expect("reopened");
        let row = again.outbox_for(planned.ledger_id).expect("query");
        assert_eq!(row.map(|r| r.state), Some(OutboxState::Sent));
        State::in_memory()
            .expect("db")
            .sync_sends()
            .expect("nothing to flush");
    }

    #[test]
    fn a_forward_decision_plans_its_outbox_row_atomically() {
        let (s, recorded) = state_with_planned();
        let ledger_id = recorded.id;
        let row = s.outbox_for(ledger_id).expect("query").expect("planned");
        assert_eq!(
            recorded.forward.as_ref(),
            Some(&row),
            "handed back as written"
        );
        assert_eq!(row.state, OutboxState::Pending);
        assert_eq!(row.address, "marta@office.example");
        assert!(row.forward_id.starts_with(&format!("g.{ledger_id}.")));
        assert_eq!(s.next_forward_due("g").expect("due"), Some(100));
        assert!(s.already_forwarded("g", "m5@x.example").expect("query"));
        assert!(!s.already_forwarded("g", "other@x.example").expect("query"));
    }

    #[test]
    fn an_unknown_assistant_aborts_the_whole_batch() {
        let mut s = State::in_memory().expect("db");
        let mut e = entry(5, Category::Delegable, Action::Forward("Delegated".into()));
        e.assistant = Some("ghost".into());
        assert!(s.record("g", "INBOX", 1, &[e], &|_| None, 100).is_err());
        assert!(s.pending("g").expect("pending").is_empty());
    }

    #[test]
    fn a_send_cut_off_in_its_data_phase_is_sent_again_and_flagged() {
        let (s, ledger_id) = state_with_forward();
        let row = s.outbox_for(ledger_id).expect("query").expect("planned");
        s.outbox_in_doubt(row.id, 101).expect("in doubt");
        assert_eq!(s.outbox_counts("g").expect("counts"), (1, 0));
        assert_eq!(s.settle_interrupted_sends("g", 102).expect("settled"), 1);
        let again = s.outbox_for(ledger_id).expect("query").expect("row");
        assert_eq!(again.state, OutboxState::Pending);
        assert_eq!(again.forward_id, row.forward_id, "the same forward");
        assert_eq!((again.attempts, again.interrupted), (1, 1));
        assert!(again.may_be_duplicate());
        assert_eq!(s.next_forward_due("g").expect("due"), Some(102));
        assert!(s.forward_send_times("g", 0).expect("times").is_empty());
        let doubts = s.forwards_in_doubt("g", 0, i64::MAX).expect("doubts");
        assert_eq!(doubts.len(), 1);
        assert_eq!(doubts[0].state, OutboxState::Pending);

        s.outbox_update(again.id, OutboxState::Sent, 103, None, 103)
            .expect("sent");
        let sent = s.outbox_for(ledger_id).expect("query").expect("row");
        assert!(sent.may_be_duplicate(), "still shown as possibly twice");
        assert_eq!(
            s.forwards_in_doubt("g", 103, 104).expect("doubts")[0].interrupted,
            1
        );
        assert!(
            s.forwards_in_doubt("g", 104, 200)
                .expect("doubts")
                .is_empty()
        );
    }

    #[test]
    fn forward_ids_differ_between_databases() {
        let (a, la) = state_with_forward();
        let (b, lb) = state_with_forward();
        let fa = a.outbox_for(la).expect("query").expect("row").forward_id;
        let fb = b.outbox_for(lb).expect("query").expect("row").forward_id;
        assert_eq!(la, lb);
        assert_ne!(fa, fb);
        assert!(fa.starts_with(&format!("g.{la}.")), "{fa}");
    }

    #[test]
    fn migration_3_turns_unconfirmed_notes_and_sending_rows_into_interrupted_sends() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch(super::super::schema::MIGRATIONS[0])
            .expect("1");
        conn.execute_batch(super::super::schema::MIGRATIONS[1])
            .expect("2");
        conn.execute_batch(
            "INSERT INTO ledger (id, account, mailbox, uidvalidity, uid, from_addr, subject,
                excerpt, category, why, observe, action, status, decided_at)
             VALUES (1, 'g', 'INBOX', 1, 1, '', 's', '', 'delegable', '', 0, 'forward:D',
                'done', 1),
                (2, 'g', 'INBOX', 1, 2, '', 's', '', 'delegable', '', 0, 'forward:D',
                'pending', 1);
             INSERT INTO outbox (ledger_id, account, forward_id, assistant, address, state,
                next_attempt_at, last_error, created_at)
             VALUES (1, 'g', 'g.1.1', 'm', 'm@x', 'sent', 5,
                'unconfirmed: delega stopped while sending; check with the assistant', 1),
                (2, 'g', 'g.2.1', 'm', 'm@x', 'sending', 5, NULL, 1);",
        )
        .expect("old rows");
        conn.execute_batch(super::super::schema::MIGRATIONS[2])
            .expect("3");
        let rows: Vec<(String, u32, Option<String>)> = conn
            .prepare("SELECT state, interrupted, last_error FROM outbox ORDER BY id")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(
            rows,
            [("sent".into(), 1, None), ("pending".into(), 1, None)]
        );
    }
}
