//! Sending the reminders of overdue tasks at the end of a pass ([`crate::task::follow_up`]
//! says which), under the account's hourly limit (forwards and reminders together), each
//! recorded as it goes so that a task reminds at most once per working day. And fixing a
//! new task's due time from the config, right after it is recorded ([`fix_dues`]).

use tracing::{info, warn};

use super::Triage;
use crate::config::Account;
use crate::state::{State, TaskFilter};
use crate::task::{TaskState, follow_up, notice, policy};

/// Fixes the due time of the account's tasks that have none yet, from the config as it is
/// now: the tasks just recorded (before their forward is composed, which states it), and,
/// at the account's first start after the upgrade that began storing due times, the tasks
/// made before it (their rule's or the account's `due` from their creation: what the
/// config says when delega first runs after the upgrade, normally the config they were
/// made under). Returns how many were fixed.
pub fn fix_dues(state: &mut State, account: &Account) -> anyhow::Result<usize> {
    state.fix_task_dues(&account.name, &|task| {
        policy::due_at(account, task.rule.as_deref(), task.created_at)
    })
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
