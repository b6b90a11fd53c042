//! A mailbox's cursor: the highest UID delega has triaged, per UIDVALIDITY.
//!
//! The cursor only moves forward together with the ledger rows it covers: the triage pass
//! advances it inside [`State::complete`](super::State::complete)'s transaction, after the
//! actions are done. `set_cursor` alone is for a first start or a UIDVALIDITY change, and
//! for the filing folders' cursors (`triage::corrections`), which mark only what was seen.

use rusqlite::{Connection, OptionalExtension, params};

use super::State;

/// A mailbox's position: what delega has already looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The UIDVALIDITY the UIDs belong to.
    pub uidvalidity: u32,
    /// Every UID up to this one has been triaged.
    pub last_uid: u32,
    /// Unix time of the first start on this mailbox (mail before it is not triaged).
    pub since: i64,
}

impl State {
    /// The cursor of a mailbox, if delega has seen it before.
    pub fn cursor(&self, account: &str, mailbox: &str) -> anyhow::Result<Option<Cursor>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uidvalidity, last_uid, since FROM cursor WHERE account = ?1 AND mailbox = ?2",
                params![account, mailbox],
                |r| {
                    Ok(Cursor {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                        since: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets a mailbox's cursor (first start, or a UIDVALIDITY change).
    pub fn set_cursor(&self, account: &str, mailbox: &str, cursor: Cursor) -> anyhow::Result<()> {
        set_cursor(&self.conn, account, mailbox, cursor)
    }
}

/// Writes a mailbox's cursor, inside whatever transaction `conn` is.
pub(super) fn set_cursor(
    conn: &Connection,
    account: &str,
    mailbox: &str,
    c: Cursor,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO cursor (account, mailbox, uidvalidity, last_uid, since) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account, mailbox) DO UPDATE SET uidvalidity = ?3, last_uid = ?4, since = ?5",
        params![account, mailbox, c.uidvalidity, c.last_uid, c.since],
    )?;
    Ok(())
}
