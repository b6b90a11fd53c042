//! `delega undo`: takes back delega's filings, of a time window or of one rule.
//!
//! Only a message still where delega put it moves back into the Inbox (found in that folder
//! by delega's keyword and its Message-ID); one the entrepreneur moved since stays where
//! they put it. Each outcome is recorded (`state/undo.rs`) before the move, so that the
//! message, back in the Inbox, is neither learned as a correction nor filed again by the
//! same decision. A forward that went out cannot be recalled: it is listed, for the
//! entrepreneur to tell the assistant. Moves go through [`Connection::move_to`], as filing.

use std::collections::BTreeMap;

use crate::imap::Connection;
use crate::state::{Action, Entry, OutboxRow, OutboxState, State, UndoOutcome};

/// One filing to take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// Its ledger row.
    pub entry: Entry,
    /// Where delega put it.
    pub folder: String,
    /// Its forward, for a delegated message.
    pub forward: Option<OutboxRow>,
}

impl Filed {
    /// The filing of a ledger row, if it moved the message out of the Inbox.
    pub fn of(entry: Entry, forward: Option<OutboxRow>) -> Option<Filed> {
        let folder = match &entry.decision.action {
            Action::File(f) | Action::Forward(f) => f.clone(),
            Action::Keep | Action::Nothing => return None,
        };
        Some(Filed {
            entry,
            folder,
            forward,
        })
    }

    /// The forward that went out for it, if one did (sent, or maybe sent).
    pub fn forwarded(&self) -> Option<&OutboxRow> {
        self.forward
            .as_ref()
            .filter(|f| f.state == OutboxState::Sent || f.may_be_duplicate())
    }
}

/// What undo found (and, unless a dry run, did) for one filing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    /// The filing.
    pub filed: Filed,
    /// Moved back, or why not.
    pub outcome: UndoOutcome,
}

/// Parses a duration such as `90m`, `2h`, `1d12h` or `1w` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "`{c}` is not a unit: use s, m, h, d or w (e.g. 2h, 1d)"
                ));
            }
        };
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("a number must come before `{c}` (e.g. 2h, 1d)"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or("too long a duration")?;
        digits.clear();
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err("give a number and a unit, e.g. 30m, 2h, 1d".into());
    }
    Ok(total)
}

/// Looks for each filing where delega put it and, unless `dry_run`, moves those still
/// there back into `inbox`, recording every outcome.
pub async fn undo(
    boxes: &mut Connection,
    state: &State,
    (account, inbox): (&str, &str),
    filings: Vec<Filed>,
    dry_run: bool,
    now: i64,
) -> anyhow::Result<Vec<Undone>> {
    let mut by_folder: BTreeMap<String, Vec<Filed>> = BTreeMap::new();
    for f in filings {
        by_folder.entry(f.folder.clone()).or_default().push(f);
    }
    let mut all = Vec::new();
    for (folder, filings) in by_folder {
        boxes.select(&folder).await?;
        let mut found = Vec::new();
        let mut undone = Vec::new();
        for filed in filings {
            let uids = match filed.entry.decision.message_id.as_deref() {
                Some(id) => boxes.uids_filed_with_message_id(id).await?,
                None => None,
            };
            let outcome = match uids {
                None => UndoOutcome::NotFindable,
                Some(uids) if uids.is_empty() => UndoOutcome::Moved,
                Some(uids) => {
                    found.extend(uids);
                    UndoOutcome::MovedBack
                }
            };
            undone.push(Undone { filed, outcome });
        }
        if !dry_run {
            // Recorded first: a message back in the Inbox must be known as undone.
            for u in &undone {
                state.record_undo(account, &u.filed.entry, u.outcome, now)?;
            }
            found.sort_unstable();
            found.dedup();
            if let Err(err) = boxes.move_to(&found, inbox).await {
                for u in undone
                    .iter()
                    .filter(|u| u.outcome == UndoOutcome::MovedBack)
                {
                    state.forget_undo(&u.filed.entry)?;
                }
                return Err(err.context(format!("moving messages back from {folder} to {inbox}")));
            }
        }
        all.extend(undone);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("2h"), Ok(7_200));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("1w"), Ok(604_800));
        for bad in ["", "2", "h", "2 hours", "3y", "-2h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_filings_out_of_the_inbox_can_be_undone() {
        let mut entry = crate::state::tests::entry(
            1,
            crate::classify::Category::Noise,
            Action::File("Noise".into()),
        );
        let row = |decision: crate::state::NewEntry| Entry {
            id: 1,
            mailbox: "INBOX".into(),
            uidvalidity: 1,
            decision,
            status: crate::state::Status::Done,
            detail: None,
            decided_at: 0,
        };
        assert_eq!(
            Filed::of(row(entry.clone()), None).map(|f| f.folder),
            Some("Noise".into())
        );
        entry.action = Action::Keep;
        assert_eq!(Filed::of(row(entry.clone()), None), None);
        entry.action = Action::Nothing;
        assert_eq!(Filed::of(row(entry), None), None);
    }
}
