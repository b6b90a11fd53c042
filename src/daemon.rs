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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::attention::{self, SLOW_RETRY, needs_attention};
use crate::config::{self, Account, Config, Folders};
use crate::delivery::{self, Delivery};
use crate::digest::{self, DigestOutcome};
use crate::imap::{self, Connection, FilingMode, Wake};
use crate::limits::{self, Raised};
use crate::metrics::{self, ReloadOutcome};
use crate::oauth2;
use crate::pacing::Pacer;
use crate::state::{InstanceLock, State, StatePool};
use crate::systemd::{Health, Notifier, watchdog_interval};
use crate::triage::{PassReport, Triage, pass};

/// After SIGTERM, how long the work in hand may go on before it is dropped: with the 2 s a
/// message already handed over gets for its reply (`smtp::DATA_GRACE`), delega exits
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
    /// Stops this account alone (a reload that changed it); a child of the shutdown token.
    token: CancellationToken,
    /// [`fingerprint`] of the settings the task runs with.
    fingerprint: u64,
    task: JoinHandle<anyhow::Result<PassReport>>,
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

/// Applies a reloaded config account by account: an account whose settings did not change
/// keeps its task, and so its IMAP connection (no new login); a changed or removed one is
/// stopped (and waited for, so that two tasks never share an account); a changed or new one
/// is started, and so is one that is not connected (a fixed password file or a user created
/// since is tried at once, not after the 10 minutes an account that needs attention waits). Returns the tasks in the new config's order, and how many were (re)started.
async fn reload(
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

/// A digest of an account's settings, to tell whether a reload changed them. Taken over
/// their `Debug` form, which shows every setting (rules and patterns included) and nothing
/// that varies between two reads of the same file; never shown, never stored.
fn fingerprint(settings: &impl std::fmt::Debug) -> u64 {
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

fn start(
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

/// What an account task remembers from one connection to the next.
#[derive(Default)]
struct Progress {
    /// Reconnections failed in a row (the backoff).
    failures: u32,
    /// Sends interrupted by the last stop have been settled.
    settled: bool,
}

async fn account_task(
    shared: &Shared,
    config: &Config,
    index: usize,
    opts: RunOptions,
    (shutdown, retry): (&CancellationToken, &mut watch::Receiver<u64>),
    health: &Health,
) -> anyhow::Result<PassReport> {
    let account = &config.accounts[index];
    let delivery = Delivery::new(&config.smtp, opts.once, shutdown.clone());
    if let Some(err) = delivery.unusable() {
        warn!(%err, "SMTP is not usable: forwards will wait");
        note(&shared.pool, &account.name, "smtp", err).await;
    }
    let triage = Triage {
        account,
        from: &config.smtp.from,
        delivery: &delivery,
        observe: opts.observe,
        shutdown,
        backfill_since: opts
            .backfill_days
            .map(|days| now() - i64::from(days) * 86_400),
    };
    let mut progress = Progress::default();
    // Told once: while the grant stays refused, later attempts cost no token request and
    // are not logged or recorded again.
    let mut reauth_told = false;
    loop {
        health.busy(now());
        let control = (shutdown, &mut *retry);
        let work = session(&triage, shared, opts, control, health, &mut progress);
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
                if health.is_busy() {
                    warn!("stopping: the server did not finish in time, the work in hand is left for the next start");
                } else {
                    // Idle, only saying goodbye: a hibernated IDLE session answers DONE slowly
                    // (Dovecot thaws it first), and nothing is lost by closing it unanswered.
                    debug!("stopping: the server did not answer the goodbye in time");
                }
                return Ok(PassReport::default());
            }
        };
        let err = match outcome {
            Ok(report) => return Ok(report),
            Err(err) => err,
        };
        metrics::imap_connected(&account.name, false);
        health.tried(false);
        health.waiting();
        if shutdown.is_cancelled() && !opts.once {
            // Cut off by the stop itself (or failing as it came): nothing to retry or tell.
            return Ok(PassReport::default());
        }
        if let Some(oauth2::TokenError::NeedsReauth { command, .. }) = err.downcast_ref() {
            if !reauth_told {
                reauth_told = true;
                let full = format!("{err:#}");
                warn!(error = %full, "the account needs re-authorisation");
                note(&shared.pool, &account.name, "reauth", command).await;
            }
            if opts.once {
                return Err(err);
            }
            progress.failures += 1;
            tokio::select! {
                () = tokio::time::sleep(reconnect_delay(progress.failures)) => {}
                () = shutdown.cancelled() => return Ok(PassReport::default()),
            }
            continue;
        }
        let attention = needs_attention(&err);
        let (kind, detail) = match &attention {
            Some(reason) => (attention::KIND, reason.clone()),
            None => ("imap", format!("{err:#}")),
        };
        if opts.once {
            note(&shared.pool, &account.name, kind, &detail).await;
            return Err(match attention {
                Some(reason) => anyhow::anyhow!("needs attention: {reason}"),
                None => err,
            });
        }
        // Logged before it is recorded: a database that cannot be opened is itself the
        // failure, and is retried like a server that is down.
        let wait = if attention.is_some() {
            // Retrying soon would only repeat it: a person must act (a reload retries
            // at once).
            warn!(reason = %detail, retry_in_secs = SLOW_RETRY.as_secs(), "account needs attention");
            note(&shared.pool, &account.name, kind, &detail).await;
            SLOW_RETRY
        } else {
            progress.failures += 1;
            let wait = reconnect_delay(progress.failures);
            // An outage is told when it starts and then every few minutes, not at every
            // retry: with thousands of accounts on a server that is down, a line and a
            // database write per retry would be thousands a minute, all saying the same.
            if told(progress.failures) {
                warn!(error = %detail, retry_in_secs = wait.as_secs(), failures = progress.failures, "account unavailable");
                note(&shared.pool, &account.name, kind, &detail).await;
            } else {
                debug!(error = %detail, retry_in_secs = wait.as_secs(), "account still unavailable");
            }
            wait
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return Ok(PassReport::default()),
        }
    }
}

/// Whether the `failures`-th failure in a row is logged and recorded: the first, then one
/// in 30 (about every five minutes at the 10 s retry cap).
fn told(failures: u32) -> bool {
    failures == 1 || failures.is_multiple_of(30)
}

/// Records an event for `status` and the digest; a database that cannot take it is logged.
async fn note(pool: &Arc<StatePool>, account: &str, kind: &str, detail: &str) {
    let recorded = match pool.get().await {
        Ok(state) => state.record_event(account, kind, detail, now()),
        Err(err) => Err(err),
    };
    if let Err(err) = recorded {
        let err = format!("{err:#}");
        warn!(%err, kind, "cannot record the event in the state database");
    }
}

/// Sends again what the last stop interrupted while handing it over, and fixes the due
/// times of tasks made before they were stored; once per task.
async fn settle(
    pool: &Arc<StatePool>,
    account: &Account,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    if progress.settled {
        return Ok(());
    }
    let mut state = pool.get().await?;
    delivery::settle_interrupted(&state, &account.name)?;
    crate::triage::fix_dues(&mut state, account)?;
    progress.settled = true;
    Ok(())
}

/// One connection's life: connect, then triage and wait until shutdown (or once). The
/// state database is borrowed for each pass and given back before waiting for mail.
async fn session(
    t: &Triage<'_>,
    shared: &Shared,
    opts: RunOptions,
    (shutdown, retry): (&CancellationToken, &mut watch::Receiver<u64>),
    health: &Health,
    progress: &mut Progress,
) -> anyhow::Result<PassReport> {
    let account: &Account = t.account;
    settle(&shared.pool, account, progress).await?;
    health.waiting();
    let Some(turn) = shared.pacer.turn(shutdown).await else {
        return Ok(PassReport::default());
    };
    health.busy(now());
    let connecting = async { Connection::new(imap::connect(&account.imap).await?).await };
    // A connection still being set up holds nothing to finish: a stop drops it at once.
    let boxes = tokio::select! {
        boxes = connecting => boxes,
        () = shutdown.cancelled() => return Ok(PassReport::default()),
    };
    drop(turn);
    match &boxes {
        Ok(_) => shared.pacer.connected(),
        // A refusal (a wrong password, a certificate) says nothing about the server's load.
        Err(err) if needs_attention(err).is_none() => shared.pacer.failed(),
        Err(_) => {}
    }
    let mut boxes = boxes?;
    let resolved;
    let resolved_triage;
    let t = if opts.observe || account.observe {
        t
    } else {
        let folders = Folders {
            noise: boxes.ensure_folder(&account.folders.noise).await?,
            delegated: boxes.ensure_folder(&account.folders.delegated).await?,
        };
        report_filing_mode(&boxes, &*shared.pool.get().await?, account)?;
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
        let mut state = shared.pool.get().await?;
        let started = std::time::Instant::now();
        let report = pass(&mut boxes, &mut state, t, shutdown).await?;
        health.passed(now());
        let queue = state
            .outbox_counts(&account.name)
            .ok()
            .map(|(waiting, _)| waiting);
        metrics::passed(&account.name, now(), started.elapsed(), queue);
        progress.failures = 0;
        if report != PassReport::default() {
            info!(?report.decided, forwarded = report.forwarded, waiting = report.waiting, "pass done");
        }
        for (category, n) in &report.decided {
            *total.decided.entry(*category).or_default() += n;
        }
        total.forwarded += report.forwarded;
        total.reminded += report.reminded;
        total.waiting = report.waiting;
        total.left_alone = total.left_alone.or(report.left_alone);
        total.backfill = total.backfill.or(report.backfill);
        if opts.once || shutdown.is_cancelled() {
            break;
        }
        let next_digest = digest_step(t, &mut state).await;
        // IDLE watches the selected mailbox, and a pass ends in another folder.
        boxes.select(&account.mailbox).await?;
        // Mail that arrived during the pass was announced in the responses to the pass's
        // own commands, which were drained; IDLE would not announce it again. Look before
        // waiting (one UID SEARCH): anything new means another pass at once.
        let cursor = state
            .cursor(&account.name, &account.mailbox)?
            .map(|c| c.last_uid);
        if let Some(last) = cursor
            && boxes.arrived_after(last).await?
        {
            continue;
        }
        let wake_at = [delivery::next_due(&state, &account.name)?, next_digest]
            .into_iter()
            .flatten()
            .min();
        // An idle account holds no database connection.
        drop(state);
        // Not kept open while idling: the server would time it out anyway.
        t.delivery.end_pass().await;
        let limit = match wake_at {
            Some(at) => Duration::from_secs(at.saturating_sub(now()).max(1) as u64),
            None => Duration::from_secs(24 * 3600),
        };
        let until = tokio::time::Instant::now() + limit;
        let woken = loop {
            health.waiting();
            // The wait ends at shutdown, or early at a retry request (`delega retry`).
            let wake = shutdown.child_token();
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let waited = imap::wait_for_mail(boxes, account.poll, left, account.recheck, &wake);
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
            if woken != Wake::Recheck {
                break woken;
            }
            // Nothing announced for a while: look (the server may have lost the notice), and
            // go back to IDLE without a pass when nothing came.
            match cursor {
                Some(last) if !boxes.arrived_after(last).await? => {}
                Some(_) => {
                    info!("new mail the server did not announce in IDLE");
                    break Wake::Check;
                }
                None => break Wake::Check,
            }
        };
        if shutdown.is_cancelled() {
            break;
        }
        if woken == Wake::Shutdown {
            let n = delivery::due_now(&*shared.pool.get().await?, &account.name)?;
            info!(forwards = n, "asked to send waiting forwards now");
        } else {
            metrics::woke(&account.name);
        }
    }
    // A polite goodbye; the state is already committed, so a slow server is not waited for.
    t.delivery.end_pass().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), boxes.session.logout()).await;
    metrics::imap_connected(&account.name, false);
    Ok(total)
}

/// Says once per connection, in the log and the digest's problems, that this server makes
/// delega leave the originals of what it files in the Inbox.
fn report_filing_mode(boxes: &Connection, state: &State, account: &Account) -> anyhow::Result<()> {
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

/// Sends the digest if it is due; returns when to look again. A failure here is logged and
/// recorded, never fatal to the account: triage goes on.
async fn digest_step(t: &Triage<'_>, state: &mut State) -> Option<i64> {
    let account = t.account;
    if t.delivery.unusable().is_some() {
        return Some(now() + 600);
    }
    match digest::send_if_due(
        state,
        account,
        t.from,
        t.delivery,
        jiff::Timestamp::now(),
        false,
    )
    .await
    {
        Ok(DigestOutcome::NotDue(at) | DigestOutcome::Retry(at)) => Some(at),
        Ok(outcome @ (DigestOutcome::Sent | DigestOutcome::Skipped | DigestOutcome::Refused)) => {
            if outcome == DigestOutcome::Sent {
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
    fn an_outage_is_told_when_it_starts_then_every_few_minutes() {
        let told: Vec<u32> = (1..=90).filter(|&n| super::told(n)).collect();
        assert_eq!(told, [1, 30, 60, 90]);
    }

    #[test]
    fn reconnect_delay_grows_and_is_capped() {
        assert!(reconnect_delay(1).as_millis() >= 1000 && reconnect_delay(1).as_millis() <= 1250);
        assert!(reconnect_delay(4).as_secs() >= 8);
        assert!(reconnect_delay(50).as_millis() <= 12_500);
    }
}
