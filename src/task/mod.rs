//! Tasks: each forward is a task the assistant closes, and the entrepreneur reviews results.
//!
//! The pure core, no I/O and no clock (`now` is passed in): a task's short [`Reference`]
//! (`T-7K3Q`), its [`TaskState`] and the moves between states ([`TaskState::apply`]),
//! working-hours arithmetic for due times and reminders ([`hours`]), and which incoming
//! mail refers to which task and whether it says "done" ([`reply`]). The table lives in
//! `state::tasks`; the mails a task sends and receives are `forward::notice` and the triage
//! pass's; words for people are rendered at the edges (digest, CLI).
//!
//! Below `config`, which builds its values (a rule's or an account's [`Due`], the
//! [`WorkHours`]): what the config says about a task is `config::Account::task_due` and
//! `remind`, the review of results under it is `review`, and the reminders due now are
//! `triage::follow_up`'s.

mod forwarded;
pub mod hours;
pub mod reference;
pub mod reply;

pub use forwarded::{Forwarded, NotSent};
pub use hours::{Due, WorkHours};
pub use reference::Reference;
pub use reply::Signal;

/// A task, with what the ledger and the outbox know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// Row id.
    pub id: i64,
    /// The account.
    pub account: String,
    /// What the assistant sees.
    pub reference: Reference,
    /// The ledger row of the message delegated.
    pub ledger_id: i64,
    /// The assistant's id.
    pub assistant: String,
    /// Where it stands.
    pub state: TaskState,
    /// When it was delegated (Unix time).
    pub created_at: i64,
    /// When it is due, as fixed when it was made (`None`: its rule and the account set no
    /// `due`); read only when [`TaskRow::due_fixed`].
    pub due_at: Option<i64>,
    /// `due_at` was fixed: always, except for a task made before delega stored due times
    /// and not fixed yet (its due is then worked out from the config, `config::Account::task_due`).
    pub due_fixed: bool,
    /// When the assistant first wrote about it.
    pub answered_at: Option<i64>,
    /// When it was done or dropped.
    pub closed_at: Option<i64>,
    /// The local day of the last reminder (`2026-11-24`).
    pub reminded_day: Option<String>,
    /// Reminders sent.
    pub reminders: u32,
    /// The delegated message's subject.
    pub subject: String,
    /// Its sender.
    pub from_addr: String,
    /// The rule that delegated it.
    pub rule: Option<String>,
    /// The forward id (the left part of the forward's Message-ID).
    pub forward_id: String,
    /// Whether the forward reached the assistant's server.
    pub forward: Forwarded,
    /// The task made when the same message (by Message-ID) was delegated again after this
    /// one, e.g. moved into the delegation folder by hand after this forward was refused.
    pub redelegated: Option<Reference>,
}

impl TaskRow {
    /// Why the task never reached its assistant, when nothing has happened to it since:
    /// its forward was given up for good and it is still `open` (not answered, done or
    /// dropped by anyone). Nothing is expected of the assistant then; the entrepreneur
    /// needs to know. A task delegated again ([`TaskRow::redelegated`]) is not counted
    /// here: the new one stands for it.
    pub fn not_sent(&self) -> Option<&Forwarded> {
        (self.state == TaskState::Open && matches!(self.forward, Forwarded::NotSent { .. }))
            .then_some(&self.forward)
    }

    /// Still expected of the assistant: open (or answered), and its forward not given up.
    pub fn expected(&self) -> bool {
        self.state.is_open() && self.not_sent().is_none()
    }
}

/// Where a task stands. Stored as its [`TaskState::as_str`] in its own column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Forwarded; no word from the assistant yet.
    Open,
    /// The assistant wrote about it (a reply referring to the task): not said done.
    Answered,
    /// The assistant (or the entrepreneur) said it is done.
    Done,
    /// The entrepreneur dropped it: nothing more is expected.
    Dropped,
    /// A forward made before delega kept tasks: whether it was done is not known.
    Unknown,
}

/// What happens to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A mail from an assistant referring to the task, not saying it is done.
    Replied,
    /// A mail from an assistant saying the task is done (the "done" link, a done word).
    DoneByMail,
    /// `delega task done`: the entrepreneur or ops close it.
    Done,
    /// `delega task drop`.
    Drop,
    /// `delega task reopen`.
    Reopen,
}

/// Why an event cannot move a task (`delega task …` says it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task is already {0:?}")]
pub struct NoChange(pub TaskState);

impl TaskState {
    /// The column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Answered => "answered",
            TaskState::Done => "done",
            TaskState::Dropped => "dropped",
            TaskState::Unknown => "unknown",
        }
    }

    /// Reads the column back; `None` for a value this delega does not know.
    pub fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "open" => TaskState::Open,
            "answered" => TaskState::Answered,
            "done" => TaskState::Done,
            "dropped" => TaskState::Dropped,
            "unknown" => TaskState::Unknown,
            _ => return None,
        })
    }

    /// Still expected of the assistant: counted as open, can become overdue.
    pub fn is_open(self) -> bool {
        matches!(self, TaskState::Open | TaskState::Answered)
    }

    /// The state after `event`, or why nothing changes.
    ///
    /// Mail never undoes the entrepreneur's word: a reply to a dropped or done task leaves
    /// it so, and an answer after "done" does not reopen it. Only `reopen` goes back.
    pub fn apply(self, event: Event) -> Result<TaskState, NoChange> {
        use TaskState::*;
        let next = match (self, event) {
            (Open | Unknown, Event::Replied) => Answered,
            (Open | Answered | Unknown, Event::DoneByMail) => Done,
            (Open | Answered | Unknown | Dropped, Event::Done) => Done,
            (Open | Answered | Unknown, Event::Drop) => Dropped,
            (Answered | Done | Dropped | Unknown, Event::Reopen) => Open,
            (state, _) => return Err(NoChange(state)),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_goes_open_answered_done_and_back_only_by_reopen() {
        let s = TaskState::Open;
        let s = s.apply(Event::Replied).expect("answered");
        assert_eq!(s, TaskState::Answered);
        assert_eq!(s.apply(Event::Replied), Err(NoChange(TaskState::Answered)));
        let s = s.apply(Event::DoneByMail).expect("done");
        assert_eq!(s, TaskState::Done);
        assert_eq!(s.apply(Event::Replied), Err(NoChange(TaskState::Done)));
        assert_eq!(s.apply(Event::DoneByMail), Err(NoChange(TaskState::Done)));
        assert_eq!(s.apply(Event::Reopen), Ok(TaskState::Open));
    }

    #[test]
    fn mail_never_undoes_a_drop() {
        let s = TaskState::Open.apply(Event::Drop).expect("dropped");
        assert_eq!(s.apply(Event::Replied), Err(NoChange(TaskState::Dropped)));
        assert_eq!(
            s.apply(Event::DoneByMail),
            Err(NoChange(TaskState::Dropped))
        );
        assert_eq!(s.apply(Event::Done), Ok(TaskState::Done));
        assert_eq!(s.apply(Event::Reopen), Ok(TaskState::Open));
        assert_eq!(
            TaskState::Open.apply(Event::Reopen),
            Err(NoChange(TaskState::Open))
        );
    }

    #[test]
    fn an_old_forward_of_unknown_state_can_be_closed() {
        assert_eq!(
            TaskState::Unknown.apply(Event::Replied),
            Ok(TaskState::Answered)
        );
        assert_eq!(
            TaskState::Unknown.apply(Event::DoneByMail),
            Ok(TaskState::Done)
        );
        assert!(!TaskState::Unknown.is_open());
        for s in [
            TaskState::Open,
            TaskState::Answered,
            TaskState::Done,
            TaskState::Dropped,
            TaskState::Unknown,
        ] {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
    }
}

/// The task the unit tests of tasks, follow-up and the digest's results start from.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Reference, TaskRow, TaskState};

    /// Tuesday 24 November 2026, 09:00 in Rome.
    pub(crate) const TUE_9: i64 = 1_795_507_200;

    /// Giulia's task `id` ("Fattura {id}"), forwarded to `assistant` at `created`, sent and
    /// never reminded.
    pub(crate) fn task(
        id: i64,
        assistant: &str,
        state: TaskState,
        created: i64,
        closed: Option<i64>,
    ) -> TaskRow {
        TaskRow {
            id,
            account: "giulia".into(),
            reference: Reference::of(id as u64),
            ledger_id: id,
            assistant: assistant.into(),
            state,
            created_at: created,
            due_at: None,
            due_fixed: false,
            answered_at: None,
            closed_at: closed,
            reminded_day: None,
            reminders: 0,
            subject: format!("Fattura {id}"),
            from_addr: "c@x.example".into(),
            rule: None,
            forward_id: format!("giulia.{id}.aa"),
            forward: super::Forwarded::Sent,
            redelegated: None,
        }
    }
}
