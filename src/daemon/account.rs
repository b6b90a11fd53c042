//! One account's task, across connections: each connection's life is `session.rs`'s; here,
//! what happens when one ends in a failure — reconnect with backoff (a server that is down),
//! wait slowly for a person (a refusal that needs attention, a grant to renew), told in the
//! log and recorded for `status` and the digest once, not at every retry — and the bound on
//! a stop (`STOP_GRACE`), whatever the servers do.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::session::{Progress, session};
use super::{RunOptions, Shared, now};
use crate::attention::{self, NeedsAttention, SLOW_RETRY, needs_attention};
use crate::config::Config;
use crate::delivery::Delivery;
use crate::metrics;
use crate::oauth2;
use crate::reason::Reason;
use crate::state::StatePool;
use crate::systemd::Health;
use crate::triage::{PassReport, Triage};

/// After SIGTERM, how long the work in hand may go on before it is dropped: with the 2 s a
/// message already handed over gets for its reply (`smtp::DATA_GRACE`), delega exits
/// within 5 s whatever the servers do; the unit's TimeoutStopSec (15 s) leaves room.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The longest wait between two reconnections to an IMAP server that is down.
const RECONNECT_CAP_SECS: u64 = 10;

/// Runs `config.accounts[index]` until shutdown (or one pass with `once`): a connection
/// after another, each as `session` runs it, with what a failure calls for in between.
pub(super) async fn account_task(
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
        note(&shared.pool, &account.name, "smtp", err, None).await;
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
                note(&shared.pool, &account.name, "reauth", command, None).await;
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
            Some(reason) => (attention::KIND, reason.to_string()),
            None => ("imap", format!("{err:#}")),
        };
        // A refusal is recorded as data (the digest words it), the rest as its words.
        let reason = attention.as_ref().and_then(NeedsAttention::reason);
        let (detail_recorded, reason) = match &reason {
            Some(reason) => ("", Some(reason)),
            None => (detail.as_str(), None),
        };
        if opts.once {
            note(&shared.pool, &account.name, kind, detail_recorded, reason).await;
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
            note(&shared.pool, &account.name, kind, detail_recorded, reason).await;
            SLOW_RETRY
        } else {
            progress.failures += 1;
            let wait = reconnect_delay(progress.failures);
            // An outage is told when it starts and then every few minutes, not at every
            // retry: with thousands of accounts on a server that is down, a line and a
            // database write per retry would be thousands a minute, all saying the same.
            if told(progress.failures) {
                warn!(error = %detail, retry_in_secs = wait.as_secs(), failures = progress.failures, "account unavailable");
                note(&shared.pool, &account.name, kind, detail_recorded, reason).await;
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
async fn note(
    pool: &Arc<StatePool>,
    account: &str,
    kind: &str,
    detail: &str,
    reason: Option<&Reason>,
) {
    let recorded = match pool.get().await {
        Ok(state) => state.record_event_with_reason(account, kind, detail, reason, now()),
        Err(err) => Err(err),
    };
    if let Err(err) = recorded {
        let err = format!("{err:#}");
        warn!(%err, kind, "cannot record the event in the state database");
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
