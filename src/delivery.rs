//! Sending a forward: the one home of delivery policy.
//!
//! A forward is planned by `state` with its decision (an outbox row, handed back by
//! [`State::record`]); it goes out here. This module decides whether it is due (its backoff,
//! the hourly rate limit, `run --once`), composes it ([`crate::forward`]), hands it to the
//! SMTP client ([`crate::smtp`]) and writes what came of it to its row: sent; waiting with
//! backoff; in doubt (the server may have it: sent again as the same forward, flagged);
//! refused. Also here: one circuit per pass (the first connection failure stops the pass's
//! other sends, one timeout rather than one per forward), the first success after failures
//! making every waiting forward due at once, settling at start-up the sends a crash cut off
//! in their DATA phase, and giving a forward up when its message is gone. The hourly limit
//! is counted once, here ([`hourly_limit`]: forwards and reminders together), for the
//! forwards and for `triage::follow_up`'s reminders. Filing the message once its forward
//! went out is triage's; the rows themselves are `state::outbox`'s.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Account, Assistant, Smtp};
use crate::failpoint;
use crate::forward::{ForwardRequest, compose};
use crate::message::Message;
use crate::metrics::{self, ForwardOutcome};
use crate::reason::Reason;
use crate::smtp::{Mailer, SendError};
use crate::state::{OutboxRow, OutboxState, State};
use crate::task::NotSent;

/// Sends what an account task sends: its forwards, by the rules above, and its digest.
pub struct Delivery {
    /// The SMTP client, or why it could not be set up (then forwards wait).
    mailer: Result<Mailer, String>,
    /// delega's sender (`smtp.from`).
    from: String,
    /// Waiting forwards are tried now, not at their backoff time (`run --once`: an operator
    /// asked for a pass, so the work is done now or reported as failed).
    retry_now: bool,
    /// Cancelled at shutdown: a send not yet handing its message over is abandoned.
    shutdown: CancellationToken,
    /// Why the server could not be reached earlier in this pass: the other sends of the
    /// pass are not tried (one circuit, not one timeout per forward). Cleared by
    /// [`Delivery::end_pass`].
    unreachable: Mutex<Option<String>>,
    /// The log has said this pass that the hourly limit holds forwards back: once a pass,
    /// not once per forward of a backlog. Cleared by [`Delivery::end_pass`].
    limit_said: AtomicBool,
}

/// A planned forward, and the message it carries (parsed once, when it was decided).
pub struct Forward<'a> {
    /// Its outbox row, as planned or as left by earlier tries.
    pub planned: &'a OutboxRow,
    /// The message's UID, for the log.
    pub uid: u32,
    /// The message's subject, for the events of a refusal.
    pub subject: &'a str,
    /// The rule that delegated it: its instructions head the forward.
    pub rule: Option<&'a str>,
    /// The message.
    pub original: &'a Message<'a>,
}

/// What became of a forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The server accepted it now.
    Sent,
    /// An earlier pass had sent it: only its filing is left.
    AlreadySent,
    /// It waits (not due, the rate limit, a temporary failure, delega stopping).
    Waiting,
    /// It will never go out, for this reason: the message stays in the Inbox.
    Failed(String),
}

/// At an account task's start (with the instance lock held): the sends the last run cut
/// off in their DATA phase are pending again, to go out anew as the same forward, counted
/// as ones that may have gone twice. Returns how many.
pub fn settle_interrupted(state: &State, account: &str) -> anyhow::Result<usize> {
    let settled = state.settle_interrupted_sends(account, now())?;
    if settled > 0 {
        metrics::forwards(account, ForwardOutcome::InDoubt, settled as u64);
        warn!(
            settled,
            "delega stopped while handing forwards over last time: sending them again (they may reach the assistant twice; the digest says so)"
        );
    }
    Ok(settled)
}

/// Makes every waiting forward of the account due now (`delega retry`). Returns how many.
pub fn due_now(state: &State, account: &str) -> anyhow::Result<usize> {
    state.outbox_due_now(account, now())
}

/// When the account's next waiting forward can go (Unix time), if any waits: its retry
/// time, or later when the hourly limit is reached, when the limit lets one more go.
pub fn next_due(state: &State, account: &Account, now: i64) -> anyhow::Result<Option<i64>> {
    let Some(due) = state.next_forward_due(&account.name)? else {
        return Ok(None);
    };
    let limit = hourly_limit(state, account, now)?;
    Ok(Some(limit.full_until.map_or(due, |free| due.max(free))))
}

/// The window of the hourly limit, in seconds.
const HOUR: i64 = 3600;

/// The account's hourly limit (`forward.max_per_hour`) at a given time: what it has sent in
/// the hour before, forwards and reminders together (the limit is on what the assistants
/// receive from delega; the entrepreneur's digest is not counted), and whether one more may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HourlyLimit {
    /// Forwards and reminders the account sent in the last hour.
    pub sent: u32,
    /// `forward.max_per_hour`.
    pub max: u32,
    /// When the limit is reached: the time the next one may go (the send that frees a place
    /// is then more than an hour old). `None`: one more may go now.
    pub full_until: Option<i64>,
}

/// The one count of the hourly limit, for forwards ([`Delivery::forward`]) and reminders
/// (`triage::follow_up`) alike: what the account sent from `now` − 1 h to `now`.
pub fn hourly_limit(state: &State, account: &Account, now: i64) -> anyhow::Result<HourlyLimit> {
    let since = now - HOUR;
    let mut times = state.forward_send_times(&account.name, since)?;
    times.extend(state.reminder_send_times(&account.name, since)?);
    times.sort_unstable();
    let sent = u32::try_from(times.len()).unwrap_or(u32::MAX);
    let max = account.forward.max_per_hour;
    // With `sent` ≥ `max`, the count falls below `max` once the oldest `sent − max + 1` sends
    // have left the window: a send at `t` counts up to `t + HOUR` included.
    let full_until = sent
        .checked_sub(max)
        .and_then(|over| times.get(over as usize))
        .map(|t| t + HOUR + 1);
    Ok(HourlyLimit {
        sent,
        max,
        full_until,
    })
}

/// Gives up the forward of ledger row `ledger_id` that can no longer go out (its message
/// left the Inbox, or cannot be found after a renumbering); a forward already sent stays so.
/// The reason is recorded as data on the ledger row (whether or not it has an outbox row)
/// and on a waiting outbox row. Returns it in English, for the row's detail.
pub fn give_up(
    state: &State,
    ledger_id: i64,
    row: Option<&OutboxRow>,
    why: &NotSent,
) -> anyhow::Result<String> {
    if let Some(r) = row.filter(|r| r.state != OutboxState::Sent) {
        state.outbox_not_sent(r.id, why, now())?;
    }
    state.ledger_not_sent(ledger_id, why)?;
    Ok(why.to_string())
}

impl Delivery {
    /// Prepares the client (reads the password now; connects only when sending).
    pub fn new(smtp: &Smtp, retry_now: bool, shutdown: CancellationToken) -> Delivery {
        Delivery {
            mailer: Mailer::new(smtp).map_err(|err| format!("{err:#}")),
            from: smtp.from.clone(),
            retry_now,
            shutdown,
            unreachable: Mutex::new(None),
            limit_said: AtomicBool::new(false),
        }
    }

    /// Why nothing can be sent (the SMTP client could not be set up), if so.
    pub fn unusable(&self) -> Option<&str> {
        self.mailer.as_ref().err().map(String::as_str)
    }

    /// Sends one message and returns once the server accepted it, recording nothing (the
    /// digest and the daily lists); shutdown does not interrupt it.
    pub async fn send(&self, message: lettre::Message) -> Result<(), SendError> {
        let mailer = self.mailer()?;
        mailer.send(message).await.map_err(|err| self.trip(err))
    }

    /// Ends a pass's sending: closes the connection, and the circuit (the next pass tries
    /// the server again).
    pub async fn end_pass(&self) {
        if let Ok(mut down) = self.unreachable.lock() {
            *down = None;
        }
        self.limit_said.store(false, Ordering::Relaxed);
        if let Ok(mailer) = &self.mailer {
            mailer.close().await;
        }
    }

    /// The client, unless it could not be set up or the server failed earlier in the pass.
    fn mailer(&self) -> Result<&Mailer, SendError> {
        let mailer = self
            .mailer
            .as_ref()
            .map_err(|why| SendError::Transient(why.clone()))?;
        match self.unreachable.lock().ok().and_then(|down| down.clone()) {
            Some(why) => Err(SendError::Transient(format!(
                "not tried: the server failed earlier in this pass ({why})"
            ))),
            None => Ok(mailer),
        }
    }

    /// Logs, once a pass, that the hourly limit holds the forwards back until `until`.
    fn say_limit_reached(&self, limit: &HourlyLimit, until: i64) {
        if !self.limit_said.swap(true, Ordering::Relaxed) {
            info!(
                sent = limit.sent,
                max = limit.max,
                wait_secs = until - now(),
                "hourly limit reached (forwards and reminders of the last hour): the other forwards wait"
            );
        }
    }

    /// Opens the circuit if the server could not be reached.
    fn trip(&self, err: SendError) -> SendError {
        if let (SendError::Unreachable(why), Ok(mut down)) = (&err, self.unreachable.lock()) {
            *down = Some(why.clone());
        }
        err
    }

    /// Sends a planned forward if it is due, and records the outcome on its row.
    pub async fn forward(
        &self,
        state: &mut State,
        account: &Account,
        job: &Forward<'_>,
    ) -> anyhow::Result<Delivered> {
        let row = job.planned;
        match row.state {
            OutboxState::Sent => return Ok(Delivered::AlreadySent),
            OutboxState::Failed => {
                let why = row.last_error.clone();
                return Ok(Delivered::Failed(
                    why.unwrap_or_else(|| NotSent::Refused.to_string()),
                ));
            }
            OutboxState::Pending | OutboxState::InDoubt => {}
        }
        let now = now();
        let due = self.retry_now || row.next_attempt_at <= now;
        if self.mailer.is_err() || !due {
            return Ok(Delivered::Waiting);
        }
        let limit = hourly_limit(state, account, now)?;
        if let Some(until) = limit.full_until {
            self.say_limit_reached(&limit, until);
            return Ok(Delivered::Waiting);
        }
        let task = state.task_for(row.ledger_id)?;
        let (email, assistant) = match self.compose(account, job, task.as_ref()) {
            Ok(ready) => ready,
            Err(why) => {
                // Nothing to retry: the forward cannot be made as configured now.
                warn!(uid = job.uid, err = %why, "forward impossible: the message stays in the Inbox");
                state.outbox_not_sent(row.id, &why, now)?;
                let reason = Reason::NotSent(why.clone());
                state.record_event_with_reason(&account.name, "forward", "", Some(&reason), now)?;
                metrics::forwards(&account.name, ForwardOutcome::Failed, 1);
                return Ok(Delivered::Failed(why.to_string()));
            }
        };
        failpoint::hit(failpoint::BEFORE_SEND);
        let sent = match self.mailer() {
            Ok(mailer) => {
                // Held as `&mut` (Send), not `&`: a `&State` cannot cross an await (not Sync).
                let record: &mut State = state;
                let data_phase = move || {
                    record.outbox_in_doubt(row.id, now)?;
                    failpoint::hit(failpoint::IN_DATA);
                    Ok(())
                };
                let sent = mailer.send_forward(&email, &self.shutdown, data_phase);
                sent.await.map_err(|err| self.trip(err))
            }
            Err(not_tried) => Err(not_tried),
        };
        let retry_at = || {
            let wait = backoff(row.attempts + 1, row.ledger_id as u64 ^ now as u64);
            (now + wait.as_secs() as i64, wait.as_secs())
        };
        match sent {
            Ok(()) => {
                failpoint::hit(failpoint::AFTER_SEND);
                state.outbox_update(row.id, OutboxState::Sent, now, None, now)?;
                if row.attempts > 0 {
                    // The server is back: every forward waiting out its backoff goes now
                    // (this pass, or the next one at once), not each at its own time.
                    state.outbox_due_now(&account.name, now)?;
                }
                metrics::forwards(&account.name, ForwardOutcome::Sent, 1);
                info!(uid = job.uid, to = %assistant.address, forward = %row.forward_id, "forwarded");
                Ok(Delivered::Sent)
            }
            // Nothing went out: the row stays as it was, for the next start.
            Err(SendError::Stopped) => Ok(Delivered::Waiting),
            Err(SendError::InDoubt(err)) => {
                // The server may have it: sent again as the same forward, and flagged.
                let (next, retry_in_secs) = retry_at();
                warn!(uid = job.uid, %err, forward = %row.forward_id, retry_in_secs,
                    "forward in doubt: it will be sent again and may reach the assistant twice");
                state.outbox_interrupted(row.id, next, &err)?;
                state.record_event(&account.name, "smtp", &err, now)?;
                metrics::forwards(&account.name, ForwardOutcome::InDoubt, 1);
                Ok(Delivered::Waiting)
            }
            Err(SendError::Transient(err) | SendError::Unreachable(err)) => {
                let (next, retry_in_secs) = retry_at();
                warn!(uid = job.uid, %err, retry_in_secs, "forward not sent yet");
                state.outbox_attempted(row.id, next, &err)?;
                state.record_event(&account.name, "smtp", &err, now)?;
                metrics::forwards(&account.name, ForwardOutcome::Waiting, 1);
                Ok(Delivered::Waiting)
            }
            Err(SendError::Permanent(err)) => {
                warn!(uid = job.uid, %err, "forward refused: the message stays in the Inbox");
                state.outbox_update(row.id, OutboxState::Failed, now, Some(&err), now)?;
                state.record_event(
                    &account.name,
                    "forward",
                    // The kind says "forward refused" in the digest's language.
                    &format!("\"{}\" → {}: {err}", job.subject, assistant.name),
                    now,
                )?;
                metrics::forwards(&account.name, ForwardOutcome::Failed, 1);
                Ok(Delivered::Failed(err))
            }
        }
    }

    /// Builds the forward, or says why it cannot be built (the assistant was removed from
    /// the config since the decision, an address became invalid...).
    fn compose<'a>(
        &self,
        account: &'a Account,
        job: &Forward<'_>,
        task: Option<&crate::task::TaskRow>,
    ) -> Result<(lettre::Message, &'a Assistant), NotSent> {
        let row = job.planned;
        let assistant = account
            .assistant(&row.assistant)
            .ok_or_else(|| NotSent::AssistantGone(row.assistant.clone()))?;
        // The task this forward is: its reference and how to close it go in the forward.
        let note = task.map(|task| crate::forward::notice::for_task(account, task));
        let email = compose(&ForwardRequest {
            original: job.original,
            assistant,
            from: &self.from,
            instructions: account
                .rules
                .rule(job.rule.unwrap_or_default())
                .and_then(|r| r.instructions.as_deref()),
            rule: job.rule.unwrap_or("-"),
            subject_prefix: &account.forward.subject_prefix,
            language: account.digest.language,
            forward_id: &row.forward_id,
            timezone: &account.digest.timezone,
            now: jiff::Timestamp::now(),
            task: note.as_ref(),
        })
        .map_err(|err| NotSent::Compose(format!("{err:#}")))?;
        Ok((email, assistant))
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// How long to wait before retry number `attempt` (1-based): 1, 2, 4 minutes, then every 5,
/// with up to 20% jitter so that many accounts do not retry in step. Capped low because a
/// retry is cheap (one connection attempt per pass, whatever the number of forwards
/// waiting) and a forward waiting an hour after the server came back is a task late.
pub fn backoff(attempt: u32, jitter_seed: u64) -> Duration {
    let base = 60u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(300);
    let jitter = jitter_seed % (base / 5 + 1);
    Duration::from_secs(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::{HOUR, HourlyLimit, NotSent, backoff, hourly_limit, next_due};
    use crate::classify::Category;
    use crate::config::Account;
    use crate::state::{Action, OutboxRow, OutboxState, State};

    /// Giulia's account, limited to `max` sends an hour.
    fn limited(max: u32) -> Account {
        let mut account = crate::config::tests::account();
        account.forward.max_per_hour = max;
        account
    }

    /// Plans a forward to Marta for message `uid`, decided at `at`; returns its outbox row.
    fn plan(state: &mut State, uid: u32, at: i64) -> OutboxRow {
        let mut e =
            crate::state::tests::entry(uid, Category::Delegable, Action::Forward("D".into()));
        e.assistant = Some("marta".into());
        let marta = |_: &str| Some("marta@office.example".to_string());
        let recorded = state.record("giulia", "INBOX", 1, &[e], &marta, at);
        recorded
            .expect("recorded")
            .remove(0)
            .forward
            .expect("planned")
    }

    /// Plans a forward and sends it at `at`, and its task reminds at `reminded_at`.
    fn sent_and_reminded(state: &mut State, uid: u32, at: i64, reminded_at: i64) {
        let row = plan(state, uid, at);
        state
            .outbox_update(row.id, OutboxState::Sent, at, None, at)
            .expect("sent");
        let task = state.task_for(row.ledger_id).expect("query").expect("task");
        state
            .task_reminded(task.id, "2026-12-04", reminded_at)
            .expect("reminded");
    }

    #[test]
    fn the_hourly_limit_counts_reminders_with_forwards() {
        let mut state = State::in_memory().expect("db");
        let t = 1_800_000_000;
        sent_and_reminded(&mut state, 1, t, t + 600);
        let at = |max, now| hourly_limit(&state, &limited(max), now).expect("limit");
        // One forward and one reminder: the hour's second send fills a limit of 2.
        let full = HourlyLimit {
            sent: 2,
            max: 2,
            full_until: Some(t + HOUR + 1),
        };
        assert_eq!(at(2, t + 700), full, "the forward frees a place first");
        assert_eq!(at(3, t + 700).full_until, None, "room for a third");
        assert_eq!(
            at(1, t + 700).full_until,
            Some(t + 600 + HOUR + 1),
            "both must age"
        );
        // A send counts for a whole hour, then no more.
        assert_eq!(at(2, t + HOUR).sent, 2);
        assert_eq!(at(2, t + HOUR + 1).sent, 1);
        assert_eq!(at(2, t + HOUR + 1).full_until, None);
        // Another account's sends are not this one's.
        let mut other = limited(1);
        other.name = "luca".into();
        assert_eq!(
            hourly_limit(&state, &other, t + 700).expect("limit").sent,
            0
        );
    }

    #[test]
    fn a_forward_the_limit_holds_back_is_due_when_the_limit_lets_it_go() {
        let mut state = State::in_memory().expect("db");
        let t = 1_800_000_000;
        sent_and_reminded(&mut state, 1, t, t + 600);
        let waiting = plan(&mut state, 2, t + 700);
        assert_eq!(waiting.next_attempt_at, t + 700, "due at once");
        // Full: not at its own retry time (a pass every second for an hour), but when the
        // forward sent at `t` is an hour old.
        let due = |max| next_due(&state, &limited(max), t + 800).expect("due");
        assert_eq!(due(2), Some(t + HOUR + 1));
        assert_eq!(due(3), Some(t + 700), "room: its own time");
    }

    #[test]
    fn a_reason_reads_back_from_its_english_form() {
        for reason in [
            NotSent::AssistantGone("marta".into()),
            NotSent::Compose("bad address `x`".into()),
            NotSent::LeftInbox,
            NotSent::Renumbered,
            NotSent::Refused,
        ] {
            assert_eq!(NotSent::parse_legacy(&reason.to_string()), Some(reason));
        }
        assert_eq!(NotSent::parse_legacy("550 5.1.1 no such user"), None);
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes_with_bounded_jitter() {
        assert_eq!(backoff(1, 0).as_secs(), 60);
        assert_eq!(backoff(2, 0).as_secs(), 120);
        assert_eq!(backoff(3, 0).as_secs(), 240);
        assert_eq!(backoff(4, 0).as_secs(), 300);
        assert_eq!(backoff(30, 0).as_secs(), 300);
        assert!((60..=72).contains(&backoff(1, u64::MAX).as_secs()));
    }
}
