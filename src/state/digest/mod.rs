//! What the daily digest reads from the state database, and the record of digests sent.
//!
//! A period's exact counts and the few rows the digest lists (SQL aggregates and `LIMIT`s,
//! so a day of 10,000 messages is never loaded whole), as a `digest::Report`; the last time
//! each rule matched; and the `digest` table (one row per account and local day, so a day's
//! digest is recorded once). Composing the digest is left to `crate::digest`.

use anyhow::Context;
use jiff::civil::Date;
use rusqlite::{OptionalExtension, params};

use super::ledger::{ENTRY_COLUMNS, entry_row};
use super::report::{Forwards, Handled, Limits, NoiseSource, Place, Problem, Report, Totals};
use super::{Action, Entry, State};
use crate::reason::Reason;

/// How `Reason::TaskStatus` is stored (JSON) begins: matched by [`PLACE`].
macro_rules! task_status {
    () => {
        r#"{"task_status":"#
    };
}
#[cfg(test)]
const TASK_STATUS: &str = task_status!();

/// Where the digest places a ledger row ([`Place`]): the one rule. Every count and list
/// below selects by it, and each row read carries it to the digest. An unknown category
/// reads as strategic, as in `entry_row`; an assistant's mail about a task is filed with
/// it (its reason, as stored, begins with `task_status!()`), not as noise; a forward is
/// refused for good when its row failed, or its outbox row did.
const PLACE: &str = concat!(
    "CASE
    WHEN category NOT IN ('delegable', 'noise') THEN 'needs_you'
    WHEN observe THEN 'observed'
    WHEN category = 'noise' AND reason GLOB '",
    task_status!(),
    "*' THEN 'status'
    WHEN category = 'noise' THEN 'filed'
    WHEN status = 'failed' OR EXISTS (SELECT 1 FROM outbox o
        WHERE o.ledger_id = ledger.id AND o.state = 'failed') THEN 'failed'
    ELSE 'delegated' END"
);

/// A row's place as [`PLACE`] names it.
fn place(name: &str) -> Place {
    match name {
        "delegated" => Place::Delegated { failed: false },
        "failed" => Place::Delegated { failed: true },
        "observed" => Place::Observed,
        "filed" => Place::Filed,
        "status" => Place::TaskStatus,
        _ => Place::NeedsYou,
    }
}

/// Moved back into the Inbox by `delega undo`: no longer filed, nor handled.
const UNDONE: &str =
    "EXISTS (SELECT 1 FROM undo u WHERE u.ledger_id = ledger.id AND u.outcome = 'moved_back')";
/// The rows of the period (`?1` the account, `[?2, ?3)` the period), each with its
/// `place` and whether it was `undone`: what the conditions below read.
fn period_rows() -> String {
    format!(
        "(SELECT id, status, date, decided_at, assistant, list_id, from_addr, rule,
            {PLACE} AS place, {UNDONE} AS undone
         FROM ledger WHERE account = ?1 AND decided_at >= ?2 AND decided_at < ?3)"
    )
}
/// Delegated, whatever became of the forward: among the delegated.
const DELEGATED: &str = "place IN ('delegated', 'failed')";
/// A forward refused for good: delegated, and back with the entrepreneur.
const FAILED: &str = "place = 'failed'";
/// Filed means out of the Inbox: a row still pending, only copied, or moved back by undo,
/// is not.
const FILED: &str = "(place = 'filed' AND status = 'done' AND NOT undone)";
/// Noise copied to its folder on a server that cannot move: the original is in the Inbox.
const COPIED: &str = "(place = 'filed' AND status = 'copied')";
/// Newest first, by when a message arrived: its Date, else when delega saw it.
const NEWEST_FIRST: &str = "ORDER BY COALESCE(date, decided_at) DESC, id DESC";
/// Where noise came from: its List-Id, or (outside any list) its sender.
const SOURCE: &str = "NULLIF(list_id, '') AS list,
    CASE WHEN NULLIF(list_id, '') IS NULL THEN lower(from_addr) ELSE '' END AS sender";
/// A source's name as the digest shows it (a bare `<id>` without its brackets), so that
/// sources with equal counts are cut where the digest sorts them.
const SOURCE_NAME: &str = "CASE
    WHEN list IS NULL THEN sender
    WHEN list GLOB '<*>' AND substr(list, 2, length(list) - 2) NOT GLOB '*[<>]*'
        THEN substr(list, 2, length(list) - 2)
    ELSE list END";

impl State {
    /// What the digest of `[from, to)` says: exact counts of every row and problem, and
    /// only the rows and groups it lists, within `limits`. Read in one transaction, so
    /// counts, rows and forwards agree. Rules and proposals are left empty.
    pub fn digest_period(
        &self,
        account: &str,
        from: i64,
        to: i64,
        limits: Limits,
    ) -> anyhow::Result<Report> {
        // A deferred transaction: a read snapshot, taken at the first SELECT (WAL).
        let tx = self.conn.unchecked_transaction()?;
        let period = params![account, from, to];
        let rows = period_rows();
        let mut totals = self.conn.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(place = 'needs_you'), 0),
                    COALESCE(SUM(place = 'observed'), 0), COALESCE(SUM({FILED}), 0),
                    COALESCE(SUM({COPIED}), 0), COALESCE(SUM(undone), 0),
                    COALESCE(SUM({DELEGATED} AND undone), 0),
                    COALESCE(SUM(place = 'status' AND status = 'done' AND NOT undone), 0),
                    COALESCE(SUM(place = 'status' AND status = 'copied' AND NOT undone), 0)
                 FROM {rows}"
            ),
            period,
            |r| {
                Ok(Totals {
                    messages: r.get(0)?,
                    strategic: r.get(1)?,
                    observed: r.get(2)?,
                    filed: r.get(3)?,
                    copied: r.get(4)?,
                    undone: r.get(5)?,
                    undone_forwards: r.get(6)?,
                    status_mails: r.get(7)?,
                    status_copied: r.get(8)?,
                    ..Totals::default()
                })
            },
        )?;
        let needs_you = self.handled(
            &format!(
                "id IN (
                    SELECT id FROM {rows} WHERE place = 'needs_you' {NEWEST_FIRST} LIMIT ?4
                 ) OR id IN (
                    SELECT id FROM {rows} WHERE {FAILED} {NEWEST_FIRST} LIMIT ?5
                 ) OR id IN (
                    SELECT id FROM {rows} WHERE undone {NEWEST_FIRST} LIMIT ?4
                 )"
            ),
            params![
                account,
                from,
                to,
                limit(limits.messages),
                limit(limits.failed)
            ],
        )?;
        let delegated = self.forwards(account, from, to, limits.messages)?;
        let observed = self.handled(
            &format!(
                "id IN (SELECT id FROM {rows} WHERE place = 'observed' {NEWEST_FIRST} LIMIT ?4)"
            ),
            params![account, from, to, limit(limits.messages)],
        )?;
        let noise;
        (noise, totals.noise_sources) = self.noise_sources(account, from, to, limits.groups)?;
        let problems;
        (problems, totals.problems) = self.problems(account, from, to, limits.groups)?;
        let in_doubt = self.forwards_in_doubt(account, from, to)?;
        tx.commit()?;
        Ok(Report {
            start: from,
            end: to,
            totals,
            needs_you,
            delegated,
            observed,
            noise,
            problems,
            in_doubt,
            ..Report::default()
        })
    }

    /// The ledger rows `which` selects (a condition on `ledger`), newest first, each with
    /// its place and its forward when it has one.
    fn handled(
        &self,
        which: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> anyhow::Result<Vec<Handled>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS}, {PLACE} AS place FROM ledger WHERE {which}
             {NEWEST_FIRST}"
        ))?;
        let entries = stmt
            .query_map(params, |r| {
                Ok((entry_row(r)?, place(&r.get::<_, String>("place")?)))
            })?
            .collect::<Result<Vec<(Entry, Place)>, _>>()?;
        entries
            .into_iter()
            .map(|(entry, place)| {
                let forward = match entry.decision.action {
                    Action::Forward(_) => self.outbox_for(entry.id)?,
                    _ => None,
                };
                let undone = self.is_undone(entry.id)?;
                Ok(Handled {
                    entry,
                    place,
                    forward,
                    undone,
                })
            })
            .collect()
    }

    /// Per assistant: forwards in the period, how many failed, and the newest `max`.
    fn forwards(
        &self,
        account: &str,
        from: i64,
        to: i64,
        max: usize,
    ) -> anyhow::Result<Vec<Forwards>> {
        let rows = period_rows();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT COALESCE(assistant, ''), COUNT(*), SUM({FAILED}) FROM {rows}
             WHERE {DELEGATED} GROUP BY 1 ORDER BY 1"
        ))?;
        let mut groups = stmt
            .query_map(params![account, from, to], |r| {
                Ok(Forwards {
                    assistant: r.get(0)?,
                    count: r.get(1)?,
                    failed: r.get(2)?,
                    rows: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = self.handled(
            &format!(
                "id IN (
                    SELECT id FROM (
                        SELECT id, ROW_NUMBER() OVER (PARTITION BY COALESCE(assistant, '')
                            {NEWEST_FIRST}) AS n
                        FROM {rows} WHERE {DELEGATED}
                    ) WHERE n <= ?4
                 )"
            ),
            params![account, from, to, limit(max)],
        )?;
        for h in rows {
            let id = h.entry.decision.assistant.as_deref().unwrap_or_default();
            if let Some(g) = groups.iter_mut().find(|g| g.assistant == id) {
                g.rows.push(h);
            }
        }
        Ok(groups)
    }

    /// The `max` largest sources of the noise filed, and how many sources there were.
    fn noise_sources(
        &self,
        account: &str,
        from: i64,
        to: i64,
        max: usize,
    ) -> anyhow::Result<(Vec<NoiseSource>, u64)> {
        let rows = period_rows();
        let count = self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM (SELECT {SOURCE} FROM {rows} WHERE {FILED}
                 GROUP BY list, sender)"
            ),
            params![account, from, to],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SOURCE}, COUNT(*) AS n FROM {rows} WHERE {FILED}
             GROUP BY list, sender ORDER BY n DESC, {SOURCE_NAME}, list, sender LIMIT ?4"
        ))?;
        let mut sources = stmt
            .query_map(params![account, from, to, limit(max)], |r| {
                Ok(NoiseSource {
                    list_id: r.get(0)?,
                    sender: r.get(1)?,
                    messages: r.get(2)?,
                    rules: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = self.conn.prepare(&format!(
            "SELECT rule FROM (SELECT {SOURCE}, rule, id FROM {rows} WHERE {FILED})
             WHERE list IS ?4 AND sender = ?5 AND rule IS NOT NULL
             GROUP BY rule ORDER BY MIN(id)"
        ))?;
        for s in &mut sources {
            s.rules = rules
                .query_map(params![account, from, to, s.list_id, s.sender], |r| {
                    r.get(0)
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok((sources, count))
    }

    /// The `max` latest problems (events of one kind and detail, counted together), and
    /// how many distinct problems there were.
    fn problems(
        &self,
        account: &str,
        from: i64,
        to: i64,
        max: usize,
    ) -> anyhow::Result<(Vec<Problem>, u64)> {
        const EVENTS: &str = "FROM event WHERE account = ?1 AND at >= ?2 AND at < ?3";
        let count = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM (SELECT 1 {EVENTS} GROUP BY kind, detail, reason)"),
            params![account, from, to],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT kind, detail, COUNT(*), MAX(at), reason {EVENTS}
             GROUP BY kind, detail, reason ORDER BY MAX(at) DESC, MIN(at), MIN(id) LIMIT ?4"
        ))?;
        let problems = stmt
            .query_map(params![account, from, to, limit(max)], |r| {
                Ok(Problem {
                    kind: r.get(0)?,
                    detail: r.get(1)?,
                    count: r.get(2)?,
                    last: r.get(3)?,
                    reason: r
                        .get::<_, Option<String>>(4)?
                        .as_deref()
                        .and_then(Reason::from_json),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok((problems, count))
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

    /// When the account's first decision was recorded, if any.
    pub fn first_decision(&self, account: &str) -> anyhow::Result<Option<i64>> {
        let first = self.conn.query_row(
            "SELECT MIN(decided_at) FROM ledger WHERE account = ?1",
            params![account],
            |r| r.get(0),
        )?;
        Ok(first)
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

/// A count of rows as a SQL `LIMIT` (an i64 in SQLite).
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
