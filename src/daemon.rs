//! The daemon: one task per account, each connecting, triaging and waiting for mail until
//! shutdown; a failing account reconnects with backoff and never stops the others.
//!
//! Shutdown is a `CancellationToken` handed to every task: a task finishes the batch in
//! hand, leaves IDLE with DONE, logs out, and returns; `run` waits for all of them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{Account, Config};
use crate::imap::{self, Mailboxes, Wake};
use crate::outbox::Mailer;
use crate::state::State;
use crate::triage::{PassReport, Triage, pass};

/// How `delega run` was asked to behave.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// One pass per account, then exit (cron, tests, the demo).
    pub once: bool,
    /// Decide and record, act on nothing.
    pub observe: bool,
}

/// Runs every account until shutdown (or one pass each with `once`). Returns each
/// account's name with its outcome.
pub async fn run(
    config: Arc<Config>,
    opts: RunOptions,
    shutdown: CancellationToken,
) -> Vec<(String, anyhow::Result<PassReport>)> {
    let mut tasks = Vec::new();
    for index in 0..config.accounts.len() {
        let config = Arc::clone(&config);
        let shutdown = shutdown.clone();
        let name = config.accounts[index].name.clone();
        let span = info_span!("account", account = %name);
        let task = tokio::spawn(
            async move { account_task(&config, index, opts, &shutdown).await }.instrument(span),
        );
        tasks.push((name, task));
    }
    let mut results = Vec::new();
    for (name, task) in tasks {
        let result = match task.await {
            Ok(r) => r,
            Err(join) => Err(anyhow::anyhow!("account task crashed: {join}")),
        };
        results.push((name, result));
    }
    results
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn account_task(
    config: &Config,
    index: usize,
    opts: RunOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<PassReport> {
    let account = &config.accounts[index];
    let mut state = State::open(&config.state)?;
    let settled = state.settle_interrupted_sends(&account.name, now())?;
    if settled > 0 {
        warn!(
            settled,
            "delega stopped while sending forwards last time: taken as sent, flagged for the digest"
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
    };
    let mut failures = 0u32;
    loop {
        match session(&triage, &mut state, opts, shutdown, &mut failures).await {
            Ok(report) => return Ok(report),
            Err(err) => {
                let detail = format!("{err:#}");
                state.record_event(&account.name, "imap", &detail, now())?;
                if opts.once {
                    return Err(err);
                }
                failures += 1;
                let wait = reconnect_delay(failures);
                warn!(error = %detail, retry_in_secs = wait.as_secs(), "account unavailable");
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
    shutdown: &CancellationToken,
    failures: &mut u32,
) -> anyhow::Result<PassReport> {
    let account: &Account = t.account;
    let session = imap::connect(&account.imap).await?;
    let mut boxes = Mailboxes::new(session).await?;
    if !(opts.observe || account.observe) {
        boxes.ensure_folder(&account.folders.noise).await?;
        boxes.ensure_folder(&account.folders.delegated).await?;
    }
    info!(idle = boxes.has_idle, r#move = boxes.has_move, "connected");
    let mut total = PassReport::default();
    loop {
        let report = pass(&mut boxes, state, t, shutdown).await?;
        *failures = 0;
        if report != PassReport::default() {
            info!(?report.decided, forwarded = report.forwarded, waiting = report.waiting, "pass done");
        }
        for (category, n) in &report.decided {
            *total.decided.entry(*category).or_default() += n;
        }
        total.forwarded += report.forwarded;
        total.waiting = report.waiting;
        if opts.once || shutdown.is_cancelled() {
            break;
        }
        let limit = match state.next_forward_due(&account.name)? {
            Some(due) => Duration::from_secs(due.saturating_sub(now()).max(1) as u64),
            None => Duration::from_secs(24 * 3600),
        };
        let (b, wake) = imap::wait_for_mail(boxes, account.poll, limit, shutdown).await?;
        boxes = b;
        if wake == Wake::Shutdown {
            break;
        }
    }
    // A polite goodbye; the state is already committed, so a slow server is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(3), boxes.session.logout()).await;
    Ok(total)
}

/// 1 s, 2 s, 4 s... up to 5 minutes, with jitter so that accounts do not reconnect in step.
fn reconnect_delay(failures: u32) -> Duration {
    let base = 1u64 << failures.saturating_sub(1).min(9);
    let base = base.min(300);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base * 1000 + nanos % (base * 250 + 1))
}
