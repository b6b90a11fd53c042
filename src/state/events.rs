//! Events and account status: the problems recorded for status and the digest, and the
//! last successful check of each account.

use rusqlite::{OptionalExtension, params};

use super::State;
use crate::reason::Reason;

impl State {
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
        self.record_event_with_reason(account, kind, detail, None, now)
    }

    /// Notes a problem whose cause is one of delega's own reasons: `detail` says what it
    /// concerns (a message's subject; empty when the reason says it all), `reason` why, as
    /// data (the `reason` column).
    pub fn record_event_with_reason(
        &self,
        account: &str,
        kind: &str,
        detail: &str,
        reason: Option<&Reason>,
        now: i64,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO event (account, at, kind, detail, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account, now, kind, detail, reason.map(Reason::to_json)],
        )?;
        // Status shows the last error as it stands, in English like the rest of the log.
        let last_error = match reason {
            Some(reason) if detail.is_empty() => format!("{kind}: {reason}"),
            Some(reason) => format!("{kind}: {detail}: {reason}"),
            None => format!("{kind}: {detail}"),
        };
        self.conn.execute(
            "INSERT INTO account_status (account, last_error, last_error_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET last_error = ?2, last_error_at = ?3",
            params![account, last_error, now],
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
