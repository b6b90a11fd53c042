//! The entrepreneur's corrections: never fight them, and delegate what they delegate by hand.
//!
//! A message delega filed keeps its flags when moved, `$delega` among them, but gets a new
//! UID. So a new arrival in the Inbox carrying the keyword was moved back by hand: it is
//! recorded as a correction and left alone, then and forever (the cursor passes it). The
//! filing folders are watched the same way: an arrival there that delega did not put there
//! is a correction too, and one in the delegation folder that was never forwarded is a
//! request to delegate it.

use anyhow::Context;
use tracing::{info, warn};

use super::act::{finish_pending, forward, log_decision, plan};
use super::filing::Filing;
use super::{PassReport, Triage, now};
use crate::classify::{Category, Decision};
use crate::guard::{HandKept, History, refuse_forward};
use crate::imap::{Connection, Fetched, KEYWORD};
use crate::message::Message;
use crate::reason::Reason;
use crate::state::{Action, Correction, Cursor, Entry, State, Status};

/// True when a new arrival in the Inbox carries delega's keyword.
pub(super) fn is_return(f: &Fetched) -> bool {
    f.flags
        .iter()
        .any(|flag| flag.eq_ignore_ascii_case(KEYWORD))
}

/// Records a message moved back into the Inbox (unless it is one delega kept there, moved
/// out and back); true when a new correction was recorded. Either way the message is left
/// where it is.
pub(super) fn record_return(
    state: &State,
    t: &Triage<'_>,
    uidvalidity: u32,
    f: &Fetched,
    msg: &Message<'_>,
    now: i64,
) -> anyhow::Result<bool> {
    let account = t.account;
    let known = known_decision(state, &account.name, msg)?;
    if known
        .as_ref()
        .is_some_and(|e| e.decision.action == Action::Keep)
    {
        return Ok(false);
    }
    let correction = correction(&account.mailbox, f.uid, msg, known.as_ref(), now);
    let recorded = state.record_correction(&account.name, uidvalidity, &correction)?;
    if recorded {
        info!(
            uid = f.uid,
            rule = correction.rule.as_deref().unwrap_or("-"),
            "moved back to the Inbox by hand: delega leaves it there"
        );
    }
    Ok(recorded)
}

fn known_decision(
    state: &State,
    account: &str,
    msg: &Message<'_>,
) -> anyhow::Result<Option<Entry>> {
    match msg.message_id() {
        Some(id) => state.entry_by_message_id(account, id),
        None => Ok(None),
    }
}

fn correction(
    mailbox: &str,
    uid: u32,
    msg: &Message<'_>,
    known: Option<&Entry>,
    now: i64,
) -> Correction {
    Correction {
        mailbox: mailbox.to_string(),
        uid,
        message_id: msg.message_id().map(str::to_string),
        from_addr: msg.sender().map(|s| s.address.clone()).unwrap_or_default(),
        list_id: msg
            .header_values("List-Id")
            .next()
            .map(|v| v.trim().to_string()),
        subject: msg.subject().to_string(),
        ledger_id: known.map(|e| e.id),
        category: known.map(|e| e.decision.category),
        rule: known.and_then(|e| e.decision.rule.clone()),
        at: now,
    }
}

/// Looks at what arrived in a filing folder since the last pass: delega's own filings are
/// passed over, the entrepreneur's moves recorded, hand delegations forwarded.
pub(super) async fn watch_folder(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    folder: &str,
    report: &mut PassReport,
) -> anyhow::Result<()> {
    let account = t.account;
    let info = boxes.select(folder).await?;
    let cursor = match state.cursor(&account.name, folder)? {
        Some(c) if c.uidvalidity == info.uidvalidity => c,
        _ => {
            // First look (or the folder was renumbered): only moves from now on count.
            let start = Cursor {
                uidvalidity: info.uidvalidity,
                last_uid: info.uidnext.saturating_sub(1),
                since: now(),
            };
            state.set_cursor(&account.name, folder, start)?;
            return Ok(());
        }
    };
    finish_pending(boxes, state, t, (folder, info), report).await?;
    let uids = boxes.uids_after(cursor.last_uid).await?;
    for chunk in uids.chunks(500) {
        let heads = boxes.fetch_headers(chunk).await?;
        for head in &heads {
            let msg = Message::parse(&head.raw);
            let known = known_decision(state, &account.name, &msg)?;
            let ours = known.as_ref().is_some_and(
                |e| matches!(&e.decision.action, Action::File(f) | Action::Forward(f) if f == folder),
            );
            // A forward given up for good left its message in the Inbox (its task is "not
            // sent"): moved into the delegation folder by hand, it is delegated anew, a new
            // task, rather than passed over as delega's own filing.
            let refused = known.as_ref().is_some_and(|e| {
                e.status == Status::Failed && matches!(e.decision.action, Action::Forward(_))
            });
            if ours && !refused {
                continue;
            }
            if let Some(e) = known.as_ref().filter(|_| !ours) {
                let c = correction(folder, head.uid, &msg, Some(e), now());
                if state.record_correction(&account.name, info.uidvalidity, &c)? {
                    report.corrections += 1;
                    info!(
                        uid = head.uid,
                        folder,
                        rule = c.rule.as_deref().unwrap_or("-"),
                        "moved by hand"
                    );
                }
            }
            let forwarded = match msg.message_id() {
                Some(id) => state.already_forwarded(&account.name, id)?,
                None => false,
            };
            if folder == account.folders.delegated && !forwarded {
                delegate_by_hand(
                    boxes,
                    state,
                    t,
                    (folder, info.uidvalidity),
                    head.uid,
                    report,
                )
                .await?;
            }
        }
        let last = chunk.iter().copied().max().unwrap_or(cursor.last_uid);
        state.set_cursor(
            &account.name,
            folder,
            Cursor {
                last_uid: last,
                ..cursor
            },
        )?;
    }
    Ok(())
}

/// Forwards a message the entrepreneur put in the delegation folder: to the assistant of
/// the rule that comes closest, else the account's default assistant, with the usual
/// guards. It stays in that folder.
async fn delegate_by_hand(
    boxes: &mut Connection,
    state: &mut State,
    t: &Triage<'_>,
    (folder, uidvalidity): (&str, u32),
    uid: u32,
    report: &mut PassReport,
) -> anyhow::Result<()> {
    let account = t.account;
    if state
        .entry_by_uid(&account.name, folder, uidvalidity, uid)?
        .is_some()
    {
        return Ok(()); // already planned by a pass that did not finish
    }
    let Some(fetched) = boxes.fetch(&[uid]).await?.into_iter().next() else {
        return Ok(()); // moved away again meanwhile
    };
    let msg = Message::parse(&fetched.raw);
    let closest = account.rules.closest_delegable(&msg);
    let assistant = closest
        .and_then(|r| r.assistant.clone())
        .or_else(|| account.default_assistant.clone());
    let unassigned = HandKept {
        folder: folder.to_string(),
        refusal: None,
    };
    let decision = match assistant {
        Some(assistant) => Decision {
            category: Category::Delegable,
            rule: closest.map(|r| r.name.clone()),
            assistant: Some(assistant),
            instructions: closest.and_then(|r| r.instructions.clone()),
            observe: false,
            why: match closest {
                Some(r) => format!("moved into {folder} by hand; rule {} came closest", r.name),
                None => format!("moved into {folder} by hand; the default assistant takes it"),
            },
            reason: None,
        },
        None => Decision {
            category: Category::Strategic,
            rule: None,
            assistant: None,
            instructions: None,
            observe: false,
            why: unassigned.to_string(),
            reason: Some(Reason::HandKept(unassigned)),
        },
    };
    // The usual guards; a refused one stays in the folder, not in the Inbox as a guarded
    // decision would say.
    let decision = match decision.category {
        Category::Delegable => match refuse_forward(&msg, account, History::default()) {
            Some(refusal) => {
                let hand = HandKept {
                    folder: folder.to_string(),
                    refusal: Some(refusal),
                };
                Decision {
                    category: Category::Strategic,
                    assistant: None,
                    instructions: None,
                    why: hand.to_string(),
                    reason: Some(Reason::HandKept(hand)),
                    ..decision
                }
            }
            None => decision,
        },
        _ => decision,
    };
    let mut entry = plan(t, &msg, uid, decision);
    if !matches!(entry.action, Action::Forward(_)) {
        // Not forwardable: the message stays where the entrepreneur put it, untouched.
        entry.action = Action::Nothing;
        warn!(uid, why = %entry.why, "hand delegation not forwarded");
        // The subject says which message; the reason why, as data.
        let detail = match &entry.reason {
            Some(_) => format!("\"{}\"", entry.subject),
            None => format!("\"{}\": {}", entry.subject, entry.why),
        };
        state.record_event_with_reason(
            &account.name,
            "delegation",
            &detail,
            entry.reason.as_ref(),
            now(),
        )?;
    }
    log_decision(&entry);
    let address_of = |id: &str| account.assistant(id).map(|a| a.address.clone());
    let recorded = state.record(
        &account.name,
        folder,
        uidvalidity,
        std::slice::from_ref(&entry),
        &address_of,
        now(),
    )?;
    super::follow_up::fix_dues(state, account)?;
    let recorded = recorded.first().context("recorded one entry")?;
    // A forward is sent and settled; any other decision here was recorded done.
    let mut filing = Filing::default();
    if let Action::Forward(_) = entry.action {
        let planned = recorded.forward.as_ref();
        let planned = planned.context("a forward decision without its outbox row")?;
        let job = (&entry, planned, &msg);
        forward(state, t, (recorded.id, folder), job, report, &mut filing).await?;
    }
    filing.flush(boxes, state, account, None).await
}
