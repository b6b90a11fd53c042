//! What a pass has decided to do on the server, gathered and done in few commands.
//!
//! Dovecot rescans a Maildir after every STORE and MOVE, so the cost of filing grows with
//! the number of commands times the size of the Inbox. A pass therefore records its
//! decisions batch by batch (pending, in the ledger) and leaves the server work here: one
//! `UID STORE` of delega's keyword and one `UID MOVE` per folder for thousands of messages.
//! Only then are the ledger rows marked done, with the cursor, in one transaction. A crash
//! before that leaves the rows pending, and the next pass finishes them.

use std::collections::BTreeMap;
use std::time::Instant;

use tracing::debug;

use crate::config::Account;
use crate::imap::{Connection, FilingMode, KEYWORD};
use crate::state::{Cursor, State, Status};

/// How many decisions a pass gathers before it files them. Each flush costs Dovecot a
/// rescan of the Maildir, so this is large; it still bounds the memory (a few dozen bytes
/// per decision) and lets a very long backlog show progress in the Inbox every few seconds.
pub(super) const FLUSH_AT: usize = 20_000;

/// A ledger row's settled status, with the reason for a failure.
pub(crate) type Settlement = (i64, Status, Option<String>);

/// Server work and ledger outcomes waiting to be done together.
#[derive(Debug, Default)]
pub(crate) struct Filing {
    /// UIDs to mark with delega's keyword (before any move: the keyword travels along).
    keyword: Vec<u32>,
    /// Per folder, the (ledger id, UID) of the messages to move there.
    moves: BTreeMap<String, Vec<(i64, u32)>>,
    /// Rows settled once the server work is done.
    outcomes: Vec<Settlement>,
}

impl Filing {
    /// How many decisions are gathered.
    pub(super) fn len(&self) -> usize {
        self.outcomes.len() + self.moves.values().map(Vec::len).sum::<usize>()
    }

    /// Marks `uid` with delega's keyword.
    pub(super) fn mark(&mut self, uid: u32) {
        self.keyword.push(uid);
    }

    /// Moves `uid` to `folder`; its row `ledger_id` is done once it is there.
    pub(super) fn file(&mut self, ledger_id: i64, uid: u32, folder: &str) {
        self.moves
            .entry(folder.to_string())
            .or_default()
            .push((ledger_id, uid));
    }

    /// Settles a row that needs no move.
    pub(super) fn settle(&mut self, outcome: Settlement) {
        self.outcomes.push(outcome);
    }

    /// Does the server work, then settles every row (and moves `cursor`, if given) in one
    /// transaction. Leaves `self` empty.
    pub(super) async fn flush(
        &mut self,
        boxes: &mut Connection,
        state: &mut State,
        account: &Account,
        cursor: Option<(&str, Cursor)>,
    ) -> anyhow::Result<()> {
        let Filing {
            mut keyword,
            moves,
            mut outcomes,
        } = std::mem::take(self);
        let started = Instant::now();
        // The forwards sent are on disk before their originals leave the Inbox.
        state.sync_sends()?;
        keyword.sort_unstable();
        boxes.add_keyword(&keyword, KEYWORD).await?;
        let marked = started.elapsed();
        let mut moved = 0;
        for (folder, items) in moves {
            let mut uids: Vec<u32> = items.iter().map(|&(_, uid)| uid).collect();
            uids.sort_unstable();
            boxes.move_to(&uids, &folder).await?;
            moved += uids.len();
            // Only a real move takes the message out of the Inbox.
            let status = match boxes.server.filing {
                FilingMode::CopyOnly => Status::Copied,
                FilingMode::Move | FilingMode::CopyExpunge => Status::Done,
            };
            outcomes.extend(items.into_iter().map(|(id, _)| (id, status, None)));
        }
        let filed = started.elapsed();
        if outcomes.is_empty() && cursor.is_none() {
            return Ok(());
        }
        state.complete(&account.name, &outcomes, cursor, super::now())?;
        debug!(
            marked = keyword.len(),
            moved,
            settled = outcomes.len(),
            store_ms = marked.as_millis(),
            move_ms = (filed - marked).as_millis(),
            ledger_ms = (started.elapsed() - filed).as_millis(),
            "filed"
        );
        Ok(())
    }
}
