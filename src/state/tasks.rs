//! The task table: each forward is a task with a reference, a state and its history.
//!
//! A task row is written with its forward's outbox row, in the transaction that records
//! the decision, so every forward has its task from the start. Its state is a column
//! ([`TaskState`]); every change is a `task_event` row (the mail or the command that made
//! it, once per mail), so the history stays. Due times and reminders are worked out from
//! the config (`config::Account::task_due`, `triage::follow_up`); this file only stores and
//! reads.

use rusqlite::{Connection, OptionalExtension, params};

use super::{OutboxState, State};
use crate::reason::{NotSent, Reason};
use crate::task::{Event, Forwarded, NoChange, Reference, TaskRow, TaskState};

/// Migration: the tables, and a task for every forward already made (`open` while it is
/// still to be sent, `unknown` once sent: delega did not watch for its answer then). The
/// reference is [`Reference::of`] the task's number, computed here in SQL (the same
/// scrambling, in Crockford's base32).
pub(super) const MIGRATION: &str = "
    CREATE TABLE task (
        id           INTEGER PRIMARY KEY,
        account      TEXT NOT NULL,
        number       INTEGER NOT NULL,
        reference    TEXT NOT NULL,
        ledger_id    INTEGER NOT NULL UNIQUE REFERENCES ledger (id),
        assistant    TEXT NOT NULL,
        state        TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        answered_at  INTEGER,
        closed_at    INTEGER,
        reminded_day TEXT,
        reminded_at  INTEGER,
        reminders    INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, number),
        UNIQUE (account, reference)
    );
    CREATE INDEX task_account_state ON task (account, state);
    CREATE INDEX task_account_closed ON task (account, closed_at);
    CREATE TABLE task_event (
        id         INTEGER PRIMARY KEY,
        task_id    INTEGER NOT NULL REFERENCES task (id),
        at         INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        state      TEXT NOT NULL,
        message_id TEXT,
        UNIQUE (task_id, kind, message_id)
    );
    CREATE TABLE task_number AS
        SELECT outbox_id, n, (m | 369609) - (m & 369609) AS v
        FROM (SELECT outbox_id, n, (n * 648117) & 1048575 AS m
            FROM (SELECT o.id AS outbox_id,
                    ROW_NUMBER() OVER (PARTITION BY o.account ORDER BY o.id) AS n
                FROM outbox o));
    INSERT INTO task (account, number, reference, ledger_id, assistant, state, created_at)
        SELECT o.account, x.n,
            'T-' || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((x.v >> 15) & 31) + 1, 1)
                || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((x.v >> 10) & 31) + 1, 1)
                || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((x.v >> 5) & 31) + 1, 1)
                || substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', (x.v & 31) + 1, 1),
            o.ledger_id, o.assistant,
            CASE WHEN o.state = 'sent' THEN 'unknown' ELSE 'open' END,
            o.created_at
        FROM outbox o JOIN task_number x ON x.outbox_id = o.id;
    DROP TABLE task_number;";

/// Migration: a task's due time is stored when it is made (`due_fixed`), so that a later
/// change of `due` in the config moves no deadline already given. The tasks made before
/// cannot be fixed here (the state database does not know the config): they are left
/// `due_fixed = 0`, and fixed once from the config at their account's first start
/// ([`State::fix_task_dues`]); until then their due is worked out from the config as before.
pub(super) const DUE_MIGRATION: &str = "
    ALTER TABLE task ADD COLUMN due_at INTEGER;
    ALTER TABLE task ADD COLUMN due_fixed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX task_due_unfixed ON task (account) WHERE due_fixed = 0;";

/// Which tasks to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only these states (all when empty).
    pub states: Vec<TaskState>,
    /// Only this assistant's.
    pub assistant: Option<String>,
    /// Only those closed at or after this time.
    pub closed_since: Option<i64>,
}

/// The task's number for the next task of an account, and its reference.
fn next_number(conn: &Connection, account: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM task WHERE account = ?1")?
        .query_row(params![account], |r| r.get(0))
}

/// Opens the task of a forward, inside the transaction that plans it. Its due time is
/// fixed right after, by whoever knows the config ([`State::fix_task_dues`]).
pub(super) fn open(
    conn: &Connection,
    ledger_id: i64,
    account: &str,
    assistant: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let number = next_number(conn, account)?;
    let reference = Reference::of(u64::try_from(number).unwrap_or(1));
    conn.prepare_cached(
        "INSERT INTO task (account, number, reference, ledger_id, assistant, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6)",
    )?
    .execute(params![
        account,
        number,
        reference.as_str(),
        ledger_id,
        assistant,
        now
    ])?;
    Ok(())
}

// The forward's state, reason and error say whether the task reached its assistant; the
// last column is the task made when the same message was delegated again after this one.
const SELECT_TASK: &str = "SELECT t.id, t.account, t.reference, t.ledger_id, t.assistant,
    t.state, t.created_at, t.answered_at, t.closed_at, t.reminded_day, t.reminders,
    l.subject, l.from_addr, l.rule, o.forward_id, o.state, o.reason, o.last_error,
    (SELECT t2.reference FROM ledger l2 JOIN task t2 ON t2.ledger_id = l2.id
        WHERE l.message_id IS NOT NULL AND l2.account = t.account
            AND l2.message_id = l.message_id AND t2.id > t.id
        ORDER BY t2.id LIMIT 1),
    t.due_at, t.due_fixed
    FROM task t JOIN ledger l ON l.id = t.ledger_id JOIN outbox o ON o.ledger_id = t.ledger_id";

fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    let reference: String = r.get(2)?;
    let state: String = r.get(5)?;
    let forward = match OutboxState::decode(&r.get::<_, String>(15)?) {
        OutboxState::Sent => Forwarded::Sent,
        OutboxState::Pending | OutboxState::InDoubt => Forwarded::Waiting,
        OutboxState::Failed => {
            let reason = match r
                .get::<_, Option<String>>(16)?
                .as_deref()
                .map(Reason::from_json)
            {
                Some(Some(Reason::NotSent(why))) => Some(why),
                _ => None,
            };
            let error: Option<String> = r.get(17)?;
            Forwarded::NotSent {
                error: error.unwrap_or_else(|| NotSent::Refused.to_string()),
                reason,
            }
        }
    };
    let redelegated: Option<String> = r.get(18)?;
    Ok(TaskRow {
        id: r.get(0)?,
        account: r.get(1)?,
        reference: Reference::parse(&reference).unwrap_or_else(|| Reference::of(0)),
        ledger_id: r.get(3)?,
        assistant: r.get(4)?,
        // A state a newer delega wrote: shown as not known rather than guessed.
        state: TaskState::parse(&state).unwrap_or(TaskState::Unknown),
        created_at: r.get(6)?,
        due_at: r.get(19)?,
        due_fixed: r.get(20)?,
        answered_at: r.get(7)?,
        closed_at: r.get(8)?,
        reminded_day: r.get(9)?,
        reminders: r.get(10)?,
        subject: r.get(11)?,
        from_addr: r.get(12)?,
        rule: r.get(13)?,
        forward_id: r.get(14)?,
        forward,
        redelegated: redelegated.as_deref().and_then(Reference::parse),
    })
}

impl State {
    /// The task of a forward decision.
    pub fn task_for(&self, ledger_id: i64) -> anyhow::Result<Option<TaskRow>> {
        let sql = format!("{SELECT_TASK} WHERE t.ledger_id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![ledger_id], task_row)
            .optional()?)
    }

    /// An account's task by its reference.
    pub fn task_by_reference(
        &self,
        account: &str,
        reference: &Reference,
    ) -> anyhow::Result<Option<TaskRow>> {
        let sql = format!("{SELECT_TASK} WHERE t.account = ?1 AND t.reference = ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![account, reference.as_str()], task_row)
            .optional()?)
    }

    /// An account's task by its forward id.
    pub fn task_by_forward_id(
        &self,
        account: &str,
        forward_id: &str,
    ) -> anyhow::Result<Option<TaskRow>> {
        let sql = format!("{SELECT_TASK} WHERE t.account = ?1 AND o.forward_id = ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![account, forward_id], task_row)
            .optional()?)
    }

    /// An account's tasks, oldest first; those whose forward was refused for good too
    /// ([`TaskRow::not_sent`]).
    pub fn tasks(&self, account: &str, filter: &TaskFilter) -> anyhow::Result<Vec<TaskRow>> {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let sql = format!(
            "{SELECT_TASK} WHERE t.account = ?1
                AND (?2 = '[]' OR t.state IN (SELECT value FROM json_each(?2)))
                AND (?3 IS NULL OR t.assistant = ?3)
                AND (?4 IS NULL OR t.closed_at >= ?4)
             ORDER BY t.created_at, t.id"
        );
        let states = serde_json::to_string(&states)?;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![account, states, filter.assistant, filter.closed_since],
            task_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies `event` to a task, recording it with the mail that made it (`message_id`;
    /// a mail counts once, so a message seen again changes nothing). Returns the new state,
    /// or why nothing changed.
    pub fn task_apply(
        &mut self,
        task_id: i64,
        event: Event,
        message_id: Option<&str>,
        now: i64,
    ) -> anyhow::Result<Result<TaskState, NoChange>> {
        let tx = self.conn.transaction()?;
        let state: String = tx.query_row(
            "SELECT state FROM task WHERE id = ?1",
            params![task_id],
            |r| r.get(0),
        )?;
        let state = TaskState::parse(&state).unwrap_or(TaskState::Unknown);
        let seen: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM task_event WHERE task_id = ?1 AND kind = ?2
                AND message_id = ?3)",
            params![task_id, event_kind(event), message_id],
            |r| r.get(0),
        )?;
        if seen {
            return Ok(Err(NoChange(state)));
        }
        let next = match state.apply(event) {
            Ok(next) => next,
            Err(no) => return Ok(Err(no)),
        };
        tx.execute(
            "UPDATE task SET state = ?2,
                answered_at = CASE WHEN ?2 = 'answered' THEN COALESCE(answered_at, ?3)
                    ELSE answered_at END,
                closed_at = CASE WHEN ?2 IN ('done', 'dropped') THEN ?3 ELSE NULL END
             WHERE id = ?1",
            params![task_id, next.as_str(), now],
        )?;
        tx.execute(
            "INSERT INTO task_event (task_id, at, kind, state, message_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![task_id, now, event_kind(event), next.as_str(), message_id],
        )?;
        tx.commit()?;
        Ok(Ok(next))
    }

    /// Fixes the due time of the account's tasks that have none fixed yet, with `due_of`
    /// (the config's answer, `config::Account::due_at`), in one transaction: the tasks just
    /// recorded, and at an account's first start after the upgrade those made before due
    /// times were stored. A fixed due time is never changed again. Returns how many.
    pub fn fix_task_dues(
        &mut self,
        account: &str,
        due_of: &dyn Fn(&TaskRow) -> Option<i64>,
    ) -> anyhow::Result<usize> {
        let tx = self.conn.transaction()?;
        let unfixed: Vec<TaskRow> = {
            let sql = format!("{SELECT_TASK} WHERE t.account = ?1 AND t.due_fixed = 0");
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![account], task_row)?;
            rows.collect::<Result<_, _>>()?
        };
        {
            let mut fix = tx.prepare_cached(
                "UPDATE task SET due_at = ?2, due_fixed = 1 WHERE id = ?1 AND due_fixed = 0",
            )?;
            for task in &unfixed {
                fix.execute(params![task.id, due_of(task)])?;
            }
        }
        tx.commit()?;
        Ok(unfixed.len())
    }

    /// Records a reminder sent on the local day `day`.
    pub fn task_reminded(&self, task_id: i64, day: &str, now: i64) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE task SET reminded_day = ?2, reminded_at = ?3, reminders = reminders + 1
             WHERE id = ?1",
            params![task_id, day, now],
        )?;
        self.conn.execute(
            "INSERT INTO task_event (task_id, at, kind, state, message_id)
             SELECT id, ?2, 'reminded', state, NULL FROM task WHERE id = ?1",
            params![task_id, now],
        )?;
        Ok(())
    }

    /// When each of the account's reminders sent since `since` went out, oldest first: the
    /// hourly limit's share of reminders (`delivery::hourly_limit` counts them with the
    /// forwards).
    pub fn reminder_send_times(&self, account: &str, since: i64) -> anyhow::Result<Vec<i64>> {
        let mut query = self.conn.prepare_cached(
            "SELECT e.at FROM task_event e JOIN task t ON t.id = e.task_id
             WHERE t.account = ?1 AND e.kind = 'reminded' AND e.at >= ?2 ORDER BY e.at",
        )?;
        let times = query.query_map(params![account, since], |r| r.get(0))?;
        Ok(times.collect::<Result<_, _>>()?)
    }
}

fn event_kind(event: Event) -> &'static str {
    match event {
        Event::Replied => "replied",
        Event::DoneByMail => "done_by_mail",
        Event::Done => "done",
        Event::Drop => "drop",
        Event::Reopen => "reopen",
    }
}

#[cfg(test)]
mod tests {
    use super::super::Action;
    use super::super::schema::MIGRATIONS;
    use super::super::tests::entry;
    use super::*;
    use crate::classify::Category;

    fn forward(s: &mut State, uid: u32, now: i64) -> i64 {
        let mut e = entry(
            uid,
            Category::Delegable,
            Action::Forward("Delegated".into()),
        );
        e.assistant = Some("marta".into());
        s.record(
            "g",
            "INBOX",
            1,
            &[e],
            &|_| Some("marta@office.example".into()),
            now,
        )
        .expect("recorded")[0]
            .id
    }

    #[test]
    fn every_forward_gets_a_task_with_its_own_reference() {
        let mut s = State::in_memory().expect("db");
        let a = forward(&mut s, 1, 100);
        let b = forward(&mut s, 2, 200);
        let (ta, tb) = (
            s.task_for(a).expect("q").expect("task"),
            s.task_for(b).expect("q").expect("task"),
        );
        assert_eq!(ta.reference, Reference::of(1));
        assert_eq!(tb.reference, Reference::of(2));
        assert_eq!(
            (ta.state, ta.created_at, ta.assistant.as_str()),
            (TaskState::Open, 100, "marta")
        );
        assert_eq!(
            s.task_by_reference("g", &ta.reference).expect("q"),
            Some(ta.clone())
        );
        assert_eq!(
            s.task_by_reference("other", &ta.reference).expect("q"),
            None
        );
        assert_eq!(
            s.task_by_forward_id("g", &tb.forward_id).expect("q"),
            Some(tb)
        );
        assert_eq!(s.tasks("g", &TaskFilter::default()).expect("all").len(), 2);
    }

    #[test]
    fn a_mail_moves_a_task_once_and_the_history_stays() {
        let mut s = State::in_memory().expect("db");
        let ledger_id = forward(&mut s, 1, 100);
        let t = s.task_for(ledger_id).expect("q").expect("task");
        let replied = s
            .task_apply(t.id, Event::Replied, Some("r1@x"), 150)
            .expect("apply");
        assert_eq!(replied, Ok(TaskState::Answered));
        assert_eq!(
            s.task_apply(t.id, Event::Replied, Some("r1@x"), 151)
                .expect("again"),
            Err(NoChange(TaskState::Answered))
        );
        assert_eq!(
            s.task_apply(t.id, Event::DoneByMail, Some("d1@x"), 160)
                .expect("done"),
            Ok(TaskState::Done)
        );
        let done = s.task_for(t.ledger_id).expect("q").expect("task");
        assert_eq!((done.answered_at, done.closed_at), (Some(150), Some(160)));
        let only_done = TaskFilter {
            states: vec![TaskState::Done],
            ..TaskFilter::default()
        };
        assert_eq!(s.tasks("g", &only_done).expect("done").len(), 1);
        assert_eq!(
            s.task_apply(t.id, Event::Reopen, None, 170)
                .expect("reopen"),
            Ok(TaskState::Open)
        );
        let events: u32 = s
            .conn
            .query_row("SELECT COUNT(*) FROM task_event", [], |r| r.get(0))
            .expect("count");
        assert_eq!(events, 3);
        assert_eq!(
            s.task_for(t.ledger_id).expect("q").expect("t").closed_at,
            None
        );
    }

    #[test]
    fn the_migration_makes_a_task_of_every_forward_already_made() {
        let conn = Connection::open_in_memory().expect("db");
        let before = MIGRATIONS
            .iter()
            .position(|m| *m == MIGRATION)
            .expect("listed");
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", before)
            .expect("version");
        for (id, state) in [(1, "sent"), (2, "pending"), (3, "sent")] {
            conn.execute(
                "INSERT INTO ledger (id, account, mailbox, uidvalidity, uid, from_addr, subject,
                    excerpt, category, why, observe, action, status, decided_at)
                 VALUES (?1, 'g', 'INBOX', 1, ?1, 'a@x', 's', '', 'delegable', 'r', 0,
                    'forward:Delegated', 'done', 10)",
                params![id],
            )
            .expect("ledger");
            conn.execute(
                "INSERT INTO outbox (ledger_id, account, forward_id, assistant, address, state,
                    next_attempt_at, created_at) VALUES (?1, 'g', 'f' || ?1, 'marta', 'm@x', ?2, 0, 10)",
                params![id, state],
            )
            .expect("outbox");
        }
        let mut s = State::setup(conn).expect("migrated");
        let tasks = s.tasks("g", &TaskFilter::default()).expect("tasks");
        let got: Vec<(String, TaskState)> = tasks
            .iter()
            .map(|t| (t.reference.to_string(), t.state))
            .collect();
        assert_eq!(
            got,
            [
                (Reference::of(1).to_string(), TaskState::Unknown),
                (Reference::of(2).to_string(), TaskState::Open),
                (Reference::of(3).to_string(), TaskState::Unknown),
            ]
        );
        // New forwards go on numbering after the migrated ones.
        let next = forward(&mut s, 9, 100);
        assert_eq!(
            s.task_for(next).expect("q").expect("t").reference,
            Reference::of(4)
        );
    }

    #[test]
    fn a_due_time_is_fixed_once_and_never_moved_by_the_config() {
        let mut s = State::in_memory().expect("db");
        let ledger_id = forward(&mut s, 1, 100);
        let t = s.task_for(ledger_id).expect("q").expect("task");
        assert!(!t.due_fixed, "recorded: fixed right after, by triage");
        assert_eq!(
            s.fix_task_dues("g", &|t| Some(t.created_at + 3600))
                .expect("fix"),
            1
        );
        let t = s.task_for(ledger_id).expect("q").expect("task");
        assert_eq!((t.due_fixed, t.due_at), (true, Some(3700)));
        // The config says something else now: the task keeps its due time.
        assert_eq!(s.fix_task_dues("g", &|_| Some(1)).expect("fix"), 0);
        assert_eq!(
            s.task_for(ledger_id).expect("q").expect("t").due_at,
            Some(3700)
        );
        // No due at all is fixed as such.
        let other = forward(&mut s, 2, 200);
        assert_eq!(s.fix_task_dues("g", &|_| None).expect("fix"), 1);
        let t = s.task_for(other).expect("q").expect("task");
        assert_eq!((t.due_fixed, t.due_at), (true, None));
    }

    #[test]
    fn migration_8_leaves_older_tasks_to_be_fixed_from_the_config() {
        let conn = Connection::open_in_memory().expect("db");
        let before = MIGRATIONS
            .iter()
            .position(|m| *m == DUE_MIGRATION)
            .expect("listed");
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", before)
            .expect("version");
        conn.execute_batch(
            "INSERT INTO ledger (id, account, mailbox, uidvalidity, uid, from_addr, subject,
                excerpt, category, why, observe, action, status, decided_at)
             VALUES (1, 'g', 'INBOX', 1, 1, 'a@x', 's', '', 'delegable', 'r', 0,
                'forward:Delegated', 'done', 10);
             INSERT INTO outbox (ledger_id, account, forward_id, assistant, address, state,
                next_attempt_at, created_at) VALUES (1, 'g', 'f1', 'marta', 'm@x', 'sent', 0, 10);
             INSERT INTO task (account, number, reference, ledger_id, assistant, state,
                created_at) VALUES ('g', 1, 'T-0001', 1, 'marta', 'open', 10);",
        )
        .expect("old rows");
        let mut s = State::setup(conn).expect("migrated");
        let t = s
            .tasks("g", &TaskFilter::default())
            .expect("tasks")
            .remove(0);
        assert_eq!((t.due_fixed, t.due_at), (false, None));
        assert_eq!(
            s.fix_task_dues("g", &|t| Some(t.created_at + 60))
                .expect("fix"),
            1
        );
        let t = s
            .tasks("g", &TaskFilter::default())
            .expect("tasks")
            .remove(0);
        assert_eq!((t.due_fixed, t.due_at), (true, Some(70)));
    }
}
