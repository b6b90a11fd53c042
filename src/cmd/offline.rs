//! `delega check` and `delega explain`: the config and rules, tried without any server.

use std::path::PathBuf;
use std::process::ExitCode;

use delega::classify::Category;
use delega::diagnostic::Diagnostic;
use delega::message::Message;

use super::{load, select_accounts};

/// How long `check` lets a password command run.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) fn check(path: &std::path::Path) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // Each password command runs once, so that a failing one is found now, not at the
    // first login; its output is never printed.
    let failed: Vec<_> = loaded
        .commands
        .iter()
        .filter_map(|setting| {
            let err = delega::config::try_command(&setting.command, COMMAND_TIMEOUT).err()?;
            Some(Diagnostic {
                message: format!("{err:#}"),
                help: Some(
                    "run the command by hand as the user delega runs as: it must print the \
                     password on its first line and exit 0"
                        .into(),
                ),
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
        return ExitCode::from(super::EXIT_INVALID_CONFIG);
    }
    let config = &loaded.config;
    println!("{}: OK", path.display());
    for account in &config.accounts {
        let count = |c: Category| {
            account
                .rules
                .rules
                .iter()
                .filter(|r| r.category == c)
                .count()
        };
        println!(
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
    ExitCode::SUCCESS
}

pub(crate) fn explain(
    path: &std::path::Path,
    account: Option<&str>,
    messages: &[PathBuf],
) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let account = match select_accounts(config, account, path) {
        Ok(accounts) => accounts[0],
        Err(code) => return code,
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
        let e = account.rules.explain(&msg);
        let d = &e.decision;
        println!("{}", file.display());
        let from = msg
            .sender()
            .map_or_else(|| "(none)".to_string(), ToString::to_string);
        println!("  from:     {from}");
        println!("  subject:  {}", msg.subject());
        let mut category = d.category.to_string();
        if let Some(a) = &d.assistant {
            category.push_str(&format!(" → {a}"));
        }
        if d.observe {
            category.push_str(" (observe only: nothing is done)");
        }
        println!("  decision: {category}");
        match &d.rule {
            Some(rule) => {
                let origin = account.rules.rule(rule).map(|r| r.origin.to_string());
                println!("  rule:     {rule} ({})", origin.unwrap_or_default());
            }
            None => println!("  rule:     (none)"),
        }
        println!("  why:      {}", d.why);
        for near in &e.near_misses {
            println!(
                "  close:    {}: {}; failed: {}",
                near.rule,
                near.matched.join("; "),
                near.missed.join("; ")
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
