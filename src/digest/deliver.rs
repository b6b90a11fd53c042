//! Sending the digest when it is due, and recording it: shared by the daemon and
//! `delega digest --send-now`.
//!
//! The digest is recorded after the server accepted it: a crash in between sends it twice,
//! which is harmless, while recording first could lose a day. A day skipped for having
//! nothing to report is recorded too, or it would stay due.

use jiff::Timestamp;
use tracing::{info, warn};

use super::{DigestMail, Settings, compose, compose_list, list_message, load, message, next_due};
use crate::config::Account;
use crate::delivery::Delivery;
use crate::reason::{Reason, SendFailure};
use crate::smtp::SendError;
use crate::state::State;

/// What happened to a digest that was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Not due yet: due at this time (Unix).
    NotDue(i64),
    /// Sent (with the assistants' lists).
    Sent,
    /// Nothing to report and `skip_empty`: recorded, not sent.
    Skipped,
    /// Could not be sent now; try again at this time (Unix).
    Retry(i64),
    /// Refused for good by the server: the day is given up (recorded, with an event).
    Refused,
}

/// Sends the account's digest if it is due at `now` (or whatever the schedule says when
/// `force`), with the daily lists of the assistants who asked for one, and records it.
pub async fn send_if_due(
    state: &mut State,
    account: &Account,
    from: &str,
    delivery: &Delivery,
    now: Timestamp,
    force: bool,
) -> anyhow::Result<DigestOutcome> {
    let last = state.last_digest_day(&account.name)?;
    let due = next_due(account.digest.at, &account.digest.timezone, last, now)?;
    let day = if force {
        now.to_zoned_datetime(account.digest.timezone.clone())
            .date()
    } else if due.is_due(now) {
        due.day
    } else {
        return Ok(DigestOutcome::NotDue(due.at.as_second()));
    };
    let report = load(state, account, now)?;
    let settings = Settings::of(account);
    let mail = compose(&settings, &report);
    // Recorded once the day is settled: sent, skipped as empty, or refused for good.
    let record = |state: &mut State| {
        state.record_digest(
            &account.name,
            day,
            mail.period_start,
            mail.period_end,
            now.as_second(),
        )
    };
    if mail.nothing_to_report && account.digest.skip_empty && !force {
        record(state)?;
        info!(%day, "nothing to report: digest skipped");
        return Ok(DigestOutcome::Skipped);
    }
    let retry = now.as_second() + 600;
    match delivery.send(message(from, account, &mail)?).await {
        Ok(()) => {}
        // A digest cut off without a reply may arrive twice: a second copy of a summary
        // costs less than none.
        Err(SendError::Transient(err) | SendError::Unreachable(err) | SendError::InDoubt(err)) => {
            warn!(%err, "digest not sent yet: retrying in 10 minutes");
            state.record_event(&account.name, "digest", &err, now.as_second())?;
            return Ok(DigestOutcome::Retry(retry));
        }
        Err(SendError::Permanent(err)) => {
            // Retrying the same mail cannot help: the day is given up, and says why.
            warn!(%err, "digest refused by the server");
            let reason = Reason::DigestNotSent(SendFailure::Refused(err));
            state.record_event_with_reason(
                &account.name,
                "digest",
                "",
                Some(&reason),
                told_next(&mail),
            )?;
            record(state)?;
            return Ok(DigestOutcome::Refused);
        }
        // `send` is not interrupted by shutdown.
        Err(SendError::Stopped) => return Ok(DigestOutcome::Retry(retry)),
    }
    record(state)?;
    info!(%day, subject = %mail.subject, "digest sent");
    for assistant in account.assistants.iter().filter(|a| a.daily_list) {
        let Some(list) = compose_list(&settings, &report, assistant) else {
            continue;
        };
        if let Err(err) = delivery.send(list_message(from, assistant, &list)?).await {
            warn!(assistant = %assistant.id, %err, "daily list not sent");
            let reason = Reason::ListNotSent {
                assistant: assistant.name.clone(),
                failure: failure(err),
            };
            state.record_event_with_reason(
                &account.name,
                "digest",
                "",
                Some(&reason),
                told_next(&mail),
            )?;
        }
    }
    Ok(DigestOutcome::Sent)
}

/// When a failure of this digest's own sending is recorded: at the end of its period (the
/// second after now), where the next period starts. Recorded at `now`, it would fall in the
/// period just closed, and no digest would ever tell it.
fn told_next(mail: &DigestMail) -> i64 {
    mail.period_end
}

/// How a send failed, as data: the server's words kept, delega's frame left to the words.
fn failure(err: SendError) -> SendFailure {
    match err {
        SendError::Unreachable(w) | SendError::Transient(w) => SendFailure::Temporary(w),
        SendError::Permanent(w) => SendFailure::Refused(w),
        SendError::InDoubt(w) => SendFailure::NoReply(w),
        SendError::Stopped => SendFailure::Stopped,
    }
}
