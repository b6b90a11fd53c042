//! A reloaded config applied account by account: which tasks it stops and which it starts,
//! told by a fingerprint of each account's settings, so that an unchanged account keeps its
//! IMAP connection.

use std::sync::Arc;

use tracing::error;

use super::supervisor::{Running, fingerprint, finish, start};
use super::{Control, RunOptions, Shared, open_files};
use crate::config::{Account, Config};

/// Applies a reloaded config account by account: an account whose settings did not change
/// keeps its task, and so its IMAP connection (no new login); a changed or removed one is
/// stopped (and waited for, so that two tasks never share an account); a changed or new one
/// is started, and so is one that is not connected (a fixed password file or a user created
/// since is tried at once, not after the 10 minutes an account that needs attention waits).
/// Returns the tasks in the new config's order, and how many were (re)started.
pub(super) async fn reload(
    running: Vec<Running>,
    old: &Config,
    new: &Arc<Config>,
    opts: RunOptions,
    shared: &Arc<Shared>,
    control: &Control,
) -> (Vec<Running>, usize) {
    let refused = open_files(new.accounts.len());
    if let Err(err) = &refused {
        error!("{err}: only the accounts already running keep going");
    }
    // What every account task uses besides its own table.
    let common_changed =
        fingerprint(&(&old.state, &old.smtp)) != fingerprint(&(&new.state, &new.smtp));
    let wanted: std::collections::HashMap<&str, &Account> =
        new.accounts.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut kept = std::collections::HashMap::new();
    let mut stopped = Vec::new();
    for r in running {
        // An account that is not connected (it needs attention, or waits to reconnect) holds
        // no connection to keep: it starts again and tries at once, whatever its wait.
        let down = matches!(r.health.snapshot(), (true, false, _));
        let same = !common_changed
            && !down
            && wanted
                .get(r.name.as_str())
                .is_some_and(|a| fingerprint(a) == r.fingerprint);
        if same || refused.is_err() {
            kept.insert(r.name.clone(), r);
        } else {
            r.token.cancel();
            stopped.push(r);
        }
    }
    let _ = finish(stopped).await;
    let mut next = Vec::new();
    let mut restarted = 0;
    for (index, account) in new.accounts.iter().enumerate() {
        match kept.remove(&account.name) {
            Some(r) => next.push(r),
            None if refused.is_ok() => {
                restarted += 1;
                next.push(start(new, index, opts, shared, control));
            }
            None => {}
        }
    }
    // Kept by a refused reload but no longer in the config: stopped all the same.
    let gone: Vec<Running> = kept.into_values().collect();
    for r in &gone {
        r.token.cancel();
    }
    let _ = finish(gone).await;
    (next, restarted)
}
