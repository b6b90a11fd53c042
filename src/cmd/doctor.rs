//! `delega doctor`: each account's IMAP server, then the SMTP server, checked as a support
//! engineer would, changing nothing on either; exit 0 when everything works.

use std::process::ExitCode;

use delega::doctor::{self, Finding, Level};

use super::{load, select_accounts};

pub(crate) fn doctor(path: &std::path::Path, only: Option<&str>) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let accounts = match select_accounts(config, only, path) {
        Ok(accounts) => accounts,
        Err(code) => return code,
    };
    let runtime = match super::runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut problems = 0;
    runtime.block_on(async {
        for account in &accounts {
            outln!(
                "account {}: IMAP {} as {}",
                account.name,
                doctor::endpoint(&account.imap),
                account.imap.username.as_deref().unwrap_or("?")
            );
            problems += print(&doctor::imap(account).await);
        }
        outln!("SMTP {}", doctor::endpoint(&config.smtp.server));
        problems += print(&doctor::smtp(&config.smtp, &accounts).await);
    });
    if problems == 0 {
        outln!("\neverything works");
        ExitCode::SUCCESS
    } else {
        outln!(
            "\n{problems} problem{} to fix",
            if problems == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    }
}

/// Prints findings; returns how many are problems.
fn print(findings: &[Finding]) -> usize {
    for f in findings {
        let mark = match f.level {
            Level::Ok => "ok     ",
            Level::Note => "note   ",
            Level::Problem => "PROBLEM",
        };
        outln!("  {mark} {}", f.text);
        if let Some(fix) = &f.fix {
            outln!("          fix: {fix}");
        }
    }
    findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count()
}
