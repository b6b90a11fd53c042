//! The commands of the `delega` binary (not part of the library): each takes the parsed
//! arguments, calls the library, prints for people, and returns a [`CmdResult`] (the exit
//! code is `main`'s to choose).
//!
//! `offline.rs` has check and explain (no server involved), `run.rs` the daemon and its signals,
//! `report.rs` status, digest and suggest, `doctor.rs` the servers' check, `docs.rs` completions
//! and man pages, `auth.rs` the OAuth2 sign-in. Shared here: loading the config with its
//! diagnostics, and choosing accounts; and printing to stdout ([`outln!`], [`out!`]), which ends
//! quietly when the reader has gone (`delega digest --preview | head -1`).

/// `println!` for command output: when stdout is closed (a pipe whose reader exited), the
/// command ends at once with exit 0, as a command killed by SIGPIPE would, without a panic.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cmd::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for command output, quiet on a closed stdout like [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cmd::write_out(format_args!($($arg)*)) };
}

mod auth;
mod docs;
mod doctor;
mod offline;
mod report;
mod run;
mod tasks;
mod undo;

use delega::config::diagnostic::file_error;
use delega::config::{self, Config, ConfigError, Loaded};

pub(crate) use auth::{Target as AuthTarget, auth_login, auth_status};
pub(crate) use docs::{completions, manpages};
pub(crate) use doctor::doctor;
pub(crate) use offline::{check, explain};
pub(crate) use report::{digest, status, suggest};
pub(crate) use run::{backfill, retry, run};
pub(crate) use tasks::{Change as TaskChange, Show as TaskShow, task, tasks};
pub(crate) use undo::{UndoArgs, undo};

/// How a command failed, once it has told the user why; `main` alone turns it into an
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failed {
    /// Something at run time: a server, the state database, a file.
    Runtime,
    /// The command line asked for what is not there (an unknown account, a bad reference).
    Usage,
    /// The config or a rules file is invalid.
    InvalidConfig,
}

/// What every command returns: done, or how it failed (already said on stderr).
pub(crate) type CmdResult = Result<(), Failed>;

/// The accounts a command works on: all, or the one named with `--account`.
pub(crate) fn select_accounts<'c>(
    config: &'c Config,
    only: Option<&str>,
    path: &std::path::Path,
) -> Result<Vec<&'c delega::config::Account>, Failed> {
    match only {
        None => Ok(config.accounts.iter().collect()),
        Some(name) => match config.account(name) {
            Some(a) => Ok(vec![a]),
            None => {
                let names: Vec<_> = config.accounts.iter().map(|a| a.name.as_str()).collect();
                eprintln!("error: no account `{name}` in {}", path.display());
                eprintln!("  help: the accounts are: {}", names.join(", "));
                Err(Failed::Usage)
            }
        },
    }
}

/// Loads the config, printing warnings; on failure prints the errors and says how it failed.
pub(crate) fn load(path: &std::path::Path) -> Result<Loaded, Failed> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err(ConfigError::Invalid(diags)) => {
            eprintln!("{diags}");
            let n = diags.error_count();
            eprintln!(
                "\n{n} error{} in {} and its rules: delega cannot start until {} fixed",
                if n == 1 { "" } else { "s" },
                path.display(),
                if n == 1 { "it is" } else { "they are" }
            );
            Err(Failed::InvalidConfig)
        }
        Err(ConfigError::Read { path, source }) => {
            let help = if source.kind() == std::io::ErrorKind::NotFound {
                "pass the config with --config FILE (or DELEGA_CONFIG); deploy/delega.toml \
                 is a commented example to start from"
            } else {
                "check that the user delega runs as may read it"
            };
            let message = format!("cannot read the config: {source}");
            eprintln!("{}", file_error(&path, message, Some(help.into())));
            Err(Failed::InvalidConfig)
        }
    }
}

/// A tokio runtime for a command, or the failure after saying why there is none.
pub(crate) fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, Failed> {
    let mut builder = if multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        // The state database is written from the account tasks, and a commit blocks its
        // thread for an fsync: with only one worker per core (the default), a few slow
        // commits would stall every other account's connection. Threads are cheap next to
        // ten thousand connections.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        builder.worker_threads(cores.max(8));
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|err| {
        eprintln!("error: cannot start the async runtime: {err}");
        Failed::Runtime
    })
}

/// Writes command output; a closed stdout ends the process quietly (exit 0), any other
/// failure to write says why and exits with `main`'s code for a runtime failure. The one exit
/// outside `main`: output is written from a macro in every command, mid-way, with no
/// [`Failed`] to return.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            std::process::exit(i32::from(crate::EXIT_RUNTIME));
        }
    }
}
