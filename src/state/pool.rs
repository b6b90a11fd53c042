//! A few state-database connections shared by all the account tasks of one daemon.
//!
//! An idle account needs no database: it waits in IDLE. So a task borrows a connection
//! ([`StatePool::get`]) for a pass and gives it back before it waits again. Ten thousand
//! idling accounts then hold no SQLite file descriptors (each connection holds three: the
//! database, its WAL and its shared-memory index) and no page cache; at most
//! [`StatePool::MAX`] connections are ever open. Each borrowed connection is a connection
//! of its own, so one account's slow pass (a server slow to answer, an SMTP send) holds
//! one of them and never makes the others wait behind it; SQLite's WAL lets their short
//! write transactions take turns.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::State;

/// The connections, and the right to open or borrow one.
pub struct StatePool {
    /// The database every connection opens.
    path: PathBuf,
    /// Connections given back, ready for the next borrower.
    idle: Mutex<Vec<State>>,
    /// One permit per connection that may be in use at once.
    permits: Arc<Semaphore>,
}

/// A borrowed connection; given back to the pool when dropped.
pub struct Lease {
    /// `Some` until dropped.
    state: Option<State>,
    /// Where it goes back.
    pool: Arc<StatePool>,
    /// Released after the connection is back in `idle`.
    _permit: OwnedSemaphorePermit,
}

impl StatePool {
    /// The most connections open at once: the passes running at the same moment (a pass
    /// holds its connection for its whole length, network waits included). Each costs
    /// three file descriptors and up to SQLite's page cache (2 MB).
    pub const MAX: usize = 32;

    /// A pool of connections to the database at `path` (opened when first borrowed).
    pub fn new(path: PathBuf) -> Arc<StatePool> {
        Arc::new(StatePool {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(Self::MAX)),
        })
    }

    /// A connection: an idle one, or a new one while fewer than [`Self::MAX`] are open;
    /// otherwise waits for one to be given back. An error (the database cannot be opened)
    /// is the caller's to retry, like a server that is down.
    pub async fn get(self: &Arc<Self>) -> anyhow::Result<Lease> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let idle = self.idle.lock().expect("no panic while holding it").pop();
        let state = match idle {
            Some(state) => state,
            None => State::open(&self.path)?,
        };
        Ok(Lease {
            state: Some(state),
            pool: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Connections open and not borrowed now.
    pub fn idle(&self) -> usize {
        self.idle.lock().expect("no panic while holding it").len()
    }
}

impl Deref for Lease {
    type Target = State;

    fn deref(&self) -> &State {
        self.state.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut State {
        self.state.as_mut().expect("present until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            // A transaction is never left open across calls (each State method commits or
            // rolls back its own), so the connection is ready for the next borrower.
            if let Ok(mut idle) = self.pool.idle.lock() {
                idle.push(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_reused_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = StatePool::new(dir.path().join("state.db"));
        {
            let a = pool.get().await.expect("opens");
            let b = pool.get().await.expect("opens a second");
            assert!(a.cursor("x", "INBOX").expect("reads").is_none());
            drop((a, b));
        }
        assert_eq!(pool.idle(), 2, "both given back");
        let again = pool.get().await.expect("reuses");
        assert_eq!(pool.idle(), 1, "an idle one was reused, none opened");
        drop(again);

        let mut held = Vec::new();
        for _ in 0..StatePool::MAX {
            held.push(pool.get().await.expect("opens"));
        }
        let waiting = pool.get();
        tokio::pin!(waiting);
        assert!(
            futures::FutureExt::now_or_never(&mut waiting).is_none(),
            "no more than MAX at once"
        );
        held.pop();
        assert!(waiting.await.is_ok(), "a returned one is lent again");
    }
}
