//! Backfill on demand: triage what is already in the Inbox from a date, at any time, on an
//! existing state (`delega backfill`), and what the first start leaves alone.
//!
//! The messages are those below the cursor that arrived on or after the date; each goes
//! through the same batch as new mail, which leaves out every UID the ledger already holds
//! and every Message-ID already decided, so nothing is decided twice.

use std::collections::BTreeMap;

use anyhow::Context;
use tracing::info;

use super::filing::{FLUSH_AT, Filing};
use super::{PassReport, Position, Triage, triage_batch};
use crate::classify::Category;
use crate::imap::Connection;
use crate::state::State;

/// Messages fetched per batch: as for new mail, a batch is decided and recorded together.
const BATCH: usize = 100;

/// What a backfill found and did, for the command's output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackfillReport {
    /// The first day included, as IMAP writes it (`26-Nov-2026`).
    pub since: String,
    /// Messages already in the Inbox that arrived on or after it.
    pub found: usize,
    /// Of those, decided now, per category (the rest had been decided before).
    pub decided: BTreeMap<Category, usize>,
}

/// An IMAP SEARCH date (`26-Nov-2026`) for a Unix time.
pub(super) fn imap_day(unix: i64) -> anyhow::Result<String> {
    Ok(jiff::Timestamp::from_second(unix)
        .context("backfill date")?
        .strftime("%d-%b-%Y")
        .to_string())
}

/// Triages the messages at or below `at.cursor` that arrived since `since` (Unix time).
pub(super) async fn backfill(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    at: Position,
    since: i64,
    filing: &mut Filing,
    report: &mut PassReport,
) -> anyhow::Result<()> {
    let day = imap_day(since)?;
    let uids: Vec<u32> = boxes
        .uids_since(&day)
        .await?
        .into_iter()
        .filter(|&uid| uid <= at.cursor.last_uid)
        .collect();
    let before = report.decided.clone();
    // Known by Message-ID too: a message decided under another UID is not decided again.
    let at = Position {
        renumbered: true,
        ..at
    };
    for batch in uids.chunks(BATCH) {
        if t.shutdown.is_cancelled() {
            break;
        }
        triage_batch(boxes, state, t, at, batch, filing, report).await?;
        if filing.len() >= FLUSH_AT {
            filing.flush(boxes, state, t.account, None).await?;
        }
    }
    let decided: BTreeMap<Category, usize> = report
        .decided
        .iter()
        .map(|(c, n)| (*c, n - before.get(c).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total: usize = decided.values().sum();
    info!(since = %day, found = uids.len(), decided = total, "backfill");
    report.backfill = Some(BackfillReport {
        since: day,
        found: uids.len(),
        decided,
    });
    Ok(())
}
