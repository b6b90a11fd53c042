//! `delega run`: the daemon, with its signals (SIGTERM/SIGINT stop, SIGHUP reloads).

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use delega::classify::Category;
use delega::daemon::{self, RunOptions};

use super::load;

pub(crate) fn run(path: &std::path::Path, opts: RunOptions) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    delega::logging::init(loaded.config.log_format);
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let results = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let (reload_tx, reload) = tokio::sync::mpsc::channel(1);
        tokio::spawn(listen_for_signals(shutdown.clone(), reload_tx));
        let control = daemon::Control { shutdown, reload };
        daemon::run(path.to_path_buf(), loaded.config, opts, control).await
    });
    let mut failed = false;
    for (account, result) in results {
        match result {
            Ok(report) if opts.once => {
                let counts: Vec<String> = Category::ALL
                    .iter()
                    .map(|c| format!("{} {c}", report.decided.get(c).copied().unwrap_or(0)))
                    .collect();
                println!(
                    "{account}: {} new message(s): {}; {} forwarded, {} waiting",
                    report.decided.values().sum::<usize>(),
                    counts.join(", "),
                    report.forwarded,
                    report.waiting
                );
            }
            Ok(_) => {}
            Err(err) => {
                eprintln!("{account}: error: {err:#}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// SIGTERM and SIGINT cancel `shutdown`; SIGHUP asks for a reload.
async fn listen_for_signals(shutdown: CancellationToken, reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
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
        }
    }
    shutdown.cancel();
}
