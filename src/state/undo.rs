//! The undo log: which filings `delega undo` took back, and which it found moved already.
//!
//! A message moved back by undo is known here by its Message-ID: when it reappears in the
//! Inbox, triage neither records it as the entrepreneur's correction nor decides it again.

use rusqlite::params;

use super::ledger::{SELECT_ENTRY, entry_row};
use super::{Entry, State};

/// Which filings to take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoFilter {
    /// Decided at or after this Unix time.
    Since(i64),
    /// Decided by this rule.
    Rule(String),
}

/// What undo did with one filing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoOutcome {
    /// Moved back into the Inbox.
    MovedBack,
    /// No longer where delega put it (the entrepreneur moved it): left there.
    Moved,
    /// No Message-ID to find it by: left where delega put it.
    NotFindable,
}

impl UndoOutcome {
    fn as_str(self) -> &'static str {
        match self {
            UndoOutcome::MovedBack => "moved_back",
            UndoOutcome::Moved => "moved",
            UndoOutcome::NotFindable => "not_findable",
        }
    }
}

impl State {
    /// The filings delega did (a message moved out of the Inbox, done) that `filter` picks
    /// and no undo has moved back yet, oldest first. Messages the entrepreneur corrected are
    /// theirs and are left out.
    pub fn undo_candidates(
        &self,
        account: &str,
        filter: &UndoFilter,
    ) -> anyhow::Result<Vec<Entry>> {
        let filed_not_taken_back = "status = 'done' AND observe = 0
               AND (action LIKE 'file:%' OR action LIKE 'forward:%')
               AND id NOT IN (SELECT ledger_id FROM undo WHERE outcome = 'moved_back')
               AND id NOT IN (SELECT ledger_id FROM correction WHERE ledger_id IS NOT NULL)";
        self.entries_where(filed_not_taken_back, account, filter)
    }

    /// The forwards `filter` picks that have not gone out yet (the message is still in the
    /// Inbox, its outbox row waiting): undo does not take them back, and says so.
    pub fn undo_waiting_forwards(
        &self,
        account: &str,
        filter: &UndoFilter,
    ) -> anyhow::Result<Vec<Entry>> {
        let waiting = "status = 'pending' AND observe = 0 AND action LIKE 'forward:%'
               AND id IN (SELECT ledger_id FROM outbox WHERE state IN ('pending', 'in_doubt'))";
        self.entries_where(waiting, account, filter)
    }

    /// The account's ledger rows that `filter` picks and `where_` (more SQL conditions)
    /// keeps, oldest first.
    fn entries_where(
        &self,
        where_: &str,
        account: &str,
        filter: &UndoFilter,
    ) -> anyhow::Result<Vec<Entry>> {
        let (picks, value) = match filter {
            UndoFilter::Since(t) => ("decided_at >= ?2", rusqlite::types::Value::from(*t)),
            UndoFilter::Rule(r) => ("rule = ?2", rusqlite::types::Value::from(r.clone())),
        };
        let sql = format!("{SELECT_ENTRY} WHERE account = ?1 AND {picks} AND {where_} ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![account, value], entry_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records what undo did with the filing of ledger row `ledger_id`.
    pub fn record_undo(
        &self,
        account: &str,
        entry: &Entry,
        outcome: UndoOutcome,
        now: i64,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO undo (account, ledger_id, message_id, outcome, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                account,
                entry.id,
                entry.decision.message_id,
                outcome.as_str(),
                now
            ],
        )?;
        Ok(())
    }

    /// Takes back an undo record whose move did not happen (the server refused it).
    pub fn forget_undo(&self, entry: &Entry) -> anyhow::Result<()> {
        self.conn.execute(
            "DELETE FROM undo WHERE ledger_id = ?1 AND outcome = 'moved_back'",
            params![entry.id],
        )?;
        Ok(())
    }

    /// True when undo moved the message of ledger row `ledger_id` back into the Inbox.
    pub fn is_undone(&self, ledger_id: i64) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM undo
                   WHERE ledger_id = ?1 AND outcome = 'moved_back')",
            )?
            .query_row(params![ledger_id], |r| r.get(0))?)
    }

    /// True when undo moved a message with this Message-ID back into the Inbox.
    pub fn undone(&self, account: &str, message_id: &str) -> anyhow::Result<bool> {
        let found = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM undo
               WHERE account = ?1 AND message_id = ?2 AND outcome = 'moved_back')",
            params![account, message_id],
            |r| r.get(0),
        )?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::entry;
    use super::*;
    use crate::classify::Category;
    use crate::state::Action;

    #[test]
    fn a_forward_still_waiting_is_found_for_undo_to_report() {
        let mut s = State::in_memory().expect("db");
        let address = |id: &str| Some(format!("{id}@office.example"));
        let mut waiting = entry(1, Category::Delegable, Action::Forward("Delegated".into()));
        waiting.assistant = Some("anna".into());
        waiting.rule = Some("quotes".into());
        let mut other = waiting.clone();
        other.uid = 2;
        other.rule = Some("other".into());
        s.record("g", "INBOX", 1, &[waiting, other], &address, 100)
            .expect("recorded");
        let rule = UndoFilter::Rule("quotes".into());
        let found = s.undo_waiting_forwards("g", &rule).expect("query");
        assert_eq!(
            found.iter().map(|e| e.decision.uid).collect::<Vec<_>>(),
            [1]
        );
        assert!(s.undo_candidates("g", &rule).expect("query").is_empty());
        let later = UndoFilter::Since(101);
        assert!(
            s.undo_waiting_forwards("g", &later)
                .expect("query")
                .is_empty()
        );
    }
}
