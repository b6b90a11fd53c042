//! Outbox rows: the forwards delega has decided to send, and where each one stands.
//!
//! A row is written with its ledger row (`pending`), set to `sending` just before the SMTP
//! transaction, and to `sent` once the server accepted it. A row found `sending` at start-up
//! means delega died during or right after a send: it is taken as sent (never sent twice)
//! and flagged as unconfirmed, so the digest asks the entrepreneur to check.

use rusqlite::{Connection, OptionalExtension, params};

use super::State;

/// Where a forward stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Not sent yet; tried again at `next_attempt_at`.
    Pending,
    /// An SMTP transaction was started and not confirmed.
    Sending,
    /// The server accepted it.
    Sent,
    /// The server refused it for good (5xx).
    Failed,
}

impl OutboxState {
    fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    fn decode(s: &str) -> Self {
        match s {
            "sending" => OutboxState::Sending,
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
    /// SMTP attempts so far.
    pub attempts: u32,
    /// When to try next (Unix time).
    pub next_attempt_at: i64,
    /// The last failure, or a note on an unconfirmed send.
    pub last_error: Option<String>,
}

/// Plans a forward, inside the transaction that records its decision.
pub(super) fn enqueue(
    conn: &Connection,
    ledger_id: i64,
    account: &str,
    assistant: &str,
    address: &str,
    now: i64,
) -> rusqlite::Result<()> {
    // Unique across accounts and restarts: the ledger id never repeats in a database.
    let forward_id = format!("{account}.{ledger_id}.{now}");
    conn.prepare_cached(
        "INSERT INTO outbox (ledger_id, account, forward_id, assistant, address, state,
            next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )?
    .execute(params![
        ledger_id, account, forward_id, assistant, address, now
    ])?;
    Ok(())
}

const SELECT_ROW: &str = "SELECT id, ledger_id, forward_id, assistant, address, state, attempts,
    next_attempt_at, last_error FROM outbox";

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
    })
}

impl State {
    /// The forward planned for a ledger row, if any.
    pub fn outbox_for(&self, ledger_id: i64) -> anyhow::Result<Option<OutboxRow>> {
        let sql = format!("{SELECT_ROW} WHERE ledger_id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![ledger_id], row)
            .optional()?)
    }

    /// Marks a forward as being sent (committed before the SMTP transaction starts).
    pub fn outbox_sending(&self, id: i64, now: i64) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![id, now])?;
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
        self.conn
            .prepare_cached(
                "UPDATE outbox SET state = ?2, next_attempt_at = ?3, last_error = ?4,
                    sent_at = COALESCE(?5, sent_at)
                 WHERE id = ?1",
            )?
            .execute(params![id, state.as_str(), next_attempt_at, error, sent_at])?;
        Ok(())
    }

    /// Forwards the server accepted since `since`, for the hourly rate limit.
    pub fn forwards_sent_since(&self, account: &str, since: i64) -> anyhow::Result<u32> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE account = ?1 AND sent_at >= ?2")?
            .query_row(params![account, since], |r| r.get(0))?)
    }

    /// How many of the account's forwards are waiting and how many failed for good.
    pub fn outbox_counts(&self, account: &str) -> anyhow::Result<(u32, u32)> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE state IN ('pending', 'sending')),
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
                    AND o.state IN ('pending', 'sending', 'sent'))",
            )?
            .query_row(params![account, message_id], |r| r.get(0))?)
    }

    /// At start-up: forwards left `sending` by a crash are taken as sent, never resent,
    /// and flagged as unconfirmed. Returns how many there were.
    pub fn settle_interrupted_sends(&self, account: &str, now: i64) -> anyhow::Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?2,
                last_error = 'unconfirmed: delega stopped while sending; check with the assistant'
             WHERE account = ?1 AND state = 'sending'",
            params![account, now],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::entry;
    use super::super::{Action, State};
    use super::*;
    use crate::classify::Category;

    fn state_with_forward() -> (State, i64) {
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
        (s, ids[0])
    }

    #[test]
    fn a_forward_decision_plans_its_outbox_row_atomically() {
        let (s, ledger_id) = state_with_forward();
        let row = s.outbox_for(ledger_id).expect("query").expect("planned");
        assert_eq!(row.state, OutboxState::Pending);
        assert_eq!(row.address, "marta@office.example");
        assert_eq!(row.forward_id, format!("g.{ledger_id}.100"));
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
    fn interrupted_sends_become_sent_and_unconfirmed_never_pending() {
        let (s, ledger_id) = state_with_forward();
        let row = s.outbox_for(ledger_id).expect("query").expect("planned");
        s.outbox_sending(row.id, 101).expect("sending");
        assert_eq!(s.settle_interrupted_sends("g", 102).expect("settled"), 1);
        let row = s.outbox_for(ledger_id).expect("query").expect("row");
        assert_eq!(row.state, OutboxState::Sent);
        assert_eq!(row.attempts, 1);
        assert!(row.last_error.expect("note").contains("unconfirmed"));
        assert_eq!(s.forwards_sent_since("g", 100).expect("count"), 1);
        assert_eq!(s.next_forward_due("g").expect("due"), None);
    }
}
