//! `delega status`: what each account has been doing, read from the state database.
//!
//! Works while the daemon runs (SQLite in WAL mode lets a reader in beside the writer) and
//! when it does not. [`collect`] gathers the facts once; [`render`] words them for people (times
//! in each account's timezone) and [`to_json`] writes the same structure for scripts (times
//! as Unix seconds), so a fact added to [`AccountStatus`] reaches both.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::classify::Category;
use crate::config::{Account, Config};
use crate::delivery::{HourlyLimit, hourly_limit};
use crate::state::{InDoubt, OutboxState, State};

/// One account's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AccountStatus {
    /// The account name.
    pub name: String,
    /// Last time the Inbox was checked successfully (Unix time).
    pub last_check: Option<i64>,
    /// Messages decided since local midnight, per category.
    #[serde(serialize_with = "every_category")]
    pub today: BTreeMap<Category, usize>,
    /// Forwards waiting to go out.
    pub waiting: u32,
    /// Forwards refused for good.
    pub failed: u32,
    /// What the account sent in the last hour against `max_per_hour` (forwards and
    /// reminders), and, when that is the limit, when the next may go: why forwards wait.
    pub hourly_limit: HourlyLimit,
    /// Every forward that may have reached its assistant twice, newest first.
    pub in_doubt: Vec<InDoubt>,
    /// Tasks still expected of the assistants, and how many of them are overdue.
    pub tasks: TaskCounts,
    /// The last problem recorded, and when.
    #[serde(serialize_with = "error_and_time")]
    pub last_error: Option<(String, i64)>,
    /// When the next digest is due (Unix time).
    pub next_digest: Option<i64>,
    /// The IMAP sign-in's OAuth2 grant, for an account with `auth = "oauth2"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<crate::oauth2::GrantStatus>,
}

/// An account's open tasks (`answered` included: not said done), the overdue ones, and
/// those that never reached their assistant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskCounts {
    /// Open, overdue included.
    pub open: usize,
    /// Past their due time.
    pub overdue: usize,
    /// Their forward was refused for good, and nobody has closed or delegated them again
    /// ([`crate::task::TaskRow::not_sent`]): not open, since nothing is expected of anyone.
    pub not_sent: usize,
}

/// `today` with every category, 0 where nothing was decided, as the text shows it.
fn every_category<S: serde::Serializer>(
    today: &BTreeMap<Category, usize>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        Category::ALL
            .iter()
            .map(|c| (c, today.get(c).copied().unwrap_or(0))),
    )
}

/// `last_error` as `{"message": …, "at": …}` (or `null`), named rather than a bare pair.
fn error_and_time<S: serde::Serializer>(
    error: &Option<(String, i64)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct LastError<'a> {
        message: &'a str,
        at: i64,
    }
    let named = error
        .as_ref()
        .map(|(message, at)| LastError { message, at: *at });
    serde::Serialize::serialize(&named, serializer)
}

/// Reads every account's figures at `now`.
pub fn collect(config: &Config, state: &State, now: i64) -> anyhow::Result<Vec<AccountStatus>> {
    config
        .accounts
        .iter()
        .map(|account| account_status(account, state, now))
        .collect()
}

fn account_status(account: &Account, state: &State, now: i64) -> anyhow::Result<AccountStatus> {
    let midnight = local_midnight(account, now)?;
    let today = state.decided_counts(&account.name, midnight, i64::MAX)?;
    let (waiting, failed) = state.outbox_counts(&account.name)?;
    let (last_check, last_error, last_error_at) = state.account_status(&account.name)?;
    Ok(AccountStatus {
        name: account.name.clone(),
        last_check,
        today,
        waiting,
        failed,
        hourly_limit: hourly_limit(state, account, now)?,
        in_doubt: state.forwards_in_doubt(&account.name, i64::MIN, i64::MAX)?,
        tasks: task_counts(account, state, now)?,
        last_error: last_error.zip(last_error_at),
        next_digest: next_digest(account, state, now)?,
        oauth2: account
            .imap
            .oauth2
            .as_deref()
            .map(crate::oauth2::grant_status),
    })
}

fn task_counts(account: &Account, state: &State, now: i64) -> anyhow::Result<TaskCounts> {
    let filter = crate::state::TaskFilter {
        states: vec![
            crate::task::TaskState::Open,
            crate::task::TaskState::Answered,
        ],
        ..Default::default()
    };
    let tasks = state.tasks(&account.name, &filter)?;
    let c = crate::review::counts(&crate::review::review(account, &tasks, now, now));
    Ok(TaskCounts {
        open: c.open,
        overdue: c.overdue,
        not_sent: c.not_sent,
    })
}

fn next_digest(account: &Account, state: &State, now: i64) -> anyhow::Result<Option<i64>> {
    let last = state.last_digest_day(&account.name)?;
    let due = crate::digest::next_due(
        account.digest.at,
        &account.digest.timezone,
        last,
        jiff::Timestamp::from_second(now)?,
    )?;
    Ok(Some(due.at.as_second()))
}

fn local_midnight(account: &Account, now: i64) -> anyhow::Result<i64> {
    let zoned =
        jiff::Timestamp::from_second(now)?.to_zoned_datetime(account.digest.timezone.clone());
    Ok(zoned.start_of_day()?.timestamp().as_second())
}

/// The report `delega status` prints.
pub fn render(config: &Config, statuses: &[AccountStatus]) -> String {
    let mut out = String::new();
    for (account, s) in config.accounts.iter().zip(statuses) {
        let when = |t: Option<i64>| {
            t.and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| {
                    t.to_zoned_datetime(account.digest.timezone.clone())
                        .strftime("%Y-%m-%d %H:%M %Z")
                        .to_string()
                })
                .unwrap_or_else(|| "never".to_string())
        };
        let _ = writeln!(out, "{}", s.name);
        let _ = writeln!(out, "  last check:    {}", when(s.last_check));
        let counts: Vec<String> = Category::ALL
            .iter()
            .map(|c| format!("{} {c}", s.today.get(c).copied().unwrap_or(0)))
            .collect();
        let _ = writeln!(out, "  today:         {}", counts.join(", "));
        let _ = writeln!(
            out,
            "  forwards:      {} waiting, {} failed, {} may have gone twice",
            s.waiting,
            s.failed,
            s.in_doubt.len()
        );
        let limit = &s.hourly_limit;
        let _ = writeln!(
            out,
            "  hourly limit:  {} of {} sent in the last hour (forwards and reminders){}",
            limit.sent,
            limit.max,
            match limit.full_until {
                Some(at) => format!("; the next may go at {}", when(Some(at))),
                None => String::new(),
            }
        );
        let _ = writeln!(
            out,
            "  tasks:         {} open, {} overdue, {} not sent (`delega tasks --account {}`)",
            s.tasks.open, s.tasks.overdue, s.tasks.not_sent, s.name
        );
        // All of them: each is a message to check with its assistant.
        for d in &s.in_doubt {
            let name = account
                .assistant(&d.assistant)
                .map_or(d.assistant.as_str(), |a| a.name.as_str());
            let what = if d.state == OutboxState::Sent {
                "sent again"
            } else {
                "to be sent again"
            };
            let _ = writeln!(
                out,
                "    maybe twice: \"{}\" to {name}, {what} (decided {}; forward {})",
                crate::message::one_line(&d.subject),
                when(Some(d.decided_at)),
                d.forward_id
            );
        }
        let due_now = s
            .next_digest
            .is_some_and(|t| t <= jiff::Timestamp::now().as_second());
        let _ = writeln!(
            out,
            "  next digest:   {}{}",
            when(s.next_digest),
            if due_now {
                " (due: sent at the next pass)"
            } else {
                ""
            }
        );
        if let Some(g) = &s.oauth2 {
            let line = match &g.refused {
                Some((at, error, command)) => format!(
                    "OAuth2, needs re-authorisation since {} ({error}): run `{command}`",
                    when(Some(*at))
                ),
                None => match g.expires_at {
                    Some(_) => format!(
                        "OAuth2, {}; last refresh {}, token valid until {}",
                        g.source,
                        when(g.last_refresh),
                        when(g.expires_at)
                    ),
                    None => format!("OAuth2, {}", g.source),
                },
            };
            let _ = writeln!(out, "  sign-in:       {line}");
        }
        match &s.last_error {
            Some((err, at)) => {
                let _ = writeln!(out, "  last error:    {} ({})", err, when(Some(*at)));
            }
            None => {
                let _ = writeln!(out, "  last error:    none");
            }
        }
    }
    out
}

/// The report `delega status --json` prints: `{"accounts": [...]}`, one object per account
/// with the fields of [`AccountStatus`]; times are Unix seconds, absent ones `null`.
pub fn to_json(statuses: &[AccountStatus]) -> String {
    #[derive(serde::Serialize)]
    struct Report<'a> {
        accounts: &'a [AccountStatus],
    }
    serde_json::to_string_pretty(&Report { accounts: statuses })
        .expect("status figures are strings, numbers and maps with string keys")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_same_facts_as_the_text() {
        let status = AccountStatus {
            name: "giulia".into(),
            last_check: Some(1_700_000_000),
            today: BTreeMap::from([(Category::Delegable, 3)]),
            waiting: 1,
            failed: 2,
            hourly_limit: HourlyLimit {
                sent: 2,
                max: 2,
                full_until: Some(1_700_003_000),
            },
            in_doubt: Vec::new(),
            tasks: TaskCounts {
                open: 4,
                overdue: 1,
                not_sent: 1,
            },
            last_error: Some(("login refused".into(), 1_700_000_100)),
            next_digest: None,
            oauth2: None,
        };
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&[status])).expect("valid JSON");
        assert_eq!(
            json,
            serde_json::json!({"accounts": [{
                "name": "giulia",
                "last_check": 1_700_000_000,
                "today": {"strategic": 0, "delegable": 3, "noise": 0},
                "waiting": 1,
                "failed": 2,
                "hourly_limit": {"sent": 2, "max": 2, "full_until": 1_700_003_000},
                "in_doubt": [],
                "tasks": {"open": 4, "overdue": 1, "not_sent": 1},
                "last_error": {"message": "login refused", "at": 1_700_000_100},
                "next_digest": null,
            }]})
        );
    }
}
