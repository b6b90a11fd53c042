//! The daemon: one task per account, each connecting, triaging and waiting for mail until
//! shutdown; a failing account reconnects with backoff and never stops the others.
//!
//! Lifecycle as values: shutdown is a `CancellationToken` handed to every task (a task
//! finishes the batch in hand, leaves IDLE with DONE, logs out, and returns); a reload
//! (SIGHUP) loads the config anew and, only if it is valid, stops the tasks the same way
//! and starts them on the new config. systemd hears READY, STATUS, STOPPING and watchdog
//! pings from here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::attention::{self, SLOW_RETRY, needs_attention};
use crate::config::{self, Account, Config, Folders};
use crate::digest::{self, Outcome};
use crate::imap::{self, FilingMode, Mailboxes, Wake};
use crate::metrics::{self, ForwardOutcome, ReloadOutcome};
use crate::oauth2;
use crate::outbox::Mailer;
use crate::state::{InstanceLock, State};
use crate::systemd::{Health, Notifier, watchdog_interval};
use crate::triage::{PassReport, Triage, pass};

/// After SIGTERM, how long the work in hand may go on before it is dropped: with the 2 s a
/// message already handed over gets for its reply (`outbox::DATA_GRACE`), delega exits
/// within 5 s whatever the servers do; the unit's TimeoutStopSec (15 s) leaves room.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The longest wait between two reconnections to an IMAP server that is down.
const RECONNECT_CAP_SECS: u64 = 10;

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

/// One account task and what the supervisor knows of it.
struct Running {
    name: String,
    health: Arc<Health>,
    task: JoinHandle<anyhow::Result<PassReport>>,
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
    // Open (and migrate) the database once before the account tasks each open their own
    // connection: a database that cannot be used stops delega here, with the reason.
    if let Err(err) = State::open(&config.state) {
        let err = err.context("delega cannot start");
        return vec![("state".to_string(), Err(err))];
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
    let mut config = Arc::new(config);
    loop {
        let generation = control.shutdown.child_token();
        let running = start(&config, opts, &generation, &control.retry);
        if opts.once {
            return finish(running).await;
        }
        announce_ready(&notifier, &running, &control.shutdown).await;
        let reloaded = supervise(&path, &notifier, &running, &mut control).await;
        generation.cancel();
        if reloaded.is_none() {
            notifier.stopping();
        }
        let results = finish(running).await;
        match reloaded {
            Some(new) => {
                if new.metrics != config.metrics {
                    warn!("[metrics] changed: the listener changes at the next restart");
                }
                config = Arc::new(new);
                notifier.notify("READY=1");
                info!(accounts = config.accounts.len(), "reloaded the config");
            }
            None => {
                if let Some(listener) = listener {
                    let _ = listener.await;
                }
                return results;
            }
        }
    }
}

fn start(
    config: &Arc<Config>,
    opts: RunOptions,
    token: &CancellationToken,
    retry: &watch::Receiver<u64>,
) -> Vec<Running> {
    (0..config.accounts.len())
        .map(|index| {
            let config = Arc::clone(config);
            let token = token.clone();
            let mut retry = retry.clone();
            let name = config.accounts[index].name.clone();
            let health = Health::new();
            let span = info_span!("account", account = %name);
            let task_health = Arc::clone(&health);
            let task = tokio::spawn(
                async move {
                    let control = (&token, &mut retry);
                    account_task(&config, index, opts, control, &task_health).await
                }
                .instrument(span),
            );
            Running { name, health, task }
        })
        .collect()
}

async fn finish(running: Vec<Running>) -> Vec<(String, anyhow::Result<PassReport>)> {
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
async fn announce_ready(notifier: &Notifier, running: &[Running], shutdown: &CancellationToken) {
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

fn status_line(running: &[Running]) -> String {
    let connected = running.iter().filter(|r| r.health.snapshot().1).count();
    let down: Vec<&str> = running
        .iter()
        .filter(|r| !r.health.snapshot().1)
        .map(|r| r.name.as_str())
        .collect();
    if down.is_empty() {
        format!("watching {connected} account(s)")
    } else {
        format!(
            "watching {connected} of {} account(s); reconnecting: {}",
            running.len(),
            down.join(", ")
        )
    }
}

/// Waits for shutdown (returns `None`) or a valid reload (returns the new config), pinging
/// the watchdog while every account is healthy and refreshing the status line.
async fn supervise(
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

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn account_task(
    config: &Config,
    index: usize,
    opts: RunOptions,
    (shutdown, retry): (&CancellationToken, &mut watch::Receiver<u64>),
    health: &Health,
) -> anyhow::Result<PassReport> {
    let account = &config.accounts[index];
    let mut state = State::open(&config.state)?;
    let settled = state.settle_interrupted_sends(&account.name, now())?;
    if settled > 0 {
        metrics::forwards(&account.name, ForwardOutcome::InDoubt, settled as u64);
        warn!(
            settled,
            "delega stopped while handing forwards over last time: sending them again (they may reach the assistant twice; the digest says so)"
        );
    }
    let mailer = match Mailer::new(&config.smtp) {
        Ok(m) => Some(m),
        Err(err) => {
            let err = format!("{err:#}");
            warn!(%err, "SMTP is not usable: forwards will wait");
            state.record_event(&account.name, "smtp", &err, now())?;
            None
        }
    };
    let triage = Triage {
        account,
        from: &config.smtp.from,
        mailer: mailer.as_ref(),
        observe: opts.observe,
        retry_now: opts.once,
        shutdown,
        backfill_since: opts
            .backfill_days
            .map(|days| now() - i64::from(days) * 86_400),
    };
    let mut failures = 0u32;
    // Told once: while the grant stays refused, later attempts cost no token request and
    // are not logged or recorded again.
    let mut reauth_told = false;
    loop {
        health.busy(now());
        let control = (shutdown, &mut *retry);
        let work = session(&triage, &mut state, opts, control, health, &mut failures);
        // Whatever the servers do, a stop is bounded: the work in hand gets STOP_GRACE, then
        // it is dropped where it stands (every step is recorded before it is taken, so the
        // next start finishes it, as after a crash).
        let stopped = async {
            shutdown.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        let outcome = tokio::select! {
            outcome = work => outcome,
            () = stopped => {
                warn!("stopping: the server did not finish in time, the work in hand is left for the next start");
                return Ok(PassReport::default());
            }
        };
        match outcome {
            Ok(report) => return Ok(report),
            Err(err) => {
                metrics::imap_connected(&account.name, false);
                health.tried(false);
                health.waiting();
                if let Some(oauth2::TokenError::NeedsReauth { command, .. }) = err.downcast_ref() {
                    if !reauth_told {
                        reauth_told = true;
                        state.record_event(&account.name, "reauth", command, now())?;
                        let full = format!("{err:#}");
                        warn!(error = %full, "the account needs re-authorisation");
                    }
                    if opts.once {
                        return Err(err);
                    }
                    failures += 1;
                    tokio::select! {
                        () = tokio::time::sleep(reconnect_delay(failures)) => {}
                        () = shutdown.cancelled() => return Ok(PassReport::default()),
                    }
                    continue;
                }
                let attention = needs_attention(&err);
                let (kind, detail) = match &attention {
                    Some(reason) => (attention::KIND, reason.clone()),
                    None => ("imap", format!("{err:#}")),
                };
                state.record_event(&account.name, kind, &detail, now())?;
                if opts.once {
                    return Err(match attention {
                        Some(reason) => anyhow::anyhow!("needs attention: {reason}"),
                        None => err,
                    });
                }
                let wait = if attention.is_some() {
                    // Retrying soon would only repeat it: a person must act (a reload retries
                    // at once).
                    warn!(reason = %detail, retry_in_secs = SLOW_RETRY.as_secs(), "account needs attention");
                    SLOW_RETRY
                } else {
                    failures += 1;
                    let wait = reconnect_delay(failures);
                    warn!(error = %detail, retry_in_secs = wait.as_secs(), "account unavailable");
                    wait
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return Ok(PassReport::default()),
                }
            }
        }
    }
}

/// One connection's life: connect, then triage and wait until shutdown (or once).
async fn session(
    t: &Triage<'_>,
    state: &mut State,
    opts: RunOptions,
    (shutdown, retry): (&CancellationToken, &mut watch::Receiver<u64>),
    health: &Health,
    failures: &mut u32,
) -> anyhow::Result<PassReport> {
    let account: &Account = t.account;
    let session = imap::connect(&account.imap).await?;
    let mut boxes = Mailboxes::new(session).await?;
    let resolved;
    let resolved_triage;
    let t = if opts.observe || account.observe {
        t
    } else {
        let folders = Folders {
            noise: boxes.ensure_folder(&account.folders.noise).await?,
            delegated: boxes.ensure_folder(&account.folders.delegated).await?,
        };
        report_filing_mode(&boxes, state, account)?;
        if folders == account.folders {
            t
        } else {
            info!(noise = %folders.noise, delegated = %folders.delegated, "folders in the server's namespace");
            resolved = Account {
                folders,
                ..account.clone()
            };
            resolved_triage = Triage {
                account: &resolved,
                ..*t
            };
            &resolved_triage
        }
    };
    let account: &Account = t.account;
    info!(idle = boxes.server.has_idle, filing = ?boxes.server.filing, "connected");
    health.tried(true);
    metrics::imap_connected(&account.name, true);
    let mut total = PassReport::default();
    loop {
        health.busy(now());
        let started = std::time::Instant::now();
        let report = pass(&mut boxes, state, t, shutdown).await?;
        health.passed(now());
        let queue = state
            .outbox_counts(&account.name)
            .ok()
            .map(|(waiting, _)| waiting);
        metrics::passed(&account.name, now(), started.elapsed(), queue);
        *failures = 0;
        if report != PassReport::default() {
            info!(?report.decided, forwarded = report.forwarded, waiting = report.waiting, "pass done");
        }
        for (category, n) in &report.decided {
            *total.decided.entry(*category).or_default() += n;
        }
        total.forwarded += report.forwarded;
        total.waiting = report.waiting;
        total.left_alone = total.left_alone.or(report.left_alone);
        total.backfill = total.backfill.or(report.backfill);
        if opts.once || shutdown.is_cancelled() {
            break;
        }
        let next_digest = digest_step(t, state).await;
        // IDLE watches the selected mailbox, and a pass ends in another folder.
        boxes.select(&account.mailbox).await?;
        // Mail that arrived during the pass was announced in the responses to the pass's
        // own commands, which were drained; IDLE would not announce it again. Look before
        // waiting (one UID SEARCH): anything new means another pass at once.
        if arrived_during_pass(&mut boxes, state, account).await? {
            continue;
        }
        let wake_at = [state.next_forward_due(&account.name)?, next_digest]
            .into_iter()
            .flatten()
            .min();
        if let Some(mailer) = t.mailer {
            // Not kept open while idling: the server would time it out anyway.
            mailer.close().await;
        }
        let limit = match wake_at {
            Some(at) => Duration::from_secs(at.saturating_sub(now()).max(1) as u64),
            None => Duration::from_secs(24 * 3600),
        };
        health.waiting();
        // The wait ends at shutdown, or early at a retry request (`delega retry`).
        let wake = shutdown.child_token();
        let waited = imap::wait_for_mail(boxes, account.poll, limit, &wake);
        tokio::pin!(waited);
        let asked = async {
            if retry.changed().await.is_err() {
                // No one can ask any more: wait for the other reasons alone.
                std::future::pending::<()>().await;
            }
            wake.cancel();
        };
        let (b, woken) = tokio::select! {
            r = &mut waited => r?,
            () = asked => waited.await?,
        };
        boxes = b;
        if shutdown.is_cancelled() {
            break;
        }
        if woken == Wake::Shutdown {
            let n = state.outbox_due_now(&account.name, now())?;
            info!(forwards = n, "asked to send waiting forwards now");
        } else {
            metrics::woke(&account.name);
        }
    }
    // A polite goodbye; the state is already committed, so a slow server is not waited for.
    if let Some(mailer) = t.mailer {
        mailer.close().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), boxes.session.logout()).await;
    metrics::imap_connected(&account.name, false);
    Ok(total)
}

/// Says once per connection, in the log and the digest's problems, that this server makes
/// delega leave the originals of what it files in the Inbox.
fn report_filing_mode(boxes: &Mailboxes, state: &State, account: &Account) -> anyhow::Result<()> {
    if boxes.server.filing == FilingMode::CopyOnly {
        warn!(
            "this server has neither MOVE nor UIDPLUS: filed messages are copied to their \
             folder and the originals stay in the Inbox (a plain EXPUNGE could remove messages \
             the user marked deleted)"
        );
        state.record_event(&account.name, "server", COPY_ONLY, now())?;
    }
    Ok(())
}

/// The `server` event detail for [`FilingMode::CopyOnly`]: English as `delega status` shows
/// it; the digest recognises this exact text and words it in its own language.
pub const COPY_ONLY: &str = "it has neither MOVE nor UIDPLUS: delega copies messages to \
                             their folders and leaves the originals in the Inbox";

/// True when the Inbox has mail above the cursor (it came in while a pass was running).
async fn arrived_during_pass(
    boxes: &mut Mailboxes,
    state: &mut State,
    account: &Account,
) -> anyhow::Result<bool> {
    let Some(cursor) = state.cursor(&account.name, &account.mailbox)? else {
        return Ok(false);
    };
    Ok(!boxes.uids_after(cursor.last_uid).await?.is_empty())
}

/// Sends the digest if it is due; returns when to look again. A failure here is logged and
/// recorded, never fatal to the account: triage goes on.
async fn digest_step(t: &Triage<'_>, state: &mut State) -> Option<i64> {
    let account = t.account;
    let Some(mailer) = t.mailer else {
        return Some(now() + 600);
    };
    match digest::send_if_due(
        state,
        account,
        t.from,
        mailer,
        jiff::Timestamp::now(),
        false,
    )
    .await
    {
        Ok(Outcome::NotDue(at) | Outcome::Retry(at)) => Some(at),
        Ok(outcome @ (Outcome::Sent | Outcome::Skipped | Outcome::Refused)) => {
            if outcome == Outcome::Sent {
                metrics::digest_sent(&account.name);
            }
            let last = state.last_digest_day(&account.name).ok().flatten();
            digest::next_due(
                account.digest.at,
                &account.digest.timezone,
                last,
                jiff::Timestamp::now(),
            )
            .ok()
            .map(|due| due.at.as_second())
        }
        Err(err) => {
            let err = format!("{err:#}");
            warn!(%err, "cannot prepare the digest");
            let _ = state.record_event(&account.name, "digest", &err, now());
            Some(now() + 600)
        }
    }
}

/// 1 s, 2 s, 4 s, 8 s, then every 10 s, with jitter so that accounts do not reconnect in
/// step. Capped low on purpose: an attempt is one TCP connection to the account's own
/// server, while every minute of delay after the server is back is a minute of mail not
/// triaged and forwards not sent; with a cap of minutes, recovery would lag the server by
/// minutes after a long outage.
fn reconnect_delay(failures: u32) -> Duration {
    let base = 1u64 << failures.saturating_sub(1).min(9);
    let base = base.min(RECONNECT_CAP_SECS);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base * 1000 + nanos % (base * 250 + 1))
}

#[cfg(test)]
mod tests {
    use super::reconnect_delay;

    #[test]
    fn reconnect_delay_grows_and_is_capped() {
        assert!(reconnect_delay(1).as_millis() >= 1000 && reconnect_delay(1).as_millis() <= 1250);
        assert!(reconnect_delay(4).as_secs() >= 8);
        assert!(reconnect_delay(50).as_millis() <= 12_500);
    }
}
