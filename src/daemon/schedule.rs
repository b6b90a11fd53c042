//! **The digest is scheduled here.** After each pass, an account sends its digest if it is
//! due ([`digest::send_if_due`]; when it is due is [`digest::schedule`]'s pure answer), and
//! then sleeps, waiting for mail, until the earlier of the next digest and the next forward
//! due ([`delivery::next_due`]).

use std::time::Duration;

use tracing::warn;

use super::now;
use crate::config::Account;
use crate::delivery;
use crate::digest::{self, DigestOutcome};
use crate::metrics;
use crate::state::State;
use crate::triage::Triage;

/// Sends the digest if it is due; returns when to look again. A failure here is logged and
/// recorded, never fatal to the account: triage goes on.
pub(super) async fn digest_step(t: &Triage<'_>, state: &mut State) -> Option<i64> {
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

/// When the account must wake even without new mail: the earlier of the next forward due
/// and `next_digest` (from [`digest_step`]); `None` when neither is.
pub(super) fn wake_at(
    state: &State,
    account: &Account,
    next_digest: Option<i64>,
) -> anyhow::Result<Option<i64>> {
    Ok([delivery::next_due(state, account, now())?, next_digest]
        .into_iter()
        .flatten()
        .min())
}

/// How long to wait for mail from now to wake at `wake_at`: at least a second, a day when
/// nothing is due.
pub(super) fn sleep_limit(wake_at: Option<i64>) -> Duration {
    match wake_at {
        Some(at) => Duration::from_secs(at.saturating_sub(now()).max(1) as u64),
        None => Duration::from_secs(24 * 3600),
    }
}
