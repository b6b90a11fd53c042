//! One pass over an account's Inbox: find new mail, decide, record, act.
//!
//! The order of every step is what makes delega safe to kill at any moment: a decision is
//! recorded (pending) before anything is done to the message; forwards are sent; the
//! filing is done (`filing`: gathered over many batches, as each server command costs a
//! Maildir rescan); then the rows are marked done and the cursor advanced in one
//! transaction. A pass starts by finishing whatever a previous one left pending, so nothing
//! is processed twice or lost. Deciding is `classify` + `guard`; this file owns the order
//! of things, `act.rs` the acts it orders (shared with `corrections.rs`, the watch on the
//! filing folders), `filing.rs` the server work and the cursor's advance; `status.rs` an
//! assistant's mail about a task, `follow_up.rs` the reminders at the end of a pass and a
//! new task's due time, `backfill.rs` the mail already in the Inbox from a date.

mod act;
mod backfill;
mod corrections;
mod filing;
mod follow_up;
mod status;

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::classify::Category;
use crate::config::Account;
use crate::delivery::Delivery;
use crate::guard::History;
use crate::imap::{Connection, MailboxInfo};
use crate::message::Message;
use crate::metrics;
use crate::state::{Action, Cursor, State, Status};
use act::{decide, finish_pending, forward, log_decision};
pub use backfill::BackfillReport;
use filing::{FLUSH_AT, Filing};
pub use follow_up::fix_dues;
pub use status::{StatusMail, recognise as status_mail};

/// What a pass needs besides the mailbox and the database.
pub struct Triage<'a> {
    /// The account's settings and rules.
    pub account: &'a Account,
    /// delega's sender address, for forwards.
    pub from: &'a str,
    /// Sends the forwards (and says when they are due).
    pub delivery: &'a Delivery,
    /// `--observe`: decide and record, act on nothing.
    pub observe: bool,
    /// Cancelled at shutdown: a send not yet handing its message over is abandoned.
    pub shutdown: &'a CancellationToken,
    /// `delega backfill`: also triage the messages already in the Inbox that arrived on
    /// or after this day (Unix time), unless already decided.
    pub backfill_since: Option<i64>,
}

/// Counts of one pass, for logs and `--once` output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Messages the entrepreneur moved against delega's decision, noticed in this pass.
    pub corrections: usize,
    /// New messages decided, per category.
    pub decided: BTreeMap<Category, usize>,
    /// Forwards the server accepted in this pass.
    pub forwarded: usize,
    /// Forwards still waiting (rate limit, transient failures).
    pub waiting: usize,
    /// On the first start on a mailbox: the messages already there that were left alone.
    pub left_alone: Option<u32>,
    /// What a backfill found and decided (also counted in `decided`).
    pub backfill: Option<BackfillReport>,
    /// Reminders of overdue tasks sent to their assistants.
    pub reminded: usize,
}

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Runs one pass: finishes pending work, then triages every message above the cursor.
pub async fn pass(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    shutdown: &CancellationToken,
) -> anyhow::Result<PassReport> {
    let account = t.account;
    let mut report = PassReport::default();
    let info = boxes.select(&account.mailbox).await?;
    let (cursor, renumbered) = position(boxes, state, t, info, &mut report).await?;
    finish_pending(boxes, state, t, (&account.mailbox, info), &mut report).await?;

    let mut filing = Filing::default();
    if let Some(since) = t.backfill_since {
        let at = Position {
            info,
            cursor,
            renumbered,
        };
        backfill::backfill(boxes, state, t, at, since, &mut filing, &mut report).await?;
    }
    let mut next = cursor;
    for batch in boxes.batches_after(cursor.last_uid).await? {
        if shutdown.is_cancelled() {
            break;
        }
        let at = Position {
            info,
            cursor: next,
            renumbered,
        };
        next = triage_batch(boxes, state, t, at, &batch, &mut filing, &mut report).await?;
        if filing.len() >= FLUSH_AT {
            let at = Some((account.mailbox.as_str(), next));
            filing.flush(boxes, state, account, at).await?;
        }
    }
    let at = (next != cursor).then_some((account.mailbox.as_str(), next));
    filing.flush(boxes, state, account, at).await?;
    let acting = !(t.observe || account.observe);
    if acting && !shutdown.is_cancelled() {
        // This selects the folders in turn: whoever waits on the Inbox next selects it.
        for folder in [&account.folders.noise, &account.folders.delegated] {
            corrections::watch_folder(boxes, state, t, folder, &mut report).await?;
        }
    }
    if acting && !shutdown.is_cancelled() {
        report.reminded = follow_up::remind(state, t, now()).await?;
    }
    state.record_check(&account.name, now())?;
    Ok(report)
}

/// Where a batch is in the Inbox.
#[derive(Clone, Copy)]
struct Position {
    /// What SELECT said.
    info: MailboxInfo,
    /// The cursor before the batch.
    cursor: Cursor,
    /// The server renumbered the mailbox since the last pass: messages already decided
    /// come back under new UIDs, and are known by their Message-ID.
    renumbered: bool,
}

/// The cursor to start from: set on first start, rebuilt after a UIDVALIDITY change (then
/// also true).
async fn position(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    info: MailboxInfo,
    report: &mut PassReport,
) -> anyhow::Result<(Cursor, bool)> {
    let account = t.account;
    let existing = state.cursor(&account.name, &account.mailbox)?;
    let since = match existing {
        Some(c) if c.uidvalidity == info.uidvalidity => return Ok((c, false)),
        Some(c) => {
            warn!(
                old = c.uidvalidity,
                new = info.uidvalidity,
                "the server renumbered the mailbox (UIDVALIDITY changed): matching by Message-ID"
            );
            c.since
        }
        None => now() - i64::from(account.backfill_days) * 86_400,
    };
    let (first_uid, included) = if existing.is_none() && account.backfill_days == 0 {
        // First start: only mail arriving from now on.
        (info.uidnext, 0)
    } else {
        let uids = boxes.uids_since(&backfill::imap_day(since)?).await?;
        (uids.first().copied().unwrap_or(info.uidnext), uids.len())
    };
    let cursor = Cursor {
        uidvalidity: info.uidvalidity,
        last_uid: first_uid.saturating_sub(1),
        since: existing.map_or(now(), |c| c.since),
    };
    state.set_cursor(&account.name, &account.mailbox, cursor)?;
    if existing.is_none() {
        let left_alone = info
            .exists
            .saturating_sub(u32::try_from(included).unwrap_or(u32::MAX));
        // `delega backfill` triages them afterwards: this start did not.
        if t.backfill_since.is_none() {
            report.left_alone = Some(left_alone);
        }
        info!(
            from_uid = first_uid,
            left_alone,
            "first start on this mailbox: {left_alone} message(s) already there are left alone; \
             `delega backfill --days N --account {}` triages those of the last N days",
            account.name
        );
    }
    Ok((cursor, existing.is_some()))
}

/// Fetches and decides a batch, records it, sends its forwards, and gathers its filing;
/// returns the cursor to set once that filing is done.
async fn triage_batch(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    Position {
        info,
        cursor,
        renumbered,
    }: Position,
    uids: &[u32],
    filing: &mut Filing,
    report: &mut PassReport,
) -> anyhow::Result<Cursor> {
    let account = t.account;
    // Already recorded by a pass that died before advancing the cursor: their pending
    // actions are finished by `finish_pending`, never decided twice.
    let recorded: HashSet<u32> =
        state.recorded_uids(&account.name, &account.mailbox, info.uidvalidity, uids)?;
    let mut entries = Vec::new();
    // The messages to forward, as parsed for their decision: composed from that parse.
    let mut originals = Vec::new();
    // The Message-IDs this batch forwards: the ledger knows only earlier batches, and two
    // copies of one message (an alias and a To, a list) may arrive side by side.
    let mut forwarding: HashSet<String> = HashSet::new();
    // Where the Inbox cannot keep delega's keyword, a message moved back is known by its
    // Message-ID alone.
    let keywords = boxes.keywords;
    // Each message is decided as it arrives, while the server sends the next ones.
    {
        let mut stream = std::pin::pin!(boxes.fetch_stream(uids).await?);
        while let Some(f) = stream.try_next().await? {
            if recorded.contains(&f.uid) {
                continue;
            }
            let msg = Message::parse(&f.raw);
            if renumbered && known(state, &account.name, msg.message_id())? {
                continue;
            }
            // Moved back by `delega undo`: not the entrepreneur's correction, and never
            // filed again by the decision undone.
            if let Some(id) = msg.message_id()
                && state.undone(&account.name, id)?
            {
                continue;
            }
            // delega's keyword on a new arrival: the entrepreneur moved it back here by hand.
            let returned = match keywords {
                true => corrections::is_return(&f),
                false => known_filed(state, &account.name, msg.message_id())?,
            };
            if returned {
                if corrections::record_return(state, t, info.uidvalidity, &f, &msg, now())? {
                    report.corrections += 1;
                }
                continue;
            }
            let mut entry = decide(t, &msg, f.uid, History::default());
            // A Message-ID already forwarded is the guard's last check: only a decision
            // still delegable asks the ledger.
            if entry.category == Category::Delegable
                && let Some(id) = msg.message_id()
                && (forwarding.contains(id) || state.already_forwarded(&account.name, id)?)
            {
                let history = History {
                    already_forwarded: true,
                };
                entry = decide(t, &msg, f.uid, history);
            }
            // An assistant's mail about a task: the task moves, the mail is filed with it.
            if !(t.observe || account.observe)
                && let Some(mail) = status::recognise(state, account, &msg)?
            {
                status::apply(state, account, &msg, mail, &mut entry, now())?;
            }
            if let (Action::Forward(_), Some(id)) = (&entry.action, msg.message_id()) {
                forwarding.insert(id.to_string());
            }
            log_decision(&entry);
            // Only a forward needs the message again.
            originals.push(match entry.action {
                Action::Forward(_) => Some(msg.into_owned()),
                _ => None,
            });
            entries.push(entry);
        }
    }
    boxes.drain();

    let address_of = |id: &str| account.assistant(id).map(|a| a.address.clone());
    let recorded = state.record(
        &account.name,
        &account.mailbox,
        info.uidvalidity,
        &entries,
        &address_of,
        now(),
    )?;
    follow_up::fix_dues(state, account)?;

    for ((recorded, entry), original) in recorded.iter().zip(&entries).zip(&originals) {
        let id = &recorded.id;
        *report.decided.entry(entry.category).or_default() += 1;
        metrics::decided(&account.name, entry.category);
        if entry.action != Action::Nothing {
            filing.mark(entry.uid);
        }
        match &entry.action {
            // Recorded done: nothing to do.
            Action::Nothing => {}
            Action::Keep => filing.settle((*id, Status::Done, None)),
            Action::File(folder) => filing.file(*id, entry.uid, folder),
            Action::Forward(_) => {
                let at = (*id, account.mailbox.as_str());
                let planned = recorded
                    .forward
                    .as_ref()
                    .context("a forward without its row")?;
                let original = original.as_ref().context("a forward without its message")?;
                let job = (entry, planned, original);
                forward(state, t, at, job, report, filing).await?;
            }
        }
    }
    let last_uid = uids.iter().copied().max().unwrap_or(cursor.last_uid);
    Ok(Cursor {
        last_uid: last_uid.max(cursor.last_uid),
        uidvalidity: info.uidvalidity,
        ..cursor
    })
}

/// True when a message with this Message-ID was already decided and handled (so a copy
/// that reappears under a new UID numbering is not decided again).
fn known(state: &State, account: &str, message_id: Option<&str>) -> anyhow::Result<bool> {
    let Some(id) = message_id else {
        return Ok(false);
    };
    Ok(state
        .entry_by_message_id(account, id)?
        .is_some_and(|e| e.status != Status::Pending))
}

/// True when a message with this Message-ID was filed out of the Inbox by delega (so its
/// arrival there again is the entrepreneur's doing).
fn known_filed(state: &State, account: &str, message_id: Option<&str>) -> anyhow::Result<bool> {
    let Some(id) = message_id else {
        return Ok(false);
    };
    Ok(state.entry_by_message_id(account, id)?.is_some_and(|e| {
        matches!(e.decision.action, Action::File(_) | Action::Forward(_))
            && matches!(e.status, Status::Done | Status::Copied)
    }))
}
