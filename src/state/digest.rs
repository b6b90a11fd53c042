//! What the daily digest reads from the state database, and the record of digests sent.
//!
//! The ledger rows of a period with their forwards, the last time each rule matched, and the
//! `digest` table (one row per account and local day, so a day's digest is recorded once).
//! Composing the digest from these is left to `crate::digest`.

use anyhow::Context;
use jiff::civil::Date;
use rusqlite::{OptionalExtension, params};

use super::{Action, Entry, OutboxRow, State};

impl State {
    /// Rows decided in `[from, to)`, oldest first, each with its forward when it has one.
    /// Read in one transaction, so a forward's state matches its row.
    pub fn entries_with_forwards(
        &self,
        account: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<(Entry, Option<OutboxRow>)>> {
        // A deferred transaction: a read snapshot, taken at the first SELECT (WAL).
        let tx = self.conn.unchecked_transaction()?;
        let entries = self.entries_between(account, from, to)?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let forward = match entry.entry.action {
                Action::Forward(_) => self.outbox_for(entry.id)?,
                _ => None,
            };
            out.push((entry, forward));
        }
        tx.commit()?;
        Ok(out)
    }

    /// For each rule that ever decided a message of the account: when it last did.
    pub fn last_rule_matches(&self, account: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT rule, MAX(decided_at) FROM ledger
             WHERE account = ?1 AND rule IS NOT NULL GROUP BY rule ORDER BY rule",
        )?;
        let rows = stmt.query_map(params![account], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The local day of the latest digest recorded for the account.
    pub fn last_digest_day(&self, account: &str) -> anyhow::Result<Option<Date>> {
        let day: Option<String> = self
            .conn
            .query_row(
                // ISO dates sort as text.
                "SELECT MAX(day) FROM digest WHERE account = ?1",
                params![account],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        day.map(|d| {
            d.parse()
                .with_context(|| format!("digest day `{d}` of account {account}"))
        })
        .transpose()
    }

    /// When the period of the latest digest ended (Unix time): the next one starts there.
    pub fn last_digest_period_end(&self, account: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(period_end) FROM digest WHERE account = ?1",
            params![account],
            |r| r.get(0),
        )?)
    }

    /// Records the digest of a local day. Returns false, and changes nothing, when that day
    /// was already recorded: a day has one digest.
    pub fn record_digest(
        &self,
        account: &str,
        day: Date,
        period_start: i64,
        period_end: i64,
        sent_at: i64,
    ) -> anyhow::Result<bool> {
        let inserted = self.conn.execute(
            "INSERT INTO digest (account, day, period_start, period_end, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account, day) DO NOTHING",
            params![account, day.to_string(), period_start, period_end, sent_at],
        )?;
        Ok(inserted == 1)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::super::tests::entry;
    use super::*;
    use crate::classify::Category;

    #[test]
    fn a_day_is_recorded_once_and_the_next_period_starts_at_its_end() {
        let s = State::in_memory().expect("db");
        assert_eq!(s.last_digest_day("g").expect("query"), None);
        assert_eq!(s.last_digest_period_end("g").expect("query"), None);

        let day = date(2026, 11, 24);
        assert!(s.record_digest("g", day, 100, 200, 201).expect("first"));
        assert!(!s.record_digest("g", day, 200, 300, 301).expect("second"));
        assert!(
            s.record_digest("other", day, 0, 50, 51)
                .expect("another account")
        );
        assert!(
            s.record_digest("g", date(2026, 11, 23), 0, 100, 101)
                .expect("an earlier day")
        );

        assert_eq!(s.last_digest_day("g").expect("query"), Some(day));
        assert_eq!(s.last_digest_period_end("g").expect("query"), Some(200));
    }

    #[test]
    fn entries_come_with_their_forwards_and_rules_with_their_last_match() {
        let mut s = State::in_memory().expect("db");
        let mut delegated = entry(1, Category::Delegable, Action::Forward("Delegated".into()));
        delegated.assistant = Some("anna".into());
        delegated.rule = Some("quotes".into());
        let mut kept = entry(2, Category::Strategic, Action::Keep);
        kept.rule = None;
        let address = |_: &str| Some("anna@studio.example".to_string());
        s.record("g", "INBOX", 1, &[delegated, kept], &address, 100)
            .expect("recorded");
        let mut later = entry(3, Category::Noise, Action::File("Noise".into()));
        later.rule = Some("quotes".into());
        s.record("g", "INBOX", 1, &[later], &address, 150)
            .expect("recorded");

        let rows = s.entries_with_forwards("g", 100, 101).expect("query");
        assert_eq!(rows.len(), 2);
        let forward = rows[0].1.as_ref().expect("the forward");
        assert_eq!(forward.assistant, "anna");
        assert!(rows[1].1.is_none());

        assert_eq!(
            s.last_rule_matches("g").expect("query"),
            vec![("quotes".to_string(), 150)],
            "the latest match per rule; rows without a rule are not a rule"
        );
        assert!(s.last_rule_matches("other").expect("query").is_empty());
    }
}
