//! One delega per state database: an exclusive lock on a file beside it, holding the pid.
//!
//! Two processes triaging and forwarding from one database would both act on the same
//! pending rows (both send the same forward, both file the same message). `delega run`
//! (daemon or `--once`) takes this lock for its whole life; a second one is refused and told
//! who holds it. The lock is the kernel's (`flock`), so it goes with its process, however
//! that ends: a stale file left by a `kill -9` is never in the way. Readers (`status`,
//! `digest --preview`, `explain`) take no lock: SQLite's WAL lets them in beside the writer.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another delega{} is already running on the state database {} (lock {})",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        database.display(),
        lock.display()
    )]
    Held {
        /// The holder's pid, as it wrote it.
        pid: Option<u32>,
        /// The state database.
        database: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be opened or written.
    #[error("cannot use the lock file {}: {source}", lock.display())]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The lock file of a state database: `state.db` → `state.db.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl InstanceLock {
    /// Takes the lock of `database` for this process, or says who holds it.
    pub fn acquire(database: &Path) -> Result<InstanceLock, LockError> {
        let lock = lock_path(database);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Not truncated on open: the holder's pid must stay readable by whoever is refused.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    pid: read_pid(&mut file),
                    database: database.to_path_buf(),
                    lock,
                });
            }
            Err(TryLockError::Error(err)) => return Err(io(err)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(InstanceLock { _file: file })
    }
}

/// The pid of the process holding the lock of `database`, if one does.
pub fn holder(database: &Path) -> Result<Option<u32>, LockError> {
    match InstanceLock::acquire(database) {
        Ok(_free) => Ok(None),
        Err(LockError::Held { pid, .. }) => Ok(pid),
        Err(err) => Err(err),
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state.db");
        let first = InstanceLock::acquire(&db).expect("free");
        let err = InstanceLock::acquire(&db).expect_err("held");
        let LockError::Held { pid, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        assert!(err.to_string().contains("already running"), "{err}");
        drop(first);
        assert_eq!(holder(&db).expect("lock file"), None);
        let _again = InstanceLock::acquire(&db).expect("free again");
    }
}
