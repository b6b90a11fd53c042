//! The task settings of an account and of a rule: `work_hours`, `due`, `remind`.
//!
//! Read where they are written, each bad value reported at its `file:line:col` with a
//! `help:` line; the parsing itself is the task core's ([`WorkHours::parse`],
//! [`Due::parse`]).

use super::tomlread::Table;
use crate::task::{Due, WorkHours};

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
