//! The task settings of an account and of a rule: `work_hours`, `due`, `remind`; and what
//! they say about a task: when it is due and whether it reminds ([`Account::task_due`],
//! [`Account::due_at`], [`Account::remind`]).
//!
//! Read where they are written, each bad value reported at its `file:line:col` with a
//! `help:` line; the parsing itself is the task core's ([`WorkHours::parse`],
//! [`Due::parse`]).

use super::Account;
use super::tomlread::Table;
use crate::task::{Due, TaskRow, WorkHours};

/// An account's task settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSettings {
    /// When the assistants work, on the account's clock (`digest.timezone`); due times and
    /// reminders count only these hours. Default: Monday to Friday, 09:00 to 18:00.
    pub work_hours: WorkHours,
    /// How soon a task is due when its rule does not say; `None`: never overdue.
    pub due: Option<Due>,
    /// Remind the assistant of an overdue task (once per working day), unless its rule
    /// says otherwise.
    pub remind: bool,
}

impl Account {
    /// When `task` is due: as fixed when it was made, so that a later change of `due` in
    /// the config moves no deadline already given (the forward states it); worked out from
    /// the config only for a task made before due times were stored and not fixed yet.
    pub fn task_due(&self, task: &TaskRow) -> Option<i64> {
        if task.due_fixed {
            task.due_at
        } else {
            self.due_at(task.rule.as_deref(), task.created_at)
        }
    }

    /// When a task of `rule` delegated at `created_at` is due: the rule's `due`, else the
    /// account's, counted in the account's working hours; `None` when neither sets one.
    /// Called once per task, when it is made (or fixed): [`Account::task_due`] reads it
    /// back.
    pub fn due_at(&self, rule: Option<&str>, created_at: i64) -> Option<i64> {
        let rule_due = rule.and_then(|r| self.rules.rule(r)).and_then(|r| r.due);
        let due = rule_due.or(self.tasks.due)?;
        Some(due.at(created_at, &self.tasks.work_hours, &self.digest.timezone))
    }

    /// Whether an overdue task of `rule` reminds its assistant: the rule's `remind`, else
    /// the account's.
    pub fn remind(&self, rule: Option<&str>) -> bool {
        rule.and_then(|r| self.rules.rule(r))
            .and_then(|r| r.remind)
            .unwrap_or(self.tasks.remind)
    }
}

/// The account keys this file reads.
pub(super) const KEYS: [&str; 3] = ["work_hours", "due", "remind"];

/// Reads an account's `work_hours`, `due` and `remind`; `None` after reporting an error.
pub(super) fn account(t: &Table<'_, '_>) -> Option<TaskSettings> {
    let work_hours = match t.str("work_hours") {
        None => Some(WorkHours::default()),
        Some(s) => match WorkHours::parse(s.get_ref()) {
            Ok(h) => Some(h),
            Err(why) => {
                t.reader().error(
                    s.span(),
                    format!("`{}` is not working hours: {why}", s.get_ref()),
                    Some(
                        "write days and hours, e.g. `work_hours = \"Mon-Fri 09:00-18:00\"`".into(),
                    ),
                );
                None
            }
        },
    };
    let due = due(t)?;
    Some(TaskSettings {
        work_hours: work_hours?,
        due,
        remind: t.bool("remind").unwrap_or(false),
    })
}

/// Reads a `due` setting (an account's or a rule's): `Some(None)` when absent, `None`
/// after reporting an error.
pub fn due(t: &Table<'_, '_>) -> Option<Option<Due>> {
    let Some(s) = t.str("due") else {
        return Some(None);
    };
    match Due::parse(s.get_ref()) {
        Ok(d) => Some(Some(d)),
        Err(why) => {
            t.reader().error(
                s.span(),
                format!("`{}` is not a due time: {why}", s.get_ref()),
                Some("write working time, e.g. `due = \"4h\"` or `due = \"2d\"`".into()),
            );
            None
        }
    }
}
