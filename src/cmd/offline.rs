//! `delega check` and `delega explain`: the config and rules, tried without any server.

use std::path::PathBuf;

use delega::classify::{Category, Explanation};
use delega::config::Account;
use delega::config::diagnostic::Diagnostic;
use delega::guard::{self, Decided, History};
use delega::message::Message;
use delega::state::State;
use delega::task::{NoChange, Signal, TaskState};
use delega::triage::StatusMail;

use super::{CmdResult, Failed, load, select_accounts};

/// How long `check` lets a password command run.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn check(path: &std::path::Path) -> CmdResult {
    let loaded = load(path)?;
    // Each password or token command runs once, so that a failing one is found now, not at the
    // first login; its output is never printed.
    let failed: Vec<_> = loaded
        .commands
        .iter()
        .filter_map(|setting| {
            let err = delega::config::try_command(setting.key, &setting.command, COMMAND_TIMEOUT)
                .err()?;
            Some(Diagnostic {
                message: format!("{err:#}"),
                help: Some(format!(
                    "run the command by hand as the user delega runs as: it must print the \
                     {} on its first line and exit 0",
                    if setting.key == "token_command" {
                        "access token"
                    } else {
                        "password"
                    }
                )),
                ..setting.at.clone()
            })
        })
        .collect();
    if !failed.is_empty() {
        for diagnostic in &failed {
            eprintln!("{diagnostic}");
        }
        let n = failed.len();
        eprintln!(
            "\n{n} error{} in {}: delega cannot log in until {} fixed",
            if n == 1 { "" } else { "s" },
            path.display(),
            if n == 1 { "it is" } else { "they are" }
        );
        return Err(Failed::InvalidConfig);
    }
    let config = &loaded.config;
    outln!("{}: OK", path.display());
    for account in &config.accounts {
        let count = |c: Category| {
            account
                .rules
                .rules
                .iter()
                .filter(|r| r.category == c)
                .count()
        };
        outln!(
            "  account {}: {} rules from {} ({} strategic, {} delegable, {} noise; {} observe-only), {} assistants, default {}",
            account.name,
            account.rules.rules.len(),
            account.rules_dir.display(),
            count(Category::Strategic),
            count(Category::Delegable),
            count(Category::Noise),
            account.rules.rules.iter().filter(|r| r.observe).count(),
            account.assistants.len(),
            account.rules.default,
        );
    }
    Ok(())
}

pub(crate) fn explain(
    path: &std::path::Path,
    account: Option<&str>,
    messages: &[PathBuf],
) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let account = select_accounts(config, account, path)?[0];
    // What the ledger knows (a Message-ID already forwarded) is read as `run` reads it; a
    // database that is not there yet knows nothing.
    let state = if config.state.exists() {
        State::open(&config.state).map_err(|err| format!("{err:#}"))
    } else {
        Err(format!("{} does not exist yet", config.state.display()))
    };
    let mut failed = false;
    for file in messages {
        let raw = match std::fs::read(file) {
            Ok(raw) => raw,
            Err(err) => {
                eprintln!("{}: error: cannot read: {err}", file.display());
                failed = true;
                continue;
            }
        };
        let msg = Message::parse(&raw);
        let history = match (&state, msg.message_id()) {
            (Ok(state), Some(id)) => match state.already_forwarded(&account.name, id) {
                Ok(already_forwarded) => Ok(History { already_forwarded }),
                Err(err) => Err(format!("{err:#}")),
            },
            (Ok(_), None) => Ok(History::default()),
            (Err(err), _) => Err(err.clone()),
        };
        let e = account.rules.explain(&msg);
        let decided = guard::decide(
            &msg,
            account,
            &config.smtp.from,
            || e.decision.clone(),
            history.clone().unwrap_or_default(),
        );
        // An assistant's mail about a task: `run` moves the task and files the mail with it,
        // before the rules' decision counts (not in observe mode, where nothing is done).
        let status = match &state {
            Ok(_) if account.observe => Ok(None),
            Ok(state) => {
                delega::triage::status_mail(state, account, &msg).map_err(|err| format!("{err:#}"))
            }
            Err(err) => Err(err.clone()),
        };
        outln!("{}", file.display());
        if let Ok(Some(mail)) = &status {
            print_status_mail(account, &msg, mail);
            continue;
        }
        print_explained(account, &msg, &e, &decided);
        if decided.decision.category == Category::Delegable
            && let Err(why) = &history
        {
            outln!(
                "  note:     the state database was not read ({why}): a copy already forwarded would not be seen here"
            );
        }
        print_no_task(account, &msg, &status);
    }
    if failed { Err(Failed::Runtime) } else { Ok(()) }
}

/// A status mail: the task it is about, what it does to it, and where the mail goes.
fn print_status_mail(account: &Account, msg: &Message<'_>, mail: &StatusMail) {
    let task = &mail.task;
    let reference = &task.reference;
    let from = msg
        .sender()
        .map_or_else(|| "(none)".to_string(), ToString::to_string);
    outln!("  from:     {from}");
    outln!("  subject:  {}", msg.subject());
    outln!(
        "  decision: status mail for task {reference}: filed in {} with the task, never forwarded back",
        account.folders.delegated
    );
    let moves = match task.state.apply(mail.event()) {
        Ok(next) => format!("{} → {}", task.state.as_str(), next.as_str()),
        Err(NoChange(now)) => match now {
            TaskState::Done | TaskState::Dropped => format!(
                "stays {} (mail never undoes the entrepreneur's word; `delega task reopen {reference}` opens it)",
                now.as_str()
            ),
            _ => format!("stays {}", now.as_str()),
        },
    };
    outln!(
        "  task:     {reference} \"{}\" → {}: {moves}",
        delega::message::one_line(&task.subject),
        task.assistant
    );
    let found = if mail.by_reference {
        format!("names {reference} in its subject")
    } else {
        format!("answers the forward of {reference}")
    };
    let says = match mail.signal {
        Signal::Done => "says it is done (a done word, or the \"done\" link)",
        Signal::Replied => "does not say it is done",
    };
    let name = account
        .assistant(&task.assistant)
        .map_or(task.assistant.as_str(), |a| a.name.as_str());
    outln!("  why:      it comes from the assistant {name} and {found}; it {says}");
}

/// For a mail from an assistant that refers to a task delega does not know (or that could
/// not be looked up): what `run` does instead, in one line.
fn print_no_task(
    account: &Account,
    msg: &Message<'_>,
    status: &Result<Option<StatusMail>, String>,
) {
    let from_assistant = msg.sender().is_some_and(|s| {
        account
            .assistants
            .iter()
            .any(|a| a.address.eq_ignore_ascii_case(&s.address))
    });
    // An auto-reply or delega's own mail is never a status mail: its guard line says why.
    let machine = msg.auto_evidence().is_some() || msg.has_header(guard::FORWARD_HEADER);
    let (references, answered) = delega::task::reply::refers(msg);
    if !from_assistant || machine || (references.is_empty() && answered.is_empty()) {
        return;
    }
    match status {
        Ok(Some(_)) => {}
        Ok(None) if account.observe => {}
        Ok(None) => {
            let what = match references.first() {
                Some(r) => format!("{r} is no task of account {}", account.name),
                None => format!("it answers no forward of account {}", account.name),
            };
            outln!(
                "  task:     {what}: not a status mail, decided as any mail from the assistant (above)"
            );
        }
        Err(why) => outln!(
            "  note:     the state database was not read ({why}): a status mail about a task would not be recognised here"
        ),
    }
}

/// One message's explanation: the final decision, the guard that changed it, the rule and
/// why, the rules that came close.
fn print_explained(account: &Account, msg: &Message<'_>, e: &Explanation, decided: &Decided) {
    let d = &decided.decision;
    let from = msg
        .sender()
        .map_or_else(|| "(none)".to_string(), ToString::to_string);
    outln!("  from:     {from}");
    outln!("  subject:  {}", msg.subject());
    let mut category = d.category.to_string();
    if let Some(a) = &d.assistant {
        category.push_str(&format!(" → {a}"));
    }
    if decided.refusal.is_some() {
        category.push_str(" (kept in the Inbox by a guard)");
    }
    if account.observe {
        category.push_str(" (observe mode: nothing is done)");
    } else if d.observe {
        category.push_str(" (observe only: nothing is done)");
    }
    outln!("  decision: {category}");
    let origin = |rule: &str| {
        account
            .rules
            .rule(rule)
            .map(|r| r.origin.to_string())
            .unwrap_or_default()
    };
    match (&d.rule, &decided.refusal) {
        (Some(rule), Some(_)) => {
            let to = e.decision.assistant.as_deref().unwrap_or("?");
            outln!(
                "  rule:     {rule} ({}) would delegate it → {to}",
                origin(rule)
            );
        }
        (Some(rule), None) => outln!("  rule:     {rule} ({})", origin(rule)),
        (None, _) => outln!("  rule:     (none)"),
    }
    if let Some(refusal) = &decided.refusal {
        outln!("  guard:    {refusal}");
        outln!("  why:      {}", e.decision.why);
    } else {
        outln!("  why:      {}", d.why);
    }
    for near in &e.near_misses {
        outln!(
            "  close:    {}: {}; failed: {}",
            near.rule,
            near.matched.join("; "),
            near.missed.join("; ")
        );
    }
}
