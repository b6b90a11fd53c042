//! The review of results: per assistant, what was done (and how long it took, in working
//! hours), what is still open, what is overdue, and the median time to done.
//!
//! Pure: the account's tasks and `now` in, plain data out, for the digest, the assistant's
//! daily list, `delega tasks` and `status` to put into words. Counts are exact; listing
//! caps are the reader's.
//!
//! Above `task` and `config`: a task's due time is what the account's config says of it
//! ([`Account::task_due`]), counted in its working hours.

use std::collections::BTreeMap;

use crate::config::Account;
use crate::task::{TaskRow, TaskState};

/// How far back the median time to done looks.
pub const MEDIAN_WINDOW_SECS: i64 = 30 * 86_400;

/// One task, as a review shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The task.
    pub task: TaskRow,
    /// When it is (or was) due.
    pub due_at: Option<i64>,
    /// Still open and past its due time.
    pub overdue: bool,
    /// Working time from delegation to done (done tasks) or to now (open ones), seconds.
    pub working_secs: i64,
}

/// One assistant's results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssistantReview {
    /// The assistant's id.
    pub assistant: String,
    /// Done since the period's start, first done first.
    pub done: Vec<TaskView>,
    /// Open (or answered) and not overdue, oldest first.
    pub open: Vec<TaskView>,
    /// Overdue, oldest first.
    pub overdue: Vec<TaskView>,
    /// Never reached the assistant: their forward was refused for good, and nobody has
    /// done, dropped or delegated them again since ([`TaskRow::not_sent`]); oldest first.
    pub not_sent: Vec<TaskView>,
    /// The median working time to done of the tasks done in the last 30 days, seconds.
    pub median_done_secs: Option<i64>,
}

/// Totals of a review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Done since the period's start.
    pub done: usize,
    /// Open, overdue included.
    pub open: usize,
    /// Overdue.
    pub overdue: usize,
    /// Never sent ([`AssistantReview::not_sent`]).
    pub not_sent: usize,
}

/// Looks at a task at `now`.
pub fn view(account: &Account, task: &TaskRow, now: i64) -> TaskView {
    let hours = &account.tasks.work_hours;
    let tz = &account.digest.timezone;
    let due_at = account.task_due(task);
    let end = match task.state {
        TaskState::Done | TaskState::Dropped => task.closed_at.unwrap_or(now),
        _ => now,
    };
    TaskView {
        due_at,
        overdue: task.expected() && due_at.is_some_and(|d| now >= d),
        working_secs: hours.worked(task.created_at, end, tz),
        task: task.clone(),
    }
}

/// The review of an account's tasks at `now`, done counted from `since`; assistants in
/// id order. `tasks` are all of the account's tasks (done ones of the last 30 days at
/// least, for the median).
pub fn review(account: &Account, tasks: &[TaskRow], since: i64, now: i64) -> Vec<AssistantReview> {
    let mut by: BTreeMap<&str, AssistantReview> = BTreeMap::new();
    let mut durations: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for task in tasks {
        let v = view(account, task, now);
        let r = by
            .entry(task.assistant.as_str())
            .or_insert_with(|| AssistantReview {
                assistant: task.assistant.clone(),
                ..AssistantReview::default()
            });
        if task.not_sent().is_some() {
            // Delegated again: the new task stands for it.
            if task.redelegated.is_none() {
                r.not_sent.push(v);
            }
            continue;
        }
        match task.state {
            TaskState::Done => {
                let closed = task.closed_at.unwrap_or(0);
                if closed >= now - MEDIAN_WINDOW_SECS {
                    durations
                        .entry(task.assistant.as_str())
                        .or_default()
                        .push(v.working_secs);
                }
                if closed >= since && closed <= now {
                    r.done.push(v);
                }
            }
            s if s.is_open() && v.overdue => r.overdue.push(v),
            s if s.is_open() => r.open.push(v),
            _ => {}
        }
    }
    for r in by.values_mut() {
        r.done.sort_by_key(|v| (v.task.closed_at, v.task.id));
        r.open.sort_by_key(|v| (v.task.created_at, v.task.id));
        r.not_sent.sort_by_key(|v| (v.task.created_at, v.task.id));
        r.overdue
            .sort_by_key(|v| (v.due_at, v.task.created_at, v.task.id));
        r.median_done_secs = durations
            .get_mut(r.assistant.as_str())
            .and_then(|d| median(d));
    }
    by.into_values()
        .filter(|r| {
            !(r.done.is_empty()
                && r.open.is_empty()
                && r.overdue.is_empty()
                && r.not_sent.is_empty())
                || r.median_done_secs.is_some()
        })
        .collect()
}

/// The counts over every assistant.
pub fn counts(reviews: &[AssistantReview]) -> Counts {
    reviews.iter().fold(Counts::default(), |c, r| Counts {
        done: c.done + r.done.len(),
        open: c.open + r.open.len() + r.overdue.len(),
        overdue: c.overdue + r.overdue.len(),
        not_sent: c.not_sent + r.not_sent.len(),
    })
}

/// The median of some durations (the lower middle one of an even count: a time that
/// really happened).
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

/// `2h 30m`, `3d 1h` (working days of the account's length), for people.
pub fn working_duration(secs: i64, day_secs: i64) -> String {
    let minutes = secs.max(0) / 60;
    let day_minutes = (day_secs / 60).max(1);
    let (d, h, m) = (
        minutes / day_minutes,
        (minutes % day_minutes) / 60,
        minutes % 60,
    );
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Due;
    use crate::task::fixtures::{TUE_9, task};

    #[test]
    fn results_per_assistant_done_open_overdue_and_median() {
        let mut account = crate::config::tests::account();
        account.tasks.due = Some(Due {
            days: 0,
            minutes: 120,
        });
        let h = 3600;
        let tasks = [
            task(1, "marta", TaskState::Done, TUE_9, Some(TUE_9 + h)),
            task(2, "marta", TaskState::Done, TUE_9, Some(TUE_9 + 3 * h)),
            task(3, "marta", TaskState::Done, TUE_9, Some(TUE_9 + 5 * h)),
            task(4, "marta", TaskState::Open, TUE_9 + 6 * h, None),
            task(5, "marta", TaskState::Answered, TUE_9 + h, None),
            task(6, "luca", TaskState::Open, TUE_9 + 2 * h, None),
            task(7, "luca", TaskState::Dropped, TUE_9, Some(TUE_9 + h)),
        ];
        let now = TUE_9 + 7 * h; // 16:00
        let r = review(&account, &tasks, TUE_9 + 2 * h, now);
        assert_eq!(r.len(), 2);
        let (luca, marta) = (&r[0], &r[1]);
        assert_eq!(marta.assistant, "marta");
        let ids = |v: &[TaskView]| v.iter().map(|t| t.task.id).collect::<Vec<_>>();
        assert_eq!(ids(&marta.done), [2, 3], "done since the period's start");
        assert_eq!(
            ids(&marta.overdue),
            [5],
            "answered is still open; due 12:00"
        );
        assert_eq!(ids(&marta.open), [4], "due 17:00, not yet");
        assert_eq!(marta.done[0].working_secs, 3 * h);
        assert_eq!(marta.median_done_secs, Some(3 * h));
        assert_eq!(ids(&luca.overdue), [6]);
        assert!(luca.done.is_empty());
        assert_eq!(
            counts(&r),
            Counts {
                done: 2,
                open: 3,
                overdue: 2,
                not_sent: 0,
            }
        );
    }

    #[test]
    fn a_task_whose_forward_was_refused_is_not_sent_until_someone_acts() {
        let mut account = crate::config::tests::account();
        account.tasks.due = Some(Due {
            days: 0,
            minutes: 60,
        });
        let refused = crate::task::Forwarded::NotSent {
            reason: None,
            error: "550 5.1.1 <luca@elsewhere.example>: Recipient address rejected".into(),
        };
        let with = |mut t: TaskRow, forward: &crate::task::Forwarded| {
            t.forward = forward.clone();
            t
        };
        let h = 3600;
        let mut again = with(task(3, "luca", TaskState::Open, TUE_9, None), &refused);
        again.redelegated = Some(crate::task::Reference::of(4));
        let tasks = [
            with(task(1, "luca", TaskState::Open, TUE_9, None), &refused),
            with(
                task(2, "luca", TaskState::Dropped, TUE_9, Some(TUE_9 + h)),
                &refused,
            ),
            again,
            task(4, "luca", TaskState::Open, TUE_9 + h, None),
            with(
                task(5, "luca", TaskState::Open, TUE_9, None),
                &crate::task::Forwarded::Waiting,
            ),
        ];
        let now = TUE_9 + 5 * h;
        let r = review(&account, &tasks, TUE_9, now);
        let luca = &r[0];
        let ids = |v: &[TaskView]| v.iter().map(|t| t.task.id).collect::<Vec<_>>();
        assert_eq!(ids(&luca.not_sent), [1], "not dropped, not delegated again");
        assert!(!luca.not_sent[0].overdue, "nothing is expected of Luca");
        assert_eq!(
            ids(&luca.overdue),
            [5, 4],
            "a forward still waiting is still expected"
        );
        assert_eq!(
            counts(&r),
            Counts {
                done: 0,
                open: 2,
                overdue: 2,
                not_sent: 1,
            }
        );
        assert_eq!(
            tasks[0].forward.why().as_deref(),
            Some("550 5.1.1 <luca@elsewhere.example>: Recipient address rejected")
        );
    }

    #[test]
    fn durations_are_said_in_working_days_and_hours() {
        assert_eq!(working_duration(90 * 60, 9 * 3600), "1h 30m");
        assert_eq!(working_duration(9 * 3600 + 3600, 9 * 3600), "1d 1h");
        assert_eq!(working_duration(20 * 60, 9 * 3600), "20m");
        assert_eq!(working_duration(18 * 3600, 9 * 3600), "2d");
    }
}
