//! The daemon: one task per account, each connecting, triaging and waiting for mail until
//! shutdown; a failing account reconnects with backoff and never stops the others.
//!
//! Lifecycle as values: shutdown is a `CancellationToken` handed to every task (a task
//! finishes the batch in hand, leaves IDLE with DONE, logs out, and returns); a reload
//! (SIGHUP) loads the config anew and, only if it is valid, stops the same way only the
//! tasks of the accounts whose settings changed (the others keep their connections) and
//! starts them on the new config. New connections wait their turn at a bounded rate
//! ([`crate::pacing`]); an idle account holds no state-database connection
//! ([`StatePool`]). systemd hears READY, STATUS, STOPPING and watchdog
//! pings from here.
//!
//! This file starts delega ([`run`]: the instance lock, the database, the open-file limit,
//! `/metrics`) and stops it. The rest, from the whole to one connection:
//! - `supervisor.rs`: the account tasks — started, waited for, watched for the watchdog and
//!   the status line — and the signals that stop delega or reload its config;
//! - `reload.rs`: which tasks a reloaded config stops and starts (a settings fingerprint);
//! - `account.rs`: one account's task across connections — reconnections with backoff,
//!   failures told and recorded, the bounded stop;
//! - `session.rs`: one connection's life — connect, a triage pass, wait for mail (IDLE,
//!   polling, recheck, or a `delega retry`), again;
//! - `schedule.rs`: **the digest is scheduled here** — after each pass, sends it if due, and
//!   says until when the account may sleep (the next digest or the next forward due).

mod account;
mod reload;
mod schedule;
mod session;
mod supervisor;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::limits::{self, Raised};
use crate::metrics;
use crate::pacing::Pacer;
use crate::state::{InstanceLock, State, StatePool};
use crate::systemd::Notifier;
use crate::triage::PassReport;

use reload::reload;
use supervisor::{Running, announce_ready, finish, start, supervise};

/// How `delega run` was asked to behave.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// One pass per account, then exit (cron, tests, the demo).
    pub once: bool,
    /// Decide and record, act on nothing.
    pub observe: bool,
    /// `delega backfill`: also triage what is already in each Inbox from this many days
    /// ago, unless already decided.
    pub backfill_days: Option<u32>,
}

/// Signals from outside: stop for good, reload the config, or send waiting forwards now.
pub struct Control {
    /// Cancelled at SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
    /// One message per SIGHUP.
    pub reload: mpsc::Receiver<()>,
    /// Changes at each SIGUSR1 (`delega retry`): every account wakes and tries its waiting
    /// forwards at once, whatever their backoff.
    pub retry: watch::Receiver<u64>,
}

/// What every account task shares: the state database's connections, and the pace of new
/// IMAP connections.
struct Shared {
    pool: Arc<StatePool>,
    pacer: Pacer,
}

/// Runs every account until shutdown (or one pass each with `once`), reloading the config
/// from `path` at each reload request. Returns each account's name with its outcome.
pub async fn run(
    path: PathBuf,
    config: Config,
    opts: RunOptions,
    mut control: Control,
) -> Vec<(String, anyhow::Result<PassReport>)> {
    let notifier = Notifier::from_env();
    // Held until delega exits: one delega per state database.
    let _lock = match InstanceLock::acquire(&config.state) {
        Ok(lock) => lock,
        Err(err) => return vec![("state".to_string(), Err(err.into()))],
    };
    // Open (and migrate) the database once before the account tasks borrow connections:
    // a database that cannot be used stops delega here, with the reason.
    if let Err(err) = State::open(&config.state) {
        let err = err.context("delega cannot start");
        return vec![("state".to_string(), Err(err))];
    }
    // Before any account opens a connection, not as EMFILE in the middle of the run.
    if let Err(err) = open_files(config.accounts.len()) {
        return vec![("open files".to_string(), Err(err.into()))];
    }
    // Bound before the accounts start, so a port in use stops delega with the reason;
    // not for `--once`, which is over before a scrape.
    let listener = match &config.metrics {
        Some(m) if !opts.once => match tokio::net::TcpListener::bind(m.listen).await {
            Ok(l) => {
                info!(listen = %m.listen, "serving /metrics");
                Some(tokio::spawn(metrics::serve(l, control.shutdown.clone())))
            }
            Err(err) => {
                let err = anyhow::Error::new(err)
                    .context(format!("cannot listen on {} for [metrics]", m.listen));
                return vec![("metrics".to_string(), Err(err))];
            }
        },
        _ => None,
    };
    let shared = Arc::new(Shared {
        pool: StatePool::new(config.state.clone()),
        pacer: Pacer::new(config.connect_rate),
    });
    let mut config = Arc::new(config);
    let mut running: Vec<Running> = (0..config.accounts.len())
        .map(|index| start(&config, index, opts, &shared, &control))
        .collect();
    if opts.once {
        return finish(running).await;
    }
    announce_ready(&notifier, &running, &control.shutdown).await;
    loop {
        let Some(new) = supervise(&path, &notifier, &running, &mut control).await else {
            notifier.stopping();
            let results = finish(running).await;
            if let Some(listener) = listener {
                let _ = listener.await;
            }
            return results;
        };
        if new.metrics != config.metrics {
            warn!("[metrics] changed: the listener changes at the next restart");
        }
        if new.connect_rate != config.connect_rate {
            warn!("connect_rate changed: the new rate applies at the next restart");
        }
        let new = Arc::new(new);
        let (next, restarted) = reload(running, &config, &new, opts, &shared, &control).await;
        running = next;
        config = new;
        notifier.notify("READY=1");
        info!(
            accounts = config.accounts.len(),
            restarted, "reloaded the config"
        );
    }
}

/// Raises the open-file limit if the accounts need it (logged), or says how many they need.
fn open_files(accounts: usize) -> Result<(), limits::TooFewFiles> {
    if let Raised::From(soft, hard) = limits::ensure(accounts)? {
        info!(
            from = soft,
            to = hard,
            needed = limits::needed(accounts),
            "raised the open-file limit"
        );
    }
    Ok(())
}

/// Now, in Unix seconds.
fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
