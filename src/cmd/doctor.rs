//! `delega doctor`: each account's IMAP server, then the SMTP server, checked as a support
//! engineer would, changing nothing on either; exit 0 when everything works.

use delega::doctor::{self, Finding, Level};

use super::{CmdResult, Failed, load, select_accounts};

pub(crate) fn doctor(path: &std::path::Path, only: Option<&str>) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let accounts = select_accounts(config, only, path)?;
    let runtime = super::runtime(false)?;
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
        Ok(())
    } else {
        outln!(
            "\n{problems} problem{} to fix",
            if problems == 1 { "" } else { "s" }
        );
        Err(Failed::Runtime)
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
