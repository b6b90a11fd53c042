//! `delega undo`: moves back into the Inbox what delega filed in a time window or by one
//! rule, only where it is still where delega put it, and lists the forwards that went out.

use delega::config::Account;
use delega::imap::{self, Connection};
use delega::state::{State, UndoFilter, UndoOutcome};
use delega::undo::{self, Filed, Undone};

use super::{CmdResult, Failed, load, select_accounts};

/// What to take back, as typed.
pub(crate) struct UndoArgs<'a> {
    pub account: Option<&'a str>,
    pub since: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub dry_run: bool,
}

pub(crate) fn undo(path: &std::path::Path, args: UndoArgs<'_>) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let accounts = select_accounts(config, args.account, path)?;
    let now = jiff::Timestamp::now().as_second();
    let filter = match (args.since, args.rule) {
        (Some(since), _) => match undo::parse_duration(since) {
            Ok(secs) => UndoFilter::Since(now - secs),
            Err(why) => {
                eprintln!("error: invalid --since `{since}`: {why}");
                return Err(Failed::Usage);
            }
        },
        (None, Some(rule)) => UndoFilter::Rule(rule.to_string()),
        (None, None) => {
            eprintln!("error: say what to undo: --since DURATION or --rule NAME");
            return Err(Failed::Usage);
        }
    };
    let state = match State::open(&config.state) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("error: {err:#}");
            return Err(Failed::Runtime);
        }
    };
    let runtime = super::runtime(false)?;
    let mut failed = false;
    for account in accounts {
        if let UndoFilter::Rule(rule) = &filter
            && account.rules.rule(rule).is_none()
        {
            // A rule since removed may still have filings: said, not refused.
            outln!(
                "{}: note: no rule `{rule}` in the rules now; undoing its past filings",
                account.name
            );
        }
        // Not yet sent, so nothing to move back; it will still go out: said, not hidden.
        match state.undo_waiting_forwards(&account.name, &filter) {
            Ok(waiting) => {
                for e in waiting {
                    let e = &e.decision;
                    outln!(
                        "{}: not undone: forward still waiting to go out (it will, then the \
                         message is filed): \"{}\" from {} → {}",
                        account.name,
                        e.subject,
                        e.from_addr,
                        e.assistant.as_deref().unwrap_or("?")
                    );
                }
            }
            Err(err) => {
                eprintln!("{}: error: {err:#}", account.name);
                failed = true;
            }
        }
        let result = runtime.block_on(undo_account(&state, account, &filter, args.dry_run, now));
        match result {
            Ok(undone) => print(account, &undone, args.dry_run),
            Err(err) => {
                eprintln!("{}: error: {err:#}", account.name);
                failed = true;
            }
        }
    }
    if failed { Err(Failed::Runtime) } else { Ok(()) }
}

async fn undo_account(
    state: &State,
    account: &Account,
    filter: &UndoFilter,
    dry_run: bool,
    now: i64,
) -> anyhow::Result<Vec<Undone>> {
    let mut filings = Vec::new();
    for entry in state.undo_candidates(&account.name, filter)? {
        let forward = state.outbox_for(entry.id)?;
        filings.extend(Filed::of(entry, forward));
    }
    if filings.is_empty() {
        return Ok(Vec::new());
    }
    let session = imap::connect(&account.imap).await?;
    let mut boxes = Connection::new(session).await?;
    let at = (account.name.as_str(), account.mailbox.as_str());
    let undone = undo::undo(&mut boxes, state, at, filings, dry_run, now).await?;
    // A logout that does not come is no failure: the work is done.
    let logout = boxes.session.logout();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), logout).await;
    Ok(undone)
}

fn print(account: &Account, undone: &[Undone], dry_run: bool) {
    let name = &account.name;
    let inbox = &account.mailbox;
    if undone.is_empty() {
        outln!("{name}: nothing to undo: no filing by delega matches");
        return;
    }
    let (verb, left) = if dry_run {
        ("would move back to", "would stay")
    } else {
        ("moved back to", "left")
    };
    let about = |f: &Filed| {
        let e = &f.entry.decision;
        let rule = e.rule.as_deref().unwrap_or("-");
        format!("\"{}\" from {} (rule {rule})", e.subject, e.from_addr)
    };
    let count = |o: UndoOutcome| undone.iter().filter(|u| u.outcome == o).count();
    for u in undone {
        let f = &u.filed;
        match u.outcome {
            UndoOutcome::MovedBack => {
                outln!("{name}: {verb} {inbox}: {} (was in {})", about(f), f.folder)
            }
            UndoOutcome::Moved => outln!(
                "{name}: {left} where you put it (no longer in {}): {}",
                f.folder,
                about(f)
            ),
            UndoOutcome::NotFindable => outln!(
                "{name}: {left} in {}: no Message-ID to find it by: {}",
                f.folder,
                about(f)
            ),
        }
    }
    let forwarded: Vec<&Filed> = undone
        .iter()
        .filter_map(|u| u.filed.forwarded().map(|_| &u.filed))
        .collect();
    if !forwarded.is_empty() {
        outln!("{name}: forwards already sent cannot be recalled; tell the assistant:");
        for f in forwarded {
            let to = f.forwarded().map(|o| o.address.as_str()).unwrap_or("?");
            let assistant = f.entry.decision.assistant.as_deref().unwrap_or("?");
            outln!("{name}:   {} → {assistant} <{to}>", about(f));
        }
    }
    outln!(
        "{name}: {} {verb} {inbox}, {} {left} where you put them, {} without a Message-ID{}",
        count(UndoOutcome::MovedBack),
        count(UndoOutcome::Moved),
        count(UndoOutcome::NotFindable),
        if dry_run {
            " (dry run: nothing was moved or recorded)"
        } else {
            ""
        }
    );
}
