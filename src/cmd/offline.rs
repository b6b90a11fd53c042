//! `delega check` and `delega explain`: the config and rules, tried without any server.

use std::path::PathBuf;

use delega::classify::{Category, Explanation};
use delega::config::Account;
use delega::config::diagnostic::Diagnostic;
use delega::guard::{self, Decided, History};
use delega::message::Message;
use delega::state::State;

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
        outln!("{}", file.display());
        print_explained(account, &msg, &e, &decided);
        if decided.decision.category == Category::Delegable
            && let Err(why) = &history
        {
            outln!(
                "  note:     the state database was not read ({why}): a copy already forwarded would not be seen here"
            );
        }
    }
    if failed { Err(Failed::Runtime) } else { Ok(()) }
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
