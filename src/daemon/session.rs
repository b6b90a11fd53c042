//! One connection's life: connect (at the pacer's turn), resolve the folders in the
//! server's namespace, then a triage pass, the digest step (`schedule.rs`), and a wait for
//! mail — IDLE or polling, a recheck for mail the server did not announce, woken early by
//! `delega retry` — again, until shutdown; then a polite logout. What one connection leaves
//! to the next (`Progress`: failures in a row, interrupted sends settled once) is kept here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{RunOptions, Shared, now, schedule};
use crate::attention::needs_attention;
use crate::config::{Account, Folders};
use crate::delivery;
use crate::imap::{self, Connection, FilingMode, Wake};
use crate::metrics;
use crate::state::{State, StatePool};
use crate::systemd::Health;
use crate::triage::{PassReport, Triage, pass};

/// What an account task remembers from one connection to the next.
#[derive(Default)]
pub(super) struct Progress {
    /// Reconnections failed in a row (the backoff).
    pub(super) failures: u32,
    /// Sends interrupted by the last stop have been settled.
    settled: bool,
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
pub(super) async fn session(
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
        let next_digest = schedule::digest_step(t, &mut state).await;
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
        let wake_at = schedule::wake_at(&state, account, next_digest)?;
        // An idle account holds no database connection.
        drop(state);
        // Not kept open while idling: the server would time it out anyway.
        t.delivery.end_pass().await;
        let until = tokio::time::Instant::now() + schedule::sleep_limit(wake_at);
        let control = (shutdown, &mut *retry);
        let (b, woken) = wait(boxes, account, until, cursor, control, health).await?;
        boxes = b;
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

/// Waits for mail in the selected mailbox (IDLE or polling) until `until`, or shutdown, or
/// a retry request; a recheck that finds mail the server did not announce ends it too, one
/// that finds none goes back to waiting. Gives the connection back with why it woke.
async fn wait(
    mut boxes: Connection,
    account: &Account,
    until: tokio::time::Instant,
    cursor: Option<u32>,
    (shutdown, retry): (&CancellationToken, &mut watch::Receiver<u64>),
    health: &Health,
) -> anyhow::Result<(Connection, Wake)> {
    loop {
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
            return Ok((boxes, woken));
        }
        // Nothing announced for a while: look (the server may have lost the notice), and
        // go back to IDLE without a pass when nothing came.
        match cursor {
            Some(last) if !boxes.arrived_after(last).await? => {}
            Some(_) => {
                info!("new mail the server did not announce in IDLE");
                return Ok((boxes, Wake::Check));
            }
            None => return Ok((boxes, Wake::Check)),
        }
    }
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
        let reason = crate::reason::Reason::CopyOnly;
        state.record_event_with_reason(&account.name, "server", "", Some(&reason), now())?;
    }
    Ok(())
}
