//! Sending the reminders of overdue tasks at the end of a pass, under the account's hourly
//! limit (forwards and reminders together), each recorded as it goes so that a task reminds
//! at most once per working day. And fixing a new task's due time from the config, right
//! after it is recorded ([`fix_dues`]).
//!
//! Which tasks remind now is a pure function of the tasks, the config and `now`
//! ([`reminders`]): a task reminds when it is open (or answered) and past its due time, its
//! rule (or the account) says `remind = true`, and `now` falls inside working hours on a
//! working day it has not reminded on yet: never more than one reminder per task per
//! working day.

use tracing::{info, warn};

use super::Triage;
use crate::config::Account;
use crate::delivery;
use crate::forward::notice;
use crate::state::{State, TaskFilter};
use crate::task::{Forwarded, TaskRow, TaskState};

/// Fixes the due time of the account's tasks that have none yet, from the config as it is
/// now: the tasks just recorded (before their forward is composed, which states it), and,
/// at the account's first start after the upgrade that began storing due times, the tasks
/// made before it (their rule's or the account's `due` from their creation: what the
/// config says when delega first runs after the upgrade, normally the config they were
/// made under). Returns how many were fixed.
pub fn fix_dues(state: &mut State, account: &Account) -> anyhow::Result<usize> {
    state.fix_task_dues(&account.name, &|task| {
        account.due_at(task.rule.as_deref(), task.created_at)
    })
}

/// A reminder to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Due<'a> {
    /// The overdue task.
    task: &'a TaskRow,
    /// When it was due.
    due_at: i64,
    /// Today's working day (`2026-11-24`), recorded so that it reminds once that day.
    day: String,
}

/// The reminders due at `now`, the longest overdue first.
fn reminders<'a>(account: &Account, tasks: &'a [TaskRow], now: i64) -> Vec<Due<'a>> {
    let tz = &account.digest.timezone;
    let Some(day) = account.tasks.work_hours.working_day(now, tz) else {
        return Vec::new();
    };
    let day = day.to_string();
    let mut due: Vec<Due<'a>> = tasks
        .iter()
        .filter(|t| t.state.is_open() && t.forward == Forwarded::Sent)
        .filter(|t| t.reminded_day.as_deref() != Some(day.as_str()))
        .filter(|t| account.remind(t.rule.as_deref()))
        .filter_map(|t| {
            let due_at = account.task_due(t)?;
            (now >= due_at).then(|| Due {
                task: t,
                due_at,
                day: day.clone(),
            })
        })
        .collect();
    due.sort_by_key(|d| (d.due_at, d.task.id));
    due
}

/// Sends the reminders due at `now`; returns how many went out.
pub(crate) async fn remind(state: &mut State, t: &Triage<'_>, now: i64) -> anyhow::Result<usize> {
    let account = t.account;
    if t.delivery.unusable().is_some() {
        return Ok(0);
    }
    let filter = TaskFilter {
        states: vec![TaskState::Open, TaskState::Answered],
        ..TaskFilter::default()
    };
    let tasks = state.tasks(&account.name, &filter)?;
    let mut sent = 0;
    for due in reminders(account, &tasks, now) {
        let limit = delivery::hourly_limit(state, account, now)?;
        if limit.full_until.is_some() {
            info!(left = %due.task.reference, sent = limit.sent, max = limit.max,
                "hourly limit reached (forwards and reminders of the last hour): the other reminders wait");
            break;
        }
        // Only configured assistants are written to: one removed since gets nothing.
        let Some(assistant) = account.assistant(&due.task.assistant) else {
            continue;
        };
        let mail = notice::reminder(&notice::Reminder {
            from: t.from,
            to: (&assistant.name, &assistant.address),
            entrepreneur: &account.digest.to,
            reference: &due.task.reference,
            forward_id: &due.task.forward_id,
            subject: &due.task.subject,
            created_at: due.task.created_at,
            due_at: due.due_at,
            language: account.digest.language,
            tz: &account.digest.timezone,
            now,
        });
        let mail = match mail {
            Ok(m) => m,
            Err(err) => {
                warn!(task = %due.task.reference, "cannot compose the reminder: {err:#}");
                continue;
            }
        };
        match t.delivery.send(mail).await {
            Ok(()) => {
                state.task_reminded(due.task.id, &due.day, now)?;
                info!(task = %due.task.reference, to = %assistant.address, "reminder sent");
                sent += 1;
            }
            Err(err) => {
                // Tried again at the next pass (the day is not recorded).
                warn!(task = %due.task.reference, %err, "reminder not sent");
                break;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::fixtures::{self, TUE_9};
    use crate::task::{Due as DueIn, TaskState};

    const H: i64 = 3600;

    fn task(id: i64, state: TaskState, reminded_day: Option<&str>) -> TaskRow {
        TaskRow {
            reminded_day: reminded_day.map(str::to_string),
            ..fixtures::task(id, "marta", state, TUE_9, None)
        }
    }

    fn account(remind: bool) -> Account {
        let mut a = crate::config::tests::account();
        a.tasks.due = Some(DueIn {
            days: 0,
            minutes: 60,
        });
        a.tasks.remind = remind;
        a
    }

    #[test]
    fn an_overdue_task_reminds_once_per_working_day() {
        let a = account(true);
        let mut t = [task(1, TaskState::Open, None)];
        assert!(reminders(&a, &t, TUE_9 + H / 2).is_empty(), "not due yet");
        let now = TUE_9 + 2 * H;
        let due = reminders(&a, &t, now);
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].due_at, due[0].day.as_str()),
            (TUE_9 + H, "2026-11-24")
        );
        // Recorded: not again that day, whatever the hour.
        t[0].reminded_day = Some("2026-11-24".into());
        assert!(reminders(&a, &t, now + 5 * H).is_empty());
        // Not in the evening, nor at the weekend; again the next working day.
        assert!(reminders(&a, &t, TUE_9 + 10 * H).is_empty(), "19:00");
        assert!(
            reminders(&a, &t, TUE_9 + 4 * 24 * H + 2 * H).is_empty(),
            "Saturday"
        );
        let wednesday = reminders(&a, &t, TUE_9 + 24 * H);
        assert_eq!(wednesday[0].day, "2026-11-25");
    }

    #[test]
    fn only_open_tasks_of_reminding_rules_remind() {
        let now = TUE_9 + 2 * H;
        let done = [
            task(1, TaskState::Done, None),
            task(2, TaskState::Dropped, None),
        ];
        assert!(reminders(&account(true), &done, now).is_empty());
        let open = [task(3, TaskState::Answered, None)];
        assert!(reminders(&account(false), &open, now).is_empty());
        assert_eq!(reminders(&account(true), &open, now).len(), 1);
        let mut waiting = task(4, TaskState::Open, None);
        waiting.forward = Forwarded::Waiting;
        let mut refused = task(5, TaskState::Open, None);
        refused.forward = Forwarded::NotSent {
            reason: None,
            error: "550 no such user".into(),
        };
        assert!(
            reminders(&account(true), &[waiting, refused], now).is_empty(),
            "never reached them"
        );
    }
}
