//! Sending the reminders of overdue tasks at the end of a pass ([`crate::task::follow_up`]
//! says which), under the account's hourly limit (forwards and reminders together), each
//! recorded as it goes so that a task reminds at most once per working day.

use tracing::{info, warn};

use super::Triage;
use crate::state::{State, TaskFilter};
use crate::task::{TaskState, follow_up, notice};

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
    for due in follow_up::reminders(account, &tasks, now) {
        let hour = now - 3600;
        let used = state.forwards_sent_since(&account.name, hour)?
            + state.reminders_sent_since(&account.name, hour)?;
        if used >= account.forward.max_per_hour {
            info!(left = %due.task.reference, "hourly limit reached: the other reminders wait");
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
