//! Acting on a decision, shared by the pass (`mod.rs`) and the watch on the filing folders
//! (`corrections.rs`): turn a decision into a ledger entry (`plan`), log it, forward it
//! through [`crate::delivery`] and settle its row, and finish what an earlier pass
//! recorded but did not complete. The order of a pass is `mod.rs`'s; this file is the acts.

use anyhow::Context;
use tracing::info;

use super::filing::Filing;
use super::{PassReport, Triage, now};
use crate::classify::{Category, Decision};
use crate::delivery::{self, Delivered};
use crate::failpoint;
use crate::guard::{self, History};
use crate::imap::{Connection, MailboxInfo};
use crate::message::{DateHeader, Message};
use crate::reason::Reason;
use crate::state::{Action, Entry, NewEntry, OutboxRow, OutboxState, State, Status};
use crate::task::NotSent;

/// Classifies one message, applies the loop guards with what the ledger knows of it
/// (`history`), and plans the action.
pub(crate) fn decide(t: &Triage<'_>, msg: &Message<'_>, uid: u32, history: History) -> NewEntry {
    let account = t.account;
    let classify = || account.rules.classify(msg);
    let decided = guard::decide(msg, account, t.from, classify, history);
    plan(t, msg, uid, decided.decision)
}

/// Turns a decision into the ledger entry and action for a message.
pub(crate) fn plan(t: &Triage<'_>, msg: &Message<'_>, uid: u32, decision: Decision) -> NewEntry {
    let account = t.account;
    let observe = t.observe || account.observe || decision.observe;
    let action = match (observe, decision.category) {
        (true, _) => Action::Nothing,
        (false, Category::Strategic) => Action::Keep,
        (false, Category::Noise) => Action::File(account.folders.noise.clone()),
        (false, Category::Delegable) => Action::Forward(account.folders.delegated.clone()),
    };
    let sender = msg.sender();
    let (date, date_written) = match msg.date_as_of(now()) {
        DateHeader::Real(t) => (Some(t), None),
        DateHeader::Missing => (None, None),
        DateHeader::Impossible(written) => (None, Some(written)),
    };
    NewEntry {
        uid,
        message_id: msg.message_id().map(str::to_string),
        date,
        date_written,
        from_addr: sender.map(|s| s.address.clone()).unwrap_or_default(),
        from_name: sender.and_then(|s| s.name.clone()),
        subject: msg.subject().to_string(),
        excerpt: msg.excerpt(160),
        list_id: msg
            .header_values("List-Id")
            .next()
            .map(|v| v.trim().to_string()),
        category: decision.category,
        rule: decision.rule,
        why: decision.why,
        reason: decision.reason,
        observe,
        assistant: decision.assistant,
        action,
    }
}

/// Logs a decision as it is recorded.
pub(crate) fn log_decision(entry: &NewEntry) {
    // A decision a guard changed says which guard: the rule alone would mislead.
    let kept = match &entry.reason {
        Some(Reason::Kept(k)) => Some(k.refusal.to_string()),
        _ => None,
    };
    info!(
        uid = entry.uid,
        category = %entry.category,
        rule = entry.rule.as_deref().unwrap_or("-"),
        assistant = entry.assistant.as_deref().unwrap_or("-"),
        observe = entry.observe,
        // Only when a guard kept it: no `kept` field otherwise.
        kept = kept.as_deref(),
        "decided"
    );
}

/// Has delivery send the forward of a recorded decision and, once the server took it,
/// files the message (unless it already is in its folder: `mailbox` is where it is now).
/// The row's outcome goes to `filing`; a forward that waits leaves its row pending.
pub(crate) async fn forward(
    state: &mut State,
    t: &Triage<'_>,
    (ledger_id, mailbox): (i64, &str),
    (entry, planned, original): (&NewEntry, &OutboxRow, &Message<'_>),
    report: &mut PassReport,
    filing: &mut Filing,
) -> anyhow::Result<()> {
    let Action::Forward(folder) = &entry.action else {
        anyhow::bail!("not a forward");
    };
    let job = delivery::Forward {
        planned,
        uid: entry.uid,
        subject: &entry.subject,
        rule: entry.rule.as_deref(),
        original,
    };
    match t.delivery.forward(state, t.account, &job).await? {
        Delivered::Sent => report.forwarded += 1,
        Delivered::AlreadySent => {}
        Delivered::Waiting => {
            report.waiting += 1;
            return Ok(());
        }
        Delivered::Failed(why) => {
            filing.settle((ledger_id, Status::Failed, Some(why)));
            return Ok(());
        }
    }
    failpoint::hit(failpoint::BEFORE_MOVE);
    // Filed with the rest of the pass: the send is recorded, so a crash before that move
    // only leaves the filing to do.
    if folder == mailbox {
        filing.settle((ledger_id, Status::Done, None));
    } else {
        filing.file(ledger_id, entry.uid, folder);
    }
    Ok(())
}

/// Finishes what earlier passes recorded in the selected `mailbox` but did not complete (a
/// crash, a failed move, a forward that had to wait), filing them together.
pub(crate) async fn finish_pending(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    (mailbox, info): (&str, MailboxInfo),
    report: &mut PassReport,
) -> anyhow::Result<()> {
    let account = t.account;
    let pending: Vec<Entry> = state
        .pending(&account.name)?
        .into_iter()
        .filter(|e| e.mailbox == mailbox)
        .collect();
    let mut filing = Filing::default();
    for mut e in pending {
        if e.uidvalidity != info.uidvalidity {
            // The UIDs of the old numbering mean nothing now: the message is found again by
            // its Message-ID and its work finished under its new number (filed, forwarded
            // once: the outbox row is the same). Only one that cannot be found fails.
            match renumbered_uid(boxes, &e).await? {
                Some(uid) if state.renumber_entry(e.id, info.uidvalidity, uid)? => {
                    info!(
                        old = e.decision.uid,
                        new = uid,
                        "pending work found again by Message-ID"
                    );
                    (e.uidvalidity, e.decision.uid) = (info.uidvalidity, uid);
                }
                _ => {
                    let row = state.outbox_for(e.id)?;
                    let why = delivery::give_up(state, e.id, row.as_ref(), &NotSent::Renumbered)?;
                    filing.settle((e.id, Status::Failed, Some(why)));
                    continue;
                }
            }
        }
        let uid = e.decision.uid;
        match &e.decision.action {
            Action::Nothing => filing.settle((e.id, Status::Done, None)),
            Action::Keep => {
                filing.mark(uid);
                filing.settle((e.id, Status::Done, None));
            }
            Action::File(folder) => {
                filing.mark(uid);
                filing.file(e.id, uid, folder);
            }
            Action::Forward(folder) => {
                let row = state.outbox_for(e.id)?;
                if row.as_ref().is_some_and(|r| r.state == OutboxState::Sent) {
                    // Sent before a crash: only the filing is left to do.
                    filing.mark(uid);
                    if folder == mailbox {
                        filing.settle((e.id, Status::Done, None));
                    } else {
                        filing.file(e.id, uid, folder);
                    }
                } else if let Some(f) = boxes.fetch(&[uid]).await?.into_iter().next() {
                    filing.mark(uid);
                    let at = (e.id, mailbox);
                    let planned = row.context("a forward decision without its outbox row")?;
                    let job = (&e.decision, &planned, &Message::parse(&f.raw));
                    forward(state, t, at, job, report, &mut filing).await?;
                } else {
                    let why = delivery::give_up(state, e.id, row.as_ref(), &NotSent::LeftInbox)?;
                    filing.settle((e.id, Status::Failed, Some(why)));
                }
            }
        }
    }
    filing.flush(boxes, state, account, None).await
}

/// The UID of a pending row's message in the renumbered mailbox: the one message whose
/// Message-ID is the row's (checked in its header, as the search matches substrings).
async fn renumbered_uid(boxes: &mut Connection, e: &Entry) -> anyhow::Result<Option<u32>> {
    let Some(id) = e.decision.message_id.as_deref() else {
        return Ok(None);
    };
    let uids = boxes.uids_with_message_id(id).await?;
    if uids.is_empty() {
        return Ok(None);
    }
    let headers = boxes.fetch_headers(&uids).await?;
    let mut same = headers
        .iter()
        .filter(|f| Message::parse(&f.raw).message_id() == Some(id))
        .map(|f| f.uid);
    // Two copies: the first one carries the work; the other is new mail to the pass.
    Ok(same.next())
}
