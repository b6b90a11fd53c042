//! Status mail: an assistant's mail about a task, arrived in the watched Inbox.
//!
//! A mail from one of the account's assistants (not an auto-reply, not delega's own) that
//! refers to a task — its reference in the subject, or the forward's Message-ID in
//! `In-Reply-To`/`References` — moves the task (answered, or done when it says so) and is
//! filed with the delegated mail, never left in the Inbox and never forwarded back — even
//! when the rule that matched it only observes: it is the task's mail, not the rule's. The
//! matching itself is `task::reply`; the task row is `state::tasks`.

use tracing::info;

use crate::classify::Category;
use crate::config::Account;
use crate::guard::FORWARD_HEADER;
use crate::message::Message;
use crate::state::{Action, NewEntry, State};
use crate::task::{Event, Signal, TaskRow, reply};

/// A mail about a task, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMail {
    /// The task it refers to.
    pub task: TaskRow,
    /// Done, or only an answer.
    pub signal: Signal,
    /// Found by the task's reference in the subject (else: it answers the forward).
    pub by_reference: bool,
}

impl StatusMail {
    /// What the mail does to the task.
    pub fn event(&self) -> Event {
        match self.signal {
            Signal::Done => Event::DoneByMail,
            Signal::Replied => Event::Replied,
        }
    }
}

/// The task `msg` is about, when it is an assistant's mail about one of this account's
/// tasks (`delega explain` asks the same).
pub fn recognise(
    state: &State,
    account: &Account,
    msg: &Message<'_>,
) -> anyhow::Result<Option<StatusMail>> {
    let Some(sender) = msg.sender() else {
        return Ok(None);
    };
    let from_assistant = account
        .assistants
        .iter()
        .any(|a| a.address.eq_ignore_ascii_case(&sender.address));
    // An out-of-office answering the forward says nothing about the task.
    if !from_assistant || msg.auto_evidence().is_some() || msg.has_header(FORWARD_HEADER) {
        return Ok(None);
    }
    let (references, answered) = reply::refers(msg);
    let mut task = None;
    for reference in &references {
        task = state.task_by_reference(&account.name, reference)?;
        if task.is_some() {
            break;
        }
    }
    let by_reference = task.is_some();
    if task.is_none() {
        for forward_id in &answered {
            task = state.task_by_forward_id(&account.name, forward_id)?;
            if task.is_some() {
                break;
            }
        }
    }
    Ok(task.map(|task| StatusMail {
        task,
        signal: reply::signal(msg.subject(), msg.body()),
        by_reference,
    }))
}

/// Moves the task and turns `entry` into the filing of the status mail with the
/// delegated mail. Run before the entry is recorded: a crash in between triages the mail
/// again, and the task counts each mail once.
pub(crate) fn apply(
    state: &mut State,
    account: &Account,
    msg: &Message<'_>,
    status: StatusMail,
    entry: &mut NewEntry,
    now: i64,
) -> anyhow::Result<()> {
    let event = status.event();
    let task = status.task;
    let outcome = state.task_apply(task.id, event, msg.message_id(), now)?;
    let now_state = match outcome {
        Ok(s) => s,
        Err(no_change) => no_change.0,
    };
    info!(uid = entry.uid, task = %task.reference, state = now_state.as_str(), "status mail from the assistant");
    entry.category = Category::Noise;
    entry.rule = None;
    entry.assistant = Some(task.assistant.clone());
    let reason = crate::reason::Reason::TaskStatus {
        reference: task.reference.to_string(),
        state: now_state,
    };
    entry.why = reason.to_string();
    entry.reason = Some(reason);
    // The mail's place is its task's, whatever the rule that matched it would have done,
    // even a rule that only observes: that rule does not decide it. (In observe mode, for
    // the account or the run, status mail is not looked for at all.)
    entry.observe = false;
    entry.action = Action::File(account.folders.delegated.clone());
    Ok(())
}
