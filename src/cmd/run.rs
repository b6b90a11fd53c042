//! `delega run`: the daemon, with its signals (SIGTERM/SIGINT stop, SIGHUP reloads,
//! SIGUSR1 sends waiting forwards now); `delega retry`, which sends that SIGUSR1.

use tokio_util::sync::CancellationToken;

use std::collections::BTreeMap;

use delega::classify::Category;
use delega::config::Config;
use delega::daemon::{self, RunOptions};
use delega::state::LockError;
use delega::triage::PassReport;

use super::{CmdResult, Failed, load};

pub(crate) fn run(path: &std::path::Path, opts: RunOptions) -> CmdResult {
    let loaded = load(path)?;
    run_config(path, loaded.config, opts)
}

/// `delega backfill`: one pass over the chosen accounts that also triages what arrived
/// in the last `days` days and is not decided yet.
pub(crate) fn backfill(
    path: &std::path::Path,
    account: Option<&str>,
    days: u32,
    observe: bool,
) -> CmdResult {
    let loaded = load(path)?;
    let mut config = loaded.config;
    let chosen: Vec<String> = super::select_accounts(&config, account, path)?
        .iter()
        .map(|a| a.name.clone())
        .collect();
    config.accounts.retain(|a| chosen.contains(&a.name));
    let opts = RunOptions {
        once: true,
        observe,
        backfill_days: Some(days),
    };
    run_config(path, config, opts)
}

fn run_config(path: &std::path::Path, config: Config, opts: RunOptions) -> CmdResult {
    delega::logging::init(config.log_format);
    let runtime = super::runtime(true)?;
    let results = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let (reload_tx, reload) = tokio::sync::mpsc::channel(1);
        let (retry_tx, retry) = tokio::sync::watch::channel(0);
        tokio::spawn(listen_for_signals(shutdown.clone(), reload_tx, retry_tx));
        let control = daemon::Control {
            shutdown,
            reload,
            retry,
        };
        daemon::run(path.to_path_buf(), config, opts, control).await
    });
    let mut failed = false;
    for (account, result) in results {
        match result {
            Ok(report) if opts.once => print_once(path, &account, &report),
            Ok(_) => {}
            Err(err) => {
                eprintln!("{account}: error: {err:#}");
                if let Some(LockError::Held { .. }) = err.downcast_ref() {
                    eprintln!(
                        "  help: one delega per state database; to send waiting forwards now, \
                         run `delega retry` (it asks the running one)"
                    );
                }
                failed = true;
            }
        }
    }
    if failed { Err(Failed::Runtime) } else { Ok(()) }
}

/// What one pass did, for people: the messages decided, what a backfill found, and on a
/// first start what was left alone and the command that includes it.
fn print_once(path: &std::path::Path, account: &str, report: &PassReport) {
    let counts = |decided: &BTreeMap<Category, usize>| {
        Category::ALL
            .iter()
            .map(|c| format!("{} {c}", decided.get(c).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut decided = report.decided.clone();
    if let Some(b) = &report.backfill {
        let now: usize = b.decided.values().sum();
        outln!(
            "{account}: backfill since {}: {} message(s) already in the Inbox; {now} decided now: {}; {} already decided, left as they were",
            b.since,
            b.found,
            counts(&b.decided),
            b.found.saturating_sub(now),
        );
        for (c, n) in &b.decided {
            if let Some(all) = decided.get_mut(c) {
                *all = all.saturating_sub(*n);
            }
        }
    }
    outln!(
        "{account}: {} new message(s): {}; {} forwarded, {} waiting",
        decided.values().sum::<usize>(),
        counts(&decided),
        report.forwarded,
        report.waiting
    );
    if report.reminded > 0 {
        outln!(
            "{account}: {} reminder(s) of overdue tasks sent",
            report.reminded
        );
    }
    if let Some(n) = report.left_alone.filter(|&n| n > 0) {
        outln!(
            "{account}: first start: {n} message(s) already in the Inbox were left alone; to triage those of the last 7 days: delega backfill --days 7 --account {account} --config {}",
            path.display()
        );
    }
}

/// SIGTERM and SIGINT cancel `shutdown`; SIGHUP asks for a reload; SIGUSR1 for the
/// waiting forwards to be sent now.
async fn listen_for_signals(
    shutdown: CancellationToken,
    reload: tokio::sync::mpsc::Sender<()>,
    retry: tokio::sync::watch::Sender<u64>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    ) else {
        tracing::warn!("cannot listen for signals: stop delega with SIGKILL");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: finishing the work in hand");
                break;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: finishing the work in hand");
                break;
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the config and rules");
                // A reload already waiting covers this one too.
                let _ = reload.try_send(());
            }
            _ = usr1.recv() => {
                tracing::info!("SIGUSR1: sending waiting forwards now");
                retry.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
    shutdown.cancel();
}

/// `delega retry`: asks the delega running on this config's state database to send its
/// waiting forwards now (SIGUSR1); with none running, runs one pass itself (`run --once`).
pub(crate) fn retry(path: &std::path::Path) -> CmdResult {
    let loaded = load(path)?;
    let database = &loaded.config.state;
    match delega::state::holder(database) {
        Ok(Some(pid)) => {
            // kill(1) rather than a syscall binding: delega forbids unsafe code.
            let sent = std::process::Command::new("kill")
                .args(["-USR1", &pid.to_string()])
                .status();
            match sent {
                Ok(status) if status.success() => {
                    outln!(
                        "asked delega (pid {pid}) to send its waiting forwards now; \
                         `delega status` shows what is left"
                    );
                    Ok(())
                }
                Ok(_) | Err(_) => {
                    eprintln!("error: cannot signal delega (pid {pid})");
                    eprintln!(
                        "  help: run `delega retry` as the user delega runs as, or \
                         `systemctl kill -s USR1 delega`"
                    );
                    Err(Failed::Runtime)
                }
            }
        }
        Ok(None) => run(
            path,
            RunOptions {
                once: true,
                ..RunOptions::default()
            },
        ),
        Err(err) => {
            eprintln!("error: {err}");
            Err(Failed::Runtime)
        }
    }
}
