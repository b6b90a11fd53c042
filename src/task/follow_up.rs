//! Follow-up: which overdue tasks remind their assistant now.
//!
//! A task reminds when it is open (or answered) and past its due time, its rule (or the
//! account) says `remind = true`, and `now` falls inside working hours on a working day
//! it has not reminded on yet: never more than one reminder per task per working day.
//! Pure: the caller sends them, under the hourly limit, and records each.

use super::{Forwarded, TaskRow, policy};
use crate::config::Account;

/// A reminder to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    /// The overdue task.
    pub task: &'a TaskRow,
    /// When it was due.
    pub due_at: i64,
    /// Today's working day (`2026-11-24`), recorded so that it reminds once that day.
    pub day: String,
}

/// The reminders due at `now`, the longest overdue first.
pub fn reminders<'a>(account: &Account, tasks: &'a [TaskRow], now: i64) -> Vec<Due<'a>> {
    let tz = &account.digest.timezone;
    let Some(day) = account.tasks.work_hours.working_day(now, tz) else {
        return Vec::new();
    };
    let day = day.to_string();
    let mut due: Vec<Due<'a>> = tasks
        .iter()
        .filter(|t| t.state.is_open() && t.forward == Forwarded::Sent)
        .filter(|t| t.reminded_day.as_deref() != Some(day.as_str()))
        .filter(|t| policy::remind(account, t.rule.as_deref()))
        .filter_map(|t| {
            let due_at = policy::due(account, t)?;
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
