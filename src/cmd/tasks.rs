//! `delega tasks` (the review of results, for ops) and `delega task done|reopen|drop REF`
//! (the entrepreneur's or ops' own corrections). Reads and writes the state database; the
//! review itself is `review`.

use delega::config::Account;
use delega::forward::notice;
use delega::review::{self, TaskView, working_duration};
use delega::state::{State, TaskFilter};
use delega::task::{Event, Forwarded, Reference, TaskState};

use super::{CmdResult, Failed, load, select_accounts};

/// Which tasks `delega tasks` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// Open and overdue ones (the default shows done ones too).
    Open,
    /// Overdue ones only.
    Overdue,
    /// Done in the last 30 days.
    Done,
    /// Those whose forward was refused for good.
    NotSent,
    /// Everything: not sent, overdue, open, done in the last 30 days.
    All,
}

/// What `delega task` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Done,
    Reopen,
    Drop,
}

fn open_state(path: &std::path::Path) -> Result<(delega::config::Loaded, State), Failed> {
    let loaded = load(path)?;
    match State::open(&loaded.config.state) {
        Ok(state) => Ok((loaded, state)),
        Err(err) => {
            eprintln!("error: {err:#}");
            Err(Failed::Runtime)
        }
    }
}

pub(crate) fn tasks(
    path: &std::path::Path,
    account: Option<&str>,
    show: Show,
    assistant: Option<&str>,
) -> CmdResult {
    let (loaded, state) = open_state(path)?;
    let accounts = select_accounts(&loaded.config, account, path)?;
    let now = jiff::Timestamp::now().as_second();
    for account in accounts {
        let filter = TaskFilter {
            assistant: assistant.map(str::to_string),
            ..TaskFilter::default()
        };
        let all = match state.tasks(&account.name, &filter) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("error: {err:#}");
                return Err(Failed::Runtime);
            }
        };
        let since = now - review::MEDIAN_WINDOW_SECS;
        let reviews = review::review(account, &all, since, now);
        let c = review::counts(&reviews);
        outln!(
            "{}: {} open ({} overdue), {} done in the last 30 days{}",
            account.name,
            c.open,
            c.overdue,
            c.done,
            not_sent(c.not_sent)
        );
        let day = account.tasks.work_hours.day_secs();
        for r in &reviews {
            let name = account
                .assistant(&r.assistant)
                .map_or(r.assistant.as_str(), |a| a.name.as_str());
            let median = r
                .median_done_secs
                .map_or_else(|| "-".to_string(), |s| working_duration(s, day));
            outln!(
                "  {name}: {} open, {} overdue, {} done{}; median time to done {median} (working time)",
                r.open.len() + r.overdue.len(),
                r.overdue.len(),
                r.done.len(),
                not_sent(r.not_sent.len())
            );
            let lists: [(&[TaskView], &str, bool); 4] = [
                (
                    &r.not_sent,
                    "not sent",
                    matches!(show, Show::NotSent | Show::All),
                ),
                (
                    &r.overdue,
                    "overdue",
                    matches!(show, Show::Open | Show::Overdue | Show::All),
                ),
                (&r.open, "open", matches!(show, Show::Open | Show::All)),
                (&r.done, "done", matches!(show, Show::Done | Show::All)),
            ];
            for (views, label, shown) in lists {
                if shown {
                    for v in views {
                        outln!("    {}", line(account, v, label, day));
                    }
                }
            }
        }
        if c.not_sent > 0 && matches!(show, Show::NotSent | Show::All) {
            outln!(
                "  (a forward refused for good is not sent again, not even by `delega retry`: \
                 fix what the reason says, then move the message into {} to delegate it anew, \
                 or `delega task drop REF`)",
                account.folders.delegated
            );
        }
    }
    Ok(())
}

/// `, 2 not sent`, or nothing when there is none.
fn not_sent(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(", {n} not sent"),
    }
}

fn line(account: &Account, v: &TaskView, label: &str, day: i64) -> String {
    let t = &v.task;
    let tz = &account.digest.timezone;
    let lang = delega::config::Language::En;
    let state = match (label, t.state) {
        ("done", _) => "done".to_string(),
        (_, TaskState::Answered) => format!("{label}, answered"),
        _ => label.to_string(),
    };
    let time = match label {
        "done" => format!("took {}", working_duration(v.working_secs, day)),
        "not sent" => format!(
            "reason: {}",
            t.forward
                .why()
                .map(|why| delega::message::one_line(&why))
                .unwrap_or_default()
        ),
        _ => format!("open {}", working_duration(v.working_secs, day)),
    };
    // A task that never reached its assistant has nothing due.
    let due = match v.due_at {
        Some(d) if label != "not sent" => format!(", due {}", notice::local_time(d, tz, lang)),
        _ => String::new(),
    };
    format!(
        "{}  {:<17} \"{}\" from {}, delegated {}{due}, {time}{}",
        t.reference,
        state,
        delega::message::one_line(&t.subject),
        t.from_addr,
        notice::local_time(t.created_at, tz, lang),
        match t.forward {
            Forwarded::Waiting => " (forward not sent yet)",
            Forwarded::Sent | Forwarded::NotSent { .. } => "",
        }
    )
}

pub(crate) fn task(
    path: &std::path::Path,
    account: Option<&str>,
    change: Change,
    reference: &str,
) -> CmdResult {
    let Some(reference) = Reference::parse(reference) else {
        eprintln!("error: `{reference}` is not a task reference");
        eprintln!("  help: a reference looks like T-7K3Q (see `delega tasks`)");
        return Err(Failed::Usage);
    };
    let (loaded, mut state) = open_state(path)?;
    let accounts = select_accounts(&loaded.config, account, path)?;
    let mut found = Vec::new();
    for account in &accounts {
        match state.task_by_reference(&account.name, &reference) {
            Ok(Some(t)) => found.push(t),
            Ok(None) => {}
            Err(err) => {
                eprintln!("error: {err:#}");
                return Err(Failed::Runtime);
            }
        }
    }
    let task = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            eprintln!("error: no task {reference}");
            eprintln!("  help: `delega tasks` lists them");
            return Err(Failed::Usage);
        }
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.account.as_str()).collect();
            eprintln!(
                "error: {reference} is a task of several accounts: {}",
                names.join(", ")
            );
            eprintln!("  help: say which with --account");
            return Err(Failed::Usage);
        }
    };
    let event = match change {
        Change::Done => Event::Done,
        Change::Reopen => Event::Reopen,
        Change::Drop => Event::Drop,
    };
    let now = jiff::Timestamp::now().as_second();
    match state.task_apply(task.id, event, None, now) {
        Ok(Ok(next)) => {
            outln!(
                "{}: {reference} \"{}\": {} → {}",
                task.account,
                delega::message::one_line(&task.subject),
                task.state.as_str(),
                next.as_str()
            );
            Ok(())
        }
        Ok(Err(no)) => {
            outln!(
                "{}: {reference} is {}: nothing changed",
                task.account,
                no.0.as_str()
            );
            Ok(())
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            Err(Failed::Runtime)
        }
    }
}
