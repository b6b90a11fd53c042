//! The state database (SQLite, WAL): one file per table — `ledger.rs`, `cursor.rs`,
//! `events.rs`, `outbox.rs`, `tasks.rs`, `corrections.rs`, `undo.rs` — and `schema.rs`, the
//! numbered migrations run when it is opened.
//!
//! Every message delega looks at gets a ledger row before anything is done to it; actions
//! are marked done, and the mailbox cursor advanced, in one transaction afterwards. So a
//! crash at any point leaves either a pending row (the action is redone) or a done row (the
//! message is never looked at again). The schema evolves by numbered migrations.

use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

mod corrections;
mod cursor;
mod digest;
mod events;
mod ledger;
mod lock;
mod outbox;
mod pool;
mod reasons;
pub mod report;
mod schema;
mod tasks;
#[cfg(test)]
pub(crate) mod tests;
mod undo;

pub use corrections::Correction;
pub use cursor::Cursor;
pub use ledger::{Action, Entry, NewEntry, Recorded, Status};
pub use lock::{InstanceLock, LockError, holder, lock_path};
pub use outbox::{InDoubt, OutboxRow, OutboxState};
pub use pool::{Lease, StatePool};
pub use tasks::TaskFilter;
pub use undo::{UndoFilter, UndoOutcome};

/// The state database.
pub struct State {
    conn: Connection,
}

impl State {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> anyhow::Result<State> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open state database {}", path.display()))?;
        Self::setup(conn).with_context(|| format!("state database {}", path.display()))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> anyhow::Result<State> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> anyhow::Result<State> {
        schema::migrate(&mut conn)?;
        Ok(State { conn })
    }
}
