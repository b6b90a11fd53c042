//! The account tasks as the supervisor holds them: each started in its own span and waited
//! for at the end; READY once every account has connected or failed its first try; then,
//! until shutdown, the watchdog pinged while every account is healthy, the status line
//! refreshed, and SIGHUP's new config read (applied by `reload.rs`, refused if invalid).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::account::account_task;
use super::{Control, RunOptions, Shared, now};
use crate::config::{self, Config};
use crate::metrics::{self, ReloadOutcome};
use crate::systemd::{Health, Notifier, watchdog_interval};
use crate::triage::PassReport;

/// One account task and what the supervisor knows of it.
pub(super) struct Running {
    pub(super) name: String,
    pub(super) health: Arc<Health>,
    /// Stops this account alone (a reload that changed it); a child of the shutdown token.
    pub(super) token: CancellationToken,
    /// [`fingerprint`] of the settings the task runs with.
    pub(super) fingerprint: u64,
    task: JoinHandle<anyhow::Result<PassReport>>,
}

/// A digest of an account's settings, to tell whether a reload changed them. Taken over
/// their `Debug` form, which shows every setting (rules and patterns included) and nothing
/// that varies between two reads of the same file; never shown, never stored.
pub(super) fn fingerprint(settings: &impl std::fmt::Debug) -> u64 {
    use std::fmt::Write as _;
    use std::hash::Hasher as _;
    struct Digest(std::collections::hash_map::DefaultHasher);
    impl std::fmt::Write for Digest {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut digest = Digest(std::collections::hash_map::DefaultHasher::new());
    let _ = write!(digest, "{settings:?}");
    digest.0.finish()
}

/// Starts the task of `config.accounts[index]` in its own span, with a stop of its own (a
/// child of the shutdown token).
pub(super) fn start(
    config: &Arc<Config>,
    index: usize,
    opts: RunOptions,
    shared: &Arc<Shared>,
    control: &Control,
) -> Running {
    let config = Arc::clone(config);
    let shared = Arc::clone(shared);
    let token = control.shutdown.child_token();
    let task_token = token.clone();
    let mut retry = control.retry.clone();
    let account = &config.accounts[index];
    let name = account.name.clone();
    let fingerprint = fingerprint(account);
    let health = Health::new();
    let span = info_span!("account", account = %name);
    let task_health = Arc::clone(&health);
    let task = tokio::spawn(
        async move {
            let control = (&task_token, &mut retry);
            account_task(&shared, &config, index, opts, control, &task_health).await
        }
        .instrument(span),
    );
    Running {
        name,
        health,
        token,
        fingerprint,
        task,
    }
}

/// Waits for each task to end, and gives each account's outcome (a task that panicked as
/// crashed).
pub(super) async fn finish(running: Vec<Running>) -> Vec<(String, anyhow::Result<PassReport>)> {
    let mut results = Vec::new();
    for r in running {
        let result = match r.task.await {
            Ok(result) => result,
            Err(join) => Err(anyhow::anyhow!("account task crashed: {join}")),
        };
        results.push((r.name, result));
    }
    results
}

/// READY=1 once every account has connected or failed its first try (at most 60 s).
pub(super) async fn announce_ready(
    notifier: &Notifier,
    running: &[Running],
    shutdown: &CancellationToken,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline && !shutdown.is_cancelled() {
        if running.iter().all(|r| r.health.snapshot().0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    notifier.ready(&status_line(running));
    info!(status = %status_line(running), "ready");
}

/// How many accounts are watched, and which are not yet or no longer connected (the first
/// few named: with thousands of accounts, a status line of every name says nothing).
fn status_line(running: &[Running]) -> String {
    const NAMED: usize = 5;
    let (mut connected, mut connecting) = (0, 0);
    let mut down = Vec::new();
    for r in running {
        match r.health.snapshot() {
            (_, true, _) => connected += 1,
            (false, false, _) => connecting += 1,
            (true, false, _) => down.push(r.name.as_str()),
        }
    }
    if connecting == 0 && down.is_empty() {
        return format!("watching {connected} account(s)");
    }
    let mut line = format!("watching {connected} of {} account(s)", running.len());
    if connecting > 0 {
        line += &format!("; connecting: {connecting}");
    }
    if !down.is_empty() {
        line += &format!(
            "; reconnecting: {}",
            down[..down.len().min(NAMED)].join(", ")
        );
        if down.len() > NAMED {
            line += &format!(" and {} more", down.len() - NAMED);
        }
    }
    line
}

/// Waits for shutdown (returns `None`) or a valid reload (returns the new config), pinging
/// the watchdog while every account is healthy and refreshing the status line.
pub(super) async fn supervise(
    path: &std::path::Path,
    notifier: &Notifier,
    running: &[Running],
    control: &mut Control,
) -> Option<Config> {
    let ping = watchdog_interval();
    let mut tick = tokio::time::interval(ping.unwrap_or(Duration::from_secs(30)));
    loop {
        tokio::select! {
            () = control.shutdown.cancelled() => return None,
            Some(()) = control.reload.recv() => {
                notifier.reloading();
                match config::load(path) {
                    Ok(loaded) => {
                        for w in &loaded.warnings {
                            warn!("{w}");
                        }
                        metrics::reloaded(ReloadOutcome::Applied);
                        return Some(loaded.config);
                    }
                    Err(err) => {
                        metrics::reloaded(ReloadOutcome::Refused);
                        error!("reload refused, the running config stays in force:\n{err}");
                        notifier.notify("READY=1");
                    }
                }
            }
            _ = tick.tick() => {
                let now = now();
                let healthy = running.iter().all(|r| r.health.is_healthy(now));
                if ping.is_some() && healthy {
                    notifier.watchdog();
                } else if !healthy {
                    warn!("an account operation is stuck: the watchdog is no longer pinged");
                }
                notifier.status(&status_line(running));
            }
        }
    }
}
